/**
 * The packed package installed as people install CLIs, on machines without
 * any compiler: Debian 11 and Debian 12 chroots (debootstrap minbase plus
 * libelf1, zlib1g, curl, ca-certificates; the host's node and npm bound in),
 * `npm install -g` from the tarball must use the prebuilt addon, then
 * `agentsight record -- curl https://127.0.0.1:PORT/v1/messages` inside must
 * capture the call to the LLM API stand-in running outside. The chroots are
 * cached (scripts/chroots.sh) and used through an overlay, so each run starts
 * from the same clean system; mounts live in a mount namespace of the run's own.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStandin, TEST_ANTHROPIC_API_KEY, type Standin } from '../../lib/standin';
import { ensurePrebuilt, packTarball, REPO } from '../support/package';
import { describePrivileged } from '../support/privileged';
import { run } from '../support/spawn';

const CHROOTS = path.join(REPO, 'scripts/chroots.sh');
const VERSION = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version as string;

describePrivileged('npm install -g into Debian 11 and 12 without compilers, then agentsight record', () => {
  let dir: string;
  let tgz: string;
  let s: Standin;
  let npmCache: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-chroot-'));
    fs.chmodSync(dir, 0o755);
    ensurePrebuilt();
    execFileSync('bash', [CHROOTS, 'ensure', 'bullseye', 'bookworm'], { stdio: ['ignore', 'ignore', 'pipe'] });
    fs.mkdirSync(path.join(dir, 'pkg'));
    tgz = packTarball(path.join(dir, 'pkg'));
    s = await startStandin({ chunkDelayMs: 0, compression: false });
    fs.copyFileSync(s.caFile, path.join(dir, 'pkg', 'ca.pem'));
    npmCache = execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).trim();
  }, 1_200_000);
  afterAll(async () => {
    await s?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Run a shell script inside a chroot (writes in the overlay dir/<overlay>, the package at /pkg, npm's download cache shared). */
  function inside(name: string, overlay: string, script: string) {
    fs.mkdirSync(path.join(npmCache, '_cacache'), { recursive: true });
    return run('bash', [
      CHROOTS,
      'run',
      '--overlay',
      path.join(dir, overlay),
      '--bind',
      `${path.join(dir, 'pkg')}:/pkg`,
      '--bind',
      `${path.join(npmCache, '_cacache')}:/root/.npm/_cacache`,
      name,
      '--',
      'sh',
      '-euc',
      script,
    ]);
  }

  for (const [name, debian] of [
    ['bullseye', '11'],
    ['bookworm', '12'],
  ] as const) {
    it(`Debian ${debian} (${name}): the prebuilt addon is used, and the TLS call of curl is captured`, { timeout: 600_000 }, async () => {
      const t0 = Date.now();
      const out = `/pkg/${name}.ndjson`;
      const model = `claude-chroot-${name}`;
      const body = JSON.stringify({ model, max_tokens: 64, messages: [{ role: 'user', content: `hello from Debian ${debian}` }] });
      fs.writeFileSync(path.join(dir, 'pkg', `${name}-body.json`), body);
      const r = await inside(
        name,
        name,
        `
        grep -q '^${debian}\\.' /etc/debian_version
        for c in cc gcc g++ c++ clang make; do if command -v "$c" >/dev/null; then echo "compiler present: $c"; exit 1; fi; done
        npm install -g --foreground-scripts /pkg/${path.basename(tgz)} 2>&1
        echo "bin: $(command -v agentsight)"
        echo "version: $(agentsight --version)"
        cd /tmp
        agentsight record -o ${out} -- curl -sS --cacert /pkg/ca.pem -H 'x-api-key: ${TEST_ANTHROPIC_API_KEY}' \\
          -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' --data-binary @/pkg/${name}-body.json \\
          ${s.url}/v1/messages
        `,
      );
      const text = r.stdout.toString();
      expect(r.code, `${text}\n${r.stderr}`).toBe(0);
      expect(text).toMatch(/agentsight: using the prebuilt addon \(prebuilds\/linux-x64; libbpf v1\.5/);
      expect(text).not.toMatch(/building the addon from source/);
      expect(text).toContain('bin: /usr/local/bin/agentsight');
      expect(text).toContain(`version: ${VERSION}`);
      // the stand-in answered curl
      const req = s.requests.find((q) => q.json?.model === model);
      expect(req, text).toBeDefined();
      const events = fs
        .readFileSync(path.join(dir, 'pkg', `${name}.ndjson`), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      // record's chain: TLS plaintext parsed into HTTP, then the LLM call
      const reqs = events.filter((e) => e.source === 'http' && e.comm === 'curl' && e.data.type === 'request');
      expect(
        reqs.map((e) => `${e.data.method} ${e.data.path}`),
        JSON.stringify(events.filter((e) => e.source !== 'process').slice(0, 5)),
      ).toEqual(['POST /v1/messages']);
      const llm = events.find((e) => e.source === 'llm');
      expect(llm?.data['gen_ai.request.model']).toBe(model);
      expect(JSON.stringify(llm?.data.request.messages)).toContain(`hello from Debian ${debian}`);
      expect(llm?.data['http.response.status_code']).toBe(200);
      // the run's mounts went with its mount namespace
      expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(dir);
      // eslint-disable-next-line no-console
      console.log(`chroot ${name}: install and record in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
  }

  it('npx agentsight runs from the tarball in Debian 11, with the prebuilt addon', { timeout: 300_000 }, async () => {
    const r = await inside('bullseye', 'bullseye-npx', `npx --yes --foreground-scripts --package /pkg/${path.basename(tgz)} agentsight --version 2>&1`);
    const text = r.stdout.toString();
    expect(r.code, `${text}\n${r.stderr}`).toBe(0);
    expect(text.trim().split('\n').at(-1)).toBe(VERSION);
    // npx installed it somewhere under ~/.npm/_npx in the overlay, without building
    expect(text).not.toMatch(/building the addon from source/);
  });
});
