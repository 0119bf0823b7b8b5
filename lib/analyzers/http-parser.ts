/**
 * HttpParser: turns the plaintext of TLS calls (ssl events) into HTTP/1.x
 * and HTTP/2 requests, responses and streamed bodies (http events).
 *
 * Bytes are parsed per connection (data.conn_id) and per direction (WRITE and
 * READ), never per TLS call: a message may span many calls and a call may hold
 * many messages. Which direction carries requests is decided by what the
 * bytes start with, so both client and server processes are understood.
 *
 * The parts live in lib/http/parser/: connections (the connection table and
 * its bounds), assembler (what each direction's Http1Stream parses becomes
 * messages), message (body accumulation within the size bounds), pairing
 * (requests and responses), events (the http event data), h2 (a connection
 * that starts with the HTTP/2 preface, over lib/http/h2), websocket (a
 * connection upgraded to WebSocket, over lib/http/ws).
 */
import { stepProcess, type Emit, type StepAnalyzer } from '../core/analyzer';
import { statsEvent, type Event } from '../core/event';
import { sslPayload } from '../core/payload';
import type { HttpParserStats } from '../http/types';
import { eventNs } from '../http/util';
import { MessageAssembler } from '../http/parser/assembler';
import { ConnectionTable, noteHeadBytes } from '../http/parser/connections';
import { ParseContext } from '../http/parser/context';
import { resolveOptions, type HttpParserOptions } from '../http/parser/options';
import { H2Connection, MAX_SNIFF_BYTES, sniff } from '../http/parser/h2';
import { directionOf, type Conn, type Dir, type DirState } from '../http/parser/state';
import { REORDER_HOLD_NS as HOLD_NS } from '../http/parser/pairing';

/** Response reads held for the write of their request: at most HOLD_NS (event time), this many bytes and events per connection. */
const HOLD_BYTES = 256 * 1024;
const HOLD_EVENTS = 64;

interface Held {
  sinceNs: number;
  bytes: number;
  events: Event[];
}

export type { HttpParserOptions } from '../http/parser/options';

/**
 * HTTP parser analyzer (`--http-parser`, `--http-raw-data`): HTTP/1.x and HTTP/2.
 * Emits `source: "http"` events: request, response_headers, body_chunk,
 * response, parse_error; and `source: "websocket"` events (message,
 * parse_error, end) for connections upgraded to WebSocket (shapes in
 * docs/events.md).
 */
export class HttpParser implements StepAnalyzer {
  readonly name = 'http_parser';
  private readonly ctx: ParseContext;
  private readonly assembler: MessageAssembler;
  private readonly conns: ConnectionTable;

  constructor(options: HttpParserOptions = {}) {
    this.ctx = new ParseContext(resolveOptions(options));
    this.assembler = new MessageAssembler(this.ctx);
    this.conns = new ConnectionTable(this.ctx, (c, dir, ds) => this.assembler.sinkFor(c, dir, ds));
  }

  /** Counters and current memory use. */
  stats(): HttpParserStats {
    return { ...this.ctx.counters, connections: this.conns.size, buffered_bytes: this.bufferedBytes() };
  }

  /** The counters that say something was left out, when not zero (the `lost` of the stats event). */
  lost(): Record<string, number> {
    const c = this.ctx.counters;
    const out: Record<string, number> = {};
    for (const k of [
      'unanswered_requests_dropped',
      'bodies_truncated',
      'body_bytes_dropped',
      'bytes_discarded',
      'websocket_messages_truncated',
      'websocket_bytes_dropped',
    ] as const)
      if (c[k]) out[k] = c[k];
    return out;
  }

  /** Bytes held right now: undecided input of every stream + stored bodies and raw copies. */
  bufferedBytes(): number {
    return this.ctx.stored + this.conns.bufferedBytes();
  }

  process(input: AsyncIterable<Event>): AsyncIterable<Event> {
    return stepProcess(this, input);
  }

  step(e: Event, emit: Emit): void {
    const out = this.batch;
    while (out.length !== 0) out.pop(); // cheaper than setting length
    this.ctx.collectInto(out);
    this.onEvent(e);
    for (let i = 0; i < out.length; i++) emit(out[i]);
    while (out.length !== 0) out.pop(); // cheaper than setting length
  }

