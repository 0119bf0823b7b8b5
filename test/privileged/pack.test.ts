/**
 * The package as another tool gets it: packed, installed into a fresh
 * project from the tarball, used from plain CommonJS.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ensurePrebuilt, packTarball, REPO, tarballFiles } from '../support/package';
import { describePrivileged } from '../support/privileged';
import { run } from '../support/spawn';

describePrivileged('npm pack, install into a fresh project, require() from CommonJS', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-pack-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('installs from the tarball and records a command through require("agentsight")', { timeout: 900_000 }, async () => {
    const env = { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir ?? '/usr', npm_config_audit: 'false', npm_config_fund: 'false' };
    ensurePrebuilt();
    const tgz = packTarball(dir, env);
    const files = tarballFiles(tgz);
    expect(files).toEqual(
      expect.arrayContaining([
        'prebuilds/linux-x64/agentsight.node',
        'prebuilds/linux-x64/agentsight.json',
        'binding.gyp',
        'scripts/libbpf.js',
        'packaging/agentsight.service',
        'packaging/agent.json',
        // the price table and the built web UI
        'data/prices.json',
        'web/dist/app.js',
        'web/dist/app.css',
        'web/dist/index.html',
        // the CLI bundle and its code cache
        'bin/load-cli.js',
        'dist/cli.js',
        'dist/cli.js.cache',
      ]),
    );
    expect(files.filter((f) => f.startsWith('build/'))).toEqual([]);
    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    const inst = await run('npm', ['install', '--no-audit', '--no-fund', tgz], { cwd: app, env });
    expect(inst.code, inst.stderr + inst.stdout.toString()).toBe(0);
    // the shipped addon loads here: nothing is compiled
    expect(fs.existsSync(path.join(app, 'node_modules/agentsight/build'))).toBe(false);
    // types ship with it
    expect(fs.existsSync(path.join(app, 'node_modules/agentsight/dist/index.d.ts'))).toBe(true);
    // the installed CLI runs its bundle with the shipped code cache (made by this node)
    const probe = await run(
      process.execPath,
      ['-e', "const l = require('agentsight/bin/load-cli.js'); console.log(l.bundleCurrent(), l.loadBundle().script.cachedDataRejected)"],
      { cwd: app },
    );
    expect(probe.stdout.toString().trim(), probe.stderr).toBe('true false');
    const script = `
      'use strict';
      const agentsight = require('agentsight');
      (async () => {
        const s = agentsight.record(['sh', '-c', 'ls / > /dev/null; exit 3'], { ssl: false });
        const events = [];
        for await (const e of s.events) events.push(e);
        const exit = await s.exit;
        process.stdout.write(JSON.stringify({
          exports: Object.keys(agentsight).sort(),
          status: exit.status,
          execs: events.filter((e) => e.source === 'process' && e.data.event === 'EXEC').map((e) => e.data.argv),
          pid: s.pid,
          exitEvent: events.find((e) => e.source === 'process' && e.data.event === 'EXIT' && e.pid === s.pid)?.data.exit_code,
        }));
      })().catch((err) => { console.error(err); process.exit(1); });`;
    fs.writeFileSync(path.join(app, 'use.js'), script);
    const r = await run(process.execPath, ['use.js'], { cwd: app });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.toString());
    expect(out.exports).toEqual(
      expect.arrayContaining([
        'record',
        'trace',
        'AgentRunner',
        'SslRunner',
        'ProcessRunner',
        'HttpParser',
        'SseProcessor',
        'LlmAnalyzer',
        'OutputAnalyzer',
        'FileLogger',
        'HTTPParser',
        'SSEProcessor',
        'HTTPFilter',
        'SSLFilter',
      ]),
    );
    expect(out.status).toBe(3);
    expect(out.exitEvent).toBe(3);
    expect(out.execs).toEqual(
      expect.arrayContaining([
        ['sh', '-c', 'ls / > /dev/null; exit 3'],
        ['ls', '/'],
      ]),
    );
    const bin = await run(path.join(app, 'node_modules/.bin/agentsight'), ['--version'], { cwd: app });
    expect(bin.stdout.toString().trim()).toBe(JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version);
  });
});
