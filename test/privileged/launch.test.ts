import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { GATE_REFUSED, launchGated } from '../../lib/session/launch';
import { runCli } from '../support/cli';
import { describePrivileged } from '../support/privileged';

describePrivileged('record: who the command runs as, and never untraced', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-launch-root-'));
  fs.chmodSync(dir, 0o777);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('under sudo (SUDO_UID/SUDO_GID) the command runs as the invoking user, with a planted setpriv on PATH ignored', async () => {
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin, { recursive: true });
    const planted = path.join(dir, 'planted-setpriv');
    fs.writeFileSync(path.join(bin, 'setpriv'), `#!/bin/sh\ntouch ${planted}\nexec /usr/bin/setpriv "$@"\n`, { mode: 0o755 });
    const out = path.join(dir, 'who');
    const saved = { uid: process.env.SUDO_UID, gid: process.env.SUDO_GID };
    process.env.SUDO_UID = '65534';
    process.env.SUDO_GID = '65534';
    try {
      const g = launchGated('/bin/sh', ['-c', `echo "$(id -u) $(id -g) $HOME $USER" > ${out}`], {
        stdio: 'ignore',
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      });
      expect(g.user).toMatchObject({ uid: 65534, gid: 65534, name: 'nobody' });
      g.release();
      expect((await g.exited).status).toBe(0);
    } finally {
      if (saved.uid === undefined) delete process.env.SUDO_UID;
      else process.env.SUDO_UID = saved.uid;
      if (saved.gid === undefined) delete process.env.SUDO_GID;
      else process.env.SUDO_GID = saved.gid;
    }
    expect(fs.readFileSync(out, 'utf8').trim()).toBe('65534 65534 /nonexistent nobody');
    expect(fs.existsSync(planted)).toBe(false);
  });

  it('SUDO_UID=abc: record refuses (usage error) and runs nothing as root', async () => {
    const marker = path.join(dir, 'abc-ran');
    const run = runCli(['record', '-q', '-o', path.join(dir, 'abc.ndjson'), '--', '/bin/sh', '-c', `touch ${marker}`], { env: { SUDO_UID: 'abc' } });
    expect((await run.exited).code).toBe(2);
    expect(run.stderr()).toMatch(/SUDO_UID=abc is not a user or group id/);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('record killed with SIGKILL before its probes are attached: the command never runs', async () => {
    // not -q: the "attached" line tells whether the command had been let go before the kill
    let checked = 0;
    for (const delayMs of [0, 50, 100, 200]) {
      const marker = path.join(dir, `killed-${delayMs}`);
      const run = runCli(['record', '-o', path.join(dir, `killed-${delayMs}.ndjson`), '--', '/bin/sh', '-c', `touch ${marker}`]);
      await new Promise((r) => setTimeout(r, delayMs));
      let attached = false;
      run.ready.then(() => (attached = true)).catch(() => undefined);
      run.child.kill('SIGKILL');
      await run.exited;
      // the gate saw the pipe close without the release
      await new Promise((r) => setTimeout(r, 500));
      if (!attached) {
        checked++;
        expect({ delayMs, ran: fs.existsSync(marker) }).toEqual({ delayMs, ran: false });
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('a gate that is never released exits with its own status', async () => {
    const g = launchGated('/bin/true', [], { stdio: 'ignore', asInvokingUser: false });
    g.child.stdio[3]?.destroy();
    expect((await g.exited).code).toBe(GATE_REFUSED);
  });
});
