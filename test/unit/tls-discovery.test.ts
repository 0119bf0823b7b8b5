/**
 * TLS discovery under an exec storm: the rescans that follow execs (for
 * libraries loaded late) are shared by the processes of one executable
 * (dev:inode), bounded in number, served by one timer, skip processes that
 * are gone, and every exec left out is counted. No kernel needed: the
 * processes are real, the probing is not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Event } from '../../lib/core/event';
import type { ProcessTracer } from '../../lib/tracers/process';
import { TlsDiscovery, type RescanLimits } from '../../lib/tracers/ssl/discovery';
import { resolveSslOptions } from '../../lib/tracers/ssl/spec';
import { until } from '../support/io';

const kids: ChildProcess[] = [];
afterEach(() => {
  for (const k of kids.splice(0)) k.kill('SIGKILL');
});

function sleeper(file = '/bin/sleep', seconds = '30'): ChildProcess {
  const c = spawn(file, [seconds], { stdio: 'ignore' });
  kids.push(c);
  return c;
}

const execEvent = (pid: number, filename: string): Event => ({
  timestamp: Date.now(),
  mono_ns: 0,
  source: 'process',
  pid,
  comm: 'sleep',
  data: { event: 'EXEC', filename, argv: [filename], full_command: filename, tracked: true, ppid: process.pid },
});

function discovery(limits?: RescanLimits): { d: TlsDiscovery; notices: string[] } {
  const options = resolveSslOptions({ comm: ['astormx'] });
  const tracer = { options: { comm: ['astormx'], pid: [] }, trackedPids: () => [] } as unknown as Pick<ProcessTracer, 'options' | 'trackedPids'>;
  const notices: string[] = [];
  const d = new TlsDiscovery(options, tracer, { attach: () => 0, notice: (m) => notices.push(m), attached: () => undefined }, limits);
  return { d, notices };
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const started = (c: ChildProcess) => new Promise<void>((r) => c.once('spawn', () => r()));

describe('TLS discovery after execs', () => {
  it('a storm of execs of one executable: one shared rescan, one timer, the rest counted', async () => {
    const procs = [sleeper(), sleeper(), sleeper(), sleeper(), sleeper(), sleeper()];
    await Promise.all(procs.map(started));
    const { d } = discovery();
    const before = timers();
    for (let i = 0; i < 3000; i++) d.observe(execEvent(procs[i % procs.length].pid as number, '/bin/sleep'));
    expect(timers() - before).toBeLessThanOrEqual(1); // was three per exec
    expect(d.stats()).toMatchObject({ execs: 3000, execs_gone: 0, rescans_pending: 1, rescans_coalesced: 2996 });
    await until(() => d.stats().rescans >= 4, 10_000, 'the first rescan (300 ms after the exec)');
    expect(d.stats().rescans).toBe(4); // the four processes it follows, the others not
    expect(d.stats().rescans_pending).toBe(1);
    d.close();
    expect(timers() - before).toBeLessThanOrEqual(0);
  });

  it('at most maxExecutables executables are followed at once; execs of others are counted as dropped', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'as-disc-'));
    try {
      const files = [0, 1, 2].map((i) => {
        const f = path.join(dir, `sleep${i}`);
        fs.copyFileSync('/bin/sleep', f);
        fs.chmodSync(f, 0o755);
        return f;
      });
      const procs = files.map((f) => sleeper(f));
      await Promise.all(procs.map(started));
      const { d } = discovery({ maxExecutables: 2 });
      procs.forEach((p, i) => d.observe(execEvent(p.pid as number, files[i])));
      expect(d.stats()).toMatchObject({ execs: 3, rescans_pending: 2, rescans_dropped: 1 });
      await d.settled();
      d.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('processes that are gone are skipped and counted: before their exec is looked at, and at rescan time', async () => {
    const gone = sleeper('/bin/sleep', '0');
    await new Promise((r) => gone.once('exit', r));
    const brief = sleeper('/bin/sleep', '0.1');
    await started(brief);
    const { d } = discovery();
    d.observe(execEvent(gone.pid as number, '/bin/sleep'));
    d.observe(execEvent(brief.pid as number, '/bin/sleep'));
    expect(d.stats()).toMatchObject({ execs: 2, execs_gone: 1, rescans_pending: 1 });
    await new Promise((r) => brief.once('exit', r));
    await until(() => d.stats().rescans_pending === 0, 10_000, 'the first rescan (300 ms after the exec)');
    expect(d.stats()).toMatchObject({ rescans: 0, rescans_gone: 1 });
    d.close();
  });
});
