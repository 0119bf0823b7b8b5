#!/usr/bin/env node
'use strict';
/**
 * Throughput of the analyzer chain on a recorded-like stream.
 *
 *   npx tsc -p tsconfig.json && node bench/analyzers.js [sessions=400]
 *
 * The stream is built from the wire samples of the tests: LLM sessions
 * (Anthropic, OpenAI chat and Responses, Gemini; streamed SSE answers and JSON
 * answers) split like TLS reads, each session repeated on its own connection
 * with advancing kernel times. Bytes are attached out of band as the tracer
 * does. Each chain runs over the same in-memory events; a pass-through chain
 * gives the baseline cost of the async-iterator plumbing.
 */
const path = require('path');

let lib;
try {
  lib = {
    ...require(path.join(__dirname, '..', 'dist', 'analyzers')),
    ...require(path.join(__dirname, '..', 'dist', 'analyzer')),
    ...require(path.join(__dirname, '..', 'dist', 'payload')),
  };
} catch (e) {
  console.error('bench/analyzers.js needs the compiled library: run `npx tsc -p tsconfig.json` first.\n' + e.message);
  process.exit(1);
}
const W = require(path.join(__dirname, '..', 'test', 'fixtures', 'wire-samples.js'));

const sessions = Number(process.argv[2] || 400);

function buildStream() {
  const events = [];
  let bytes = 0;
  for (let i = 0; i < sessions; i++) {
    const batch = W.sessionEvents({ startMono: 5e9 + i * 2e9, startWall: 1764304392000 + i * 2000, connSuffix: `-${i}` });
    for (const e of batch) {
      const b = Buffer.from(e.data.data, e.data.data_encoding === 'base64' ? 'base64' : 'utf8');
      delete e.data.data;
      delete e.data.data_encoding;
      lib.attachPayload(e, b);
      bytes += b.length;
      events.push(e);
    }
  }
  return { events, bytes };
}

async function* source(events) {
  for (const e of events) yield e;
}

async function measure(name, events, makeChain) {
  const ac = new AbortController();
  let out = 0;
  let merged = 0;
  const t0 = process.hrtime.bigint();
  for await (const e of lib.chain(source(events), makeChain(), { signal: ac.signal })) {
    out++;
    if (e.source === 'sse') merged++;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { name, seconds: s, out, merged };
}

async function main() {
  const { events, bytes } = buildStream();
  const mb = bytes / (1024 * 1024);
  console.log(`stream: ${events.length} ssl events, ${mb.toFixed(1)} MB of plaintext, ${sessions} x 6 sessions (8 exchanges, 6 SSE streams each)`);
  const chains = [
    ['baseline pass-through', () => [lib.mapAnalyzer('pass', (e) => e)]],
    ['HTTPParser + SSEProcessor', () => [new lib.HTTPParser(), new lib.SSEProcessor()]],
    ['full: Redactor, SSLFilter, HTTPParser, SSEProcessor, HTTPFilter', () => [new lib.Redactor(), new lib.SSLFilter('handshake'), new lib.HTTPParser(), new lib.SSEProcessor(), new lib.HTTPFilter('GET /health')]],
  ];
  // warm-up
  for (const [, make] of chains) await measure('warm', events.slice(0, 2000), make);
  const results = [];
  for (const [name, make] of chains) results.push(await measure(name, events, make));
  const base = results[0].seconds;
  for (const r of results) {
    const evs = events.length / r.seconds;
    console.log(
      `${r.name.padEnd(66)} ${(evs / 1000).toFixed(1).padStart(7)} k ssl events/s ${(mb / r.seconds).toFixed(1).padStart(7)} MB/s  ` +
        `${(r.seconds * 1000).toFixed(0).padStart(6)} ms  x${(r.seconds / base).toFixed(1)} baseline  (${r.out} events out, ${r.merged} merged answers)`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
