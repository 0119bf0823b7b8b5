'use strict';
/**
 * A tracer process for the benchmarks: starts SslTracer or ProcessTracer from
 * dist/ in this process and counts what reaches the TypeScript pipeline (the
 * events() iterator), the way an embedding application would see it.
 *
 *   node tracer-sink.js ssl|process '{"ringBytes":...}'
 *
 * stdout protocol (one JSON object per line):
 *   {"ready":true,...}            once probes are attached
 *   {"mark":...}                  answer to "mark" on stdin: counters so far
 *   {"final":true,...}            after SIGINT/SIGTERM or "stop": everything drained, kernel counters, VmHWM
 */
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

const dist = path.join(process.env.AGENTSIGHT_BENCH_ROOT || path.join(__dirname, '..', '..'), 'dist');
// the package's entry point: the same names in every build compared (A/B runs against older builds)
const { getBinding, SslTracer, ProcessTracer, sslPayload } = require(path.join(dist, 'index'));

const kind = process.argv[2];
const opts = JSON.parse(process.argv[3] ?? '{}');

function status(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : null;
}

async function main() {
  const tracerOpts = opts;
  const binding = getBinding();
  const tracer =
    kind === 'ssl'
      ? await SslTracer.start({ statsIntervalMs: 0, ...tracerOpts, binding })
      : await ProcessTracer.start({ statsIntervalMs: 0, ...tracerOpts, binding });
  const counts = { events: 0, bytes: 0, byType: {}, maxLagMs: 0, firstNs: 0, lastNs: 0, peakRssAnon: 0 };
  // RssAnon (JS heap, queued batches) sampled every 100 ms: VmHWM also counts the ring buffers mapped into the process
  const sampleRss = () => {
    const a = status('RssAnon');
    if (a > counts.peakRssAnon) counts.peakRssAnon = a;
  };
  sampleRss();
  const sampler = setInterval(sampleRss, 100);
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const snapshot = () => {
    sampleRss();
    const c = process.cpuUsage(cpu0);
    return {
      events: counts.events,
      bytes: counts.bytes,
      by_type: counts.byType,
      max_lag_ms: counts.maxLagMs,
      first_ns: counts.firstNs,
      last_ns: counts.lastNs,
      now_ns: Number(process.hrtime.bigint()),
      wall_ms: Number(process.hrtime.bigint() - t0) / 1e6,
      cpu_ms: (c.user + c.system) / 1000,
      vmhwm: status('VmHWM'),
      vmrss: status('VmRSS'),
      peak_rss_anon: counts.peakRssAnon,
    };
  };
  const stop = () => tracer.stop();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (l) => {
    const cmd = l.trim();
    if (cmd === 'mark') {
      const s = snapshot();
      counts.maxLagMs = 0;
      process.stdout.write(`${JSON.stringify({ mark: true, ...s, kernel: tracer.stats().kernel })}\n`);
    } else if (cmd === 'stop') stop();
  });
  const targets = kind === 'ssl' ? tracer.targets().map((t) => t.path) : [];
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, targets })}\n`);
  let finalStats = null;
  for await (const e of tracer.events()) {
    if (e.source === 'stats') {
      if (e.data.event === 'FINAL') finalStats = e.data;
      continue;
    }
    if (e.source === 'diagnostic') continue;
    counts.events++;
    const t = e.source === 'ssl' ? e.data.function : e.data.event;
    counts.byType[t] = (counts.byType[t] ?? 0) + 1;
    if (e.source === 'ssl') counts.bytes += sslPayload(e).length;
    const ns = e.mono_ns;
    if (!counts.firstNs) counts.firstNs = ns;
    counts.lastNs = ns;
    // lag = now - kernel timestamp, sampled (hrtime costs ~50 ns; sampling keeps it out of the way)
    if ((counts.events & 63) === 0) {
      const lag = (Number(process.hrtime.bigint()) - ns) / 1e6;
      if (lag > counts.maxLagMs) counts.maxLagMs = lag;
    }
  }
  clearInterval(sampler);
  const s = snapshot();
  process.stdout.write(
    `${JSON.stringify({ final: true, ...s, kernel: finalStats?.kernel ?? {}, ring: finalStats?.ring ?? null, process: finalStats?.process ?? null })}\n`,
  );
  rl.close();
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`tracer-sink: ${err.stack ?? err}\n`);
  process.exit(1);
});
