/**
 * SseProcessor (`--sse-merge`): follows every text/event-stream response
 * delivered by HttpParser (response_headers, body_chunk..., response) and
 * emits one `source: "sse"` event per stream with the merged answer.
 *
 * Needs HttpParser upstream (it reads http events, not ssl bytes).
 */
import { StringDecoder } from 'string_decoder';
import { stepProcess, type Emit, type StepAnalyzer } from '../core/analyzer';
import { derivedEvent, isSource, statsEvent, type Event } from '../core/event';
import { UsageError } from '../core/errors';
import type { HttpBodyChunkData, HttpRequestSummary, HttpResponseData, HttpResponseHeadersData } from '../http/types';
import { eventNs, mediaType, msBetween } from '../http/util';
import { DEFAULT_MAX_CONTENT_CHARS, MergedContent, StreamMerger } from '../sse/stream-merger';
import { SseParser, type SseEvent } from '../sse/parser';

/** A body chunk's events as the SseProcessor parsed them, and the merger they went into (all events before them included). */
export interface ParsedChunk {
  events: readonly SseEvent[];
  merger: StreamMerger;
}

/** Kept on the event itself, not enumerable: a copy of the event (which may differ) does not carry it. */
const PARSED = Symbol('agentsight.sse-chunk');

/**
 * What an SseProcessor earlier in the chain made of this body_chunk event
 * (the same event object, with default bounds), so that a later analyzer
 * need not parse and merge the stream again; undefined when it did not.
 */
export function parsedChunk(e: Event): ParsedChunk | undefined {
  return (e as { [PARSED]?: ParsedChunk })[PARSED];
}

/** Options of the SSE processor. */
export interface SseProcessorOptions {
  /** A stream with no new bytes for this long (event time) is merged and reported as timed out. Default 120000. */
  idleTimeoutMs?: number;
  /** Streams followed at once; the least recently active is closed beyond. Default 256. */
  maxStreams?: number;
  /** Cap on the merged text/thinking/arguments kept per stream (characters). Default 4 MiB. */
  maxContentChars?: number;
  /** Media types treated as event streams. Default ["text/event-stream"]. */
  contentTypes?: readonly string[];
  /** Emit a final `stats` event with the processor's counters. Default true. */
  emitStats?: boolean;
}

/** Why a merged event was emitted. */
export type SseEndReason = 'terminal' | 'end_of_body' | 'incomplete' | 'idle_timeout' | 'evicted' | 'end_of_input';

/** `source: "sse"` event data (`data.type === "merged"`). */
export interface SseMergedData extends MergedContent {
  type: 'merged';
  conn_id: string;
  seq: number;
  request: Pick<HttpRequestSummary, 'method' | 'path' | 'host' | 'url'> | null;
  status_code: number;
  end_reason: SseEndReason;
  /** Request end (or response headers, when unknown) to the first event. */
  time_to_first_event_ms: number | null;
  /** Request end (or response headers) to the end of the stream. */
  duration_ms: number;
  /** Lines that are not valid SSE (unknown field, bad retry) and the first few of them. */
  malformed_lines: number;
  malformed_samples: string[];
  /** Lines over the size limit, dropped. */
  oversize_lines: number;
  tid?: number;
}

/** Counters of the SSE processor. */
export interface SseProcessorStats {
  streams_started: number;
  streams_merged: number;
  by_end_reason: Record<SseEndReason, number>;
  sse_events: number;
  malformed_lines: number;
  /** Chunks of streams already merged (after a terminal event or a timeout). */
  late_chunks: number;
  streams_open: number;
  buffered_chars: number;
}

interface StreamState {
  key: string;
  connId: string;
  seq: number;
  pid: number;
  comm: string;
  comm_b64?: string;
  tid?: number;
  request: SseMergedData['request'];
  status: number;
  startNs: number;
  firstNs: number | null;
  lastNs: number;
  /** Set from the first base64 chunk on: text chunks before it need no decoding (see text()). */
  decoder: StringDecoder | null;
  parser: SseParser;
  merger: StreamMerger;
  done: boolean;
}