  /** What step() passes on, reused from one event to the next. */
  private readonly batch: Event[] = [];

  end(emit: Emit): void {
    for (const o of this.finish()) emit(o);
  }

  /**
   * Process one event synchronously: returns the events to pass on (the input
   * event first when it passes through, then derived events).
   */
  handle(e: Event): Event[] {
    const out: Event[] = [];
    this.ctx.collectInto(out);
    this.onEvent(e);
    return out;
  }

  private onEvent(e: Event): void {
    if (e.source === 'ssl') return this.onSsl(e);
    this.ctx.pass(e);
    if (e.source === 'process' && (e.data as { event?: unknown }).event === 'EXIT') {
      this.releaseHeld((h) => h.events[0].pid === e.pid);
      this.conns.closeProcess(e.pid, e);
    }
  }

  /** Input is over: close every connection (flushing read-until-close bodies) and report. */
  finish(last?: Event): Event[] {
    return this.ctx.collect(() => {
      this.releaseHeld(() => true);
      const when = last ?? this.ctx.cursor?.event;
      this.conns.closeAll(when);
      if (this.ctx.config.emitStats) this.ctx.pass(statsEvent({ event: 'ANALYZER', analyzer: this.name, ...this.stats(), lost: this.lost() }, when));
    });
  }

  /**
   * A TLS read or write. A response read on an HTTP/1 client connection that
   * awaits no request is held until the connection's next write (or
   * HOLD_NS of event time, or HOLD_BYTES): the reading and the writing thread
   * of a client (Go's net/http) report their calls when they return, so the
   * write of a request can come after the read of its answer.
   */
  private onSsl(e: Event): void {
    const d = e.data as { function?: unknown; conn_id?: unknown };
    const dir = directionOf(d.function);
    if (dir === null) {
      if (this.ctx.config.passThroughSsl) this.ctx.pass(e);
      return;
    }
    const ns = eventNs(e);
    if (this.held.size !== 0) this.releaseHeld((h) => ns - h.sinceNs > HOLD_NS);
    const id = typeof d.conn_id === 'string' && d.conn_id ? d.conn_id : `${e.pid}:unknown`;
    const held = this.held.get(id);
    if (dir === 'read' && (held || this.answersNothing(id, e))) {
      const h = held ?? { sinceNs: ns, bytes: 0, events: [] };
      h.events.push(e);
      h.bytes += sslPayload(e).length;
      this.held.set(id, h);
      if (h.bytes > HOLD_BYTES || h.events.length > HOLD_EVENTS) this.releaseHeld((x) => x === h);
      return;
    }
    this.feed(e, dir, id, ns);
    if (held) {
      // the request was written: its answer follows it, at its time at the earliest
      this.held.delete(id);
      this.ctx.counters.responses_reordered++;
      for (const r of held.events) this.feed(r, 'read', id, Math.max(ns, eventNs(r)), e);
    }
  }

  /** Is this read the start of a response on an HTTP/1 connection that awaits no request? */
  private answersNothing(id: string, e: Event): boolean {
    const c = this.conns.peek(id);
    if (c && (c.h2 || c.ws || c.awaiting.length > 0 || c.dirs.read.msg || c.dirs.read.parser.bufferedBytes > 0)) return false;
    const b = sslPayload(e);
    return b.length >= 8 && b.toString('latin1', 0, 7) === 'HTTP/1.';
  }

  /** Feed the reads held for connections that `which` selects, at their own time. */
  private releaseHeld(which: (h: Held) => boolean): void {
    if (this.held.size === 0) return;
    for (const [id, h] of [...this.held]) {
      if (!which(h)) continue;
      this.held.delete(id);
      for (const r of h.events) this.feed(r, 'read', id, eventNs(r));
    }
  }

  private readonly held = new Map<string, Held>();

