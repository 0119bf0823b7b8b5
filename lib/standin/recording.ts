/**
 * Recording of the stand-in's requests: what arrived and exactly what was
 * sent back, filled in while the response is written.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { SentUsage, StreamWrite } from './apis/types';
import type { Encoding } from './encoding';
import type { Provider } from './errors';
import type { ApiKind, Conversation, ScriptedReply } from './script';

/** What the server sent back for one request. */
export interface RecordedResponse {
  status: number;
  headers: Record<string, string>;
  /** Streamed (SSE or Gemini JSON array, chunked transfer) or not. */
  stream: boolean;
  /** The response body before any Content-Encoding: for streams, every write concatenated. */
  body: Buffer;
  /** For streams: each write, in order (complete SSE events). */
  writes: string[];
  /** Content-Encoding applied to a non-streaming body. */
  encoding?: Encoding;
  /** The encoded body bytes as sent (present when `encoding` is). */
  encodedBody?: Buffer;
  /** Assistant text sent (merged deltas, or the JSON's text): compare with what a tracer reassembled. */
  text: string;
  /** Thinking text sent, if any. */
  thinking: string;
  /** The tool call sent, if any: name and the argument JSON (merged deltas). */
  toolCall?: { name: string; arguments: string };
  /** The token counts the answer reported (absent when it reported none, or the stream was cut before them). */
  usage?: SentUsage;
  /** Every byte was written and the response ended. */
  complete: boolean;
  /** The client went away before the end. */
  aborted: boolean;
}

export interface RecordedRequest {
  /** 1-based arrival order. */
  seq: number;
  /** Unique id sent back as `x-request-id` (and `request-id` for Anthropic). */
  requestId: string;
  /** 1-based number of the TLS connection it came on (the same for keep-alive reuse). */
  connection: number;
  /** The client's port. */
  remotePort: number;
  method: string;
  /** Request target as sent (path and query). */
  url: string;
  path: string;
  query: Record<string, string>;
  httpVersion: string;
  /** Header names lower-cased. */
  headers: IncomingHttpHeaders;
  /** Names and values as sent, alternating. */
  rawHeaders: string[];
  /** The request body as received (after any request Content-Encoding). */
  body: Buffer;
  /** The parsed JSON body, when it is JSON. */
  json?: any;
  /** What it was taken for: an API, `models`, `health`, `count_tokens` or `not_found`. */
  route: ApiKind | 'models' | 'health' | 'count_tokens' | 'not_found' | 'method_not_allowed';
  /** Whose shape the response has. */
  provider?: Provider;
  /** What the scripted model saw, and what it answered (API routes that reached the model). */
  conversation?: Conversation;
  reply?: ScriptedReply;
  response: RecordedResponse;
  /** A call made over the WebSocket transport: the number of its request message on the connection (0-based, text messages counted). */
  websocket?: { message: number };
  /** Epoch ms. */
  startedAt: number;
  finishedAt?: number;
}

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const randomB62 = (n: number) => Array.from(randomBytes(n), (b) => B62[b % 62]).join('');

/** The record of a request that just arrived (body and route are filled in later). */
export function newRecord(req: IncomingMessage, seq: number, connection: number): RecordedRequest {
  const u = new URL(req.url ?? '/', 'https://standin.invalid');
  return {
    seq,
    requestId: 'req_011C' + randomB62(24),
    connection,
    remotePort: req.socket.remotePort ?? 0,
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    path: u.pathname,
    query: Object.fromEntries(u.searchParams),
    httpVersion: req.httpVersion,
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    body: Buffer.alloc(0),
    route: 'not_found',
    response: { status: 0, headers: {}, stream: false, body: Buffer.alloc(0), writes: [], text: '', thinking: '', complete: false, aborted: false },
    startedAt: Date.now(),
  };
}

/** Note a stream write that is about to be sent (`sent`: the writes so far, this one included). */
export function recordWrite(rec: RecordedRequest, w: StreamWrite, sent: Buffer[]): void {
  const r = rec.response;
  r.writes.push(w.data);
  r.body = Buffer.concat(sent);
  if (w.text) r.text += w.text;
  if (w.thinking) r.thinking += w.thinking;
  if (w.args !== undefined) {
    r.toolCall ??= { name: rec.reply?.toolCall?.name ?? '', arguments: '' };
    r.toolCall.arguments += w.args;
  }
}

/** The first value of a header that may repeat. */
export function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** A non-negative number header, if it is one. */
export function numHeader(rec: RecordedRequest, name: string): number | undefined {
  const v = firstHeader(rec.headers[name]);
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}
