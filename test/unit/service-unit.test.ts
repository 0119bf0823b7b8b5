/**
 * The packaged service: its example config file is valid for `agent` (the
 * same tables --config checks against), and systemd accepts the unit.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../lib/cli/main';
import { loadConfigFile } from '../../lib/config/file';

const PACKAGING = path.join(__dirname, '../../packaging');
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('packaging/', () => {
  it('agent.json holds options of `agent`, by their typed names', () => {
    const agent = COMMANDS.find((c) => c.name === 'agent');
    const o = loadConfigFile<Record<string, unknown>>(path.join(PACKAGING, 'agent.json'), agent?.options ?? {});
    expect(o).toMatchObject({ otlpEndpoint: expect.stringMatching(/^http/), output: expect.stringMatching(/^\/var\/log\/agentsight\//) });
  });

  it.skipIf(!hasAnalyze)('systemd-analyze verify accepts the unit; it keeps capabilities, not full root', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-unit-'));
    try {
      // verify checks that ExecStart exists: point it at this node
      const text = fs.readFileSync(path.join(PACKAGING, 'agentsight.service'), 'utf8');
      expect(text).toMatch(/^ExecStart=\/usr\/local\/bin\/agentsight agent --config \/etc\/agentsight\/agent\.json/m);
      const unit = path.join(d, 'agentsight.service');
      fs.writeFileSync(unit, text.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`));
      const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr.trim()).toBe('');
      const caps = /^CapabilityBoundingSet=(.*)$/m.exec(text)?.[1].split(/\s+/) ?? [];
      expect(caps).toEqual(expect.arrayContaining(['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_PTRACE']));
      expect(caps).not.toContain('CAP_SYS_ADMIN');
      expect(text).toMatch(/^ProtectSystem=strict$/m);
      expect(text).toMatch(/^Restart=on-failure$/m);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
