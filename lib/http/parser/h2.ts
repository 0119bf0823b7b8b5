/**
 * HTTP/2 in the HTTP parser: a connection whose first bytes are the HTTP/2
 * connection preface is followed by an H2Session (lib/http/h2), and each of
 * its streams becomes a request and a response like an HTTP/1 exchange (the
 * same events, `version: "2"`, `stream_id`), paired by stream rather than by
 * order. Bodies are kept, decoded and streamed by the same code as HTTP/1.
 *
 * A client's reading and writing threads report their TLS calls when the
 * calls return, so the server's frames of a stream can be reported before the
 * client's: its HEADERS (the frames that came first are held until they are
 * seen), or the END_STREAM of the request (the response's end waits for it,
 * so the request's body is not lost and its event comes first). Neither wait
 * lasts beyond REORDER_HOLD_NS of event time.
 */
import type { HeaderField } from '../h2/hpack';
import { PREFACE } from '../h2/frames';
import { H2Session, type Side } from '../h2/session';
import type { ParsedHead } from '../head';
import { headerRecord } from '../util';
import type { MessageAssembler } from './assembler';
import { BodyStream } from './body-stream';
import type { ParseContext } from './context';
import { parseErrorData, responseHeadersData } from './events';
import { appendBody, openMessage, releaseMessage } from './message';
import { isInterim, numberRequest, REORDER_HOLD_NS } from './pairing';
import type { Conn, Dir, DirState, H2Conn, Message } from './state';

/** Streams followed at once per connection; beyond, the oldest is ended as incomplete. */
const MAX_STREAMS = 1000;

/** Bytes of server frames held per stream for the client's HEADERS; beyond, they go on without them. */
const MAX_EARLY_BYTES = 256 * 1024;

interface H2Stream {
  id: number;
  request: Message | null;
  response: Message | null;
  /** Server frames reported before the client's HEADERS of the stream, replayed after them (null: none held). */
  early: (() => void)[] | null;
  earlyBytes: number;
  /** The response ended before the request did: its end waits for the request's. */
  endWaits: boolean;
  /** Event time since which the stream holds something (early frames, or the response's end). */
  holdNs: number;
  /** A hold of the stream ran out: it does not hold again. */
  heldOut: boolean;
  /** Counted in responses_reordered. */
  reordered: boolean;
}

/** The two ways the first bytes of a direction can say "HTTP/2". */
export type Sniff = 'preface' | 'maybe-preface' | 'maybe-settings' | 'http1';

/**
 * What the first bytes of a direction are: the client connection preface (or
 * a prefix of it), a server's first SETTINGS frame (which may arrive before the
 * client's preface is seen), or anything else (HTTP/1).
 */
export function sniff(head: Buffer): Sniff {
  const n = Math.min(head.length, PREFACE.length);
  if (PREFACE.subarray(0, n).equals(head.subarray(0, n))) return head.length >= PREFACE.length ? 'preface' : 'maybe-preface';
  // a SETTINGS frame on stream 0 (type 4), length a multiple of 6, no flags or ACK
  if (head[0] === 0 && (head.length < 4 || head[3] === 4) && (head.length < 5 || head[4] <= 1)) return 'maybe-settings';
  return 'http1';
}

/** Most bytes held while a direction's protocol is undecided. */
export const MAX_SNIFF_BYTES = 64 * 1024;

export class H2Connection implements H2Conn {
  private readonly session: H2Session;
  private readonly streams = new Map<number, H2Stream>();
  /** Messages whose streamed bodies received bytes in this step. */
  private readonly dirty = new Set<Message>();
  /** Streams that hold server frames or a response's end. */
  private readonly holding = new Set<H2Stream>();
  /** The highest stream id the client has opened. */
  private lastClientStream = 0;
  private closed = false;

  constructor(
    private readonly ctx: ParseContext,
    private readonly assembler: MessageAssembler,
    private readonly c: Conn,
    /** The direction that sent the preface: it carries the requests. */
    private readonly clientDir: Dir,
  ) {
    this.session = new H2Session(
      {
        onHeaders: (side, id, fields, end) => this.onHeaders(side, id, fields, end),
        onData: (side, id, bytes, end) => this.onData(side, id, bytes, end),
        onPush: (id, promised, fields) => this.onPush(id, promised, fields),
        onReset: (_side, id, code) => {
          const s = this.streams.get(id);
          if (s?.early) return this.hold(s, () => this.endStream(id, `stream reset (error code ${code})`), 0);
          this.endStream(id, `stream reset (error code ${code})`);
        },
        onGoaway: () => undefined,
        onError: (side, message, offset) => this.onError(side, message, offset),
      },
      { maxHeaderBytes: ctx.config.maxHeaderBytes },
    );
  }

  get bufferedBytes(): number {
    let n = this.session.bufferedBytes;
    for (const s of this.streams.values()) n += (s.response?.stream?.heldBytes ?? 0) + (s.request?.stream?.heldBytes ?? 0) + s.earlyBytes;
    return n;
  }

  private side(dir: Dir): Side {
    return dir === this.clientDir ? 'client' : 'server';
  }