/** ES2024 String.prototype.isWellFormed (Node 20 has it; the ES2023 lib does not declare it). */
type WellFormed = string & { isWellFormed(): boolean };

/** Merges streamed LLM answers (and any other SSE stream) into `sse` events. */
export class SseProcessor implements StepAnalyzer {
  readonly name = 'sse_processor';
  private readonly idleNs: number;
  private readonly maxStreams: number;
  private readonly maxContent: number;
  private readonly types: Set<string>;
  private readonly emitStats: boolean;
  private readonly streams = new Map<string, StreamState>();
  private readonly counters: Omit<SseProcessorStats, 'streams_open' | 'buffered_chars'> = {
    streams_started: 0,
    streams_merged: 0,
    by_end_reason: { terminal: 0, end_of_body: 0, incomplete: 0, idle_timeout: 0, evicted: 0, end_of_input: 0 },
    sse_events: 0,
    malformed_lines: 0,
    late_chunks: 0,
  };
  /** body_chunk and response events whose data/body was not a string (left out; said in `lost`). */
  private invalidChunks = 0;
  private lastSweepNs = -Infinity;
  private lastEvent: Event | null = null;

  constructor(options: SseProcessorOptions = {}) {
    const idle = options.idleTimeoutMs ?? 120_000;
    if (!(idle > 0)) throw new UsageError(`SseProcessor: idleTimeoutMs must be positive (got ${String(idle)})`);
    const maxStreams = options.maxStreams ?? 256;
    if (!(maxStreams >= 1)) throw new UsageError(`SseProcessor: maxStreams must be at least 1 (got ${String(maxStreams)})`);
    this.idleNs = idle * 1e6;
    this.maxStreams = maxStreams;
    this.maxContent = options.maxContentChars ?? 4 * 1024 * 1024;
    this.types = new Set((options.contentTypes ?? ['text/event-stream']).map((t) => t.toLowerCase()));
    this.emitStats = options.emitStats ?? true;
  }

  /** The counters that say something was left out, when not zero (the `lost` of the stats event). */
  lost(): Record<string, number> {
    const out: Record<string, number> = {};
    if (this.counters.by_end_reason.evicted) out.streams_evicted = this.counters.by_end_reason.evicted;
    if (this.counters.late_chunks) out.late_chunks = this.counters.late_chunks;
    if (this.invalidChunks) out.invalid_chunks = this.invalidChunks;
    return out;
  }

  /** Counters and current memory use. */
  stats(): SseProcessorStats {
    let chars = 0;
    for (const s of this.streams.values()) chars += s.parser.bufferedChars + s.merger.bufferedChars;
    return { ...this.counters, by_end_reason: { ...this.counters.by_end_reason }, streams_open: this.streams.size, buffered_chars: chars };
  }

  process(input: AsyncIterable<Event>): AsyncIterable<Event> {
    return stepProcess(this, input);
  }

  step(e: Event, emit: Emit): void {
    const out = this.batch;
    while (out.length !== 0) out.pop(); // cheaper than setting length
    out.push(e);
    this.onEvent(e, out);
    for (let i = 0; i < out.length; i++) emit(out[i]);
    while (out.length !== 0) out.pop(); // cheaper than setting length
  }

  /** What step() passes on, reused from one event to the next. */
  private readonly batch: Event[] = [];

  end(emit: Emit): void {
    for (const o of this.finish()) emit(o);
  }

  /** Process one event: returns it followed by any merged events it completed. */
  handle(e: Event): Event[] {
    const out: Event[] = [e];
    this.onEvent(e, out);
    return out;
  }

  private onEvent(e: Event, out: Event[]): void {
    this.lastEvent = e;
    const ns = eventNs(e);
    if (isSource(e, 'http')) {
      const d = e.data;
      switch (d.type) {
        case 'response_headers':
          this.onHeaders(e, d, ns, out);
          break;
        case 'body_chunk':
          this.onChunk(e, d, ns, out);
          break;
        case 'response':
          this.onResponse(e, d, ns, out);
          break;
      }
    }
    this.sweep(ns, out);
  }

