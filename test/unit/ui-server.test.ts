/**
 * The web UI's server without a browser: every request needs the token
 * (static files and the event stream too), Host and Origin are checked,
 * responses carry a strict CSP; the store stays within its limits and
 * reads old events back from the session file (the files given to `ui`, or
 * the FileLogger's, rotated or not); the live stream sends a snapshot, then
 * updates.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chain } from '../../lib/core/analyzer';
import type { Event } from '../../lib/core/event';
import { FileLogger } from '../../lib/sinks/file-logger';
import { fileSetOf, openSessionFiles, SessionStore, startUi, uiAnnouncement, UiServer, UiSink } from '../../lib/ui';
import { sessionEvents, tempDir, writeSession } from '../support/sessions';

const tmp = tempDir();
afterAll(() => tmp.remove());

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, p: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method, headers: { Host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const portOf = (url: string) => Number(new URL(url).port);

describe('access', () => {
  let server: UiServer;
  let port: number;
  let token: string;
  beforeAll(async () => {
    const file = writeSession(path.join(tmp.dir, 'a.ndjson'), await sessionEvents('python-anthropic-stream'));
    const { store, loaded } = openSessionFiles([file]);
    await loaded;
    ({ server } = await startUi(store));
    port = portOf(server.url);
    token = server.token;
  });
  afterAll(() => server.close());

  it('prints a loopback URL with a long random token', () => {
    expect(server.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[0-9a-f]{64}$`));
  });

  it('refuses every path without the token, static files and the stream included', async () => {
    for (const p of ['/', '/index.html', '/app.js', '/app.css', '/api/snapshot', '/api/stream', '/api/events', '/api/event/0', '/api/report', '/nope']) {
      const r = await get(port, p);
      expect(r.status, p).toBe(401);
      expect(r.body, p).not.toContain('agentsight</title>');
    }
    expect((await get(port, '/api/snapshot', { Cookie: `agentsight_ui_${port}=${'0'.repeat(64)}` })).status).toBe(403);
    expect((await get(port, `/api/snapshot?token=${token.slice(0, -1)}x`)).status).toBe(403);
  });

  it('moves the token of the first load into an HttpOnly SameSite=Strict cookie', async () => {
    const r = await get(port, `/?token=${token}`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/');
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toContain(`agentsight_ui_${port}=${token}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const page = await get(port, '/', { Cookie: `agentsight_ui_${port}=${token}` });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script defer src="/app.js"></script>');
    expect((await get(port, '/app.js', { Cookie: `other=1; agentsight_ui_${port}=${token}` })).status).toBe(200);
    expect((await get(port, '/api/snapshot', { Authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it('checks Host (no DNS rebinding), Origin and Sec-Fetch-Site; only GET and HEAD', async () => {
    const auth = { Authorization: `Bearer ${token}` };
    expect((await get(port, '/api/snapshot', { ...auth, Host: `evil.example:${port}` })).status).toBe(403);
    expect((await get(port, '/api/snapshot', { ...auth, Host: `127.0.0.1:${port + 1}` })).status).toBe(403);
    expect((await get(port, '/api/snapshot', { ...auth, Host: `localhost:${port}` })).status).toBe(200);
    expect((await get(port, '/api/snapshot', { ...auth, Origin: 'http://evil.example' })).status).toBe(403);
    expect((await get(port, '/api/snapshot', { ...auth, Origin: `http://127.0.0.1:${port}` })).status).toBe(200);
    expect((await get(port, '/api/snapshot', { ...auth, 'Sec-Fetch-Site': 'cross-site' })).status).toBe(403);
    expect((await get(port, `/?token=${token}`, { 'Sec-Fetch-Site': 'cross-site' })).status).toBe(403);
    expect((await get(port, '/api/snapshot', auth, 'POST')).status).toBe(405);
  });

  it('sends a strict Content-Security-Policy and nosniff with everything', async () => {
    for (const p of ['/', '/app.js', '/api/snapshot']) {
      const r = await get(port, p, { Authorization: `Bearer ${token}` });
      const csp = String(r.headers['content-security-policy']);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
    const refused = await get(port, '/');
    expect(String(refused.headers['content-security-policy'])).toContain("default-src 'none'");
  });

  it('serves the session: snapshot, calls with their HTTP exchange, report', async () => {
    const auth = { Authorization: `Bearer ${token}` };
    const snap = JSON.parse((await get(port, '/api/snapshot', auth)).body);
    expect(snap.calls).toHaveLength(2);
    expect(snap.totals.cost_usd).toBeCloseTo(0.002178, 12);
    const linked = snap.procs.filter((p: { link: unknown }) => p.link);
    expect(linked.map((p: { cmd: string }) => p.cmd)).toEqual(['/bin/sh -c uname -r', 'uname -r']);
    const call = JSON.parse((await get(port, `/api/call/${snap.calls[0].seq}`, auth)).body);
    expect(call.call.data.call_id).toBe('llm-31852-1');
    expect(call.request.data.type).toBe('request');
    expect(call.request.data.body).toContain('uname -r');
    const report = JSON.parse((await get(port, '/api/report', auth)).body);
    expect(report.totals.calls).toBe(2);
    const rows = JSON.parse((await get(port, '/api/events?from=0&count=5', auth)).body);
    expect(rows.rows.map((r: { seq: number }) => r.seq)).toEqual([0, 1, 2, 3, 4]);
  });

  it('says so when it listens beyond loopback', () => {
    expect(uiAnnouncement('http://10.1.2.3:1/?token=x', '10.1.2.3')[1]).toMatch(/^WARNING: the UI listens on 10\.1\.2\.3/);
    expect(uiAnnouncement('http://127.0.0.1:1/?token=x', undefined)).toHaveLength(1);
  });
});

describe('live stream', () => {
  it('a late client gets the session so far, then each change', async () => {
    const store = new SessionStore({ info: { live: true } });
    const { server } = await startUi(store, { updateMs: 20 });
    const port = portOf(server.url);
    try {
      store.add({ timestamp: 1000, source: 'process', pid: 5, comm: 'sh', data: { event: 'EXEC', ppid: 1, full_command: 'sh -c true' } });
      const got: string[] = [];
      const req = http.get({ host: '127.0.0.1', port, path: '/api/stream', headers: { Host: `127.0.0.1:${port}`, Authorization: `Bearer ${server.token}` } });
      const res = await new Promise<http.IncomingMessage>((r) => req.on('response', r));
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
      res.setEncoding('utf8');
      res.on('data', (d: string) => got.push(d));
      const until = async (pred: () => boolean) => {
        for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
      };
      await until(() => got.join('').includes('event: snapshot'));
      expect(got.join('')).toContain('"cmd":"sh -c true"');
      store.add({ timestamp: 1005, source: 'process', pid: 5, comm: 'sh', data: { event: 'EXIT', ppid: 1, exit_code: 3, duration_ms: 5 } });
      await until(() => got.join('').includes('event: update'));
      const update = got.join('').split('event: update\ndata: ')[1].split('\n')[0];
      expect(JSON.parse(update).procs).toMatchObject([{ pid: 5, exit: 3 }]);
      req.destroy();
    } finally {
      await server.close();
    }
  });
});

function ev(i: number): Event {
  return {
    timestamp: 1000 + i,
    source: 'process',
    pid: 100 + (i % 50),
    comm: 'w',
    data: { event: 'FILE_OPEN', filepath: `/tmp/f${i}`, flags: 'O_RDONLY', fd: 3, count: 1 },
  };
}

describe('bounded memory, detail from the file', () => {
  it('ui FILE: the ring keeps the last events, older ones are read back from the file; the indexes stop at their limits', async () => {
    const events = Array.from({ length: 3000 }, (_, i) => ev(i));
    const a = writeSession(path.join(tmp.dir, 'many-a.ndjson'), events.slice(0, 1000));
    // a blank line and a damaged one in the second file
    const b = path.join(tmp.dir, 'many-b.ndjson');
    fs.writeFileSync(
      b,
      events
        .slice(1000, 1500)
        .map((e) => JSON.stringify(e))
        .join('\n') +
        '\n\n{broken\n' +
        events
          .slice(1500)
          .map((e) => JSON.stringify(e))
          .join('\n') +
        '\n',
    );
    const { store, loaded } = openSessionFiles([a, b], { store: { ringEvents: 100, checkpointEvery: 64, limits: { files: 500 } } });
    await loaded;
    expect(store.size).toBe(3001);
    expect(store.detail.usage().ring_events).toBe(100);
    const snap = store.snapshot();
    expect(snap.files).toHaveLength(500);
    expect(snap.totals.not_indexed.files).toBe(2500);
    expect(snap.totals.files).toBe(3000);
    // from memory, from the first file, across the files, the damaged line
    expect((await store.detail.get(2999))?.data.filepath).toBe('/tmp/f2998');
    expect((await store.detail.get(10))?.data.filepath).toBe('/tmp/f10');
    expect((await store.detail.get(999))?.data.filepath).toBe('/tmp/f999');
    expect((await store.detail.get(1000))?.data.filepath).toBe('/tmp/f1000');
    expect((await store.detail.get(1500))?.data.type).toBe('ndjson_error');
    expect((await store.detail.get(1501))?.data.filepath).toBe('/tmp/f1500');
    const range = await store.detail.range(990, 20);
    expect(range.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 990 + i));
    expect(range.map((r) => r.event.data.filepath)).toEqual(Array.from({ length: 20 }, (_, i) => `/tmp/f${990 + i}`));
  });

  it('record --ui: UiSink after the FileLogger reads old events back from the log, rotated files included', async () => {
    const file = path.join(tmp.dir, 'live.ndjson');
    const logger = new FileLogger({ path: file, rotate: true, maxSizeMB: 0.05, maxFiles: 50 });
    const store = new SessionStore({ files: fileSetOf(logger), ringEvents: 50, checkpointEvery: 32 });
    async function* src() {
      for (let i = 0; i < 1200; i++) yield ev(i);
    }
    for await (const _ of chain(src(), [logger, new UiSink(store, logger)], { signal: new AbortController().signal })) void _;
    expect(logger.stats().rotations).toBeGreaterThan(2);
    for (const i of [0, 1, 333, 700, 1150, 1199]) expect((await store.detail.get(i))?.data.filepath, String(i)).toBe(`/tmp/f${i}`);
    expect(store.snapshot().info.ended).toBe(true);
  });

  it('without a file, events that left memory are said to be gone', async () => {
    const store = new SessionStore({ ringEvents: 10 });
    for (let i = 0; i < 100; i++) store.add(ev(i));
    expect(await store.detail.get(5)).toBeNull();
    expect((await store.detail.get(95))?.data.filepath).toBe('/tmp/f95');
    expect(store.snapshot().info.detail_from_file).toBe(false);
  });
});

describe('the page source', () => {
  it('never writes captured text as markup', () => {
    const dir = path.join(__dirname, '../../web/src');
    for (const f of fs.readdirSync(dir)) {
      const src = fs.readFileSync(path.join(dir, f), 'utf8');
      expect(src, f).not.toMatch(/innerHTML|outerHTML|dangerouslySetInnerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    }
  });
});
