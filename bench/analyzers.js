#!/usr/bin/env node
'use strict';
/**
 * Throughput of the analyzer chains.
 *
 *   npx tsc -p tsconfig.json && node bench/analyzers.js [--synthetic] [--repeats N] [--reps N]
 *        [--bulk-mb N] [--base /path/to/other/tree] [--only chain,chain]
 *
 * Chains (--only): parser, ssl, ssl-http, agent; agent-plain (the agent chain
 * without a Redactor) only when asked for.
 *
 * Default stream: the sessions the tracer recorded from real clients
 * (test/fixtures/*.ndjson: curl, python urllib, the openai and
 * @anthropic-ai/sdk npm clients; streamed SSE and JSON answers, gzip), their
 * TLS events repeated `repeats` times, each copy on its own connection with
 * advancing kernel times. --synthetic uses the wire samples of the tests
 * instead (Anthropic, OpenAI chat and Responses, Gemini; 8 exchanges each).
 * Bytes are attached out of band as the tracer does (bench/lib/streams.js).
 * Each chain runs over the same in-memory events; a pass-through chain gives
 * the baseline cost of the async-iterator plumbing.
 *
 * The bulk case: a download of --bulk-mb MB (default 100) of
 * application/octet-stream in 16 KiB TLS reads through the same chains.
 *
 * --base runs the same chains from another build (a tree with dist/, or a
 * dist/ directory) interleaved with this one, for an A/B comparison in one
 * run. Figures are the best of --reps runs (default 3) by CPU time, which
 * moves less than wall time on a shared machine; ratios are CPU time against
 * the pass-through of the same build and stream.
 */
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const streams = require('./lib/streams');

const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : args[i + 1];
}
const synthetic = args.includes('--synthetic');
const positional = args.find((a, i) => /^\d+$/.test(a) && !/^--/.test(args[i - 1] ?? ''));
const repeats = Number(opt('repeats', positional ?? (synthetic ? 400 : 200)));
const reps = Number(opt('reps', 3));
const bulkMb = Number(opt('bulk-mb', 100));
const only = opt('only', null)?.split(',');

function loadLib(dir) {
  const candidates = [path.join(dir, 'dist', 'index'), path.join(dir, 'index')];
  for (const c of candidates) {
    try {
      return require(c);
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND' || !String(e.message).includes(c)) throw e;
    }
  }
  console.error(`no compiled library in ${dir}: run \`npx tsc -p tsconfig.json\` there first`);
  process.exit(1);
}

const builds = [['this', loadLib(path.join(__dirname, '..'))]];
if (opt('base', null)) builds.unshift(['base', loadLib(path.resolve(opt('base')))]);
const lib0 = builds.at(-1)[1];

const CHAINS = [
  ['pass', 'pass-through (baseline)', (lib) => [lib.mapAnalyzer('pass', (e) => e)]],
  ['parser', 'HttpParser + SseProcessor', (lib) => [new lib.HttpParser(), new lib.SseProcessor()]],
  ['ssl', 'agentsight ssl (Redactor on raw data)', (lib) => lib.tlsAnalyzers(lib.chainOptions({}))],
  ['ssl-http', 'ssl --http-parser --sse-merge', (lib) => lib.tlsAnalyzers(lib.chainOptions({ httpParser: true, sseMerge: true }))],
  [
    'agent',
    'agent/record chain (TLS chain, LlmAnalyzer, Cost, Redactor, summary)',
    (lib) => {
      const a = lib.agentAnalyzers({});
      return [...a.tls, ...a.global];
    },
  ],
  [
    'agent-plain',
    'agent/record chain with --disable-auth-removal (no Redactor)',
    (lib) => {
      const a = lib.agentAnalyzers({ redact: false });
      return [...a.tls, ...a.global];
    },
  ],
].filter(([k]) => k === 'pass' || (only ? only.includes(k) : k !== 'agent-plain'));

async function measure(lib, events, make) {
  const ac = new AbortController();
  let out = 0;
  let llm = 0;
  async function* source() {
    for (const e of events) yield e;
  }
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for await (const e of lib.chain(source(), make(lib), { signal: ac.signal })) {
    out++;
    if (e.source === 'llm') llm++;
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6, out, llm };
}

async function bench(title, stream) {
  const { events, bytes, what } = stream;
  const mb = bytes / (1024 * 1024);
  console.log(`\n${title}: ${events.length} ssl events, ${mb.toFixed(1)} MB of plaintext: ${what}`);
  const warm = events.slice(0, Math.min(events.length, 2000));
  for (const [, lib] of builds) for (const [, , make] of CHAINS) await measure(lib, warm, make);
  const best = new Map();
  for (let r = 0; r < reps; r++) {
    for (const [key, , make] of CHAINS) {
      for (const [b, lib] of r % 2 ? [...builds].reverse() : builds) {
        global.gc?.();
        const m = await measure(lib, events, make);
        const k = `${b}/${key}`;
        if (!best.has(k) || m.cpu < best.get(k).cpu) best.set(k, m);
      }
    }
  }
  const head = `${'chain'.padEnd(70)} ${'build'.padEnd(5)} ${'k ev/s'.padStart(8)} ${'MB/s'.padStart(7)} ${'cpu ms'.padStart(7)} ${'wall ms'.padStart(7)}  ratio  out`;
  console.log(head);
  console.log('-'.repeat(head.length + 8));
  const rows = [];
  for (const [key, name] of CHAINS) {
    for (const [b] of builds) {
      const m = best.get(`${b}/${key}`);
      const base = best.get(`${b}/pass`);
      const row = {
        chain: key,
        build: b,
        evs: events.length / m.cpu,
        mbs: mb / m.cpu,
        cpu: m.cpu,
        wall: m.wall,
        ratio: m.cpu / base.cpu,
        out: m.out,
        llm: m.llm,
      };
      rows.push(row);
      console.log(
        `${name.padEnd(70)} ${b.padEnd(5)} ${(row.evs / 1000).toFixed(1).padStart(8)} ${row.mbs.toFixed(1).padStart(7)} ${(m.cpu * 1000).toFixed(0).padStart(7)} ${(m.wall * 1000).toFixed(0).padStart(7)} ${('x' + row.ratio.toFixed(1)).padStart(6)}  ${m.out}${m.llm ? ` (${m.llm} llm)` : ''}`,
      );
    }
  }
  return rows;
}

function commit() {
  try {
    return execFileSync('git', ['-C', path.join(__dirname, '..'), 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

async function main() {
  console.log(`command:   node bench/analyzers.js ${args.join(' ')}`);
  console.log(`started:   ${new Date().toISOString()}`);
  console.log(
    `host:      ${os.hostname()}  ${os.type()} ${os.release()}  ${os.cpus().length} vCPU (${os.cpus()[0]?.model ?? '?'})  node ${process.version}  agentsight ${commit()}`,
  );
  if (builds.length > 1) console.log(`base:      ${path.resolve(opt('base'))}`);
  console.log(`figures:   best of ${reps} by CPU time; MB/s and events/s per CPU second; ratio = CPU time / pass-through CPU time (same build)`);
  const stream = synthetic ? streams.syntheticStream(lib0.attachPayload, repeats) : streams.recordedStream(lib0.attachPayload, repeats);
  await bench(synthetic ? 'synthetic' : 'recorded sessions', stream);
  if (bulkMb > 0) {
    const bulk = streams.bulkStream(lib0.attachPayload, { size: Math.round(bulkMb * 1024 * 1024) });
    await bench('bulk download', bulk);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
