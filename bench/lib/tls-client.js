'use strict';
/**
 * HTTPS client of the TLS benchmarks: keeps `concurrency` keep-alive
 * connections busy with back-to-back requests, forever, and answers
 * measurement commands on stdin:
 *
 *   "measure MS\n"  -> after MS ms, one JSON line: requests, body bytes, wall ms, CPU ms
 *   "quit\n"        -> exit
 *
 * Usage: node tls-client.js PORT CERT_DIR PATH CONCURRENCY
 *   PATH e.g. /small?n=32 or /stream?chunks=200&size=100
 */
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');
const readline = require('node:readline');

const [port, dir, reqPath, conc] = process.argv.slice(2);
const ca = fs.readFileSync(path.join(dir, 'cert.pem'));
const concurrency = Number(conc ?? 4);
const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency, ca, servername: 'localhost' });

let requests = 0;
let bytes = 0;
let errors = 0;
let reads = 0;

function one() {
  const req = https.request({ host: '127.0.0.1', port: Number(port), path: reqPath, agent, method: 'GET' }, (res) => {
    res.on('data', (d) => {
      bytes += d.length;
      reads++;
    });
    res.on('end', () => {
      requests++;
      setImmediate(one);
    });
    res.on('error', () => {
      errors++;
      setTimeout(one, 10);
    });
  });
  req.on('error', () => {
    errors++;
    setTimeout(one, 10);
  });
  req.end();
}
for (let i = 0; i < concurrency; i++) one();

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'quit') process.exit(0);
  if (cmd === 'measure') {
    const ms = Number(arg);
    const r0 = requests;
    const b0 = bytes;
    const d0 = reads;
    const e0 = errors;
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    setTimeout(() => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e6;
      const c = process.cpuUsage(c0);
      process.stdout.write(
        `${JSON.stringify({ requests: requests - r0, bytes: bytes - b0, reads: reads - d0, errors: errors - e0, ms: wall, cpu_ms: (c.user + c.system) / 1000 })}\n`,
      );
    }, ms);
  }
});
rl.on('close', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
