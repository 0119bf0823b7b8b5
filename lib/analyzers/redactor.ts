/**
 * Redactor: masks credentials before anything is printed, written or sent,
 * and says when a request to an LLM API carried one (`exposure` events).
 * On by default; `--disable-auth-removal` leaves it out of the chain.
 *
 * It runs where the last text is made: after HttpParser, SseProcessor and
 * (in `agent`/`record`) LlmAnalyzer, before any sink (lib/analyzers/chains.ts,
 * lib/session/agent.ts), so it sees every event that leaves the pipeline:
 *
 * - ssl events: the plaintext bytes are masked length-preservingly per
 *   connection and direction (lib/redact/raw.ts: secrets split across TLS
 *   calls, broken by chunk framing, streamed in JSON deltas; bytes of
 *   compressed bodies replaced);
 * - http events: credential header values become "[REDACTED]", bodies and
 *   raw copies are masked (lib/redact/fields.ts), body chunks as a stream
 *   per response;
 * - every other event (sse, llm, process, ...): every string is masked like
 *   text, a field named like a secret loses its value; an EXEC's argv is
 *   read as one command line and its full_command rebuilt from it.
 *
 * Events without secrets are passed on as they are (same object); events
 * with secrets are copied, never modified in place.
 */
import { stepProcess, type Emit, type StepAnalyzer } from '../core/analyzer';
import { exposureEvent, type Event } from '../core/event';
import { attachPayload, encodePayload, sslPayload } from '../core/payload';
import { redactArgv } from '../redact/argv';
import { requestExposures, type ExposureData } from '../redact/exposure';
import { FieldMasker, isRecord, REDACTED } from '../redact/fields';
import { applyRanges } from '../redact/mask';
import { RawStreams, type Direction } from '../redact/raw';
import { SseDeltaView } from '../redact/sse-view';
import { latin1Utf8, utf8Latin1 } from '../redact/text';
import { TextStream } from '../redact/stream';
import type { KnownBody } from '../redact/rules';
import type { Finding, Range } from '../redact/types';
import { mediaType } from '../http/util';

/** Options of the redactor. */
export interface RedactorOptions {
  /**
   * Which events it masks: `all` (default), `ssl` (only raw TLS data, for a
   * chain whose parsed events are masked further on), `parsed` (all but ssl).
   */
  scope?: 'all' | 'ssl' | 'parsed';
  /** Characters of the previous TLS call (or body chunk) kept per stream to catch split secrets. Default 512. */
  carryBytes?: number;
  /** Connections (and streamed bodies) remembered at once. Default 2048. */
  maxStreams?: number;
  /**
   * TLS bytes that cannot be searched where they are: compressed bodies
   * (gzip, br, zstd, deflate; also compressed WebSocket messages and HTTP/2
   * streams) decompress to whatever they hold, and an HTTP/2 header block cut
   * by the end of a TLS call cannot be decoded in time. `replace` overwrites
   * them with "*" (and says so in the event: `compressed_bytes_masked`);
   * `keep` (the default of a Redactor built alone) leaves them, for a chain
   * that parses HTTP after the redactor. The chains the CLI builds place the
   * redactor after the parser and replace them.
   */
  unsearchable?: 'replace' | 'keep';
  /** Emit `exposure` events for secrets in requests to LLM APIs. Default true. */
  exposures?: boolean;
  /** The llm call_id of an HTTP exchange, when an LlmAnalyzer before the redactor knows it. */
  callIdFor?: (connId: string, seq: number) => string | null;
}

/** Counters of the redactor. */
export interface RedactorStats {
  events_seen: number;
  events_redacted: number;
  ssl_bytes_masked: number;
  compressed_bytes_masked: number;
  header_values_redacted: number;
  strings_redacted: number;
  bodies_omitted: number;
  exposures: number;
  provider_auth: number;
}

interface ChunkStream {
  text: TextStream;
  sse: SseDeltaView | null;
  /** What was masked in the chunks, in body offsets (for the response event's whole body), null beyond a bound. */
  masked: Range[] | null;
  /** Body offset the next chunk starts at, while the chunks seen are the body from its start (-1 once they are not). */
  next: number;
}

const MAX_KNOWN_RANGES = 4096;
const NO_CHANGES: Record<string, unknown> = Object.freeze({});

/** The key of an http event's exchange among the streamed bodies. */
const chunkKey = (d: Record<string, unknown>) => `${String(d.conn_id)}#${String(d.seq)}`;

