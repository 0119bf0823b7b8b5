/**
 * Fields and bare-word rules of the two filter kinds, and how a field's
 * value is read from an event.
 */
import type { Event } from '../core/event';
import { sslPayload } from '../core/payload';
import { allOf, Dialect, Expr } from './expr';

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE']);

/** Field value read from an event: undefined when the event has no such field. */
export type FieldValue = string | number | boolean | undefined;

// ------------------------------------------------------------------ HTTP
const HTTP_FIELDS = [
  'request.method',
  'request.path',
  'request.path_prefix',
  'request.path_contains',
  'request.host',
  'request.url',
  'request.body',
  'request.body_contains',
  'request.header.<name>',
  'response.status_code',
  'response.status_text',
  'response.content_type',
  'response.body',
  'response.body_contains',
  'response.header.<name>',
  'type',
  'comm',
  'pid',
  'conn_id',
  'latency_ms',
  'provider',
  'model',
  'data.<key>',
];

function canonicalHttp(name: string): string | null {
  const m = /^(request|req|response|resp|res)\.(.+)$/i.exec(name);
  if (m) {
    const side = m[1].toLowerCase().startsWith('req') ? 'request' : 'response';
    const rest = m[2];
    const h = /^(?:header|headers)\.(.+)$/i.exec(rest);
    if (h) return `${side}.header.${h[1].toLowerCase()}`;
    const f = rest.toLowerCase();
    const ok =
      side === 'request'
        ? ['method', 'path', 'path_prefix', 'path_contains', 'host', 'url', 'body', 'body_contains']
        : ['status_code', 'status', 'status_text', 'content_type', 'body', 'body_contains'];
    if (!ok.includes(f)) return null;
    return `${side}.${f === 'status' ? 'status_code' : f}`;
  }
  if (/^data\.[A-Za-z0-9_.\-]+$/.test(name)) return name;
  const simple = name.toLowerCase();
  return ['type', 'comm', 'pid', 'conn_id', 'latency_ms', 'provider', 'model'].includes(simple) ? simple : null;
}

/**
 * Bare words of --http-filter, each one condition, all of them joined with &:
 * an HTTP method (any case) means request.method; a word starting with "/"
 * means request.path_prefix; a status code (404) or class (5xx) means
 * response.status_code; a host name (has a dot or a port, no "/") means
 * request.host contains it. Anything else is an error.
 */
function bareHttp(words: readonly string[]): Expr | string {
  const out: Expr[] = [];
  for (const w of words) {
    if (METHODS.has(w.toUpperCase())) out.push({ kind: 'cmp', field: 'request.method', op: '=', value: w.toUpperCase() });
    else if (w.startsWith('/')) out.push({ kind: 'cmp', field: 'request.path_prefix', op: '=', value: w });
    else if (/^[1-5]\d\d$/.test(w)) out.push({ kind: 'cmp', field: 'response.status_code', op: '=', value: w });
    else if (/^[1-5]xx$/i.test(w)) {
      const base = Number(w[0]) * 100;
      out.push(
        allOf([
          { kind: 'cmp', field: 'response.status_code', op: '>=', value: String(base) },
          { kind: 'cmp', field: 'response.status_code', op: '<', value: String(base + 100) },
        ]),
      );
    } else if (/^[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*(:\d+)?$/.test(w) && (w.includes('.') || w.includes(':'))) {
      out.push({ kind: 'cmp', field: 'request.host', op: '~', value: w });
    } else {
      return `bare word "${w}" is not an HTTP method, a path (/...), a status code (404, 5xx) or a host name; write field=value, e.g. request.body~"${w}"`;
    }
  }
  return allOf(out);
}

export const httpDialect: Dialect = { flag: '--http-filter', field: canonicalHttp, known: HTTP_FIELDS, bare: bareHttp };

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec | undefined => (typeof v === 'object' && v !== null ? (v as Rec) : undefined);
const scalar = (v: unknown): FieldValue => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : undefined);

function bodyText(d: Rec): string | undefined {
  if (typeof d.body !== 'string') return undefined;
  return d.body_encoding === 'base64' ? Buffer.from(d.body, 'base64').toString('latin1') : d.body;
}

