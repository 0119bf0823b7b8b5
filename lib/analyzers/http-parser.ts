/**
 * HttpParser: turns the plaintext of TLS calls (ssl events) into HTTP/1.x
 * requests, responses and streamed bodies (http events).
 *
 * Bytes are parsed per connection (data.conn_id) and per direction (WRITE and
 * READ), never per TLS call: a message may span many calls and a call may hold
 * many messages. Which direction carries requests is decided by what the
 * bytes start with, so both client and server processes are understood.
 *
 * The parts live in lib/http/parser/: connections (the connection table and
 * its bounds), assembler (what each direction's Http1Stream parses becomes
 * messages), message (body accumulation within the size bounds), pairing
 * (requests and responses), events (the http event data).
 */
import type { Analyzer } from '../core/analyzer';
import { statsEvent, type Event } from '../core/event';
import { sslPayload } from '../core/payload';
import type { HttpParserStats } from '../http/types';
import { eventNs } from '../http/util';
import { MessageAssembler } from '../http/parser/assembler';
import { ConnectionTable, noteHeadBytes } from '../http/parser/connections';
import { ParseContext } from '../http/parser/context';
import { resolveOptions, type HttpParserOptions } from '../http/parser/options';
import { directionOf, type DirState } from '../http/parser/state';

export type { HttpParserOptions } from '../http/parser/options';

/**
 * HTTP/1.x parser analyzer (`--http-parser`, `--http-raw-data`).
 * Emits `source: "http"` events: request, response_headers, body_chunk,
 * response, parse_error (shapes in docs/events.md).
 */
export class HttpParser implements Analyzer {
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
    for (const k of ['unanswered_requests_dropped', 'bodies_truncated', 'body_bytes_dropped', 'bytes_discarded'] as const) if (c[k]) out[k] = c[k];
    return out;
  }

  /** Bytes held right now: undecided input of every stream + stored bodies and raw copies. */
  bufferedBytes(): number {
    return this.ctx.stored + this.conns.bufferedBytes();
  }

  async *process(input: AsyncIterable<Event>): AsyncIterable<Event> {
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
    return this.ctx.collect(() => {
      if (e.source === 'ssl') return this.onSsl(e);
      this.ctx.pass(e);
      if (e.source === 'process' && (e.data as { event?: unknown }).event === 'EXIT') this.conns.closeProcess(e.pid, e);
    });
  }

  /** Input is over: close every connection (flushing read-until-close bodies) and report. */
  finish(last?: Event): Event[] {
    return this.ctx.collect(() => {
      const when = last ?? this.ctx.cursor?.event;
      this.conns.closeAll(when);
      if (this.ctx.config.emitStats) this.ctx.pass(statsEvent({ event: 'ANALYZER', analyzer: this.name, ...this.stats(), lost: this.lost() }, when));
    });
  }

  /** Feed the bytes of a TLS read or write to their connection's direction. */
  private onSsl(e: Event): void {
    const d = e.data as { function?: unknown; conn_id?: unknown; truncated?: unknown; bytes_lost?: unknown };
    if (this.ctx.config.passThroughSsl) this.ctx.pass(e);
    const dir = directionOf(d.function);
    if (dir === null) return;
    const ns = eventNs(e);
    this.ctx.cursor = { event: e, seq: this.ctx.counters.ssl_events++, ns };
    this.conns.sweep(ns);
    const conn = this.conns.get(typeof d.conn_id === 'string' && d.conn_id ? d.conn_id : `${e.pid}:unknown`, e, ns);
    const bytes = sslPayload(e);
    this.ctx.counters.ssl_bytes += bytes.length;
    const ds = conn.dirs[dir];
    if (!ds.msg && bytes.length) noteHeadBytes(this.ctx, ds);
    ds.parser.push(bytes);
    if (d.truncated === true) this.gap(ds, d.bytes_lost);
    if (ds.msg?.stream) this.assembler.flushChunk(conn, ds.msg);
    this.trackPeak();
  }

  /** The tracer lost bytes after this call (`lost` of them, when it knows). */
  private gap(ds: DirState, lost: unknown): void {
    const n = typeof lost === 'number' && lost > 0 ? lost : null;
    if (n === null) this.ctx.counters.gaps_unknown_size++;
    else this.ctx.counters.bytes_lost += n;
    ds.parser.gap(n);
  }

  private trackPeak(): void {
    const counters = this.ctx.counters;
    if (this.ctx.stored > counters.peak_buffered_bytes) {
      const b = this.bufferedBytes();
      if (b > counters.peak_buffered_bytes) counters.peak_buffered_bytes = b;
    }
  }
}