/** A new record with the own fields of `d` that come before field `k` (all of them for null). */
function copyBefore(d: Record<string, unknown>, k: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const j in d) {
    if (j === k) break;
    if (Object.prototype.hasOwnProperty.call(d, j)) out[j] = d[j];
  }
  return out;
}

/** Masks API keys, tokens, cookies, passwords and private keys in every event. */
export class Redactor implements StepAnalyzer {
  readonly name = 'redactor';
  private readonly scope: 'all' | 'ssl' | 'parsed';
  private readonly carry: number;
  private readonly maxStreams: number;
  private readonly keepUnsearchable: boolean;
  private readonly reportExposures: boolean;
  private readonly callIdFor: ((connId: string, seq: number) => string | null) | null;
  private readonly raw: RawStreams;
  private readonly fields = new FieldMasker();
  /** Streamed bodies (conn#seq): event stream or not, and the stream scanner of their chunks. */
  private readonly chunks = new Map<string, ChunkStream | boolean>();
  private queued: Event[] = [];
  private readonly counters = {
    events_seen: 0,
    events_redacted: 0,
    ssl_bytes_masked: 0,
    compressed_bytes_masked: 0,
    exposures: 0,
    provider_auth: 0,
  };

  constructor(options: RedactorOptions = {}) {
    this.scope = options.scope ?? 'all';
    this.carry = options.carryBytes ?? 512;
    this.maxStreams = options.maxStreams ?? 2048;
    this.keepUnsearchable = options.unsearchable !== 'replace';
    this.reportExposures = options.exposures ?? true;
    this.callIdFor = options.callIdFor ?? null;
    this.raw = new RawStreams(this.carry, this.maxStreams);
  }

  /** Counters. */
  stats(): RedactorStats {
    return { ...this.counters, ...this.fields.counters };
  }

  process(input: AsyncIterable<Event>): AsyncIterable<Event> {
    return stepProcess(this, input);
  }

  step(e: Event, emit: Emit): void {
    emit(this.redact(e));
    if (this.queued.length) {
      const q = this.queued;
      this.queued = [];
      for (const x of q) emit(x);
    }
  }

  end(): void {}

  /** Exposure events made by redact() since the last call (process() yields them after their request). */
  takeExposures(): Event[] {
    const q = this.queued;
    this.queued = [];
    return q;
  }

  /** The event with its secrets masked (the same object when it has none). */
  redact(e: Event): Event {
    this.counters.events_seen++;
    let out: Event;
    if (e.source === 'ssl') out = this.scope === 'parsed' ? e : this.redactSsl(e);
    else if (this.scope === 'ssl') out = e;
    else if (e.source === 'http') out = this.redactHttp(e);
    else if (e.source === 'process' && (e.data as { event?: unknown }).event === 'EXEC') out = this.redactExec(e);
    else out = this.redactGeneric(e);
    if (out !== e) this.counters.events_redacted++;
    return out;
  }

  private redactSsl(e: Event): Event {
    const d = e.data as { function?: unknown; conn_id?: unknown; data?: unknown; truncated?: unknown; bytes_lost?: unknown };
    const dir: Direction | null = d.function === 'WRITE/SEND' ? 'write' : d.function === 'READ/RECV' ? 'read' : null;
    const bytes = sslPayload(e);
    if (dir === null || bytes.length === 0) return e;
    const conn = typeof d.conn_id === 'string' && d.conn_id ? d.conn_id : `${e.pid}:unknown`;
    const lost = d.truncated === true ? (typeof d.bytes_lost === 'number' && d.bytes_lost > 0 ? d.bytes_lost : null) : undefined;
    const r = this.raw.push(conn, dir, bytes, lost);
    const compressed = this.keepUnsearchable ? [] : r.compressed;
    if (r.ranges.length === 0 && compressed.length === 0 && r.rewrites.length === 0) return e;
    const text = bytes.toString('latin1');
    const out = Buffer.from(r.ranges.length ? applyRanges(text, r.ranges) : text, 'latin1');
    for (const w of r.rewrites) w.bytes.copy(out, w.start);
    let hidden = 0;
    for (const c of compressed) {
      out.fill(0x2a, c.start, c.end);
      hidden += c.end - c.start;
    }
    let n = 0;
    for (let i = 0; i < out.length; i++) if (out[i] !== bytes[i]) n++;
    if (n === 0) return e;
    this.counters.ssl_bytes_masked += n;
    this.counters.compressed_bytes_masked += hidden;
    const data: Record<string, unknown> = { ...e.data };
    if (typeof d.data === 'string') Object.assign(data, encodePayload(out));
    if (hidden) data.compressed_bytes_masked = hidden;
    const copy: Event = { ...e, data };
    attachPayload(copy, out);
    return copy;
  }

