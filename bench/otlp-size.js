#!/usr/bin/env node
'use strict';
/**
 * What the OTLP export of a session costs on the wire: spans per LLM call and
 * bytes per span, as http/protobuf and http/json, with and without gzip, with
 * and without --otlp-content; and the sink's CPU time per event.
 *
 *   npx tsc -p tsconfig.json && node bench/otlp-size.js [FILE.ndjson ...]
 *
 * Without files: the sessions the tracer recorded from real clients
 * (test/fixtures/*.ndjson with process events: python urllib and the openai
 * and @anthropic-ai/sdk npm clients against the stand-in), replayed through
 * the chain `record` runs. Files written by `record` or `agent` (e.g. a Claude
 * Code session) are exported as they are. The receiver is an HTTP server in
 * this process that counts request bodies (no decoding).
 */
const fs = require('fs');
const http = require('http');
const path = require('path');

let lib;
try {
  lib = require(path.join(__dirname, '..', 'dist', 'index'));
} catch (e) {
  console.error('bench/otlp-size.js needs the compiled library: run `npx tsc -p tsconfig.json` first.\n' + e.message);
  process.exit(1);
}

const FIXTURES = path.join(__dirname, '..', 'test', 'fixtures');

function receiver() {
  const reqs = [];
  const server = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (c) => (n += c.length));
    req.on('end', () => {
      reqs.push({ path: req.url, bytes: n });
      res.writeHead(200).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, reqs, url: `http://127.0.0.1:${server.address().port}` })));
}

async function eventsOf(file) {
  const evs = [];
  for await (const e of lib.readNdjson(file)) evs.push(e);
  if (evs.some((e) => e.source === 'llm')) return evs;
  // a raw capture: the analyzer chain of record first
  const out = [];
  const source = (async function* () {
    yield* evs;
  })();
  const chain = [new lib.HttpParser(), new lib.SseProcessor(), new lib.LlmAnalyzer(), new lib.SessionSummary()];
  for await (const e of lib.chain(source, chain, { signal: new AbortController().signal })) out.push(e);
  return out;
}

async function exportOnce(evs, rx, env, content) {
  rx.reqs.length = 0;
  const cfg = lib.resolveOtlp({ otlpEndpoint: rx.url, otlpContent: content, otlpMetrics: false }, env);
  const sink = new lib.OtlpSink(cfg, { metrics: false });
  const t0 = process.cpuUsage();
  for (const e of evs) sink.observe(e);
  const cpu = process.cpuUsage(t0);
  await sink.close();
  const s = sink.stats();
  const traces = rx.reqs.filter((r) => r.path === '/v1/traces');
  return { spans: s.queue.exported, requests: traces.length, bytes: traces.reduce((a, r) => a + r.bytes, 0), cpuUs: cpu.user + cpu.system, events: evs.length };
}

async function main() {
  const files = process.argv.slice(2);
  const inputs = files.length
    ? files
    : fs
        .readdirSync(FIXTURES)
        .filter((f) => f.endsWith('.ndjson') && fs.readFileSync(path.join(FIXTURES, f), 'utf8').includes('"event":"EXEC"'))
        .map((f) => path.join(FIXTURES, f));
  const rx = await receiver();
  const variants = [
    ['protobuf', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, false],
    ['protobuf+gzip', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }, false],
    ['json', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, false],
    ['json+gzip', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }, false],
    ['protobuf, content', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, true],
    ['protobuf+gzip, content', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }, true],
  ];
  console.log(`node ${process.version}, ${new Date().toISOString()}`);
  const totals = Object.fromEntries(variants.map(([n]) => [n, { spans: 0, bytes: 0 }]));
  let calls = 0;
  let spans = 0;
  let events = 0;
  let cpuUs = 0;
  for (const f of inputs) {
    const evs = await eventsOf(f);
    const llm = evs.filter((e) => e.source === 'llm').length;
    calls += llm;
    const row = [];
    let fileSpans = 0;
    for (const [name, env, content] of variants) {
      const r = await exportOnce(evs, rx, env, content);
      totals[name].spans += r.spans;
      totals[name].bytes += r.bytes;
      if (name === 'protobuf') {
        fileSpans = r.spans;
        spans += r.spans;
        events += r.events;
        cpuUs += r.cpuUs;
      }
      row.push(`${name} ${Math.round(r.bytes / Math.max(1, r.spans))} B/span`);
    }
    console.log(`${path.basename(f)}: ${llm} LLM call(s), ${evs.length} events, ${fileSpans} spans; ${row.join(', ')}`);
  }
  console.log('');
  console.log(`all: ${calls} LLM call(s), ${spans} span(s): ${(spans / Math.max(1, calls)).toFixed(2)} span(s) per LLM call`);
  for (const [name] of variants) {
    const t = totals[name];
    console.log(
      `  ${name.padEnd(24)} ${String(Math.round(t.bytes / Math.max(1, t.spans))).padStart(6)} bytes/span  ${String(Math.round(t.bytes / Math.max(1, calls))).padStart(7)} bytes per LLM call`,
    );
  }
  console.log(`sink CPU: ${(cpuUs / Math.max(1, events)).toFixed(1)} us per event (${events} events, spans made and queued; sending excluded)`);
  rx.server.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