  /** Input is over: merge every open stream. */
  finish(): Event[] {
    const out: Event[] = [];
    for (const s of [...this.streams.values()]) this.close(s, 'end_of_input', s.lastNs, out);
    if (this.emitStats) {
      out.push(statsEvent({ event: 'ANALYZER', analyzer: this.name, ...this.stats(), lost: this.lost() }, this.lastEvent ?? undefined));
    }
    return out;
  }

  private isEventStream(contentType: string | null | undefined): boolean {
    const t = mediaType(contentType);
    return t !== null && this.types.has(t);
  }

  private onHeaders(e: Event, d: HttpResponseHeadersData, ns: number, out: Event[]): void {
    if (!this.isEventStream(d.content_type)) return;
    const key = `${d.conn_id}#${d.seq}`;
    const old = this.streams.get(key);
    if (old) this.close(old, 'evicted', ns, out);
    if (this.streams.size >= this.maxStreams) {
      const oldest = this.streams.values().next().value as StreamState;
      this.close(oldest, 'evicted', ns, out);
    }
    this.streams.set(key, this.newState(key, e, d.conn_id, d.seq, d.request, d.status_code, ns, d.tid));
    this.lastChunkOf = null;
    this.counters.streams_started++;
  }

  private newState(key: string, e: Event, connId: string, seq: number, req: HttpRequestSummary | null, status: number, ns: number, tid?: number): StreamState {
    const reqEnd = req?.end_mono_ns ?? (req?.end_timestamp != null ? req.end_timestamp * 1e6 : null);
    return {
      key,
      connId,
      seq,
      pid: e.pid,
      comm: e.comm,
      ...(e.comm_b64 !== undefined ? { comm_b64: e.comm_b64 } : {}),
      tid,
      request: req ? { method: req.method, path: req.path, host: req.host, url: req.url } : null,
      status,
      startNs: reqEnd !== null && reqEnd <= ns ? reqEnd : ns,
      firstNs: null,
      lastNs: ns,
      decoder: null,
      parser: new SseParser(this.maxContent),
      merger: new StreamMerger(req?.path, this.maxContent),
      done: false,
    };
  }

  private onChunk(e: Event, d: HttpBodyChunkData, ns: number, out: Event[]): void {
    // most chunks continue the stream of the one before: found without building its key
    const last = this.lastChunkOf;
    const s = last !== null && last.seq === d.seq && last.connId === d.conn_id ? last : this.streams.get(`${d.conn_id}#${d.seq}`);
    if (!s) return;
    if (s.done) {
      this.counters.late_chunks++;
      return;
    }
    // Keep the map in activity order (oldest first) for eviction and sweeps; already so when the last chunk was of this stream too.
    if (this.lastChunkOf !== s) {
      this.streams.delete(s.key);
      this.streams.set(s.key, s);
      this.lastChunkOf = s;
    }
    s.lastNs = ns;
    const merger = s.merger;
    const events = this.feed(s, this.text(s, d), ns);
    // with the default bounds, what LlmAnalyzer would parse and merge again from this chunk
    if (this.maxContent === DEFAULT_MAX_CONTENT_CHARS) Object.defineProperty(e, PARSED, { value: { events, merger }, enumerable: false, configurable: true });
    if (s.merger.terminal) this.close(s, 'terminal', ns, out, true);
  }

  /** The stream whose chunk came last (it is last in `streams`), while it is. */
  private lastChunkOf: StreamState | null = null;

  /**
   * The text of a chunk, decoded as one UTF-8 stream with the ones before:
   * a chunk given as well-formed text is that text, while no base64 chunk
   * (which may end inside a character) came before it.
   */
  private text(s: StreamState, d: HttpBodyChunkData): string {
    const data: unknown = d.data;
    if (typeof data !== 'string') {
      this.invalidChunks++;
      return '';
    }
    if (s.decoder === null) {
      if (d.data_encoding !== 'base64' && typeof data === 'string' && (data as WellFormed).isWellFormed()) return data;
      s.decoder = new StringDecoder('utf8');
    }
    return s.decoder.write(Buffer.from(d.data, d.data_encoding === 'base64' ? 'base64' : 'utf8'));
  }

