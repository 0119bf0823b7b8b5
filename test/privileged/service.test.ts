/**
 * `agentsight agent` as the packaged systemd unit runs it: with only the
 * unit's capabilities (its CapabilityBoundingSet, no new privileges), options
 * from a config file, stopped by SIGTERM: the agents it selects are captured
 * and exported as OTLP traces, and what was queued is sent before it exits.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStandin, type Standin } from '../../lib/standin';
import { BIN } from '../support/cli';
import { OtlpReceiver } from '../support/otlp-receiver';
import { describePrivileged } from '../support/privileged';
import { uniqueShell } from '../support/procs';
import { AGENTS, clientEnv, REPO } from '../support/run';

const UNIT = path.join(REPO, 'packaging/agentsight.service');

/** The capabilities the unit keeps, as setpriv names them. */
function unitCapabilities(): string[] {
  const line = fs
    .readFileSync(UNIT, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapabilityBoundingSet='));
  return (line ?? '')
    .slice('CapabilityBoundingSet='.length)
    .split(/\s+/)
    .filter(Boolean)
    .map((c) => c.replace(/^CAP_/, '').toLowerCase());
}

describePrivileged('the systemd service: agent with the unit capabilities and a config file', () => {
  let s: Standin;
  let rx: OtlpReceiver;
  let dir: string;
  beforeAll(async () => {
    s = await startStandin({ chunkDelayMs: 2 });
    rx = await OtlpReceiver.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-svc-'));
  });
  afterAll(async () => {
    await s.close();
    await rx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('captures and exports an agent it selects; SIGTERM ends it cleanly after sending', async () => {
    const caps = unitCapabilities();
    expect(caps).toEqual(expect.arrayContaining(['bpf', 'perfmon', 'sys_ptrace']));
    expect(caps).not.toContain('sys_admin');
    const shell = uniqueShell('assvc');
    try {
      const out = path.join(dir, 'agent.ndjson');
      const config = path.join(dir, 'agent.json');
      fs.writeFileSync(config, JSON.stringify({ comm: [shell.name], otlpEndpoint: rx.url, otlpFlushTimeoutMs: 5000, output: out, statsIntervalMs: 0 }));
      const svc = spawn(
        'setpriv',
        ['--no-new-privs', '--bounding-set', `-all,${caps.map((c) => `+${c}`).join(',')}`, process.execPath, BIN, 'agent', '--config', config, '--quiet'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let err = '';
      svc.stderr.on('data', (d) => (err += d));
      const exited = new Promise<number | null>((r) => svc.on('exit', (code) => r(code)));
      for (let i = 0; i < 300 && !/Ctrl-C to stop/.test(err); i++) await new Promise((r) => setTimeout(r, 100));
      expect(err).toMatch(/selected: comm assvc/);
      const agent = spawn(shell.path, ['-c', `exec /usr/bin/python3 ${AGENTS.python} --provider anthropic --stream "Kernel? run: uname -r"`], {
        env: clientEnv(s),
        stdio: 'ignore',
      });
      expect(await new Promise((r) => agent.on('exit', r))).toBe(0);
      await new Promise((r) => setTimeout(r, 500));
      svc.kill('SIGTERM');
      expect(await exited, err).toBe(0);
      const evs = fs
        .readFileSync(out, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      expect(evs.filter((e) => e.source === 'llm').length).toBe(2);
      const chats = rx.spans.filter((x) => x.attributes['gen_ai.operation.name'] === 'chat');
      expect(chats.length).toBe(2);
      expect(rx.spans.find((x) => !x.parentSpanId)?.name).toBe(`invoke_agent agent.py`);
      expect(err).toMatch(/OTLP: \d+ span\(s\) of 1 session\(s\) sent/);
    } finally {
      shell.dispose();
    }
  });
});
