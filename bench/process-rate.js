#!/usr/bin/env node
'use strict';
/**
 * Process tracer benchmark: the event rate it sustains without kernel drops,
 * where drops begin at the default ring size and at a smaller one, and what
 * tracing costs an exec storm.
 *
 *   node bench/process-rate.js            full run (a few minutes)
 *   node bench/process-rate.js --quick    fewer levels, shorter runs
 *
 * Options: --reps N  --small-ring BYTES (default 65536)  --only storm,tax,exec,open
 *          --tracers none,sink,cli (exec storm; sink@/other/build for A/B runs)
 *          --wait-quiet SECONDS (wait for no other eBPF programs and an idle CPU first)
 *
 * Loads:
 *   exec storm  K parallel `sh -c 'while ...; do /bin/true; done'` loops: every
 *               iteration is a fork, an exec and an exit (EXEC + EXIT events,
 *               reported for every process in the default mode 1)
 *   open storm  a node process (named asbench-open through a symlink, selected
 *               with --comm) opening and closing /etc/hostname at a paced rate:
 *               one FILE_OPEN event per open (file-dedup off)
 * The tracer under test is ProcessTracer in its own process counting what
 * reaches events() (bench/lib/tracer-sink.js), or the real CLI where stated.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const C = require('./lib/common');
const { Tracer } = require('./lib/tracers');

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
};
const QUICK = flag('quick');
const REPS = Number(opt('reps', QUICK ? 1 : 3));
const STORM_REPS = Number(opt('reps', QUICK ? 1 : 5));
const SMALL_RING = Number(opt('small-ring', 65536));
const ONLY = opt('only', 'storm,tax,exec,open').split(',');
const DEFAULT_RING = 8 << 20;
const WAIT_QUIET = Number(opt('wait-quiet', 0));

function waitExit(child) {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, sig) => resolve({ code, sig }));
  });
}

/** CPU time (ms) of this process's reaped children (cutime + cstime). */
function childCpuMs() {
  const s = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
}

/** K parallel shell loops of n execs of /bin/true; resolves with {ms, execs, cpu} (cpu: the storm's own CPU time). */
async function execStorm(k, n) {
  const c0 = childCpuMs();
  const t0 = process.hrtime.bigint();
  const script = `i=0; while [ $i -lt ${n} ]; do /bin/true; i=$((i+1)); done`;
  const kids = [];
  for (let i = 0; i < k; i++) kids.push(waitExit(spawn('/bin/sh', ['-c', script], { stdio: 'ignore' })));
  await Promise.all(kids);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, execs: k * n, cpuMs: childCpuMs() - c0 };
}

/** kind: none, sink, cli; sink@/other/build and cli@/other/build run another build (A/B). */
function procTracer(kind, sinkOpts = {}, cliArgs = []) {
  const [k, root] = kind.split('@');
  const at = root ? `@${root}` : '';
  if (k === 'none') return new Tracer('none');
  if (k === 'cli') return new Tracer(`agentsight${at}`, { command: 'process', args: cliArgs });
  return new Tracer(`sink${at}`, { command: 'process', sink: { fileDedupMs: 0, ...sinkOpts } });
}

function dropsOf(fin) {
  if (fin.kernelDrops)
    return Object.entries(fin.kernelDrops)
      .filter(([k]) => k.startsWith('ringbuf_full'))
      .reduce((a, [, v]) => a + v, 0);
  return fin.lost ?? 0;
}

