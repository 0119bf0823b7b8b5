/**
 * HTTPParser: turns the plaintext of TLS calls (ssl events) into HTTP/1.x
 * requests, responses and streamed bodies (http events).
 *
 * Bytes are parsed per connection (data.conn_id) and per direction (WRITE and
 * READ), never per TLS call: a message may span many calls and a call may hold
 * many messages. Which direction carries requests is decided by what the
 * bytes start with, so both client and server processes are understood.
 */
import type { Analyzer, AnalyzerContext } from '../core/analyzer';
import { derivedEvent, statsEvent, type Event } from '../core/event';
import { UsageError } from '../core/errors';
import { sslPayload } from '../core/payload';
import { decodeBody, parseCodings, StreamingDecoder } from '../http/decode';
import type { ParsedHead } from '../http/head';
import { BodyFraming, Http1Stream, StreamError, StreamSink } from '../http/stream';
import type {
  HttpBodyChunkData,
  HttpEventData,
  HttpParseErrorData,
  HttpParserStats,
  HttpRequestData,
  HttpRequestSummary,
  HttpResponseData,
  HttpResponseHeadersData,
  HttpRole,
  SslRefs,
} from '../http/types';
import { redactText } from '../redact/rules';
import { encodeBody, eventNs, excerpt, headerRecord, mediaType, msBetween, utf8CompleteLength } from '../http/util';

/** Options of the HTTP parser. */
export interface HTTPParserOptions {
  /** Include the raw message bytes in request/response events (`--http-raw-data`). Default false. */
  rawData?: boolean;
  /** Yield the ssl events on after the http events derived from them. Default true. */
  passThroughSsl?: boolean;
  /** Largest start line + header block, in bytes. Default 64 KiB. */
  maxHeaderBytes?: number;
  /** Largest body kept per message (wire and decoded), in bytes; the rest is counted, not kept. Default 8 MiB. */
  maxBodyBytes?: number;
  /** Bound on all bytes held by the parser at once (bodies + raw copies). Default 256 MiB. */
  maxBufferedBytes?: number;
  /** Connections tracked at once; the least recently active is evicted beyond. Default 1024. */
  maxConnections?: number;
  /** A connection with no bytes for this long (event time) is evicted. Default 300000 (5 min). */
  idleTimeoutMs?: number;
  /** Requests awaiting a response per connection (pipelining depth). Default 64. */
  maxPipelined?: number;
  /** Response media types delivered incrementally (response_headers, body_chunk...). Default event-stream and NDJSON types. */
  streamingContentTypes?: readonly string[];
  /** Also stream every chunked response, whatever its type. Default false. */
  streamChunked?: boolean;
  /** Emit a final `stats` event with the parser's counters when the input ends. Default true. */
  emitStats?: boolean;
  /**
   * Mask secrets in bodies that were compressed on the wire (gzip, br, ...),
   * where a Redactor placed before the parser could not see them. Default
   * true; the CLI turns it off with --disable-auth-removal.
   */
  redactDecoded?: boolean;
}

const DEFAULT_STREAMING_TYPES = ['text/event-stream', 'application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines'];

interface Resolved {
  rawData: boolean;
  passThroughSsl: boolean;
  maxHeaderBytes: number;
  maxBodyBytes: number;
  maxBufferedBytes: number;
  maxConnections: number;
  idleNs: number;
  maxPipelined: number;
  streamingTypes: Set<string>;
  streamChunked: boolean;
  emitStats: boolean;
  redactDecoded: boolean;
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new UsageError(`HTTPParser: ${name} must be a positive number (got ${String(v)})`);
  return v;
}

function resolve(o: HTTPParserOptions): Resolved {
  return {
    rawData: o.rawData ?? false,
    passThroughSsl: o.passThroughSsl ?? true,
    maxHeaderBytes: positive('maxHeaderBytes', o.maxHeaderBytes, 64 * 1024),
    maxBodyBytes: positive('maxBodyBytes', o.maxBodyBytes, 8 * 1024 * 1024),
    maxBufferedBytes: positive('maxBufferedBytes', o.maxBufferedBytes, 256 * 1024 * 1024),
    maxConnections: positive('maxConnections', o.maxConnections, 1024),
    idleNs: positive('idleTimeoutMs', o.idleTimeoutMs, 300_000) * 1e6,
    maxPipelined: positive('maxPipelined', o.maxPipelined, 64),
    streamingTypes: new Set((o.streamingContentTypes ?? DEFAULT_STREAMING_TYPES).map((t) => t.toLowerCase())),
    streamChunked: o.streamChunked ?? false,
    emitStats: o.emitStats ?? true,
    redactDecoded: o.redactDecoded ?? true,
  };
}

