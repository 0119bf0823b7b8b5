/**
 * The web UI's HTTP server: the page (web/dist, built into the package),
 * the session as JSON, and its live tail as Server-Sent Events.
 *
 * Local by default and closed to everyone else: it binds 127.0.0.1 unless
 * told otherwise; every request needs the run's random token (in the URL
 * it prints, moved into an HttpOnly, SameSite=Strict cookie on the first
 * load, or as a Bearer token); the Host header must name this server (no
 * DNS rebinding) and a request from another origin is refused; only GET
 * and HEAD. Every response carries a strict Content-Security-Policy (no
 * inline script or style, nothing from the network) and nosniff.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AgentsightError, UsageError } from '../core/errors';
import type { Event } from '../core/event';
import { renderEventBody } from '../render/events';
import { toJsonLine } from '../sinks/ndjson';
import type { SessionStore } from './store';
import type { UiEventRow } from './types';
import { packageRoot } from '../core/package-root';

export interface UiServerOptions {
  /** Address to bind (default 127.0.0.1). Another than loopback is reachable by others: say so. */
  host?: string;
  /** Port (default 0: any free one). */
  port?: number;
  /** The access token (default: 32 random bytes, hex). */
  token?: string;
  /** The built page (default: web/dist of the package). */
  assets?: string;
  /** Milliseconds between live updates (default 250). */
  updateMs?: number;
}

export const DEFAULT_ASSETS = path.join(packageRoot(), 'web', 'dist');
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const STATIC: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/app.css': 'app.css',
};
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
/** A live client that falls this far behind is dropped (it reconnects and starts from a fresh snapshot). */
const MAX_CLIENT_BACKLOG = 8 * 1024 * 1024;

const bracket = (a: string) => (a.includes(':') ? `[${a}]` : a);

/**
 * The names a browser may use for this server (the Host header it must
 * send), the one to print first: loopback names for a loopback address; the
 * address itself; for a wildcard (0.0.0.0, ::) this machine's addresses and
 * host name.
 */
function hostNames(host: string): string[] {
  const loopback = ['127.0.0.1', 'localhost', '[::1]'];
  if (isLoopback(host)) return loopback;
  if (host !== '0.0.0.0' && host !== '::') return [bracket(host)];
  const addrs = Object.values(os.networkInterfaces())
    .flat()
    .filter((a): a is os.NetworkInterfaceInfo => a !== undefined && !a.internal && (host === '::' || a.family === 'IPv4'))
    .map((a) => bracket(a.address));
  return [...addrs, os.hostname().toLowerCase(), ...loopback];
}

export const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

function headers(type: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'Content-Type': type,
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
    ...extra,
  };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

export class UiServer {
  readonly token: string;
  private readonly store: SessionStore;
  private readonly host: string;
  private readonly port: number;
  private readonly assets = new Map<string, Buffer>();
  private readonly server: http.Server;
  private readonly clients = new Set<http.ServerResponse>();
  private allowedHosts = new Set<string>();
  private cookie = '';
  private bound = 0;
  private readonly updateMs: number;
  private timer: NodeJS.Timeout | null = null;
  private keepAlive: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  /** Requests refused, by status (for tests and stats). */
  readonly refused: Record<number, number> = {};

