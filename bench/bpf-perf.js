#!/usr/bin/env node
'use strict';
/**
 * Where the TLS probes' eBPF time goes: runs one workload of
 * bench/ssl-overhead.js under one tracer, samples the whole machine with
 * `perf record -a -g` (cpu-clock), and attributes every sample taken inside a
 * tracer program (a bpf_prog_<tag>_<name> frame) to the function that program
 * called at that moment (a helper such as bpf_ringbuf_output, or "(self)": the
 * program's own instructions), with that function's callees included. Also
 * prints the run_time_ns / run_cnt of each program over the same window
 * (kernel.bpf_stats_enabled, switched on only for that part: perf runs
 * without it).
 *
 *   node bench/bpf-perf.js [--workload stream|small|bulk] [--tracer sink|agentsight|...[@/other/build]] [--secs S]
 *
 * Needs root and perf. The figures are shares of samples: per-run costs come
 * from the program table.
 */
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { spawn, execFileSync } = require('node:child_process');
const C = require('./lib/common');
const { Tracer, NODE } = require('./lib/tracers');

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
};
const WORKLOAD = opt('workload', 'stream');
const KIND = opt('tracer', 'sink');
const SECS = Number(opt('secs', 4));
const WORKLOADS = {
  stream: { path: '/stream?chunks=200&size=100', conc: 4 },
  small: { path: '/small?n=32', conc: 8 },
  bulk: { path: '/stream?chunks=200&size=16384', conc: 4 },
};
const W = WORKLOADS[WORKLOAD];
if (!W) {
  process.stderr.write(`unknown workload ${WORKLOAD}\n`);
  process.exit(2);
}

/** One window: program run time and count per program name. */
async function window(client, t, secs, withPerf) {
  const perfData = withPerf ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-perf-')), 'perf.data') : null;
  const m0 = await t.mark();
  client.send(`measure ${secs * 1000}`);
  const perf = perfData ? spawn('perf', ['record', '-a', '-g', '-o', perfData, '--', 'sleep', String(secs)], { stdio: 'ignore' }) : null;
  const r = await client.json(/"requests"/);
  const d = await t.since(m0);
  if (perf) await new Promise((res) => perf.on('exit', res));
  return { r, d, perfData };
}

/** Samples inside bpf_prog_* frames, by program and by the function the program called. */
function attribute(perfData) {
  const text = execFileSync('perf', ['script', '-i', perfData, '-F', 'comm,tid,ip,sym'], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const byProg = new Map();
  let total = 0;
  for (const block of text.split(/\n\s*\n/)) {
    // the sample's first line names the thread; the indented lines are its frames (address, symbol), leaf first
    const frames = block
      .split('\n')
      .filter((l) => /^\s/.test(l))
      .map((l) => l.trim().split(/\s+/)[1])
      .filter(Boolean)
      .map((s) => s.replace(/\+0x[0-9a-f]+$/, ''));
    if (!frames.length) continue;
    total++;
    let i = -1;
    for (let k = frames.length - 1; k >= 0; k--)
      if (frames[k].startsWith('bpf_prog_')) {
        i = k;
        break;
      }
    if (i < 0) continue;
    const prog = frames[i].replace(/^bpf_prog_[0-9a-f]+_/, '');
    const callee = i > 0 ? frames[i - 1] : '(self)';
    const p = byProg.get(prog) ?? { n: 0, callees: new Map() };
    p.n++;
    p.callees.set(callee, (p.callees.get(callee) ?? 0) + 1);
    byProg.set(prog, p);
  }
  return { total, byProg };
}

async function main() {
  C.requireRoot();
  const out = [C.header('where the TLS probes spend their eBPF time (perf)')];
  const cert = C.makeCert();
  const server = C.track(new C.Child(process.execPath, [path.join(__dirname, 'lib', 'tls-server.js'), cert]));
  const stats0 = C.readSysctl('kernel.bpf_stats_enabled') ?? '0';
  try {
    const { port } = await server.json(/"port"/);
    const client = C.track(new C.Child(process.execPath, [path.join(__dirname, 'lib', 'tls-client.js'), String(port), cert, W.path, String(W.conc)]));
    await C.sleep(2000);
    const t = new Tracer(KIND, { progStats: true });
    await t.start(NODE);
    await C.sleep(500);
    C.writeSysctl('kernel.bpf_stats_enabled', 1);
    const a = await window(client, t, SECS, false);
    C.writeSysctl('kernel.bpf_stats_enabled', stats0);
    const b = await window(client, t, SECS, true);
    await t.stop();
    client.send('quit');
    await client.stop('SIGTERM');

    out.push(`workload:  GET ${W.path}, ${W.conc} connections; tracer ${KIND}; ${SECS} s with kernel.bpf_stats_enabled, then ${SECS} s under perf`, '');
    const rows = Object.entries(a.d.prog ?? {})
      .filter(([, v]) => v.run_cnt)
      .map(([k, v]) => [k, C.fmtNum(v.run_time_ns / v.run_cnt), C.fmtNum(v.run_cnt / (a.r.ms / 1000)), C.fmtNum(v.run_time_ns / 1e6 / (a.r.ms / 1000), 1)]);
    out.push(C.table(['program', 'ns/run', 'runs/s', 'ms/s'], rows), '');
    const { total, byProg } = attribute(b.perfData);
    fs.rmSync(path.dirname(b.perfData), { recursive: true, force: true });
    out.push(`perf: ${total} samples on ${os.cpus().length} CPUs; inside each program, by the function it called (that function's callees included):`, '');
    const tab = [];
    for (const [prog, p] of [...byProg].sort((x, y) => y[1].n - x[1].n)) {
      tab.push([prog, '', String(p.n), `${((p.n / total) * 100).toFixed(1)}% of all`]);
      for (const [fn, n] of [...p.callees].sort((x, y) => y[1] - x[1]).slice(0, 12)) tab.push(['', fn, String(n), `${((n / p.n) * 100).toFixed(1)}%`]);
    }
    out.push(C.table(['program', 'called', 'samples', 'share'], tab));
  } finally {
    C.writeSysctl('kernel.bpf_stats_enabled', stats0);
    await server.stop('SIGTERM');
    fs.rmSync(cert, { recursive: true, force: true });
    C.killAll();
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err) => {
  C.killAll();
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