type Dir = 'write' | 'read';
const FUNCTION_OF: Record<Dir, string> = { write: 'WRITE/SEND', read: 'READ/RECV' };

/** The ssl event being processed and its index. */
interface Cursor {
  event: Event;
  seq: number;
  ns: number;
}

interface PendingRequest {
  summary: HttpRequestSummary;
  method: string;
  /** Event-time ns of the request's last byte (mono_ns, or wall clock when the events have none). */
  endNs: number | null;
}

interface StreamOut {
  decoder: StreamingDecoder | null;
  carry: Buffer;
  text: boolean;
  index: number;
  offset: number;
  pending: Buffer[];
  pendingSize: number;
  emitted: number;
}

interface Message {
  head: ParsedHead;
  seq: number;
  role: HttpRole;
  headers: Record<string, string>;
  codings: string[];
  parts: Buffer[];
  stored: number;
  wireSize: number;
  dropped: number;
  hole: boolean;
  raw: Buffer[] | null;
  rawSize: number;
  rawTruncated: boolean;
  refs: SslRefs;
  lastRefSeq: number;
  headNs: number;
  request: PendingRequest | null;
  interim: boolean;
  upgrade: boolean;
  stream: StreamOut | null;
  tid?: number;
}

interface Conn {
  id: string;
  pid: number;
  comm: string;
  lastNs: number;
  nextSeq: number;
  awaiting: PendingRequest[];
  dirs: Record<Dir, DirState>;
}

interface DirState {
  parser: Http1Stream;
  msg: Message | null;
  /** ssl events that carried the not-yet-parsed head of the next message. */
  startRefs: SslRefs | null;
  /** Event time of the first of those. */
  startNs: number;
}

/**
 * HTTP/1.x parser analyzer (`--http-parser`, `--http-raw-data`).
 * Emits `source: "http"` events: request, response_headers, body_chunk,
 * response, parse_error (shapes in docs/events.md).
 */
export class HTTPParser implements Analyzer {
  readonly name = 'http_parser';
  private readonly opts: Resolved;
  private readonly conns = new Map<string, Conn>();
  private readonly counters: Omit<HttpParserStats, 'connections' | 'buffered_bytes'> = {
    ssl_events: 0,
    ssl_bytes: 0,
    connections_evicted: 0,
    connections_opaque: 0,
    requests: 0,
    responses: 0,
    interim_responses: 0,
    unpaired_responses: 0,
    unanswered_requests_dropped: 0,
    incomplete_messages: 0,
    parse_errors: 0,
    bytes_discarded: 0,
    bytes_lost: 0,
    gaps_unknown_size: 0,
    bodies_truncated: 0,
    body_bytes_dropped: 0,
    body_chunks: 0,
    peak_buffered_bytes: 0,
  };
  /** Body + raw bytes held across all messages. */
  private stored = 0;
  private out: Event[] = [];
  private cursor: Cursor | null = null;
  private lastSweepNs = -Infinity;

  constructor(options: HTTPParserOptions = {}) {
    this.opts = resolve(options);
  }

  /** Counters and current memory use. */
  stats(): HttpParserStats {
    return { ...this.counters, connections: this.conns.size, buffered_bytes: this.bufferedBytes() };
  }

  /** Bytes held right now: undecided input of every stream + stored bodies and raw copies. */
  bufferedBytes(): number {
    let n = this.stored;
    for (const c of this.conns.values()) {
      for (const ds of [c.dirs.write, c.dirs.read]) {
        n += ds.parser.bufferedBytes;
        const s = ds.msg?.stream;
        if (s) n += s.carry.length + s.pendingSize + (s.decoder?.heldBytes ?? 0);
      }
    }
    return n;
  }