function dataPath(d: Rec, path: string): FieldValue {
  let cur: unknown = d;
  for (const k of path.split('.')) {
    const r = rec(cur);
    if (!r) return undefined;
    cur = r[k];
  }
  return scalar(cur);
}

/** Read an http/sse event's value for a canonical HTTP field. */
export function httpField(e: Event, field: string): FieldValue {
  const d = e.data as Rec;
  const type = d.type;
  if (field.startsWith('request.')) {
    const isReq = type === 'request';
    const src = isReq ? d : rec(d.request);
    if (!src) return undefined;
    const f = field.slice(8);
    switch (f) {
      case 'method':
      case 'path':
      case 'host':
      case 'url':
        return scalar(src[f]) ?? undefined;
      case 'path_prefix':
      case 'path_contains':
        return scalar(src.path);
      case 'body':
      case 'body_contains':
        return isReq ? bodyText(d) : undefined;
      default:
        if (f.startsWith('header.') && isReq) return scalar(rec(d.headers)?.[f.slice(7)]);
        return undefined;
    }
  }
  if (field.startsWith('response.')) {
    const isRes = type === 'response' || type === 'response_headers';
    const f = field.slice(9);
    if (f === 'status_code') return isRes || e.source === 'sse' ? scalar(d.status_code) : undefined;
    if (!isRes) return undefined;
    switch (f) {
      case 'status_text':
      case 'content_type':
        return scalar(d[f]) ?? undefined;
      case 'body':
      case 'body_contains':
        return bodyText(d);
      default:
        if (f.startsWith('header.')) return scalar(rec(d.headers)?.[f.slice(7)]);
        return undefined;
    }
  }
  switch (field) {
    case 'type':
      return scalar(d.type);
    case 'comm':
      return e.comm;
    case 'pid':
      return e.pid;
    default:
      if (field.startsWith('data.')) return dataPath(d, field.slice(5));
      return scalar(d[field]);
  }
}

// ------------------------------------------------------------------ SSL
const SSL_SIMPLE = [
  'data',
  'function',
  'comm',
  'pid',
  'tid',
  'uid',
  'len',
  'latency_ms',
  'conn_id',
  'fd',
  'library',
  'truncated',
  'bytes_lost',
  'remote_addr',
  'remote_port',
  'local_addr',
  'local_port',
  'data_encoding',
];
const SSL_FIELDS = [...SSL_SIMPLE, 'data.<key>'];

function canonicalSsl(name: string): string | null {
  const lower = name.toLowerCase();
  if (SSL_SIMPLE.includes(lower)) return lower;
  if (/^data\.[A-Za-z0-9_.\-]+$/.test(name)) return name;
  return null;
}

const SSL_FUNCTIONS: Record<string, string> = { handshake: 'HANDSHAKE', read: 'READ/RECV', recv: 'READ/RECV', write: 'WRITE/SEND', send: 'WRITE/SEND' };

/**
 * Bare words of --ssl-filter: handshake, read/recv, write/send (any case)
 * mean that TLS function; any other word means the plaintext contains it.
 */
function bareSsl(words: readonly string[]): Expr | string {
  return allOf(
    words.map((w): Expr => {
      const fn = SSL_FUNCTIONS[w.toLowerCase()];
      return fn ? { kind: 'cmp', field: 'function', op: '=', value: fn } : { kind: 'cmp', field: 'data', op: '~', value: w };
    }),
  );
}

export const sslDialect: Dialect = { flag: '--ssl-filter', field: canonicalSsl, known: SSL_FIELDS, bare: bareSsl };

/** Read an ssl event's value for a canonical SSL field. */
export function sslField(e: Event, field: string): FieldValue {
  const d = e.data as Rec;
  switch (field) {
    case 'data':
      return sslPayload(e).toString('utf8');
    case 'comm':
      return e.comm;
    case 'pid':
      return typeof d.pid === 'number' ? d.pid : e.pid;
    default:
      if (field.startsWith('data.')) return dataPath(d, field.slice(5));
      return scalar(d[field]);
  }
}
