/**
 * HTTP/1.x framing of one direction of one connection, as a push parser.
 *
 * Bytes arrive in arbitrary pieces (one TLS call each); the parser keeps only
 * what it cannot decide yet (a start line or header block being received, a
 * chunk-size line), never body bytes: those are handed to the sink as they
 * arrive. Everything it holds is bounded by the limits.
 */
import { findHeadEnd, isStartLine, ParsedHead, parseHead, plausibleStartPrefix } from './head';

/** How the body of a message is delimited (RFC 9112 section 6). */
export type BodyFraming = { mode: 'none' } | { mode: 'length'; length: number } | { mode: 'chunked' } | { mode: 'close' };

/** What went wrong, for a parse_error event. */
export interface StreamError {
  kind:
    | 'invalid_start_line'
    | 'invalid_header'
    | 'header_too_large'
    | 'invalid_content_length'
    | 'invalid_chunk'
    | 'gap'
    | 'unsupported_protocol'
    | 'invalid_frame'
    | 'incomplete_message';
  message: string;
  /** Byte offset in this direction's stream where the problem starts. */
  offset: number;
  /** A few bytes at the problem (may be empty). */
  excerpt: Buffer;
}

/** Receiver of parse results. */
export interface StreamSink {
  /** A start line + headers were parsed: return how the body is framed. */
  onHead(head: ParsedHead, raw: Buffer): BodyFraming | { error: string };
  /** Bytes of the body as framed (transfer coding removed, content coding kept). */
  onBody(bytes: Buffer): void;
  /** The current message ended; incomplete when bytes were lost or the stream stopped mid-message. */
  onEnd(incomplete: string | null): void;
  /** Something could not be parsed; the parser resynchronises after. */
  onError(err: StreamError): void;
  /** Bytes that were skipped while looking for the next message. */
  onDiscard(bytes: number): void;
  /** Bytes of the current body were lost (n, or unknown); framing continues. */
  onBodyHole(n: number | null): void;
}

/** Size limits of one stream. */
export interface StreamLimits {
  /** Largest start line + header block (bytes). */
  maxHeaderBytes: number;
}

type State = 'start' | 'head' | 'length' | 'chunk_size' | 'chunk_data' | 'chunk_crlf' | 'trailers' | 'close' | 'opaque' | 'resync';

/** A plausible beginning of a message at a line start, for resynchronisation. */
const SYNC = /(?:^|\n)((?:GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS|CONNECT|TRACE) \S+ HTTP\/1\.[01]\r?\n|HTTP\/1\.[01] \d{3}[ \r\n])/;
const H2_PREFACE = 'PRI * HTTP/2.0';
const MAX_LINE = 8192;
const MAX_CHUNK_LINE = 1024;
const EXCERPT = 48;

const EMPTY = Buffer.alloc(0);