  async *process(input: AsyncIterable<Event>, ctx: AnalyzerContext): AsyncIterable<Event> {
    for await (const e of input) {
      for (const o of this.handle(e)) yield o;
    }
    for (const o of this.finish()) yield o;
  }

  /**
   * Process one event synchronously: returns the events to pass on (the input
   * event first when it passes through, then derived events).
   */
  handle(e: Event): Event[] {
    this.out = [];
    if (e.source === 'ssl') {
      this.onSsl(e);
    } else {
      this.out.push(e);
      if (e.source === 'process' && (e.data as { event?: unknown }).event === 'EXIT') this.onExit(e);
    }
    const r = this.out;
    this.out = [];
    return r;
  }

  /** Input is over: close every connection (flushing read-until-close bodies) and report. */
  finish(last?: Event): Event[] {
    this.out = [];
    const when = last ?? this.cursor?.event;
    for (const c of [...this.conns.values()]) this.closeConn(c, when);
    if (this.opts.emitStats) {
      this.out.push(statsEvent({ event: 'ANALYZER', analyzer: this.name, ...this.stats() }, when));
    }
    const r = this.out;
    this.out = [];
    return r;
  }

  private onSsl(e: Event): void {
    const d = e.data as { function?: unknown; conn_id?: unknown; truncated?: unknown; bytes_lost?: unknown; tid?: unknown };
    const fn = d.function;
    const dir: Dir | null = fn === 'WRITE/SEND' ? 'write' : fn === 'READ/RECV' ? 'read' : null;
    if (this.opts.passThroughSsl) this.out.push(e);
    if (dir === null) return;
    const ns = eventNs(e);
    this.cursor = { event: e, seq: this.counters.ssl_events++, ns };
    this.maybeSweep(ns);
    const connId = typeof d.conn_id === 'string' && d.conn_id ? d.conn_id : `${e.pid}:unknown`;
    const conn = this.getConn(connId, e, ns);
    const bytes = sslPayload(e);
    this.counters.ssl_bytes += bytes.length;
    const ds = conn.dirs[dir];
    if (!ds.msg && bytes.length) this.notePending(ds);
    ds.parser.push(bytes);
    if (d.truncated === true) {
      const lost = typeof d.bytes_lost === 'number' && d.bytes_lost > 0 ? d.bytes_lost : null;
      if (lost === null) this.counters.gaps_unknown_size++;
      else this.counters.bytes_lost += lost;
      ds.parser.gap(lost);
    }
    if (ds.msg?.stream) this.flushChunk(conn, ds.msg);
    this.trackPeak();
  }

  /** Remember which ssl events carried the bytes of a message whose head is not complete yet. */
  private notePending(ds: DirState): void {
    const r = this.ref();
    const p = ds.startRefs;
    if (p === null) {
      ds.startNs = this.cursor?.ns ?? 0;
      ds.startRefs = { first_seq: r.seq, last_seq: r.seq, events: 1, ...(r.mono !== undefined ? { first_mono_ns: r.mono, last_mono_ns: r.mono } : {}) };
    } else if (p.last_seq !== r.seq) {
      p.last_seq = r.seq;
      if (r.mono !== undefined) p.last_mono_ns = r.mono;
      p.events++;
    }
  }

  private trackPeak(): void {
    if (this.stored > this.counters.peak_buffered_bytes) {
      const b = this.bufferedBytes();
      if (b > this.counters.peak_buffered_bytes) this.counters.peak_buffered_bytes = b;
    }
  }

  private getConn(id: string, e: Event, ns: number): Conn {
    let c = this.conns.get(id);
    if (c) {
      // Keep the map in least-recently-active order.
      this.conns.delete(id);
      this.conns.set(id, c);
      c.lastNs = ns;
      return c;
    }
    if (this.conns.size >= this.opts.maxConnections) {
      const oldest = this.conns.values().next().value as Conn;
      this.closeConn(oldest, e);
      this.counters.connections_evicted++;
    }
    c = { id, pid: e.pid, comm: e.comm, lastNs: ns, nextSeq: 0, awaiting: [], dirs: { write: null as unknown as DirState, read: null as unknown as DirState } };
    c.dirs.write = this.newDir(c, 'write');
    c.dirs.read = this.newDir(c, 'read');
    this.conns.set(id, c);
    return c;
  }