  /** The events of the text merged (up to a terminal one). */
  private feed(s: StreamState, text: string, ns: number): readonly SseEvent[] {
    if (!text) return [];
    const events = s.parser.push(text);
    for (let i = 0; i < events.length; i++) {
      if (s.firstNs === null) s.firstNs = ns;
      this.counters.sse_events++;
      s.merger.add(events[i]);
      if (s.merger.terminal) return events.slice(0, i + 1);
    }
    return events;
  }

  private onResponse(e: Event, d: HttpResponseData, ns: number, out: Event[]): void {
    const key = `${d.conn_id}#${d.seq}`;
    let s = this.streams.get(key);
    if (!s) {
      // A stream the parser did not deliver incrementally: merge its whole body now.
      if (!this.isEventStream(d.content_type) || d.streamed) return;
      if (typeof (d.body as unknown) !== 'string') {
        this.invalidChunks++;
        return;
      }
      s = this.newState(key, e, d.conn_id, d.seq, d.request, d.status_code, ns, d.tid);
      this.counters.streams_started++;
      this.streams.set(key, s);
      this.lastChunkOf = null;
      this.feed(s, Buffer.from(d.body, d.body_encoding === 'base64' ? 'base64' : 'utf8').toString('utf8'), ns);
    }
    if (s.done) {
      this.streams.delete(key);
      return;
    }
    this.close(s, d.incomplete ? 'incomplete' : s.merger.terminal ? 'terminal' : 'end_of_body', ns, out);
  }

  private sweep(ns: number, out: Event[]): void {
    if (ns - this.lastSweepNs < Math.min(this.idleNs / 4, 1e9)) return;
    this.lastSweepNs = ns;
    const limit = ns - this.idleNs;
    for (const s of [...this.streams.values()]) {
      if (s.lastNs >= limit) break;
      if (s.done) {
        this.streams.delete(s.key);
        continue;
      }
      this.close(s, 'idle_timeout', ns, out, true);
    }
  }

  /**
   * Merge and emit a stream. keep: remember it (done) so later chunks of the
   * same response are counted as late rather than starting anew.
   */
  private close(s: StreamState, reason: SseEndReason, ns: number, out: Event[], keep = false): void {
    if (!s.done) {
      const tail = s.decoder?.end();
      if (tail) this.feed(s, tail, ns);
      if (!s.merger.terminal) for (const ev of s.parser.end()) s.merger.add(ev);
      out.push(this.merged(s, reason, ns));
      s.done = true;
    }
    if (keep) {
      // Drop the buffers now; only the key is kept, for another idle period.
      s.parser = new SseParser(0);
      s.merger = new StreamMerger(null, 0);
      s.lastNs = Math.max(s.lastNs, ns);
      this.streams.delete(s.key);
      this.streams.set(s.key, s);
    } else {
      this.streams.delete(s.key);
    }
    // a stream moved or gone is no longer known to be last
    this.lastChunkOf = null;
  }

  private merged(s: StreamState, reason: SseEndReason, ns: number): Event {
    this.counters.streams_merged++;
    this.counters.by_end_reason[reason]++;
    this.counters.malformed_lines += s.parser.stats.malformed_lines;
    const content = s.merger.result();
    const data: SseMergedData = {
      type: 'merged',
      conn_id: s.connId,
      seq: s.seq,
      request: s.request,
      status_code: s.status,
      ...content,
      end_reason: reason,
      time_to_first_event_ms: s.firstNs !== null ? msBetween(s.startNs, s.firstNs) : null,
      duration_ms: msBetween(s.startNs, Math.max(ns, s.lastNs)),
      malformed_lines: s.parser.stats.malformed_lines,
      malformed_samples: [...s.parser.malformedSamples],
      oversize_lines: s.parser.stats.oversize_lines,
      ...(s.tid !== undefined ? { tid: s.tid } : {}),
    };
    return derivedEvent('sse', this.lastEvent ?? undefined, s, data);
  }
}
