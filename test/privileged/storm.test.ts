/**
 * Memory under an exec storm, TLS capture on (the default): thousands of
 * short-lived processes faster than the analyzers can take their events.
 * The backlog stays in the bounded ring queues and the kernel counts what it
 * cannot write: agentsight's memory (RssAnon, sampled from /proc) stays under
 * a ceiling however long the storm lasts, and every exec is either delivered
 * or counted as lost.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { record } from '../../lib/api';
import { signalTree } from '../../lib/session/recording';
import { runCli, type CliRun } from '../support/cli';
import { describePrivileged } from '../support/privileged';

/** Processes in the storm, and the ceiling on agentsight's anonymous memory (it grew past 1 GB before the merge was bounded). */
const STORM = 5000;
const CEILING_MB = 200;

function rssAnonMb(pid: number): number | null {
  try {
    const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

describePrivileged('memory under an exec storm', () => {
  let dir: string;
  let cli: CliRun | null = null;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-storm-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    if (cli?.child.pid) signalTree(cli.child.pid, 'SIGKILL');
    cli = null;
  });

  it(`record -- sh -c '${STORM} background execs': memory stays under ${CEILING_MB} MB, every exec delivered or counted`, { timeout: 120_000 }, async () => {
    const file = path.join(dir, 'storm.ndjson');
    const storm = `i=0; while [ $i -lt ${STORM} ]; do /bin/sleep 0.2 & i=$((i+1)); done; wait`;
    cli = runCli(['record', '-q', '-o', file, '--', '/bin/sh', '-c', storm]);
    const pid = cli.child.pid as number;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, rssAnonMb(pid) ?? 0)), 100);
    const { code } = await cli.exited;
    clearInterval(sampler);
    expect(code, cli.stderr()).toBe(0);
    const events = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const sleeps = events.filter((e) => e.source === 'process' && e.data.event === 'EXEC' && e.data.filename === '/bin/sleep').length;
    const final = events.find((e) => e.source === 'stats' && e.data.event === 'FINAL' && e.data.tracer === 'process');
    const lost = final?.data.kernel.ringbuf_full_process ?? 0;
    console.log(`storm of ${STORM}: peak RssAnon ${peak.toFixed(0)} MB, ${sleeps} execs delivered, ${lost} process records lost`);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(CEILING_MB);
    expect(sleeps + lost).toBeGreaterThanOrEqual(STORM);
    // TLS discovery followed the storm within its bounds and said so
    const ssl = events.find((e) => e.source === 'stats' && e.data.event === 'FINAL' && e.data.tracer === 'ssl');
    expect(ssl?.data.discovery.rescans_pending).toBeLessThanOrEqual(256);
  });

  it(
    'a consumer slower than the storm: the live heap stays bounded (the backlog waits in the rings), every exec delivered or counted',
    { timeout: 120_000 },
    async () => {
      const n = 12000;
      const rec = record(['/bin/sh', '-c', `i=0; while [ $i -lt ${n} ]; do /bin/true & i=$((i+1)); done; wait`], { ssl: true });
      let running = true;
      void rec.exit.then(() => (running = false));
      gc();
      const base = process.memoryUsage().heapUsed;
      let peak = 0;
      let events = 0;
      let execs = 0;
      let lost = 0;
      for await (const e of rec.events) {
        events++;
        if (e.source === 'process' && e.data.event === 'EXEC' && e.data.filename === '/bin/true') execs++;
        if (e.source === 'stats' && e.data.event === 'FINAL' && e.data.tracer === 'process') lost = e.data.kernel.ringbuf_full_process ?? 0;
        // slow while the storm lasts: about a thousand events a second
        if (running && events % 10 === 0) await new Promise((r) => setTimeout(r, 10));
        if (events % 2000 === 0) {
          gc();
          peak = Math.max(peak, process.memoryUsage().heapUsed - base);
        }
      }
      const grownMb = peak / 2 ** 20;
      console.log(
        `storm of ${n} under a slow consumer: live heap grew at most ${grownMb.toFixed(1)} MB; ${execs} execs delivered, ${lost} process records lost`,
      );
      expect((await rec.exit).code).toBe(0);
      expect(execs + lost).toBeGreaterThanOrEqual(n);
      // the merge holds at most 8192 events (a few MB); without that bound it held whatever the consumer had not taken yet
      expect(grownMb).toBeLessThan(16);
    },
  );
});
