#!/usr/bin/env node
'use strict';
/**
 * Throughput of the analyzer chain.
 *
 *   npx tsc -p tsconfig.json && node bench/analyzers.js [--synthetic] [repeats=200]
 *
 * Default stream: the sessions the tracer recorded from real clients
 * (test/fixtures/*.ndjson: curl, python urllib, the openai and
 * @anthropic-ai/sdk npm clients; streamed SSE and JSON answers, gzip), their
 * TLS events repeated `repeats` times, each copy on its own connection with
 * advancing kernel times. --synthetic uses the wire samples of the tests
 * instead (Anthropic, OpenAI chat and Responses, Gemini; 8 exchanges each).
 * Bytes are attached out of band as the tracer does. Each chain runs over the
 * same in-memory events; a pass-through chain gives the baseline cost of the
 * async-iterator plumbing. The last rows are the chains as the CLI builds them
 * (`agentsight ssl`, `ssl --http-parser --sse-merge`, `agent`/`record`). CPU
 * time is printed too: on a shared machine it moves less than wall time.
 */
const fs = require('fs');
const path = require('path');

let lib;
try {
  lib = require(path.join(__dirname, '..', 'dist', 'index'));
} catch (e) {
  console.error('bench/analyzers.js needs the compiled library: run `npx tsc -p tsconfig.json` first.\n' + e.message);
  process.exit(1);
}
const FIXTURES = path.join(__dirname, '..', 'test', 'fixtures');

const args = process.argv.slice(2);
const synthetic = args.includes('--synthetic');
const repeats = Number(args.find((a) => /^\d+$/.test(a)) ?? (synthetic ? 400 : 200));

/** Move the payload out of band, as the tracer delivers it. */
function detach(e) {
  const b = Buffer.from(e.data.data, e.data.data_encoding === 'base64' ? 'base64' : 'utf8');
  delete e.data.data;
  delete e.data.data_encoding;
  lib.attachPayload(e, b);
  return b.length;
}

function syntheticStream() {
  const W = require(path.join(FIXTURES, 'wire-samples.js'));
  const events = [];
  let bytes = 0;
  for (let i = 0; i < repeats; i++) {
    for (const e of W.sessionEvents({ startMono: 5e9 + i * 2e9, startWall: 1764304392000 + i * 2000, connSuffix: `-${i}` })) {
      bytes += detach(e);
      events.push(e);
    }
  }
  return { events, bytes, what: `${repeats} x the synthetic wire samples (6 sessions, 8 exchanges each)` };
}

function recordedStream() {
  const files = fs
    .readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.ndjson'))
    .sort();
  const recorded = [];
  for (const f of files) {
    const lines = fs.readFileSync(path.join(FIXTURES, f), 'utf8').split('\n').filter(Boolean);
    const ssl = lines.map((l) => JSON.parse(l)).filter((e) => e.source === 'ssl' && typeof e.data.data === 'string');
    recorded.push(...ssl);
  }
  if (recorded.length === 0) throw new Error(`no recorded TLS events in ${FIXTURES}`);
  recorded.sort((a, b) => a.mono_ns - b.mono_ns);
  const span = recorded.at(-1).mono_ns - recorded[0].mono_ns + 1e9;
  const events = [];
  let bytes = 0;
  for (let i = 0; i < repeats; i++) {
    for (const r of recorded) {
      const e = structuredClone(r);
      e.mono_ns = r.mono_ns + i * span;
      e.timestamp = r.timestamp + Math.round((i * span) / 1e6);
      e.data.conn_id = `${r.data.conn_id}-${i}`;
      bytes += detach(e);
      events.push(e);
    }
  }
  const reqs = recorded.filter((e) => e.data.function === 'WRITE/SEND' && /^(POST|GET) /.test(e.data.data)).length;
  return { events, bytes, what: `${repeats} x ${recorded.length} recorded TLS events (${files.length} sessions, ${reqs} requests, from test/fixtures)` };
}

async function* source(events) {
  for (const e of events) yield e;
}

async function measure(name, events, makeChain) {
  const ac = new AbortController();
  let out = 0;
  let merged = 0;
  let llm = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for await (const e of lib.chain(source(events), makeChain(), { signal: ac.signal })) {
    out++;
    if (e.source === 'sse') merged++;
    if (e.source === 'llm') llm++;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { name, seconds: s, cpu: (c.user + c.system) / 1e6, out, merged, llm };
}

async function main() {
  const { events, bytes, what } = synthetic ? syntheticStream() : recordedStream();
  const mb = bytes / (1024 * 1024);
  console.log(`stream: ${events.length} ssl events, ${mb.toFixed(1)} MB of plaintext: ${what}`);
  const chains = [
    ['baseline pass-through', () => [lib.mapAnalyzer('pass', (e) => e)]],
    ['HttpParser + SseProcessor', () => [new lib.HttpParser(), new lib.SseProcessor()]],
    [
      'full: Redactor, SslFilter, HttpParser, SseProcessor, HttpFilter',
      () => [new lib.Redactor(), new lib.SslFilter('handshake'), new lib.HttpParser(), new lib.SseProcessor(), new lib.HttpFilter('GET /health')],
    ],
    [
      'agent chain: Redactor, HttpParser, SseProcessor, LlmAnalyzer',
      () => [new lib.Redactor(), new lib.HttpParser(), new lib.SseProcessor(), new lib.LlmAnalyzer()],
    ],
    ['Redactor alone (agentsight ssl)', () => lib.tlsAnalyzers(lib.chainOptions({}))],
    ['ssl --http-parser --sse-merge, as the CLI builds it', () => lib.tlsAnalyzers(lib.chainOptions({ httpParser: true, sseMerge: true }))],
    [
      'agent/record, as the CLI builds it (TLS chain, LlmAnalyzer, Redactor, summary)',
      () => {
        const a = lib.agentAnalyzers({});
        return [...a.tls, ...a.global];
      },
    ],
  ];
  // warm-up
  for (const [, make] of chains) await measure('warm', events.slice(0, 2000), make);
  const results = [];
  for (const [name, make] of chains) results.push(await measure(name, events, make));
  const base = results[0].seconds;
  for (const r of results) {
    const evs = events.length / r.seconds;
    console.log(
      `${r.name.padEnd(80)} ${(evs / 1000).toFixed(1).padStart(7)} k ssl events/s ${(mb / r.seconds).toFixed(1).padStart(7)} MB/s  ` +
        `${(r.seconds * 1000).toFixed(0).padStart(6)} ms (cpu ${(r.cpu * 1000).toFixed(0)} ms)  x${(r.seconds / base).toFixed(1)} baseline  (${r.out} events out, ${r.merged} merged answers${r.llm ? `, ${r.llm} llm calls` : ''})`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
