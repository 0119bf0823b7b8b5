#!/usr/bin/env node
'use strict';
/**
 * The web UI with a large session: builds a session file of N events (default
 * 100000) from the recorded fixtures (each session replayed through the
 * analyzers `record` runs, then repeated with shifted times, pids and call
 * ids), serves it with `agentsight ui` in its own process and opens it in
 * headless Chromium (Debian's chromium, playwright-core). Prints how long the
 * page took until every event was counted and the timeline drawn, how long
 * the server took to read the file, the page's JS heap and DOM size, the
 * server's RSS and heap, and the time to show events from the middle of the
 * session (read back from the file).
 *
 *   node bench/ui-load.js [--events N] [--keep FILE]
 * No root needed. Run from a built tree (npx tsc -p tsconfig.json; npm run build:ui).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const D = path.join(ROOT, 'dist');
const { chain, mapAnalyzer } = require(`${D}/core/analyzer`);
const { HttpParser } = require(`${D}/analyzers/http-parser`);
const { SseProcessor } = require(`${D}/analyzers/sse-processor`);
const { LlmAnalyzer } = require(`${D}/analyzers/llm`);
const { CostAnalyzer } = require(`${D}/analyzers/cost`);
const { SessionSummary } = require(`${D}/analyzers/summary`);
const { readNdjson, toJsonLine } = require(`${D}/sinks/ndjson`);

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const TARGET = Number(arg('events', 100000));
const FIXTURES = path.join(ROOT, 'test/fixtures');

async function sessions() {
  const out = [];
  for (const f of fs
    .readdirSync(FIXTURES)
    .filter((n) => n.endsWith('.expected.json'))
    .sort()) {
    const name = f.replace(/\.expected\.json$/, '');
    const events = [];
    const analyzers = [
      new HttpParser(),
      new SseProcessor(),
      mapAnalyzer('drop', (e) => (e.source === 'ssl' ? null : e)),
      new LlmAnalyzer(),
      new CostAnalyzer(),
      new SessionSummary(),
    ];
    for await (const e of chain(readNdjson(path.join(FIXTURES, `${name}.ndjson`)), analyzers, { signal: new AbortController().signal }))
      if (e.source !== 'summary') events.push(e);
    out.push(events);
  }
  return out;
}

/** A copy of a session k-th in line: later, other pids, other call and connection ids. */
function shifted(events, k, t0) {
  const base = events[0].timestamp;
  const pidOf = (p) => (p ? 100000 + ((p * 7 + k * 131) % 3000000) : p);
  const text = (s) => s.replace(/llm-(\d+)-/g, (_, p) => `llm-${pidOf(Number(p))}-`).replace(/^(\d+):/, (_, p) => `${pidOf(Number(p))}:`);
  return events.map((e) => {
    const d = { ...e.data };
    for (const key of ['call_id', 'llm_call_id', 'conn_id']) if (typeof d[key] === 'string') d[key] = text(d[key]);
    if (typeof d.ppid === 'number') d.ppid = pidOf(d.ppid);
    return { ...e, timestamp: t0 + (e.timestamp - base), ...(e.mono_ns ? { mono_ns: e.mono_ns + k * 1e9 } : {}), pid: pidOf(e.pid), data: d };
  });
}

async function makeSession(file) {
  const all = await sessions();
  const fd = fs.openSync(file, 'w', 0o600);
  let n = 0;
  let k = 0;
  let t = Date.UTC(2026, 10, 28, 9, 0, 0);
  while (n < TARGET) {
    const s = all[k % all.length];
    const copy = shifted(s, k, t).slice(0, TARGET - n);
    fs.writeSync(fd, copy.map(toJsonLine).join(''));
    n += copy.length;
    t += 1500 + (copy[copy.length - 1].timestamp - copy[0].timestamp);
    k++;
  }
  fs.closeSync(fd);
  return { events: n, copies: k, bytes: fs.statSync(file).size };
}

