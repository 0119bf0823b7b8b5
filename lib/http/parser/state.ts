/**
 * What the HTTP parser remembers: connections, their two directions, the
 * message being assembled in each, and the requests awaiting an answer.
 */
import type { Event } from '../../core/event';
import type { ParsedHead } from '../head';
import type { Http1Stream } from '../stream';
import type { HttpRequestSummary, HttpRole, SslRefs } from '../types';
import type { BodyStream } from './body-stream';

/** A direction of a connection: what the traced process wrote, or read. */
export type Dir = 'write' | 'read';

/** The ssl event `function` of each direction. */
export const FUNCTION_OF: Record<Dir, string> = { write: 'WRITE/SEND', read: 'READ/RECV' };

/** The direction of an ssl event `function` (null: not a data call, e.g. HANDSHAKE). */
export function directionOf(fn: unknown): Dir | null {
  return fn === FUNCTION_OF.write ? 'write' : fn === FUNCTION_OF.read ? 'read' : null;
}

/** The ssl event being processed and its index. */
export interface Cursor {
  event: Event;
  seq: number;
  ns: number;
}

/** A request, from its head until its response ends. */
export interface PendingRequest {
  summary: HttpRequestSummary;
  method: string;
  /** Event-time ns of the request's last byte (mono_ns, or wall clock when the events have none). */
  endNs: number | null;
}

/** A message whose head was parsed, while its body arrives. */
export interface Message {
  head: ParsedHead;
  /** Exchange number on the connection (-1 for an interim response). */
  seq: number;
  role: HttpRole;
  headers: Record<string, string>;
  /** Content codings, in the order applied. */
  codings: string[];
  /** Body bytes kept (at most maxBodyBytes). */
  parts: Buffer[];
  /** Bytes in parts. */
  stored: number;
  wireSize: number;
  /** Body bytes not kept (size bound, or after a hole). */
  dropped: number;
  /** Bytes of the body were lost. */
  hole: boolean;
  /** Raw copy of head + body (rawData only), bounded. */
  raw: Buffer[] | null;
  rawSize: number;
  rawTruncated: boolean;
  refs: SslRefs;
  /** Index of the last ssl event counted in refs. */
  lastRefSeq: number;
  /** Event time of the message's first byte. */
  headNs: number;
  /** A request: itself; a response: the request it answers (null when none was seen). */
  request: PendingRequest | null;
  /** A 1xx response other than 101: forgotten at its end. */
  interim: boolean;
  /** A 101 response, or a 2xx answer to CONNECT: the connection stops being HTTP/1 after it. */
  upgrade: boolean;
  /** Set when the body is also delivered as body_chunk events. */
  stream: BodyStream | null;
  tid?: number;
  /** HTTP/2: the stream it runs on, and trailers when they came. */
  streamId?: number;
  trailers?: Record<string, string>;
  /** HTTP/2: its event was emitted. */
  ended?: boolean;
}

/** One direction of a connection. */
export interface DirState {
  parser: Http1Stream;
  msg: Message | null;
  /** ssl events that carried the not-yet-parsed head of the next message. */
  startRefs: SslRefs | null;
  /** Event time of the first of those. */
  startNs: number;
  /** Bytes held before the first is given to the parser: they may begin HTTP/2 (lib/http/parser/h2.ts). */
  sniff: Buffer | null;
  /** The parser has been given bytes: this direction is HTTP/1. */
  started: boolean;
}

/** A connection (data.conn_id) of a process. */
export interface Conn {
  id: string;
  pid: number;
  comm: string;
  comm_b64?: string;
  /** Event time of its last bytes. */
  lastNs: number;
  /** The next exchange number. */
  nextSeq: number;
  /** Requests awaiting their response, oldest first. */
  awaiting: PendingRequest[];
  dirs: Record<Dir, DirState>;
  /** Set once the connection turned out to speak HTTP/2. */
  h2: H2Conn | null;
  /** Set once the connection switched to WebSocket (lib/http/parser/websocket.ts). */
  ws: WsConn | null;
}

/** What the connection table needs of a WebSocket connection. */
export interface WsConn {
  push(dir: Dir, bytes: Buffer): void;
  gap(dir: Dir, n: number | null): void;
  /** The connection is no longer followed (`reason`: why). */
  close(reason: string): void;
  readonly bufferedBytes: number;
}

/** What the connection table needs of an HTTP/2 connection (lib/http/parser/h2.ts). */
export interface H2Conn {
  push(dir: Dir, bytes: Buffer): void;
  gap(dir: Dir): void;
  /** Emit the body_chunk events of streamed bodies that received bytes. */
  flush(): void;
  /** The connection ended: open messages end incomplete. */
  close(): void;
  readonly bufferedBytes: number;
}
