import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { runCli, type CliRun } from '../support/cli';
import { describePrivileged } from '../support/privileged';
import { uniqueShell } from '../support/procs';

/** tracefs mounts as this process's mount namespace sees them. */
const tracefsMounts = () =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - tracefs /.test(l));

/**
 * The CLI in a mount namespace of its own, prepared by `setup` (a shell
 * snippet), so that what this machine has mounted does not matter.
 */
function inNamespace(setup: string, args: string[]): CliRun {
  return runCli(args, { wrap: ['unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c', `${setup}; exec "$@"`, 'sh'] });
}

async function finalStats(run: CliRun): Promise<Record<string, unknown>> {
  await run.ready;
  run.child.kill('SIGINT');
  expect(await run.exited).toEqual({ code: 0, signal: null });
  const lines = run
    .stdout()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  return lines.find((e) => e.source === 'stats' && e.data.event === 'FINAL')?.data;
}

describePrivileged('file opens on a machine with or without tracefs mounted', () => {
  const shell = uniqueShell();
  let run: CliRun | null = null;
  afterEach(() => {
    if (run && run.child.exitCode === null) run.child.kill('SIGKILL');
  });

  it('tracefs not mounted (a fresh machine): agentsight mounts it for the attach, hooks the open syscalls, and unmounts it', async () => {
    const before = tracefsMounts();
    // nothing of tracefs or debugfs in this namespace, as on a machine without systemd's automount
    const unmount =
      'umount -l /sys/kernel/debug/tracing 2>/dev/null; umount -l /sys/kernel/debug 2>/dev/null; umount -l /sys/kernel/tracing 2>/dev/null; ! grep -q " - tracefs " /proc/self/mountinfo';
    run = inNamespace(unmount, ['process', '--comm', shell.name, '--format', 'json']);
    const s = await finalStats(run);
    expect(s).toMatchObject({ tracer: 'process', file_hook: 'syscalls', tracefs: 'mounted' });
    expect(run.stderr()).not.toMatch(/tracefs.*cannot/);
    // the machine's own mounts are untouched
    expect(tracefsMounts()).toEqual(before);
  });

  it('tracefs mounted: used as it is', async () => {
    run = inNamespace('mount -t tracefs nodev /sys/kernel/tracing', ['process', '--comm', shell.name, '--format', 'json']);
    expect(await finalStats(run)).toMatchObject({ tracer: 'process', file_hook: 'syscalls', tracefs: 'present' });
  });

  it.each([
    [[], 'raw'],
    [['--file-hook', 'auto'], 'syscalls'],
  ])(
    "record %j: file opens on sys_enter/sys_exit unless asked, on the open syscalls' own tracepoints when asked (tracefs mounted for it)",
    async (flags, hook) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'agentsight-rec-hook-'));
      try {
        const file = path.join(dir, 's.ndjson');
        run = inNamespace('umount -l /sys/kernel/tracing 2>/dev/null; true', ['record', '-q', ...flags, '-o', file, '--', 'cat', '/etc/hostname']);
        expect(await run.exited).toEqual({ code: 0, signal: null });
        const events = readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l));
        const stats = events.find((e) => e.source === 'stats' && e.data.tracer === 'process' && e.data.event === 'FINAL')?.data;
        expect(stats).toMatchObject({ file_hook: hook });
        expect(events.filter((e) => e.data.event === 'FILE_OPEN' && e.data.filepath === '/etc/hostname')).toHaveLength(1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
