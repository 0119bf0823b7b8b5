/**
 * The loads begun as the CLI starts (lib/cli/early-load.ts), in real runs:
 * the tracers take them (their --verbose step says when they began), the
 * command is traced from its first instruction, and nothing stays loaded.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { heldBy, waitUnloaded } from '../support/bpftool';
import { runCli, type CliRun } from '../support/cli';
import { describePrivileged } from '../support/privileged';

/** The ms after the process started at which the step's load began, per object; absent when it was not begun early. */
function begun(stderr: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of stderr.matchAll(/(process|ssl): load \w+\.bpf\.o.*\(begun ([\d.]+) ms after the process started/g)) out[m[1]] = Number(m[2]);
  return out;
}

describePrivileged('loads begun as the CLI starts', () => {
  let run: CliRun | null = null;
  afterEach(() => {
    if (run && run.child.exitCode === null) run.child.kill('SIGKILL');
  });

  it('record: both objects are taken by its tracers; the command is traced from its start', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-early-'));
    const out = path.join(dir, 's.ndjson');
    run = runCli(['record', '--verbose', '-o', out, '--', '/bin/sh', '-c', 'exit 3']);
    const { code } = await run.exited;
    expect(code).toBe(3);
    const b = begun(run.stderr());
    expect(Object.keys(b).sort()).toEqual(['process', 'ssl']);
    // begun before the command line was read
    const read = Number(/\[\s*([\d.]+) ms\] agentsight loaded, command line read/.exec(run.stderr())?.[1]);
    expect(b.process).toBeLessThan(read);
    const events = fs
      .readFileSync(out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(events.find((e) => e.data.event === 'EXEC')?.data.argv).toEqual(['/bin/sh', '-c', 'exit 3']);
    expect(events.find((e) => e.data.event === 'EXIT' && e.data.exit_code === 3)).toBeDefined();
  });

  it.each([
    [
      ['ssl', '--verbose'],
      ['process', 'ssl'],
    ],
    [
      ['agent', '--verbose', '--process', 'false'],
      ['process', 'ssl'],
    ],
    [['process', '--verbose', '--quiet'], ['process']],
  ])('%j: the tracers take what was begun', async (argv, objects) => {
    run = runCli(argv);
    await run.ready;
    expect(Object.keys(begun(run.stderr())).sort()).toEqual(objects);
    const held = heldBy(run.child.pid as number);
    run.child.kill('SIGINT');
    expect((await run.exited).code).toBe(0);
    expect(await waitUnloaded(held)).toEqual({ programs: [], links: [] });
  });

  it('options given after -- (merged by the CLI later): nothing is begun, the tracers load as before', async () => {
    run = runCli(['ssl', '--verbose', '--', '--port', '443']);
    await run.ready;
    expect(begun(run.stderr())).toEqual({});
    expect(run.stderr()).toMatch(/ssl: load ssl\.bpf\.o \(alongside\) and attach its socket hook: /);
    run.child.kill('SIGINT');
    expect((await run.exited).code).toBe(0);
  });
});