/** Exec storm duration untraced / traced (interleaved), events delivered, drops. */
async function stormSlowdown(out) {
  const k = 2;
  const n = QUICK ? 500 : 1500;
  const kinds = opt('tracers', 'none,sink,cli').split(',');
  const rows = {};
  for (let rep = 0; rep < STORM_REPS; rep++) {
    for (const kind of kinds.map((_, i) => kinds[(i + rep) % kinds.length])) {
      const t = procTracer(kind);
      await t.start();
      await C.sleep(300);
      const m0 = await t.mark();
      const r = await execStorm(k, n);
      await C.sleep(100);
      const d = await t.since(m0);
      const fin = await t.stop();
      (rows[kind] ??= []).push({ ...r, events: d.events, cpu: d.cpu_ms, drops: dropsOf(fin) });
      process.stderr.write(
        `  storm rep ${rep + 1} ${kind.padEnd(5)} ${C.fmtNum(r.ms)} ms (${C.fmtNum(r.execs / (r.ms / 1000))} execs/s)${kind !== 'none' ? `, ${d.events} events, drops ${dropsOf(fin)}` : ''}\n`,
      );
    }
  }
  const base = C.median(rows.none.map((r) => r.ms));
  const baseCpu = C.median(rows.none.map((r) => r.cpuMs));
  const names = { none: 'untraced', sink: 'ProcessTracer (events counted)', cli: 'agentsight process --format json (CLI)' };
  const label = (kind) => {
    const [k, root] = kind.split('@');
    return `${names[k] ?? k}${root ? ` [${root}]` : ''}`;
  };
  out.push(
    `\n## Exec storm: ${k} x ${n} execs of /bin/true (sh loops); median of ${STORM_REPS}, interleaved\n`,
    C.table(
      ['tracer', 'storm ms', 'ratio', 'storm CPU ms', 'ratio', 'execs/s', 'events/s delivered', 'drops', 'tracer CPU', 'each run (ms)'],
      kinds.map((kind) => {
        const rs = rows[kind];
        const ms = C.median(rs.map((r) => r.ms));
        const cpu = C.median(rs.map((r) => r.cpuMs));
        return [
          label(kind),
          C.fmtNum(ms),
          C.fmtRatio(ms / base),
          C.fmtNum(cpu),
          C.fmtRatio(cpu / baseCpu),
          C.fmtNum((k * n) / (ms / 1000)),
          kind === 'none' ? '-' : C.fmtNum(C.median(rs.map((r) => r.events / (r.ms / 1000)))),
          kind === 'none' ? '-' : String(rs.reduce((a, r) => a + r.drops, 0)),
          kind === 'none' ? '-' : `${C.fmtNum(C.median(rs.map((r) => r.cpu / r.ms)) * 100)}%`,
          rs.map((r) => C.fmtNum(r.ms)).join(' / '),
        ];
      }),
    ),
    'storm CPU = user+system time of the storm processes themselves (the eBPF programs run in their context); less sensitive than wall time to',
    'other load on the machine. events/s counts every EXEC/EXIT/FORK event of the machine in the window (the storm is nearly all of them).',
  );
}

/** dd bs=1 under the process tracer: file-event hooks on sys_enter/sys_exit run on every system call; on the open syscalls' tracepoints they run on opens only. */
async function syscallTax(out) {
  const count = QUICK ? 200_000 : 500_000;
  const runs = 3;
  // with a selection (--comm), the file-event hooks are attached although dd is not selected
  // the last two: the same selection with file opens hooked on sys_enter/sys_exit, or on the open syscalls' own tracepoints
  const kinds = [
    ['none', null],
    ['cli', []],
    ['cli', ['--comm', 'asbench-none']],
    ['cli', ['--comm', 'asbench-none', '--no-file-events']],
    ['sink', { comm: ['asbench-none'], fileHook: 'raw' }],
    ['sink', { comm: ['asbench-none'], fileHook: 'syscalls' }],
  ];
  const times = kinds.map(() => []);
  const dd = async () => {
    const t0 = process.hrtime.bigint();
    await waitExit(spawn('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1', `count=${count}`], { stdio: 'ignore' }));
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  for (let rep = 0; rep < REPS; rep++) {
    for (let j = 0; j < kinds.length; j++) {
      const i = (j + rep) % kinds.length;
      const [kind, arg] = kinds[i];
      const t = kind === 'sink' ? procTracer(kind, arg) : procTracer(kind, {}, arg ?? []);
      await t.start();
      await C.sleep(300);
      for (let r = 0; r < runs; r++) times[i].push(await dd());
      await t.stop();
    }
  }
  const base = C.median(times[0]);
  out.push(
    `\n## Tax on every process: dd if=/dev/zero of=/dev/null bs=1 count=${count} (${2 * count} system calls); median of ${REPS * runs} runs\n`,
    C.table(
      ['tracer', 'ms', 'ratio', 'ns per system call added'],
      kinds.map(([k, a], i) => {
        const m = C.median(times[i]);
        const name =
          k === 'none' ? 'untraced' : k === 'sink' ? `ProcessTracer --comm asbench-none, fileHook ${a.fileHook}` : `agentsight process ${a.join(' ')}`.trim();
        return [name, C.fmtNum(m), C.fmtRatio(m / base), k === 'none' ? '-' : C.fmtNum(((m - base) * 1e6) / (2 * count))];
      }),
    ),
  );
}