  /**
   * Feed the bytes of a TLS read or write to their connection's direction,
   * at event time `ns` (later than the event's own when a held read follows
   * the write of its request: `after` is that write, whose time it takes).
   */
  private feed(e: Event, dir: Dir, id: string, ns: number, after?: Event): void {
    const d = e.data as { truncated?: unknown; bytes_lost?: unknown };
    if (this.ctx.config.passThroughSsl) this.ctx.pass(e);
    const at = after && ns > eventNs(e) ? { ...e, mono_ns: after.mono_ns, timestamp: after.timestamp } : e;
    this.ctx.cursor = { event: at, seq: this.ctx.counters.ssl_events++, ns };
    this.conns.sweep(ns);
    const conn = this.conns.get(id, e, ns);
    const bytes = sslPayload(e);
    this.ctx.counters.ssl_bytes += bytes.length;
    const ds = conn.dirs[dir];
    if (conn.ws) {
      conn.ws.push(dir, bytes);
      if (d.truncated === true) this.gap(conn, dir, d.bytes_lost);
      this.trackPeak();
      return;
    }
    if (conn.h2 || !ds.started) this.early(conn, dir, bytes);
    else this.http1(ds, bytes);
    if (d.truncated === true) this.gap(conn, dir, d.bytes_lost);
    if (conn.h2) conn.h2.flush();
    else if (ds.msg?.stream) this.assembler.flushChunk(conn, ds.msg);
    this.trackPeak();
  }

  private http1(ds: DirState, bytes: Buffer): void {
    if (!ds.msg && bytes.length) noteHeadBytes(this.ctx, ds);
    ds.started = true;
    ds.parser.push(bytes);
  }

  /**
   * Bytes of a connection that speaks HTTP/2, or whose protocol is not known
   * yet: a direction's first bytes are held while they may be the HTTP/2
   * preface (or a server's first SETTINGS frame); then they go to HTTP/2 or
   * to the HTTP/1 parser.
   */
  private early(conn: Conn, dir: Dir, bytes: Buffer): void {
    if (conn.h2) return conn.h2.push(dir, bytes);
    const ds = conn.dirs[dir];
    const head = ds.sniff ? Buffer.concat([ds.sniff, bytes]) : bytes;
    const kind = head.length ? sniff(head) : 'maybe-preface';
    const other = conn.dirs[dir === 'write' ? 'read' : 'write'];
    if (kind === 'preface') {
      ds.sniff = null;
      const h2 = new H2Connection(this.ctx, this.assembler, conn, dir);
      conn.h2 = h2;
      h2.push(dir, head);
      // what the other side sent first (its SETTINGS) belongs to the same connection
      if (other.sniff) h2.push(dir === 'write' ? 'read' : 'write', other.sniff);
      other.sniff = null;
      return;
    }
    const undecided = kind === 'maybe-preface' || (kind === 'maybe-settings' && !other.started);
    if (undecided && head.length <= MAX_SNIFF_BYTES) {
      // if it is HTTP/1 after all, these events carried the start of its first message
      if (bytes.length) noteHeadBytes(this.ctx, ds);
      ds.sniff = Buffer.from(head);
      return;
    }
    ds.sniff = null;
    this.http1(ds, head);
  }

  /** The tracer lost bytes after this call (`lost` of them, when it knows). */
  private gap(conn: Conn, dir: Dir, lost: unknown): void {
    const n = typeof lost === 'number' && lost > 0 ? lost : null;
    if (n === null) this.ctx.counters.gaps_unknown_size++;
    else this.ctx.counters.bytes_lost += n;
    const ds = conn.dirs[dir];
    if (conn.ws) conn.ws.gap(dir, n);
    else if (conn.h2) conn.h2.gap(dir);
    else {
      // held bytes before a gap can only be HTTP/1 now
      if (ds.sniff) this.http1(ds, ds.sniff);
      ds.sniff = null;
      ds.started = true;
      ds.parser.gap(n);
    }
  }

  private trackPeak(): void {
    const counters = this.ctx.counters;
    if (this.ctx.stored > counters.peak_buffered_bytes) {
      const b = this.bufferedBytes();
      if (b > counters.peak_buffered_bytes) counters.peak_buffered_bytes = b;
    }
  }
}