  push(dir: Dir, bytes: Buffer): void {
    const side = this.side(dir);
    this.session.push(side, bytes);
    if (this.holding.size === 0) return;
    const now = this.ctx.ns;
    for (const s of [...this.holding]) {
      // the client's HEADERS were seen (or lost: it opened a later stream): what the server sent on the stream follows
      if (s.early && side === 'client' && (s.request || s.id < this.lastClientStream)) this.releaseEarly(s);
      else if (now - s.holdNs > REORDER_HOLD_NS) this.holdOut(s);
    }
  }

  /** Hold a server frame of stream `s` for the client's HEADERS; false when it is not to be held. */
  private holdEarly(s: H2Stream, replay: () => void, bytes: number): boolean {
    if (s.early === null && (s.request !== null || s.heldOut || s.id % 2 === 0 || s.id <= this.lastClientStream)) return false;
    this.hold(s, replay, bytes);
    return true;
  }

  private hold(s: H2Stream, replay: () => void, bytes: number): void {
    if (s.early === null) {
      s.early = [];
      if (!this.holding.has(s)) s.holdNs = this.ctx.ns;
      this.holding.add(s);
    }
    s.early.push(replay);
    s.earlyBytes += bytes;
    if (s.earlyBytes > MAX_EARLY_BYTES) this.holdOut(s);
  }

  private releaseEarly(s: H2Stream): void {
    const early = s.early ?? [];
    s.early = null;
    s.earlyBytes = 0;
    if (s.request === null) s.heldOut = true;
    else this.countReordered(s);
    if (!s.endWaits) this.holding.delete(s);
    for (const replay of early) replay();
  }

  private countReordered(s: H2Stream): void {
    if (s.reordered) return;
    s.reordered = true;
    this.ctx.counters.responses_reordered++;
  }

  /** A hold ran out: the stream goes on as it is. */
  private holdOut(s: H2Stream): void {
    s.heldOut = true;
    if (s.early) this.releaseEarly(s);
    if (s.endWaits) {
      s.endWaits = false;
      this.endResponse(s);
    }
    this.holding.delete(s);
  }

  gap(dir: Dir): void {
    this.session.gap(this.side(dir));
  }