/** Exec storms of growing parallelism, at the default and a small ring. */
async function execRates(out) {
  const n = QUICK ? 300 : 800;
  const ks = QUICK ? [2, 8] : [1, 2, 4, 8];
  const rows = [];
  for (const ring of [DEFAULT_RING, SMALL_RING]) {
    for (const k of ks) {
      const t = procTracer('sink', { ringBytes: ring });
      await t.start();
      await C.sleep(300);
      const m0 = await t.mark();
      const r = await execStorm(k, n);
      await C.sleep(100);
      const d = await t.since(m0);
      const fin = await t.stop();
      const drops = dropsOf(fin);
      process.stderr.write(
        `  exec ring ${ring} k=${k}: ${C.fmtNum(r.execs / (r.ms / 1000))} execs/s, ${C.fmtNum(d.events / (r.ms / 1000))} events/s, drops ${drops}\n`,
      );
      rows.push([
        C.fmtNum(ring / 1024) + ' KiB',
        String(k),
        C.fmtNum(r.execs / (r.ms / 1000)),
        C.fmtNum(d.events / (r.ms / 1000)),
        String(drops),
        C.fmtNum(d.lag),
        `${C.fmtNum((d.cpu_ms / r.ms) * 100)}%`,
      ]);
    }
  }
  out.push(
    `\n## Exec storms: K parallel loops of ${n} execs, ProcessTracer (mode 1, every process), default ring ${DEFAULT_RING >> 20} MiB and ${SMALL_RING / 1024} KiB\n`,
    C.table(['ring', 'K', 'execs/s', 'events/s delivered', 'drops', 'max lag ms', 'tracer CPU'], rows),
  );
}

/** Paced open storms at the default and a small ring: where drops begin. */
async function openRates(out) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-bench-'));
  const opener = path.join(dir, 'asbench-open');
  fs.symlinkSync(fs.realpathSync(process.execPath), opener);
  const secs = QUICK ? 2 : 3;
  const levels = QUICK ? [50_000, 0] : [25_000, 50_000, 100_000, 200_000, 0];
  const rows = [];
  try {
    for (const ring of [DEFAULT_RING, SMALL_RING]) {
      for (const rate of levels) {
        const t = procTracer('sink', { ringBytes: ring, comm: ['asbench-open'] });
        await t.start();
        await C.sleep(300);
        const m0 = await t.mark();
        const child = new C.Child(opener, [path.join(__dirname, 'lib', 'opener.js'), String(rate), String(secs), '/etc/hostname']);
        C.track(child);
        const r = await child.json(/"opens"/);
        await C.sleep(100);
        const d = await t.since(m0);
        const fin = await t.stop();
        const drops = dropsOf(fin);
        const offered = r.opens / (r.ms / 1000);
        process.stderr.write(
          `  open ring ${ring} rate ${rate || 'max'}: ${C.fmtNum(offered)} opens/s, ${C.fmtNum(d.events / (r.ms / 1000))} events/s, drops ${drops}\n`,
        );
        rows.push([
          C.fmtNum(ring / 1024) + ' KiB',
          rate ? C.fmtNum(rate) : 'unpaced',
          C.fmtNum(offered),
          C.fmtNum(d.events / (r.ms / 1000)),
          String(drops),
          C.fmtNum((drops / r.opens) * 100, 1) + '%',
          C.fmtNum(d.lag),
          `${C.fmtNum((d.cpu_ms / r.ms) * 100)}%`,
          `${C.fmtMiB(fin.vmhwm)} / ${C.fmtMiB(fin.final?.peak_rss_anon)}`,
        ]);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  out.push(
    `\n## Open storms: one process opening /etc/hostname at a paced rate for ${secs} s, ProcessTracer --comm asbench-open (file events on, file-dedup off)\n`,
    C.table(['ring', 'target opens/s', 'offered opens/s', 'events/s delivered', 'drops', 'dropped', 'max lag ms', 'tracer CPU', 'VmHWM / peak RssAnon'], rows),
    'events/s delivered counts FILE_OPEN events reaching events() in the window (plus a few EXEC/EXIT of the opener).',
  );
}

async function main() {
  C.requireRoot();
  const out = [C.header('agentsight process tracer: event rate and exec-storm overhead')];
  if (WAIT_QUIET) out.push(`before:    ${await C.waitQuiet(WAIT_QUIET * 1000)}`);
  const progs0 = new Set(C.bpfPrograms().map((p) => p.id));
  const foreign = C.bpfPrograms().length;
  if (foreign) out.push(`note:      ${foreign} eBPF program(s) of other users were loaded at the start (they add their own cost)`);
  try {
    if (ONLY.includes('storm')) await stormSlowdown(out);
    if (ONLY.includes('tax')) await syscallTax(out);
    if (ONLY.includes('exec')) await execRates(out);
    if (ONLY.includes('open')) await openRates(out);
  } finally {
    C.killAll();
  }
  await C.sleep(300);
  out.push(`\n${C.leftoverReport(progs0)}`, `finished:  ${new Date().toISOString()}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err) => {
  C.killAll();
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
