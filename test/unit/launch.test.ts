import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GATE_REFUSED, launchGated, sudoUser } from '../../lib/session/launch';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-launch-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the gate in front of a recorded command', () => {
  it('runs nothing until released, then execs the command in place (same pid)', async () => {
    const out = path.join(dir, 'pid');
    const g = launchGated('/bin/sh', ['-c', `echo $$ > ${out}`], { stdio: 'ignore', asInvokingUser: false });
    await new Promise((r) => setTimeout(r, 200));
    expect(fs.existsSync(out)).toBe(false);
    g.release();
    expect(await g.exited).toEqual({ code: 0, signal: null, status: 0 });
    expect(Number(fs.readFileSync(out, 'utf8'))).toBe(g.pid);
  });

  it('refuses to run the command when the pipe closes without the release (agentsight died before attaching)', async () => {
    const marker = path.join(dir, 'ran');
    const g = launchGated('/bin/sh', ['-c', `touch ${marker}`], { stdio: 'ignore', asInvokingUser: false });
    // what the kernel does to the pipe when agentsight is killed: its end closes without a word
    (g.child.stdio[3] as NodeJS.WritableStream).end();
    expect(await g.exited).toMatchObject({ code: GATE_REFUSED });
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('refuses a wrong word on the pipe too', async () => {
    const marker = path.join(dir, 'ran2');
    const g = launchGated('/bin/sh', ['-c', `touch ${marker}`], { stdio: 'ignore', asInvokingUser: false });
    (g.child.stdio[3] as NodeJS.WritableStream).end('\n');
    expect(await g.exited).toMatchObject({ code: GATE_REFUSED });
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('a refused gate names the command escaped, on one line', async () => {
    const name = `/bin/true\nagentsight: FORGED\x1b]0;title\x07`;
    const g = launchGated(name, ['arg'], { stdio: 'pipe', asInvokingUser: false });
    let err = '';
    g.child.stderr!.on('data', (d) => (err += d));
    const ended = new Promise((r) => g.child.stderr!.on('end', r));
    (g.child.stdio[3] as NodeJS.WritableStream).end();
    expect(await g.exited).toMatchObject({ code: GATE_REFUSED });
    await ended;
    expect(err).toBe('agentsight: tracing did not start; not running /bin/true\\nagentsight: FORGED\\x1b]0;title\\x07\n');
  });

  it('the gate runs the command itself, not its printed name', async () => {
    const out = path.join(dir, 'argv');
    const g = launchGated('/bin/sh', ['-c', `printf '%s|' "$0" "$@" > ${out}`, 'zero', 'a\nb'], { stdio: 'ignore', asInvokingUser: false });
    g.release();
    expect((await g.exited).status).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe('zero|a\nb|');
  });

  it('the gate shell is /bin/sh, never one found through $PATH', async () => {
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin, { recursive: true });
    const planted = path.join(dir, 'planted');
    fs.writeFileSync(path.join(bin, 'sh'), `#!/bin/sh\ntouch ${planted}\nexec /bin/sh "$@"\n`, { mode: 0o755 });
    const g = launchGated('/bin/true', [], { stdio: 'ignore', asInvokingUser: false, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    g.release();
    expect((await g.exited).status).toBe(0);
    expect(fs.existsSync(planted)).toBe(false);
  });

  it('SUDO_UID/SUDO_GID must be ids: anything else is refused, not run as root', () => {
    expect(sudoUser({})).toBeNull();
    expect(sudoUser({ SUDO_UID: '1000', SUDO_GID: '1001' })).toEqual({ uid: 1000, gid: 1001 });
    expect(sudoUser({ SUDO_UID: '1000' })).toEqual({ uid: 1000, gid: null });
    for (const bad of [
      { SUDO_UID: 'abc' },
      { SUDO_UID: '' },
      { SUDO_UID: '-1' },
      { SUDO_UID: '1e3' },
      { SUDO_UID: '1000', SUDO_GID: 'x' },
      { SUDO_UID: '99999999999' },
    ])
      expect(() => sudoUser(bad)).toThrow(/is not a user or group id; refusing to guess/);
  });
});
