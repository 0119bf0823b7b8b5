/**
 * State one HTTP parser shares among its parts: configuration, counters, the
 * ssl event being processed, the memory held by bodies, and the events
 * produced by the current step.
 */
import { derivedEvent, webSocketEvent, type Event } from '../../core/event';
import type { HttpEventData, HttpParserStats, SslRefs } from '../types';
import type { WebSocketEventData } from '../ws/types';
import { eventNs } from '../util';
import type { ParserConfig } from './options';
import type { Cursor } from './state';

/** The counters of HttpParserStats that are counted (the rest are measured). */
export type ParserCounters = Omit<HttpParserStats, 'connections' | 'buffered_bytes'>;

function zeroCounters(): ParserCounters {
  return {
    ssl_events: 0,
    ssl_bytes: 0,
    connections_evicted: 0,
    connections_opaque: 0,
    requests: 0,
    responses: 0,
    interim_responses: 0,
    unpaired_responses: 0,
    responses_reordered: 0,
    unanswered_requests_dropped: 0,
    incomplete_messages: 0,
    parse_errors: 0,
    bytes_discarded: 0,
    bytes_lost: 0,
    gaps_unknown_size: 0,
    bodies_truncated: 0,
    body_bytes_dropped: 0,
    body_chunks: 0,
    websocket_connections: 0,
    websocket_messages: 0,
    websocket_messages_truncated: 0,
    websocket_bytes_dropped: 0,
    websocket_errors: 0,
    peak_buffered_bytes: 0,
  };
}

/** The ssl event bytes are being attributed to: its index, and mono_ns when it has one. */
export interface EventRef {
  seq: number;
  mono?: number;
}

/** The shared state of one HttpParser (one per instance, passed to its parts). */
export class ParseContext {
  readonly counters: ParserCounters = zeroCounters();
  /** Body + raw bytes held across all messages (bounded by maxBufferedBytes). */
  stored = 0;
  /** The ssl event being processed (the last one, between events). */
  cursor: Cursor | null = null;
  private out: Event[] = [];

  constructor(readonly config: ParserConfig) {}

  /** Event time now (0 before the first ssl event). */
  get ns(): number {
    return this.cursor?.ns ?? 0;
  }

  /** Run one step and return the events it passed on or produced, in order. */
  collect(step: () => void): Event[] {
    const r: Event[] = [];
    this.collectInto(r);
    step();
    this.out = [];
    return r;
  }

  /** Events passed on or produced from now on go to `out` (a step reuses one array). */
  collectInto(out: Event[]): void {
    this.out = out;
  }

  /** Pass an input event on. */
  pass(e: Event): void {
    this.out.push(e);
  }

  /** Emit an http event about connection `who`, at the time of the current ssl event. */
  emit(who: { pid: number; comm: string }, data: HttpEventData): void {
    this.out.push(derivedEvent('http', this.cursor?.event, who, data));
  }

  /** Emit a websocket event about connection `who`, at the time of the current ssl event. */
  emitWebSocket(who: { pid: number; comm: string }, data: WebSocketEventData): void {
    this.out.push(webSocketEvent(this.cursor?.event, who, data));
  }

  /** Run `fn` with `when` as the current event (keeping the ssl event index), then restore. */
  at(when: Event | undefined, fn: () => void): void {
    const saved = this.cursor;
    if (when && (!saved || saved.event !== when)) this.cursor = { event: when, seq: saved?.seq ?? -1, ns: eventNs(when) };
    fn();
    this.cursor = saved;
  }

  /** Index of the current ssl event (-1 before the first). */
  refSeq(): number {
    return this.cursor?.seq ?? -1;
  }

  /** mono_ns of the current ssl event, when it has one. */
  refMono(): number | undefined {
    const m = this.cursor?.event.mono_ns;
    return typeof m === 'number' ? m : undefined;
  }

  /** The current ssl event as a reference. */
  ref(): EventRef {
    const cur = this.cursor;
    if (!cur) return { seq: -1 };
    return { seq: cur.seq, mono: typeof cur.event.mono_ns === 'number' ? cur.event.mono_ns : undefined };
  }

  /** SslRefs naming only the current ssl event. */
  refsHere(): SslRefs {
    const seq = this.refSeq();
    const mono = this.refMono();
    return mono !== undefined
      ? { first_seq: seq, last_seq: seq, events: 1, first_mono_ns: mono, last_mono_ns: mono }
      : { first_seq: seq, last_seq: seq, events: 1 };
  }
}
