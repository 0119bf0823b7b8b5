/**
 * The real CLI, watching processes with hostile names, argv and file paths:
 * what reaches the terminal (pretty stdout, record --live on stderr, notices,
 * the summary) holds no control character and no line that is not ours.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { signalTree } from '../../lib/session/recording';
import { runCli, type CliRun } from '../support/cli';
import { describePrivileged } from '../support/privileged';
import { uniqueShell } from '../support/procs';

/** Title, clear screen, cursor up, 8-bit CSI, bidi override, and a forged line of ours. */
const NASTY = '\x1b]0;pwned\x07\x1b[2J\x1b[3A\x9b2J\u202e\rX\nagentsight: FORGED';
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function expectSafe(text: string): void {
  expect(text).not.toMatch(UNSAFE);
  for (const line of text.split('\n')) expect(line).not.toMatch(/^\s*agentsight: FORGED/);
}

describePrivileged('what agentsight prints about hostile names, argv and paths', () => {
  const shell = uniqueShell('astty');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-tty-'));
  let cli: CliRun | null = null;
  afterEach(() => {
    if (cli?.child.pid) signalTree(cli.child.pid, 'SIGKILL');
    cli = null;
  });
  afterAll(() => {
    shell.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('process --format pretty: a file named with escapes and a newline, and such argv, show escaped on their own line', async () => {
    const file = path.join(dir, `new\nline${NASTY}`);
    fs.writeFileSync(file, 'x');
    cli = runCli(['process', '--comm', shell.name, '--format', 'pretty']);
    await cli.ready;
    const child = spawn(shell.path, ['-c', 'cat "$1" > /dev/null', `arg${NASTY}`, file], { stdio: 'ignore' });
    expect(await new Promise((r) => child.on('exit', r))).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
    const out = cli.stdout();
    expect(out).toContain('new\\nline\\x1b]0;pwned\\x07\\x1b[2J\\x1b[3A\\x9b2J\\u202e\\rX\\nagentsight: FORGED');
    expect(out).toMatch(/EXEC .*arg\\x1b\]0;pwned\\x07/);
    expectSafe(out);
    expectSafe(cli.stderr());
  });

  it('record --live: the live view, the summary and the command exit lines are escaped', async () => {
    const out = path.join(dir, 'live.ndjson');
    cli = runCli(['record', '--live', '-o', out, '--', shell.path, '-c', 'exit 0', 'sh', `arg${NASTY}`]);
    expect((await cli.exited).code).toBe(0);
    const err = cli.stderr();
    expect(err).toMatch(/EXEC .*arg\\x1b\]0;pwned\\x07/);
    expect(err).toMatch(/commands run: /);
    expectSafe(err);
    // the session file keeps the exact argv
    const events = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.some((e) => e.source === 'process' && e.data.event === 'EXEC' && String(e.data.full_command).includes(`arg${NASTY}`))).toBe(true);
  });

  it('ssl --format pretty: the "no TLS code found in pid N (comm, exe)" notice quotes a hostile name and executable escaped', async () => {
    // comm is the first 15 bytes of the executable's name: escapes included
    const exeDir = path.join(dir, `bin\n${NASTY}`);
    fs.mkdirSync(exeDir);
    const exe = path.join(exeDir, '\x1b]0;t\x07\nFORGED');
    fs.copyFileSync('/bin/sleep', exe);
    fs.chmodSync(exe, 0o755);
    const sleeper = spawn(exe, ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      cli = runCli(['ssl', '--pid', String(sleeper.pid), '--format', 'pretty']);
      await cli.ready;
      await new Promise((r) => setTimeout(r, 300));
      cli.child.kill('SIGINT');
      await cli.exited;
      // said while the probes are attached: a diagnostic event (NOTE) on stdout
      const out = cli.stdout();
      expect(out).toContain(`NOTE  no TLS code found in pid ${sleeper.pid} (\\x1b]0;t\\x07\\nFORGED, ${dir}/bin\\n\\x1b]0;pwned`);
      expectSafe(out);
      expectSafe(cli.stderr());
    } finally {
      sleeper.kill('SIGKILL');
    }
  });
});