  private newDir(c: Conn, dir: Dir): DirState {
    const ds: DirState = { parser: null as unknown as Http1Stream, msg: null, startRefs: null, startNs: 0 };
    ds.parser = new Http1Stream(this.sinkFor(c, dir, ds), { maxHeaderBytes: this.opts.maxHeaderBytes });
    return ds;
  }

  private maybeSweep(ns: number): void {
    const every = Math.max(1e9, this.opts.idleNs / 4);
    if (ns - this.lastSweepNs < every) return;
    this.lastSweepNs = ns;
    const limit = ns - this.opts.idleNs;
    for (const c of [...this.conns.values()]) {
      if (c.lastNs >= limit) break; // map is in activity order
      this.closeConn(c, this.cursor?.event);
      this.counters.connections_evicted++;
    }
  }

  private onExit(e: Event): void {
    for (const c of [...this.conns.values()]) if (c.pid === e.pid) this.closeConn(c, e);
  }

  /** End both streams of a connection (flushing what they hold) and forget it. */
  private closeConn(c: Conn, when: Event | undefined): void {
    const saved = this.cursor;
    if (when && (!saved || saved.event !== when)) this.cursor = { event: when, seq: saved?.seq ?? -1, ns: eventNs(when) };
    for (const dir of ['write', 'read'] as const) {
      const ds = c.dirs[dir];
      ds.parser.end();
      if (ds.msg) this.dropMessage(ds.msg);
      ds.msg = null;
    }
    this.conns.delete(c.id);
    this.cursor = saved;
  }

  private sinkFor(c: Conn, dir: Dir, ds: DirState): StreamSink {
    return {
      onHead: (head, raw) => this.onHead(c, dir, ds, head, raw),
      onBody: (bytes) => {
        if (ds.msg) this.onBody(c, ds.msg, bytes);
      },
      onEnd: (incomplete) => {
        const m = ds.msg;
        ds.msg = null;
        ds.startRefs = null;
        // Bytes left in this call begin the next message.
        if (ds.parser.bufferedBytes > 0) this.notePending(ds);
        if (m) this.onEnd(c, m, incomplete);
      },
      onError: (err) => this.onError(c, dir, ds, err),
      onDiscard: (n) => {
        this.counters.bytes_discarded += n;
      },
      onBodyHole: (n) => {
        if (!ds.msg) return;
        ds.msg.hole = true;
        if (n !== null) ds.msg.wireSize += n;
        if (n !== null) ds.msg.dropped += n;
      },
    };
  }

  private ref(): { seq: number; mono?: number } {
    const cur = this.cursor;
    if (!cur) return { seq: -1 };
    return { seq: cur.seq, mono: typeof cur.event.mono_ns === 'number' ? cur.event.mono_ns : undefined };
  }

  private touchRefs(m: Message): void {
    const r = this.ref();
    if (r.seq === m.lastRefSeq) return;
    m.lastRefSeq = r.seq;
    m.refs.last_seq = r.seq;
    if (r.mono !== undefined) m.refs.last_mono_ns = r.mono;
    m.refs.events++;
  }

