'use strict';
/**
 * Streams of ssl events for replaying through analyzer chains, shared by
 * bench/analyzers.js and the test that checks the chains' output
 * (test/unit/chain-output.test.ts). Bytes are attached out of band, as the
 * tracer delivers them; `attachPayload` is the library's (compiled or not).
 */
const fs = require('fs');
const path = require('path');

const FIXTURES = path.join(__dirname, '..', '..', 'test', 'fixtures');

/** Move the payload of an event read from NDJSON out of band; returns its size. */
function detach(attachPayload, e) {
  const b = Buffer.from(e.data.data, e.data.data_encoding === 'base64' ? 'base64' : 'utf8');
  delete e.data.data;
  delete e.data.data_encoding;
  attachPayload(e, b);
  return b.length;
}

/**
 * The TLS events the tracer recorded from real clients (test/fixtures/*.ndjson),
 * `repeats` times, each copy on its own connections with advancing times.
 */
function recordedStream(attachPayload, repeats, { processEvents = false } = {}) {
  const files = fs
    .readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.ndjson'))
    .sort();
  const recorded = [];
  for (const f of files) {
    const lines = fs.readFileSync(path.join(FIXTURES, f), 'utf8').split('\n').filter(Boolean);
    const ssl = lines
      .map((l) => JSON.parse(l))
      .filter((e) => (e.source === 'ssl' && typeof e.data.data === 'string') || (processEvents && e.source === 'process'));
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
      if (e.source !== 'ssl') {
        events.push(e);
        continue;
      }
      e.data.conn_id = `${r.data.conn_id}-${i}`;
      bytes += detach(attachPayload, e);
      events.push(e);
    }
  }
  const reqs = recorded.filter((e) => e.source === 'ssl' && e.data.function === 'WRITE/SEND' && /^(POST|GET) /.test(e.data.data)).length;
  const tls = recorded.filter((e) => e.source === 'ssl').length;
  return { events, bytes, what: `${repeats} x ${tls} recorded TLS events (${files.length} sessions, ${reqs} requests, from test/fixtures)` };
}

/** The wire samples of the tests (Anthropic, OpenAI chat and Responses, Gemini), `repeats` times. */
function syntheticStream(attachPayload, repeats) {
  const W = require(path.join(FIXTURES, 'wire-samples.js'));
  const events = [];
  let bytes = 0;
  for (let i = 0; i < repeats; i++) {
    for (const e of W.sessionEvents({ startMono: 5e9 + i * 2e9, startWall: 1764304392000 + i * 2000, connSuffix: `-${i}` })) {
      bytes += detach(attachPayload, e);
      events.push(e);
    }
  }
  return { events, bytes, what: `${repeats} x the synthetic wire samples (6 sessions, 8 exchanges each)` };
}

/** Deterministic bytes that look like compressed data (xorshift). */
function noise(n, seed) {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Large downloads: for each content type, one connection that sends a GET
 * and reads a `size`-byte response body (Content-Length framing) in
 * `readSize`-byte TLS reads, as a client downloading a file does.
 */
function bulkStream(
  attachPayload,
  { size = 100 * 1024 * 1024, readSize = 16 * 1024, types = ['application/octet-stream'], pid = 4242, block = 4 * 1024 * 1024 } = {},
) {
  const events = [];
  let bytes = 0;
  let mono = 9e12;
  let wall = 1795842856000;
  let seq = 0;
  const body = noise(Math.min(size, block), 0x9e3779b9);
  const push = (conn, fn, buf) => {
    mono += 20_000;
    if (mono % 1e6 < 20_000) wall++;
    const e = {
      timestamp: wall,
      mono_ns: mono,
      source: 'ssl',
      pid,
      comm: 'curl',
      data: { function: fn, pid, tid: pid, uid: 0, comm: 'curl', len: buf.length, latency_ms: 0.01, truncated: false, bytes_lost: 0, conn_id: conn, fd: 5 },
    };
    attachPayload(e, buf);
    bytes += buf.length;
    events.push(e);
    seq++;
  };
  types.forEach((type, i) => {
    const conn = `${pid}:bulk-${i}`;
    const name = type.includes('gzip') ? 'release.tar.gz' : 'model.bin';
    push(conn, 'WRITE/SEND', Buffer.from(`GET /files/${name} HTTP/1.1\r\nHost: downloads.example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n`));
    push(conn, 'READ/RECV', Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${size}\r\nAccept-Ranges: bytes\r\n\r\n`));
    for (let at = 0; at < size; at += readSize) {
      const n = Math.min(readSize, size - at);
      const from = at % body.length;
      // a fresh buffer per read, as the tracer delivers them
      push(conn, 'READ/RECV', Buffer.from(from + n <= body.length ? body.subarray(from, from + n) : noise(n, at + 1)));
    }
  });
  const mb = (size / (1024 * 1024)).toFixed(size >= 1024 * 1024 ? 0 : 2);
  return { events, bytes, what: `${types.length} download(s) of ${mb} MB (${types.join(', ')}) in ${readSize / 1024} KiB TLS reads` };
}

module.exports = { FIXTURES, detach, recordedStream, syntheticStream, bulkStream };