function serverMemory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status) ?? [])[1] ?? 0);
  return { rss_mib: kb('VmRSS') / 1024, peak_rss_mib: kb('VmHWM') / 1024 };
}

async function main() {
  const { chromium } = require('playwright-core');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-ui-bench-'));
  const file = arg('keep') ?? path.join(dir, 'session.ndjson');
  const t0 = Date.now();
  const made = await makeSession(file);
  console.log(
    `session: ${made.events} events (${made.copies} copies of the ${fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.expected.json')).length} fixtures), ${(made.bytes / 1048576).toFixed(1)} MiB, made in ${Date.now() - t0} ms`,
  );

  const server = spawn(process.execPath, ['--expose-gc', path.join(ROOT, 'bin/agentsight.js'), 'ui', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  server.stderr.on('data', (d) => (err += d));
  const tServer = Date.now();
  const url = await new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const m = /UI at (\S+)/.exec(err);
      if (m) {
        clearInterval(t);
        resolve(m[1]);
      } else if (server.exitCode !== null) {
        clearInterval(t);
        reject(new Error(err));
      }
    }, 10);
  });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    // the server reads the file in the background; the page waits until it is all there
    const tLoad = Date.now();
    await page.goto(url);
    await page.waitForFunction(
      (n) => document.querySelector('[data-total="events"]')?.textContent === n.toLocaleString('en-US') && document.querySelector('[data-state="ended"]'),
      made.events,
      {
        timeout: 120_000,
        polling: 50,
      },
    );
    await page.locator('[data-call]').first().waitFor();
    const loadMs = Date.now() - tLoad;
    const serverLoadMs = Date.now() - tServer;
    const metrics = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
    const snap = await page.evaluate(async () => (await fetch('/api/snapshot')).json());
    // events from the middle of the session: read back from the file by the server
    await page.locator('[data-tab="events"]').click();
    const tMid = Date.now();
    await page.evaluate((n) => {
      const el = document.querySelector('.vscroll');
      el.scrollTop = (n / 2) * 24;
      el.dispatchEvent(new Event('scroll'));
    }, made.events);
    const mid = Math.floor(made.events / 2);
    await page.waitForFunction(
      (s) =>
        [...document.querySelectorAll('.row .num')].some((x) => x.textContent === `#${s}`) &&
        !document.querySelector('.row .dim')?.textContent?.startsWith('…'),
      mid,
      { timeout: 30_000, polling: 20 },
    );
    const midMs = Date.now() - tMid;
    const metrics2 = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    const mem = serverMemory(server.pid);
    console.log(`page: loaded and complete in ${loadMs} ms (server read the file meanwhile: ${serverLoadMs} ms from start)`);
    console.log(
      `page: JS heap ${(metrics.JSHeapUsedSize / 1048576).toFixed(1)} MiB used / ${(metrics.JSHeapTotalSize / 1048576).toFixed(1)} MiB total, ${nodes} DOM elements, ` +
        `index sent: ${snap.calls.length} calls, ${snap.procs.length} processes, ${snap.files.length} files`,
    );
    console.log(
      `page: events from the middle of the session (#${mid}, from the file) shown in ${midMs} ms; JS heap then ${(metrics2.JSHeapUsedSize / 1048576).toFixed(1)} MiB`,
    );
    console.log(
      `server: RSS ${mem.rss_mib.toFixed(1)} MiB (peak ${mem.peak_rss_mib.toFixed(1)} MiB); ring ${snap.memory.ring_events} events (~${(snap.memory.ring_bytes / 1048576).toFixed(1)} MiB), ${snap.memory.pinned} pinned places, ${snap.memory.checkpoints} checkpoints`,
    );
  } finally {
    await browser.close();
    server.kill('SIGINT');
    await new Promise((r) => server.on('exit', r));
    if (!arg('keep')) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