  private onHead(c: Conn, dir: Dir, ds: DirState, head: ParsedHead, raw: Buffer): BodyFraming | { error: string } {
    const r = this.ref();
    const headers = headerRecord(head.fields);
    const ns = this.cursor?.ns ?? 0;
    const startRefs = ds.startRefs;
    const firstByteNs = startRefs ? ds.startNs : ns;
    ds.startRefs = null;
    const m: Message = {
      head,
      seq: -1,
      role: 'client',
      headers,
      codings: parseCodings(headers['content-encoding']),
      parts: [],
      stored: 0,
      wireSize: 0,
      dropped: 0,
      hole: false,
      raw: null,
      rawSize: 0,
      rawTruncated: false,
      refs: startRefs ?? { first_seq: r.seq, last_seq: r.seq, events: 1, ...(r.mono !== undefined ? { first_mono_ns: r.mono, last_mono_ns: r.mono } : {}) },
      lastRefSeq: r.seq,
      headNs: firstByteNs,
      request: null,
      interim: false,
      upgrade: false,
      stream: null,
      tid: typeof this.cursor?.event.data.tid === 'number' ? (this.cursor.event.data.tid as number) : undefined,
    };
    if (this.opts.rawData) {
      m.raw = [];
      this.storeRaw(m, raw);
    }
    const te = (headers['transfer-encoding'] ?? '').toLowerCase();
    const chunked = te.split(',').map((s) => s.trim()).pop() === 'chunked';
    const cl = headers['content-length'];
    if (head.kind === 'request') {
      m.role = dir === 'write' ? 'client' : 'server';
      m.seq = c.nextSeq++;
      const host = headers['host'] ?? null;
      const path = head.target ?? '';
      const url = /^https?:\/\//i.test(path) ? path : host ? `https://${host}${path.startsWith('/') ? '' : '/'}${path}` : null;
      const pending: PendingRequest = {
        method: head.method ?? '',
        endNs: null,
        summary: { seq: m.seq, method: head.method ?? '', path, host, url, end_mono_ns: null, end_timestamp: null },
      };
      m.request = pending;
      c.awaiting.push(pending);
      if (c.awaiting.length > this.opts.maxPipelined) {
        c.awaiting.shift();
        this.counters.unanswered_requests_dropped++;
      }
      ds.msg = m;
      if (chunked) return { mode: 'chunked' };
      if (cl !== undefined) return lengthFraming(cl);
      return { mode: 'none' };
    }
    // Response.
    m.role = dir === 'read' ? 'client' : 'server';
    const status = head.statusCode ?? 0;
    ds.msg = m;
    if (status >= 100 && status < 200 && status !== 101) {
      m.interim = true;
      return { mode: 'none' };
    }
    const req = c.awaiting[0] ?? null;
    m.request = req;
    m.seq = req ? req.summary.seq : c.nextSeq++;
    if (status === 101 || (req?.method === 'CONNECT' && status >= 200 && status < 300)) m.upgrade = true;
    const noBody = req?.method === 'HEAD' || status === 204 || status === 304 || m.upgrade;
    const framing: BodyFraming | { error: string } = noBody
      ? { mode: 'none' }
      : chunked
        ? { mode: 'chunked' }
        : cl !== undefined
          ? lengthFraming(cl)
          : { mode: 'close' };
    const type = mediaType(headers['content-type']);
    const streamed = !noBody && ((type !== null && this.opts.streamingTypes.has(type)) || (this.opts.streamChunked && chunked));
    if (streamed && !('error' in framing)) {
      m.stream = {
        decoder: m.codings.length ? new StreamingDecoder(m.codings, this.opts.maxBodyBytes) : null,
        carry: Buffer.alloc(0),
        text: true,
        index: 0,
        offset: 0,
        pending: [],
        pendingSize: 0,
        emitted: 0,
      };
      const data: HttpResponseHeadersData = {
        type: 'response_headers',
        conn_id: c.id,
        seq: m.seq,
        role: m.role,
        version: head.version,
        status_code: status,
        status_text: head.statusText ?? '',
        headers,
        content_type: headers['content-type'] ?? null,
        ...(headers['content-encoding'] ? { content_encoding: headers['content-encoding'] } : {}),
        request: req ? { ...req.summary } : null,
        ttfb_ms: req?.endNs != null ? msBetween(req.endNs, firstByteNs) : null,
        ...(m.tid !== undefined ? { tid: m.tid } : {}),
      };
      this.emit(c, data);
    }
    return framing;
  }

  private storeRaw(m: Message, bytes: Buffer): void {
    if (!m.raw) return;
    const room = Math.min(this.opts.maxBodyBytes + this.opts.maxHeaderBytes - m.rawSize, this.opts.maxBufferedBytes - this.stored);
    if (room <= 0) {
      if (bytes.length) m.rawTruncated = true;
      return;
    }
    const take = bytes.length <= room ? bytes : bytes.subarray(0, room);
    if (take.length < bytes.length) m.rawTruncated = true;
    m.raw.push(Buffer.from(take));
    m.rawSize += take.length;
    this.stored += take.length;
  }

