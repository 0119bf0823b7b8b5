'use strict';
/**
 * HTTPS server of the TLS benchmarks (node's https module, so its TLS calls
 * are the node executable's exported SSL_read/SSL_write).
 *
 *   GET /small?n=32                       a JSON body of n bytes (Content-Length, keep-alive)
 *   GET /stream?chunks=100&size=100&rate=0
 *        an SSE-like response: `chunks` events of `size` bytes each
 *        ("data: ...\n\n"), each written in its own event-loop turn so it
 *        becomes its own TLS write; rate > 0 paces them (events/s for this
 *        stream), rate 0 writes them as fast as the socket takes them.
 *
 * Usage: node tls-server.js CERT_DIR   (prints {"port":N} on stdout)
 */
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');

const dir = process.argv[2];
const server = https.createServer({
  cert: fs.readFileSync(path.join(dir, 'cert.pem')),
  key: fs.readFileSync(path.join(dir, 'key.pem')),
  keepAliveTimeout: 60_000,
});

const smallBodies = new Map();
function smallBody(n) {
  let b = smallBodies.get(n);
  if (!b) {
    const head = '{"ok":true,"pad":"';
    const tail = '"}';
    b = Buffer.from(head + 'x'.repeat(Math.max(0, n - head.length - tail.length)) + tail);
    smallBodies.set(n, b);
  }
  return b;
}

function sseEvent(size, i) {
  // "data: {"i":123,"t":"xxxx"}\n\n" padded to size bytes
  const head = `data: {"i":${i},"t":"`;
  const tail = '"}\n\n';
  const pad = Math.max(0, size - head.length - tail.length);
  return head + 'x'.repeat(pad) + tail;
}

server.on('request', (req, res) => {
  const url = new URL(req.url, 'https://localhost');
  if (url.pathname === '/small') {
    const b = smallBody(Number(url.searchParams.get('n') ?? 32));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': b.length });
    res.end(b);
    return;
  }
  if (url.pathname === '/stream') {
    const chunks = Number(url.searchParams.get('chunks') ?? 100);
    const size = Number(url.searchParams.get('size') ?? 100);
    const rate = Number(url.searchParams.get('rate') ?? 0);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const template = sseEvent(size, 0);
    let i = 0;
    const t0 = process.hrtime.bigint();
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    const step = () => {
      if (closed) return;
      if (i >= chunks) {
        res.end();
        return;
      }
      if (rate > 0) {
        const due = Math.floor((Number(process.hrtime.bigint() - t0) / 1e9) * rate);
        if (i >= due) {
          const waitMs = ((i + 1) / rate) * 1000 - Number(process.hrtime.bigint() - t0) / 1e6;
          setTimeout(step, Math.max(0, waitMs));
          return;
        }
      }
      i++;
      // the same length every time; the digit only varies the bytes
      const ok = res.write(template.replace('"i":0,', `"i":${i % 10},`));
      if (ok) setImmediate(step);
      else res.once('drain', step);
    };
    step();
    return;
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port, pid: process.pid })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
