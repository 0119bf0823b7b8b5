import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, expect, it } from 'vitest';
import { heldBy, waitUnloaded } from '../support/bpftool';
import { runCli, type CliRun } from '../support/cli';
import { describePrivileged } from '../support/privileged';
import { uniqueShell } from '../support/procs';

describePrivileged('agentsight process, run as a user would', () => {
  const shell = uniqueShell();
  let run: CliRun | null = null;
  afterAll(() => shell.dispose());
  afterEach(() => {
    if (run && run.child.exitCode === null) run.child.kill('SIGKILL');
  });

  it('traces a workload, stops on SIGINT with exit code 0, and leaves nothing loaded', async () => {
    run = runCli(['process', '--comm', shell.name, '--format', 'json']);
    await run.ready;
    const held = heldBy(run.child.pid as number);
    // 3 lifecycle programs, and file opens: 5 programs on 8 syscall tracepoints (tracefs is mounted for that when it is not)
    expect({ programs: held.programs.length, links: held.links.length }).toEqual({ programs: 8, links: 11 });
    const r = spawnSync(shell.path, ['-c', 'ls /usr >/dev/null; exit 4']);
    expect(r.status).toBe(4);
    // SIGINT drains the kernel ring: the workload's events are all in before the run ends
    run.child.kill('SIGINT');
    const { code, signal } = await run.exited;
    const out = run;
    expect({ code, signal }).toEqual({ code: 0, signal: null });

    const events = out
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const exec = events.find((e) => e.data.event === 'EXEC' && e.comm === shell.name);
    expect(exec?.data.argv).toEqual([shell.path, '-c', 'ls /usr >/dev/null; exit 4']);
    expect(events.find((e) => e.data.event === 'EXIT' && e.pid === r.pid)?.data.exit_code).toBe(4);
    const ls = events.find((e) => e.data.event === 'EXEC' && e.data.argv[0] === 'ls');
    expect(ls?.data.ppid).toBe(r.pid);
    expect(events.some((e) => e.data.event === 'FILE_OPEN' && e.pid === ls?.pid && e.data.filepath === '/usr')).toBe(true);
    expect(events.at(-1)).toMatchObject({ source: 'stats', data: { event: 'FINAL', kernel: {} } });
    expect(out.stderr()).toMatch(/nothing lost/);
    // Exact timestamps: epoch milliseconds close to now, in kernel order
    const procEvents = events.filter((e) => e.source === 'process');
    for (const e of procEvents) expect(Math.abs(e.timestamp - Date.now())).toBeLessThan(60_000);
    for (let i = 1; i < procEvents.length; i++) if (!procEvents[i].data.repeat) expect(procEvents[i].mono_ns).toBeGreaterThanOrEqual(procEvents[i - 1].mono_ns);

    expect(await waitUnloaded(held)).toEqual({ programs: [], links: [] });
  });

  it('SIGTERM also stops cleanly', async () => {
    run = runCli(['process', '--comm', shell.name, '--quiet']);
    await run.ready;
    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.stdout()).toBe('');
  });
});