  private onBody(c: Conn, m: Message, bytes: Buffer): void {
    this.touchRefs(m);
    m.wireSize += bytes.length;
    if (m.raw) this.storeRaw(m, bytes);
    if (m.hole) {
      m.dropped += bytes.length;
      return;
    }
    const room = Math.min(this.opts.maxBodyBytes - m.stored, this.opts.maxBufferedBytes - this.stored);
    const take = room <= 0 ? 0 : Math.min(room, bytes.length);
    if (take > 0) {
      // Copy: the input buffer belongs to the ssl event.
      const piece = Buffer.from(bytes.subarray(0, take));
      m.parts.push(piece);
      m.stored += take;
      this.stored += take;
    }
    m.dropped += bytes.length - take;
    // A stream is delivered in full even past the size kept for the final body
    // (long-lived event streams): chunks are passed on, not held.
    if (m.stream) this.streamBody(m.stream, take === bytes.length ? (m.parts[m.parts.length - 1] as Buffer) : Buffer.from(bytes));
  }

  private streamBody(s: StreamOut, wire: Buffer): void {
    const decoded = s.decoder ? s.decoder.push(wire) : wire;
    if (decoded.length) {
      s.pending.push(decoded);
      s.pendingSize += decoded.length;
    }
  }

  /** Emit what a streamed body received since the last chunk event. */
  private flushChunk(c: Conn, m: Message, final = false): void {
    const s = m.stream;
    if (!s) return;
    if (final && s.decoder) {
      const rest = s.decoder.finish();
      if (rest.length) {
        s.pending.push(rest);
        s.pendingSize += rest.length;
      }
    }
    if (s.pendingSize === 0 && s.carry.length === 0) return;
    let buf = Buffer.concat([s.carry, ...s.pending]);
    s.pending = [];
    s.pendingSize = 0;
    s.carry = Buffer.alloc(0);
    if (!final) {
      const cut = utf8CompleteLength(buf);
      if (cut < buf.length) {
        s.carry = Buffer.from(buf.subarray(cut));
        buf = buf.subarray(0, cut);
      }
    }
    if (buf.length === 0) return;
    const enc = this.encodeDecoded(buf, m.codings.length > 0);
    const data: HttpBodyChunkData = {
      type: 'body_chunk',
      conn_id: c.id,
      seq: m.seq,
      index: s.index++,
      offset: s.offset,
      size: buf.length,
      data: enc.text,
      data_encoding: enc.encoding,
      ...(m.tid !== undefined ? { tid: m.tid } : {}),
    };
    s.offset += buf.length;
    this.counters.body_chunks++;
    this.emit(c, data);
  }

  private onEnd(c: Conn, m: Message, incomplete: string | null): void {
    this.touchRefs(m);
    const ns = this.cursor?.ns ?? 0;
    if (incomplete) this.counters.incomplete_messages++;
    if (m.interim) {
      this.counters.interim_responses++;
      this.dropMessage(m);
      return;
    }
    if (m.stream) this.flushChunk(c, m, true);
    const body = this.finalBody(m, incomplete !== null);
    const rawFields = this.rawFields(m);
    this.releaseMessage(m);
    const base = {
      conn_id: c.id,
      seq: m.seq,
      role: m.role,
      version: m.head.version,
      headers: m.headers,
      ...(m.tid !== undefined ? { tid: m.tid } : {}),
      ssl: m.refs,
      incomplete: incomplete !== null,
      ...(incomplete !== null ? { incomplete_reason: incomplete } : {}),
      ...body,
      ...rawFields,
    };
    if (m.head.kind === 'request') {
      this.counters.requests++;
      const req = m.request as PendingRequest;
      req.endNs = ns;
      const mono = this.cursor?.event.mono_ns;
      req.summary.end_mono_ns = typeof mono === 'number' ? mono : null;
      req.summary.end_timestamp = this.cursor?.event.timestamp ?? null;
      const data: HttpRequestData = {
        type: 'request',
        method: req.summary.method,
        path: req.summary.path,
        host: req.summary.host,
        url: req.summary.url,
        ...base,
      };
      this.emit(c, data);
      return;
    }
    this.counters.responses++;
    const req = m.request;
    if (req) {
      const i = c.awaiting.indexOf(req);
      if (i !== -1) c.awaiting.splice(i, 1);
    } else {
      this.counters.unpaired_responses++;
    }
    const endNs = req?.endNs ?? null;
    const data: HttpResponseData = {
      type: 'response',
      status_code: m.head.statusCode ?? 0,
      status_text: m.head.statusText ?? '',
      content_type: m.headers['content-type'] ?? null,
      request: req ? { ...req.summary } : null,
      latency_ms: endNs !== null ? msBetween(endNs, ns) : null,
      ttfb_ms: endNs !== null ? msBetween(endNs, m.headNs) : null,
      streamed: m.stream !== null,
      ...(m.stream ? { body_chunks: m.stream.index } : {}),
      ...base,
    };
    this.emit(c, data);
    if (m.upgrade) {
      c.dirs.write.parser.setOpaque('upgrade');
      c.dirs.read.parser.setOpaque('upgrade');
      this.counters.connections_opaque++;
    }
  }