  flush(): void {
    for (const m of this.dirty) this.assembler.flushChunk(this.c, m);
    this.dirty.clear();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.streams.keys()]) this.endStream(id, 'connection closed');
  }

  private stream(id: number): H2Stream {
    let s = this.streams.get(id);
    if (!s) {
      if (this.streams.size >= MAX_STREAMS) {
        const oldest = this.streams.keys().next().value as number;
        this.endStream(oldest, `more than ${MAX_STREAMS} streams open`);
      }
      s = { id, request: null, response: null, early: null, earlyBytes: 0, endWaits: false, holdNs: 0, heldOut: false, reordered: false };
      this.streams.set(id, s);
    }
    return s;
  }

  private onHeaders(side: Side, id: number, fields: HeaderField[], end: boolean): void {
    const s = this.stream(id);
    if (side === 'server' && this.holdEarly(s, () => this.onHeaders(side, id, fields, end), 0)) return;
    if (side === 'client') {
      if (id > this.lastClientStream) this.lastClientStream = id;
      if (s.request) this.trailers(s.request, fields);
      else s.request = this.openRequest(s, fields);
      if (end) this.endRequest(s);
      return;
    }
    if (s.response) this.trailers(s.response, fields);
    else {
      const status = Number(pseudo(fields, ':status') ?? 0);
      if (isInterim({ statusCode: status } as ParsedHead)) {
        this.ctx.counters.interim_responses++;
        return;
      }
      s.response = this.openResponse(s, fields, status);
    }
    if (end) this.endResponse(s);
  }

  /** A pushed stream: its promised request is decoded (the compression state needs it) and counted, its response parsed as any. */
  private onPush(_id: number, promised: number, fields: HeaderField[]): void {
    const s = this.stream(promised);
    s.request = this.openRequest(s, fields);
    this.endRequest(s);
  }

  private onData(side: Side, id: number, bytes: Buffer, end: boolean): void {
    const s = this.streams.get(id);
    if (side === 'server' && s?.early) {
      const copy = Buffer.from(bytes);
      return this.hold(s, () => this.onData(side, id, copy, end), copy.length);
    }
    const m = side === 'client' ? s?.request : s?.response;
    if (!s || !m) {
      if (bytes.length) this.ctx.counters.bytes_discarded += bytes.length;
      return;
    }
    if (bytes.length) {
      appendBody(this.ctx, m, bytes);
      if (m.stream) this.dirty.add(m);
    }
    // A body of the announced length is complete: a client may stop reading before the END_STREAM that follows it.
    const length = m.headers['content-length'];
    if (!end && length !== undefined && /^\d+$/.test(length) && m.wireSize >= Number(length)) end = true;
    if (end) {
      if (side === 'client') this.endRequest(s);
      else this.endResponse(s);
    }
  }

  private head(kind: 'request' | 'response', fields: HeaderField[], status?: number): { head: ParsedHead; headers: Record<string, string> } {
    const regular: [string, string][] = [];
    const cookies: string[] = [];
    for (const f of fields) {
      if (f.name.startsWith(':')) continue;
      // cookie crumbs are one cookie header (RFC 9113 8.2.3)
      if (f.name === 'cookie') cookies.push(f.value);
      else regular.push([f.name, f.value]);
    }
    if (cookies.length) regular.push(['cookie', cookies.join('; ')]);
    const authority = pseudo(fields, ':authority');
    if (kind === 'request' && authority !== undefined && !regular.some(([n]) => n === 'host')) regular.unshift(['host', authority]);
    const head: ParsedHead =
      kind === 'request'
        ? { kind, version: '2', method: pseudo(fields, ':method') ?? '', target: pseudo(fields, ':path') ?? authority ?? '', fields: regular, headBytes: 0 }
        : { kind, version: '2', statusCode: status, statusText: '', fields: regular, headBytes: 0 };
    return { head, headers: headerRecord(regular) };
  }

  private openRequest(s: H2Stream, fields: HeaderField[]): Message {
    const { head } = this.head('request', fields);
    const m = this.open(head, this.clientDir === 'write' ? 'client' : 'server', s.id);
    numberRequest(this.c, m);
    return m;
  }

  private openResponse(s: H2Stream, fields: HeaderField[], status: number): Message {
    const { head } = this.head('response', fields, status);
    const m = this.open(head, this.clientDir === 'write' ? 'client' : 'server', s.id);
    const req = s.request?.request ?? null;
    m.request = req;
    m.seq = req ? req.summary.seq : this.c.nextSeq++;
    if (req?.method !== 'HEAD' && status !== 204 && status !== 304 && this.assembler.streams(m)) {
      m.stream = new BodyStream(m.codings, this.ctx.config.maxBodyBytes);
      this.ctx.emit(this.c, responseHeadersData(this.c, m));
    }
    return m;
  }

  private open(head: ParsedHead, role: 'client' | 'server', streamId: number): Message {
    const blank = { startRefs: null, startNs: 0 } as unknown as DirState;
    const m = openMessage(this.ctx, blank, head, Buffer.alloc(0));
    m.role = role;
    m.streamId = streamId;
    return m;
  }

  private trailers(m: Message, fields: HeaderField[]): void {
    m.trailers = headerRecord(fields.filter((f) => !f.name.startsWith(':')).map((f) => [f.name, f.value]));
  }

  private endRequest(s: H2Stream, incomplete: string | null = null): void {
    const m = s.request;
    if (!m || m.seq < 0 || m.ended) return;
    m.ended = true;
    this.assembler.endMessage(this.c, m, incomplete);
    if (s.endWaits) {
      // the response had ended first: it was reported before the request's last write
      s.endWaits = false;
      if (!s.early) this.holding.delete(s);
      if (incomplete === null) this.countReordered(s);
      this.endResponse(s);
    } else if (s.response?.ended) this.streams.delete(s.id);
  }

  private endResponse(s: H2Stream, incomplete: string | null = null): void {
    const m = s.response;
    const req = s.request;
    if (m && !m.ended && incomplete === null && req && !req.ended && !s.heldOut) {
      // wait for the end of the request (its last write may be reported later)
      if (!s.endWaits) {
        s.endWaits = true;
        if (!this.holding.has(s)) s.holdNs = this.ctx.ns;
        this.holding.add(s);
      }
      return;
    }
    if (m && !m.ended) {
      m.ended = true;
      this.dirty.delete(m);
      this.assembler.endMessage(this.c, m, incomplete);
    }
    // a request still being sent after its answer keeps its stream
    if (!req || req.ended || incomplete !== null) {
      this.streams.delete(s.id);
      this.holding.delete(s);
    }
  }

  /** End what a stream has open, as incomplete (reset, connection closed, evicted). */
  private endStream(id: number, why: string): void {
    const s = this.streams.get(id);
    if (!s) return;
    if (s.early) this.releaseEarly(s);
    if (s.request && !s.request.ended) this.endRequest(s, why);
    if (s.response) this.endResponse(s, why);
    else {
      this.streams.delete(id);
      if (s.request && !s.request.ended) releaseMessage(this.ctx, s.request);
    }
  }

  /** A direction cannot be followed: report it, and end what is open (nothing after can be trusted). */
  private onError(side: Side, message: string, offset: number): void {
    this.ctx.counters.parse_errors++;
    const dir: Dir = side === 'client' ? this.clientDir : this.clientDir === 'write' ? 'read' : 'write';
    this.ctx.emit(this.c, parseErrorData(this.c, dir, null, { kind: 'invalid_frame', message: `HTTP/2: ${message}`, offset, excerpt: Buffer.alloc(0) }));
    for (const id of [...this.streams.keys()]) this.endStream(id, `HTTP/2 ${side} side cannot be followed: ${message}`);
  }
}

function pseudo(fields: HeaderField[], name: string): string | undefined {
  return fields.find((f) => f.name === name)?.value;
}