/** Value of a hex digit byte, -1 for any other byte. */
function hexDigit(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = b | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/**
 * Incremental HTTP/1.x parser of one byte stream (one direction of a connection).
 *
 * The undecided bytes are buf[pos..]: consuming moves pos, so a TLS call's
 * bytes are looked at in place (no copy, no view per step) until a piece of
 * body is handed on.
 */
export class Http1Stream {
  private state: State = 'start';
  /** Undecided bytes are buf[pos..] (start line, headers, chunk-size line, trailers, resync tail). */
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Bytes left in the current body or chunk. */
  private remaining = 0;
  /** Stream offset of buf[pos]. */
  private offset = 0;
  /** A message is open (head parsed, end not yet reported). */
  private inMessage = false;
  private opaqueReason: string | null = null;

  constructor(
    private readonly sink: StreamSink,
    private readonly limits: StreamLimits,
  ) {}

  /** Bytes held by this stream (never body bytes). */
  get bufferedBytes(): number {
    return this.buf.length - this.pos;
  }

  /** Stream offset of the next byte to arrive. */
  get position(): number {
    return this.offset + this.buf.length - this.pos;
  }

  /** True once the stream stopped being HTTP/1 (upgrade, CONNECT tunnel, HTTP/2). */
  get isOpaque(): boolean {
    return this.state === 'opaque';
  }

  /** True when between messages with nothing buffered. */
  get idle(): boolean {
    return this.state === 'start' && this.bufferedBytes === 0 && !this.inMessage;
  }

  /** Stop parsing after the current message (protocol upgrade, tunnel): later bytes are ignored. */
  setOpaque(reason: string): void {
    if (this.inMessage) {
      this.opaqueReason = reason;
      return;
    }
    this.dropPending();
    this.state = 'opaque';
  }

  /**
   * Stop parsing now and return the bytes not parsed yet: after a protocol
   * switch they begin the new protocol. Later bytes are ignored.
   */
  handOver(): Buffer {
    if (this.inMessage) this.finishMessage('protocol switched');
    const rest = this.buf.subarray(this.pos);
    this.dropPending();
    this.state = 'opaque';
    return rest;
  }

  /** Feed the next bytes of the stream. */
  push(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.state === 'opaque') {
      this.offset += bytes.length;
      return;
    }
    if (this.pos === this.buf.length) this.buf = bytes;
    else this.buf = Buffer.concat([this.buf.subarray(this.pos), bytes]);
    this.pos = 0;
    this.run();
    if (this.pos === this.buf.length) {
      // nothing held: let go of the caller's buffer
      this.buf = EMPTY;
      this.pos = 0;
    }
  }

  /**
   * Bytes of the stream were lost (n of them, or an unknown number).
   * Inside a Content-Length body of known remaining size the framing survives
   * (the message is marked incomplete); anywhere else the current message is
   * ended as incomplete and the parser resynchronises on the next start line.
   */
  gap(n: number | null): void {
    if (this.state === 'opaque') return;
    const at = this.position;
    if (n !== null) this.offset += n;
    if (this.state === 'length' && n !== null && n <= this.remaining && this.bufferedBytes === 0) {
      // Content-Length framing survives a hole of known size inside the body.
      this.remaining -= n;
      this.holeInBody = true;
      this.sink.onBodyHole(n);
      if (this.remaining === 0) this.finishMessage('bytes lost');
      return;
    }
    if (this.state === 'close') {
      this.holeInBody = true;
      this.sink.onBodyHole(n);
      return;
    }
    this.sink.onError({
      kind: 'gap',
      message: `${n === null ? 'an unknown number of' : n} bytes lost; resynchronising on the next message`,
      offset: at,
      excerpt: Buffer.alloc(0),
    });
    if (this.inMessage) this.finishMessage('bytes lost');
    if (this.bufferedBytes) this.sink.onDiscard(this.bufferedBytes);
    this.offset = this.position;
    this.buf = EMPTY;
    this.pos = 0;
    this.state = 'resync';
  }

  /** The current message lost bytes inside its body. */
  private holeInBody = false;

  /** The stream ended (connection closed, evicted, or input over). */
  end(): void {
    if (this.state === 'opaque') return;
    const held = this.bufferedBytes;
    if (this.state === 'close') {
      this.finishMessage(this.holeInBody ? 'bytes lost' : null);
    } else if (this.inMessage) {
      this.finishMessage('stream ended mid-message');
    } else if (held > 0 && this.state !== 'resync') {
      const only = this.buf.toString('latin1', this.pos);
      if (!/^[\r\n]*$/.test(only)) {
        this.error('incomplete_message', 'stream ended inside a start line or header block', 0);
      }
      this.sink.onDiscard(held);
    } else if (held > 0) {
      this.sink.onDiscard(held);
    }
    this.offset = this.position;
    this.buf = EMPTY;
    this.pos = 0;
    this.state = 'start';
  }

  /** Forget the undecided bytes (they count as passed). */
  private dropPending(): void {
    this.offset += this.buf.length - this.pos;
    this.buf = EMPTY;
    this.pos = 0;
  }

  private run(): void {
    // Each step consumes bytes or changes state; it returns false when it needs more input.
    for (;;) {
      let progressed: boolean;
      switch (this.state) {
        case 'start':
          progressed = this.stepStart();
          break;
        case 'head':
          progressed = this.stepHead();
          break;
        case 'length':
          progressed = this.stepLength();
          break;
        case 'chunk_size':
          progressed = this.stepChunkSize();
          break;
        case 'chunk_data':
          progressed = this.stepChunkData();
          break;
        case 'chunk_crlf':
          progressed = this.stepChunkCrlf();
          break;
        case 'trailers':
          progressed = this.stepTrailers();
          break;
        case 'close':
          progressed = this.stepClose();
          break;
        case 'resync':
          progressed = this.stepResync();
          break;
        case 'opaque':
          this.dropPending();
          progressed = false;
          break;
      }
      if (!progressed || (this.pos === this.buf.length && this.state !== 'close')) return;
    }
  }

  /** Skip n undecided bytes. */
  private skip(n: number): void {
    this.pos = Math.min(this.pos + n, this.buf.length);
    this.offset += n;
  }

  /** The next n undecided bytes, consumed (a view of the input). */
  private consume(n: number): Buffer {
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.skip(n);
    return out;
  }

  private error(kind: StreamError['kind'], message: string, at: number): void {
    const from = this.pos + at;
    this.sink.onError({ kind, message, offset: this.offset + at, excerpt: Buffer.from(this.buf.subarray(from, Math.min(this.buf.length, from + EXCERPT))) });
  }

  /** Report an error, end any open message, skip at least one byte, and resynchronise. */
  private fail(kind: StreamError['kind'], message: string, at = 0): boolean {
    this.error(kind, message, at);
    if (this.inMessage) this.finishMessage('parse error');
    this.skip(1);
    this.sink.onDiscard(1);
    this.state = 'resync';
    return true;
  }

  /** Index (relative to pos) of the next LF, or -1. */
  private nextLf(): number {
    const i = this.buf.indexOf(0x0a, this.pos);
    return i === -1 ? -1 : i - this.pos;
  }

  /** Undecided bytes [from, to) (relative to pos) as latin1 text without one trailing CR. */
  private lineText(from: number, to: number): string {
    let end = this.pos + to;
    if (end > this.pos + from && this.buf[end - 1] === 0x0d) end--;
    return this.buf.toString('latin1', this.pos + from, end);
  }

  private stepStart(): boolean {
    // Tolerate blank lines between messages (RFC 9112 section 2.2).
    const buf = this.buf;
    let i = this.pos;
    while (i < buf.length && (buf[i] === 0x0d || buf[i] === 0x0a)) i++;
    if (i > this.pos) this.skip(i - this.pos);
    const avail = buf.length - this.pos;
    if (avail === 0) return false;
    const nl = this.nextLf();
    const lineEnd = nl === -1 ? Math.min(avail, MAX_LINE) : nl;
    const line = this.lineText(0, lineEnd);
    if (line.startsWith(H2_PREFACE) || (nl === -1 && H2_PREFACE.startsWith(line) && line.length >= 3)) {
      if (nl === -1 && line.length < H2_PREFACE.length) return false;
      this.error('unsupported_protocol', 'HTTP/2 connection preface: this connection is not parsed (HTTP/1.x only)', 0);
      this.state = 'opaque';
      this.sink.onDiscard(avail);
      this.skip(avail);
      return false;
    }
    if (nl === -1) {
      if (avail > MAX_LINE) return this.fail('invalid_start_line', `start line longer than ${MAX_LINE} bytes`);
      if (!plausibleStartPrefix(line)) return this.fail('invalid_start_line', 'bytes do not begin an HTTP/1.x request or status line');
      return false;
    }
    if (!isStartLine(line)) {
      return this.fail('invalid_start_line', 'not an HTTP/1.x request or status line');
    }
    this.state = 'head';
    return true;
  }

  private stepHead(): boolean {
    const end = findHeadEnd(this.buf, this.pos);
    if (end === -1) {
      if (this.bufferedBytes > this.limits.maxHeaderBytes) {
        return this.fail('header_too_large', `header block larger than ${this.limits.maxHeaderBytes} bytes`);
      }
      return false;
    }
    if (end > this.limits.maxHeaderBytes) {
      return this.fail('header_too_large', `header block larger than ${this.limits.maxHeaderBytes} bytes`);
    }
    const text = this.buf.toString('latin1', this.pos, this.pos + end);
    const parsed = parseHead(text, end);
    if ('error' in parsed) return this.fail(parsed.kind, parsed.error, parsed.at);
    const raw = Buffer.from(this.consume(end));
    this.inMessage = true;
    this.holeInBody = false;
    const framing = this.sink.onHead(parsed, raw);
    if ('error' in framing) {
      this.sink.onError({ kind: 'invalid_content_length', message: framing.error, offset: this.offset - end, excerpt: raw.subarray(0, EXCERPT) });
      this.finishMessage('invalid framing');
      this.state = 'resync';
      return true;
    }
    switch (framing.mode) {
      case 'none':
        this.finishMessage(null);
        break;
      case 'length':
        this.remaining = framing.length;
        if (this.remaining === 0) this.finishMessage(null);
        else this.state = 'length';
        break;
      case 'chunked':
        this.state = 'chunk_size';
        break;
      case 'close':
        this.state = 'close';
        break;
    }
    return true;
  }

  private stepLength(): boolean {
    const n = Math.min(this.remaining, this.bufferedBytes);
    if (n === 0) return false;
    this.sink.onBody(this.consume(n));
    this.remaining -= n;
    if (this.remaining === 0) this.finishMessage(this.holeInBody ? 'bytes lost' : null);
    return true;
  }

  /**
   * A chunk-size line: 1 to 15 hex digits, optional blanks, an optional
   * extension (`;` and anything but LF), then LF or CRLF.
   */
  private stepChunkSize(): boolean {
    const nl = this.nextLf();
    if (nl === -1) {
      if (this.bufferedBytes > MAX_CHUNK_LINE) return this.fail('invalid_chunk', 'chunk-size line too long');
      return false;
    }
    const buf = this.buf;
    const from = this.pos;
    let end = from + nl;
    if (end > from && buf[end - 1] === 0x0d) end--;
    let i = from;
    let size = 0;
    for (; i < end && i - from < 15; i++) {
      const d = hexDigit(buf[i]);
      if (d === -1) break;
      size = size * 16 + d;
    }
    const digits = i - from;
    let ok = digits > 0;
    if (ok) {
      while (i < end && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
      if (i < end) {
        // an extension: anything up to the line end but another CR
        ok = buf[i] === 0x3b;
        for (let j = i + 1; ok && j < end; j++) if (buf[j] === 0x0d) ok = false;
      }
    }
    if (!ok) return this.fail('invalid_chunk', 'invalid chunk-size line');
    // beyond 2^52 the sum above rounds at each digit: take parseInt's rounding
    if (digits > 13) size = parseInt(buf.toString('latin1', from, from + digits), 16);
    this.skip(nl + 1);
    if (size === 0) {
      this.state = 'trailers';
    } else {
      this.remaining = size;
      this.state = 'chunk_data';
    }
    return true;
  }

  private stepChunkData(): boolean {
    const n = Math.min(this.remaining, this.bufferedBytes);
    if (n === 0) return false;
    this.sink.onBody(this.consume(n));
    this.remaining -= n;
    if (this.remaining === 0) this.state = 'chunk_crlf';
    return true;
  }

  private stepChunkCrlf(): boolean {
    const buf = this.buf;
    const p = this.pos;
    if (buf[p] === 0x0a) {
      this.skip(1);
      this.state = 'chunk_size';
      return true;
    }
    if (buf[p] !== 0x0d) return this.fail('invalid_chunk', 'chunk data not followed by CRLF');
    if (buf.length - p < 2) return false;
    if (buf[p + 1] !== 0x0a) return this.fail('invalid_chunk', 'chunk data not followed by CRLF');
    this.skip(2);
    this.state = 'chunk_size';
    return true;
  }

  private stepTrailers(): boolean {
    for (;;) {
      const nl = this.nextLf();
      if (nl === -1) {
        if (this.bufferedBytes > this.limits.maxHeaderBytes) return this.fail('header_too_large', 'trailer section too large');
        return false;
      }
      const blank = nl === 0 || (nl === 1 && this.buf[this.pos] === 0x0d);
      this.skip(nl + 1);
      if (blank) {
        this.finishMessage(null);
        return true;
      }
    }
  }

  private stepClose(): boolean {
    const n = this.bufferedBytes;
    if (n === 0) return false;
    this.sink.onBody(this.consume(n));
    return false;
  }

  private stepResync(): boolean {
    const text = this.buf.toString('latin1', this.pos);
    const m = SYNC.exec(text);
    if (m) {
      const at = m.index + (m[0].length - m[1].length);
      if (at > 0) {
        this.skip(at);
        this.sink.onDiscard(at);
      }
      this.state = 'start';
      return true;
    }
    // Keep only a possible partial start line after the last newline (bounded).
    const lastNl = text.lastIndexOf('\n');
    const tail = text.slice(lastNl + 1);
    const keep = tail.length <= MAX_LINE && plausibleStartPrefix(tail.replace(/\r$/, '')) ? tail.length : 0;
    const drop = text.length - keep;
    if (drop > 0) {
      this.skip(drop);
      this.sink.onDiscard(drop);
    }
    return false;
  }

  private finishMessage(incomplete: string | null): void {
    const wasOpen = this.inMessage;
    this.inMessage = false;
    this.remaining = 0;
    this.holeInBody = false;
    if (this.state !== 'resync') this.state = 'start';
    if (wasOpen) this.sink.onEnd(incomplete);
    if (this.opaqueReason !== null) {
      this.state = 'opaque';
      this.opaqueReason = null;
      if (this.bufferedBytes) this.dropPending();
    }
  }
}