  private finalBody(m: Message, incomplete: boolean) {
    const wire = m.parts.length === 1 ? m.parts[0] : Buffer.concat(m.parts);
    const partial = incomplete || m.dropped > 0 || m.hole;
    const dec = decodeBody(wire, m.codings, this.opts.maxBodyBytes, partial);
    const truncated = m.dropped > 0 || m.hole || dec.truncated || incomplete;
    if (truncated) this.counters.bodies_truncated++;
    this.counters.body_bytes_dropped += m.dropped;
    const enc = this.encodeDecoded(dec.bytes, dec.decoded);
    return {
      body: enc.text,
      body_encoding: enc.encoding,
      body_size: dec.bytes.length,
      body_wire_size: m.wireSize,
      body_truncated: truncated,
      body_dropped_bytes: m.dropped,
      ...(m.headers['content-encoding'] ? { content_encoding: m.headers['content-encoding'] } : {}),
      ...(dec.error ? { decode_error: dec.error } : m.stream?.decoder?.error ? { decode_error: `body_chunk events: ${m.stream.decoder.error}` } : {}),
    };
  }

  /** Body text/base64; text that was content-decoded is redacted (see redactDecoded). */
  private encodeDecoded(bytes: Buffer, decoded: boolean): { text: string; encoding: 'utf8' | 'base64' } {
    const enc = encodeBody(bytes);
    if (decoded && this.opts.redactDecoded && enc.encoding === 'utf8') enc.text = redactText(enc.text);
    return enc;
  }

  private rawFields(m: Message): { raw?: string; raw_encoding?: 'utf8' | 'base64'; raw_truncated?: boolean } {
    if (!m.raw) return {};
    const enc = encodeBody(Buffer.concat(m.raw));
    return { raw: enc.text, raw_encoding: enc.encoding, raw_truncated: m.rawTruncated };
  }

  private releaseMessage(m: Message): void {
    this.stored -= m.stored + m.rawSize;
    m.parts = [];
    m.raw = m.raw ? [] : null;
    m.stored = 0;
    m.rawSize = 0;
  }

  /** Forget a message without emitting it (interim responses, closed connections). */
  private dropMessage(m: Message): void {
    this.releaseMessage(m);
  }

  private onError(c: Conn, dir: Dir, ds: DirState, err: StreamError): void {
    this.counters.parse_errors++;
    const x = excerpt(err.excerpt);
    const data: HttpParseErrorData = {
      type: 'parse_error',
      conn_id: c.id,
      function: FUNCTION_OF[dir],
      kind: err.kind,
      message: err.message,
      offset: err.offset,
      excerpt_hex: x.hex,
      excerpt_text: x.text,
      ...(ds.msg ? { seq: ds.msg.seq } : {}),
    };
    this.emit(c, data);
  }

  private emit(c: Conn, data: HttpEventData): void {
    this.out.push(derivedEvent('http', this.cursor?.event, c, data));
  }
}

function lengthFraming(value: string): BodyFraming | { error: string } {
  // Repeated identical values ("12, 12") are allowed (RFC 9110 section 8.6).
  const parts = value.split(',').map((s) => s.trim());
  if (!parts.every((p) => /^\d{1,15}$/.test(p)) || new Set(parts).size !== 1) return { error: `invalid Content-Length: ${value.slice(0, 40)}` };
  return { mode: 'length', length: Number(parts[0]) };
}