  constructor(store: SessionStore, opts: UiServerOptions = {}) {
    this.store = store;
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 0;
    if (!Number.isInteger(this.port) || this.port < 0 || this.port > 65535) throw new UsageError(`--port: expected a port number 0-65535 (got ${opts.port})`);
    this.token = opts.token ?? crypto.randomBytes(32).toString('hex');
    this.updateMs = opts.updateMs ?? 250;
    const dir = opts.assets ?? DEFAULT_ASSETS;
    for (const f of new Set(Object.values(STATIC))) {
      try {
        this.assets.set(f, fs.readFileSync(path.join(dir, f)));
      } catch {
        throw new AgentsightError(`the web UI is not built (${path.join(dir, f)} is missing): run "npm run build:ui"`);
      }
    }
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, headers('text/plain; charset=utf-8'));
        res.end(`agentsight: ${err instanceof Error ? err.message : String(err)}\n`);
      });
    });
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  /** Listen; resolves to the URL to open (with the token). */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' ? new UsageError(`port ${this.port} on ${this.host} is in use: choose another (or 0 for any free one)`) : err);
      this.server.once('error', onError);
      this.server.listen(this.port, this.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.bound = (this.server.address() as AddressInfo).port;
    this.allowedHosts = new Set(hostNames(this.host).map((n) => `${n}:${this.bound}`));
    this.cookie = `agentsight_ui_${this.bound}`;
    this.unsubscribe = this.store.onChange(() => this.schedule());
    this.keepAlive = setInterval(() => this.broadcast(': keep-alive\n\n'), 15_000);
    this.keepAlive.unref();
    return this.url;
  }

  get url(): string {
    return `http://${hostNames(this.host)[0]}:${this.bound}/?token=${this.token}`;
  }

  /** Live page connections now. */
  get clientCount(): number {
    return this.clients.size;
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.flush();
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.updateMs);
  }

  private flush(): void {
    const u = this.store.takeUpdate();
    if (u && this.clients.size) this.broadcast(`event: update\ndata: ${JSON.stringify(u)}\n\n`);
  }

  private broadcast(text: string): void {
    for (const c of this.clients) {
      if (c.writableLength > MAX_CLIENT_BACKLOG) {
        this.clients.delete(c);
        c.destroy();
      } else c.write(text);
    }
  }

  private refuse(res: http.ServerResponse, status: number, why: string): void {
    this.refused[status] = (this.refused[status] ?? 0) + 1;
    res.writeHead(status, headers('text/plain; charset=utf-8', status === 405 ? { Allow: 'GET, HEAD' } : {}));
    res.end(`agentsight: ${why}\n`);
  }

  /** The token of a request: cookie, Bearer header or query. */
  private tokenOf(req: http.IncomingMessage, url: URL): { token: string | null; fromQuery: boolean } {
    const q = url.searchParams.get('token');
    if (q) return { token: q, fromQuery: true };
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) return { token: auth.slice(7).trim(), fromQuery: false };
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === this.cookie) return { token: v.join('='), fromQuery: false };
    }
    return { token: null, fromQuery: false };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.refuse(res, 405, 'only GET and HEAD');
    const host = (req.headers.host ?? '').toLowerCase();
    if (!this.allowedHosts.has(host)) return this.refuse(res, 403, 'unexpected Host header');
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${host}`) return this.refuse(res, 403, 'cross-origin requests are refused');
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return this.refuse(res, 403, 'cross-site requests are refused');
    const url = new URL(req.url ?? '/', `http://${host}`);
    const { token, fromQuery } = this.tokenOf(req, url);
    if (token === null) return this.refuse(res, 401, 'this UI needs the token in the URL it printed when it started');
    if (!safeEqual(token, this.token)) return this.refuse(res, 403, 'wrong token');
    if (fromQuery && (url.pathname === '/' || url.pathname === '/index.html')) {
      // keep the token out of the address bar, the history and later requests: a cookie for this server only
      res.writeHead(
        303,
        headers('text/plain; charset=utf-8', { Location: '/', 'Set-Cookie': `${this.cookie}=${this.token}; HttpOnly; SameSite=Strict; Path=/` }),
      );
      res.end();
      return;
    }
    const file = STATIC[url.pathname];
    if (file) {
      const body = this.assets.get(file) as Buffer;
      res.writeHead(200, headers(TYPES[path.extname(file)], { 'Content-Length': String(body.length) }));
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (url.pathname === '/api/stream') return this.stream(req, res);
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204, headers('image/x-icon'));
      res.end();
      return;
    }
    const m = /^\/api\/(snapshot|report|events|event|call)(?:\/(\d+))?$/.exec(url.pathname);
    if (!m) return this.refuse(res, 404, 'not found');
    const json = (v: unknown) => {
      res.writeHead(200, headers('application/json; charset=utf-8'));
      res.end(req.method === 'HEAD' ? undefined : typeof v === 'string' ? v : JSON.stringify(v));
    };
    const n = m[2] !== undefined ? Number(m[2]) : null;
    switch (m[1]) {
      case 'snapshot':
        return json(this.store.snapshot());
      case 'report':
        return json(this.store.report.result());
      case 'events': {
        const from = Math.max(0, Number(url.searchParams.get('from') ?? 0) || 0);
        const count = Math.min(1000, Math.max(1, Number(url.searchParams.get('count') ?? 200) || 200));
        const rows = (await this.store.detail.range(from, count)).map(({ seq, event }) => row(seq, event));
        return json({ from, count, total: this.store.size, rows });
      }
      case 'event': {
        const e = n === null ? null : await this.store.detail.get(n);
        if (!e) return this.refuse(res, 404, 'that event is no longer available');
        return json(toJsonLine(e));
      }
      case 'call': {
        const e = n === null ? null : await this.store.detail.get(n);
        if (!e || e.source !== 'llm') return this.refuse(res, 404, 'that call is no longer available');
        const x = this.store.httpOf(n as number) ?? {};
        const get = async (s: number | undefined) => (s === undefined ? null : await this.store.detail.get(s));
        return json({ seq: n, call: e, request: await get(x.request), response: await get(x.response), sse: await get(x.sse) });
      }
    }
  }

  private stream(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, headers('text/event-stream; charset=utf-8', { 'X-Accel-Buffering': 'no' }));
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.write(`retry: 2000\n\nevent: snapshot\ndata: ${JSON.stringify(this.store.snapshot())}\n\n`);
    this.clients.add(res);
    const drop = () => this.clients.delete(res);
    req.on('close', drop);
    res.on('error', drop);
  }
}

/** An event as a line of the event list (the terminal's rendering, without colour). */
export function row(seq: number, e: Event): UiEventRow {
  let text: string;
  try {
    text = renderEventBody(e);
  } catch {
    text = `${e.source.toUpperCase()} ${JSON.stringify(e.data).slice(0, 200)}`;
  }
  return { seq, t: e.timestamp, source: e.source, pid: e.pid, comm: e.comm, text: text.length > 600 ? `${text.slice(0, 599)}…` : text };
}