  private redactHttp(e: Event): Event {
    const d = e.data as Record<string, unknown>;
    if (d.type === 'body_chunk') return this.redactChunk(e, d);
    if (d.type === 'response_headers') this.remember(chunkKey(d), mediaType(d.content_type as string) === 'text/event-stream');
    let known: KnownBody | null = null;
    if (d.type === 'response') {
      // a streamed body's chunks were searched as a stream: what they held is known
      const key = chunkKey(d);
      const s = this.chunks.get(key);
      if (d.streamed === true && s && typeof s !== 'boolean' && s.masked && d.body_encoding !== 'base64' && typeof d.content_encoding !== 'string')
        known = { ranges: s.masked, triggers: s.next >= 0 ? s.text.recordedTriggers() : null };
      this.forget(key);
    }
    const sse = d.type === 'response' && mediaType(d.content_type as string) === 'text/event-stream';
    const parts = d.type === 'request' || d.type === 'response' ? this.fields.bodyFields(d, sse, known) : null;
    const bodies = parts?.changes ?? NO_CHANGES;
    if (d.type === 'request' && d.role !== 'server' && this.reportExposures) this.exposuresOf(e, d, parts?.findings ?? []);
    // copied from the first field that changes
    let data: Record<string, unknown> | null = null;
    for (const k in d) {
      if (!Object.prototype.hasOwnProperty.call(d, k)) continue;
      const v = d[k];
      let nv: unknown;
      if (k in bodies) nv = bodies[k];
      else if (k === 'headers' && isRecord(v)) nv = this.fields.headers(v);
      else if (k === 'body' || k === 'raw' || k === 'raw_encoding' || k === 'excerpt_hex') nv = v;
      else nv = this.fields.walk(v, k, k === 'excerpt_text');
      if (nv !== v && data === null) data = copyBefore(d, k);
      if (data !== null) data[k] = nv;
    }
    for (const k in bodies) {
      if (!(k in d)) {
        data ??= copyBefore(d, null);
        data[k] = bodies[k];
      }
    }
    if (data === null) return e;
    if (typeof d.excerpt_text === 'string' && data.excerpt_text !== d.excerpt_text) data.excerpt_hex = REDACTED;
    return { ...e, data };
  }

  /** Remember whether the streamed body of an exchange is an event stream (bounded). */
  private remember(key: string, sse: boolean): void {
    this.forget(key);
    this.chunks.set(key, sse);
    if (this.chunks.size > this.maxStreams) this.forget(this.chunks.keys().next().value as string);
  }

  /** Forget a streamed body (and the stream of the last chunk, which may be it). */
  private forget(key: string): void {
    this.chunks.delete(key);
    this.lastChunk = null;
  }

  /** The stream of the last body chunk and its exchange: the chunks of one body come in a row, and find it without building its key. */
  private lastChunk: { conn: unknown; seq: unknown; stream: ChunkStream } | null = null;

  /** The stream of a body chunk's body (a new one for its first chunk). */
  private chunkStream(d: Record<string, unknown>): ChunkStream {
    const l = this.lastChunk;
    if (l !== null && l.seq === d.seq && l.conn === d.conn_id) return l.stream;
    const key = chunkKey(d);
    let s = this.chunks.get(key);
    if (s === undefined || typeof s === 'boolean') {
      const stream: ChunkStream = { text: new TextStream(this.carry), sse: s === true ? new SseDeltaView() : null, masked: [], next: 0 };
      // the body's triggers, for the search of the whole body in the response event
      stream.text.recordTriggers();
      this.forget(key);
      this.chunks.set(key, stream);
      if (this.chunks.size > this.maxStreams) this.forget(this.chunks.keys().next().value as string);
      // a stream that did not stay in the table (no room) is not continued by the next chunk
      if (this.chunks.get(key) !== stream) return stream;
      s = stream;
    }
    this.lastChunk = { conn: d.conn_id, seq: d.seq, stream: s };
    return s;
  }

