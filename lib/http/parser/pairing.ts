/**
 * Pairing of responses with requests on one connection: requests wait in
 * order (at most maxPipelined of them), each final response answers the
 * oldest; 1xx responses other than 101 answer nothing; a 101, or a 2xx answer
 * to CONNECT, ends HTTP/1 on the connection (a 101 to WebSocket goes on as
 * WebSocket: ./websocket).
 */
import type { ParsedHead } from '../head';
import type { ParseContext } from './context';
import type { Conn, Message, PendingRequest } from './state';
import { isWebSocketUpgrade, startWebSocket } from './websocket';

/**
 * How long (event time) an answer that came before its request is held for
 * it. A client's reading and writing threads report their TLS calls when the
 * calls return, so the write of a request (or of its last bytes) can be
 * reported after the read of its answer.
 */
export const REORDER_HOLD_NS = 250e6;

/** Number a request and queue it for its response; beyond maxPipelined the oldest waiting request is forgotten. */
export function queueRequest(ctx: ParseContext, c: Conn, m: Message): void {
  const pending = numberRequest(c, m);
  c.awaiting.push(pending);
  if (c.awaiting.length > ctx.config.maxPipelined) {
    c.awaiting.shift();
    ctx.counters.unanswered_requests_dropped++;
  }
}

/** Give a request its exchange number and the summary its response events carry. */
export function numberRequest(c: Conn, m: Message): PendingRequest {
  const { head, headers } = m;
  m.seq = c.nextSeq++;
  const host = headers['host'] ?? null;
  const path = head.target ?? '';
  const pending: PendingRequest = {
    method: head.method ?? '',
    endNs: null,
    summary: { seq: m.seq, method: head.method ?? '', path, host, url: requestUrl(path, host), end_mono_ns: null, end_timestamp: null },
  };
  m.request = pending;
  return pending;
}

/** The request target as an absolute URL (https: the bytes were TLS plaintext), when it can be told. */
function requestUrl(path: string, host: string | null): string | null {
  if (/^https?:\/\//i.test(path)) return path;
  return host ? `https://${host}${path.startsWith('/') ? '' : '/'}${path}` : null;
}

/** True for a 1xx response other than 101: it answers no request and has no body. */
export function isInterim(head: ParsedHead): boolean {
  const status = head.statusCode ?? 0;
  return status >= 100 && status < 200 && status !== 101;
}

/**
 * Pair a final response with the oldest waiting request (it shares its
 * number; an unpaired response takes the next one). Returns whether the
 * response has no body: answer to HEAD, 204, 304, or an upgrade.
 */
export function pairResponse(c: Conn, m: Message): { noBody: boolean } {
  const status = m.head.statusCode ?? 0;
  const req = c.awaiting[0] ?? null;
  m.request = req;
  m.seq = req ? req.summary.seq : c.nextSeq++;
  if (status === 101 || (req?.method === 'CONNECT' && status >= 200 && status < 300)) m.upgrade = true;
  return { noBody: req?.method === 'HEAD' || status === 204 || status === 304 || m.upgrade };
}

/** The request's last byte was seen now: its summary gets the time. */
export function requestEnded(ctx: ParseContext, req: PendingRequest): void {
  req.endNs = ctx.ns;
  const mono = ctx.cursor?.event.mono_ns;
  req.summary.end_mono_ns = typeof mono === 'number' ? mono : null;
  req.summary.end_timestamp = ctx.cursor?.event.timestamp ?? null;
}

/** The response ended: its request stops waiting (or the response is counted as unpaired). */
export function responseEnded(ctx: ParseContext, c: Conn, m: Message): void {
  const req = m.request;
  if (req) {
    const i = c.awaiting.indexOf(req);
    if (i !== -1) c.awaiting.splice(i, 1);
  } else {
    ctx.counters.unpaired_responses++;
  }
}

/** After an upgrade response the connection is followed as WebSocket, or not parsed any more. */
export function afterResponse(ctx: ParseContext, c: Conn, m: Message): void {
  if (!m.upgrade) return;
  if (isWebSocketUpgrade(m)) return startWebSocket(ctx, c, m);
  c.dirs.write.parser.setOpaque('upgrade');
  c.dirs.read.parser.setOpaque('upgrade');
  ctx.counters.connections_opaque++;
}