  /** A body chunk: masked as the next piece of its body's stream (secrets split across chunks, streamed deltas). */
  private redactChunk(e: Event, d: Record<string, unknown>): Event {
    const s = this.chunkStream(d);
    if (typeof d.data !== 'string') s.next = -1;
    if (typeof d.data !== 'string' || d.data === '') return e;
    const b64 = d.data_encoding === 'base64';
    const text = b64 ? Buffer.from(d.data, 'base64').toString('latin1') : utf8Latin1(d.data);
    const ranges: Range[] = s.text.push(text);
    const offset = typeof d.offset === 'number' ? d.offset : 0;
    s.next = s.next === offset ? offset + text.length : -1;
    if (s.sse) for (const r of s.sse.push(text, offset)) ranges.push({ start: r.start - offset, end: r.end - offset });
    if (ranges.length === 0) return e;
    const mine = ranges.filter((r) => r.end > 0 && r.start < text.length).map((r) => ({ start: Math.max(0, r.start), end: Math.min(text.length, r.end) }));
    if (s.masked) {
      for (const r of mine) s.masked.push({ start: r.start + offset, end: r.end + offset });
      if (s.masked.length > MAX_KNOWN_RANGES) s.masked = null;
    }
    const masked = applyRanges(text, mine);
    if (masked === text) return e;
    this.fields.counters.strings_redacted++;
    return { ...e, data: { ...d, data: b64 ? Buffer.from(masked, 'latin1').toString('base64') : latin1Utf8(masked) } };
  }

  private redactExec(e: Event): Event {
    const d = e.data as Record<string, unknown>;
    const rest = this.redactGeneric(e);
    const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((a) => typeof a === 'string');
    if (!strings(d.argv)) return rest;
    const argv = d.argv;
    const m = redactArgv(argv);
    // the exact bytes of arguments that are not UTF-8 (argv_b64, one element per argument): read as one command line too
    const bytes = strings(d.argv_b64) ? d.argv_b64.map((a) => Buffer.from(a, 'base64').toString('latin1')) : null;
    const mb = bytes ? redactArgv(bytes) : null;
    if (m.argv === argv && (!mb || mb.argv === bytes)) return rest;
    this.fields.counters.strings_redacted++;
    const data: Record<string, unknown> = { ...rest.data, argv: m.argv };
    // full_command is argv joined: rebuilt from the masked elements, then masked as text too
    if (typeof d.full_command === 'string')
      data.full_command = d.full_command === argv.join(' ') ? this.fields.string(m.argv.join(' '), '') : rest.data.full_command;
    if (mb && bytes && mb.argv !== bytes) {
      data.argv_b64 = mb.argv.map((a) => Buffer.from(a, 'latin1').toString('base64'));
      if (typeof d.full_command_b64 === 'string')
        data.full_command_b64 = this.fields.string(Buffer.from(mb.argv.join(' '), 'latin1').toString('base64'), 'full_command_b64');
    }
    return { ...e, data };
  }

  private redactGeneric(e: Event): Event {
    // a merged answer cut at its size limit may end inside a secret
    const data = this.fields.walk(e.data, '', e.source === 'sse' && (e.data as { content_truncated?: unknown }).content_truncated === true);
    return data === e.data ? e : { ...e, data: data as Record<string, unknown> };
  }

  /** Exposure events of a request to an LLM API (from its clear data, before it is masked). */
  private exposuresOf(e: Event, d: Record<string, unknown>, bodyFindings: readonly Finding[]): void {
    const headers = isRecord(d.headers) ? (d.headers as Record<string, string>) : {};
    const base64 = d.body_encoding === 'base64';
    const body = typeof d.body !== 'string' ? '' : base64 ? Buffer.from(d.body, 'base64').toString('utf8') : d.body;
    const view = { method: String(d.method ?? ''), path: String(d.path ?? ''), host: (d.host as string | null) ?? null, headers, body };
    // the body's findings are positions of its text: usable as they are only for a text body
    const report = requestExposures(view, base64 ? undefined : bodyFindings);
    if (!report) return;
    this.counters.provider_auth += report.providerAuth;
    const connId = String(d.conn_id ?? '');
    const seq = Number(d.seq ?? -1);
    const callId = this.callIdFor?.(connId, seq) ?? null;
    for (const x of report.exposures) {
      const data: ExposureData = {
        event: 'SECRET_SENT',
        ...x,
        api: report.api,
        provider: report.provider.vendor,
        'server.address': ((d.host as string | null) ?? '').split(':')[0] || null,
        path: this.fields.string(String(d.path ?? ''), ''),
        conn_id: connId,
        seq,
        call_id: callId,
      };
      this.counters.exposures++;
      this.queued.push(exposureEvent(e, e, data));
    }
  }
}
