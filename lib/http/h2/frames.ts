/**
 * HTTP/2 framing (RFC 9113 section 4) of one direction of a connection, as a
 * push parser: bytes arrive in arbitrary pieces; frames come out. DATA
 * payloads are handed on as they arrive (padding removed), never held; other
 * frames are held whole, up to a bound.
 */

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/** A frame other than DATA, whole. */
export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

export interface FrameSink {
  onFrame(f: Frame): void;
  /** Bytes of a DATA frame's data (padding removed); `end` on the frame's last piece when it carries END_STREAM. */
  onData(stream: number, bytes: Buffer, end: boolean): void;
  /** The framing is broken: nothing after this is parsed. */
  onError(message: string, offset: number): void;
  /** A frame too large to hold that carries no header block (e.g. GOAWAY debug data) was skipped. */
  onSkipped(type: number, length: number): void;
  /**
   * Where payload lies in the direction's byte stream (offsets from its first
   * byte): each piece of DATA as delivered (padding excluded), and every other
   * frame's whole payload just before onFrame. For rewriting bytes in place.
   */
  onPayload?(type: number, flags: number, stream: number, start: number, end: number, payload?: Buffer): void;
}

const HEADER = 9;

type State = 'preface' | 'header' | 'payload' | 'data' | 'skip' | 'dead';

/** One direction's frames. */
export class FrameReader {
  private state: State;
  private pending: Buffer = Buffer.alloc(0);
  /** Stream offset of the next byte pushed. */
  private offset = 0;
  private cur: { type: number; flags: number; stream: number; length: number } | null = null;
  /** DATA: data bytes left, then padding bytes left. */
  private dataLeft = 0;
  private padLeft = 0;
  private skipLeft = 0;

  constructor(
    private readonly sink: FrameSink,
    /** Expect the client connection preface first (the client's direction). */
    preface: boolean,
    /** Largest non-DATA frame held (bytes); larger ones are errors. */
    private readonly maxFrameBytes = 1 << 20,
  ) {
    this.state = preface ? 'preface' : 'header';
    this.frameStart = preface ? PREFACE.length : 0;
  }

  /** Bytes held (an incomplete frame header or non-DATA frame). */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  get broken(): boolean {
    return this.state === 'dead';
  }

  /** The frame whose payload is being received (not DATA, which is delivered as it comes): its type and the payload bytes held. */
  get partial(): { type: number; bytes: number } | null {
    return this.state === 'payload' && this.cur ? { type: this.cur.type, bytes: this.pending.length } : null;
  }

  push(bytes: Buffer): void {
    let at = 0;
    while (at < bytes.length && this.state !== 'dead') {
      switch (this.state) {
        case 'preface': {
          const need = PREFACE.length - this.pending.length;
          const take = bytes.subarray(at, at + need);
          at += take.length;
          this.pending = Buffer.concat([this.pending, take]);
          if (!PREFACE.subarray(0, this.pending.length).equals(this.pending)) return this.fail('not the HTTP/2 connection preface', 0);
          if (this.pending.length === PREFACE.length) {
            this.pending = Buffer.alloc(0);
            this.state = 'header';
          }
          break;
        }
        case 'header': {
          const take = Math.min(HEADER - this.pending.length, bytes.length - at);
          this.pending = Buffer.concat([this.pending, bytes.subarray(at, at + take)]);
          at += take;
          if (this.pending.length < HEADER) break;
          const h = this.pending;
          this.pending = Buffer.alloc(0);
          this.startFrame(h.readUIntBE(0, 3), h[3], h[4], h.readUInt32BE(5) & 0x7fffffff);
          break;
        }
        case 'payload': {
          const cur = this.cur as NonNullable<FrameReader['cur']>;
          const take = Math.min(cur.length - this.pending.length, bytes.length - at);
          this.pending = Buffer.concat([this.pending, bytes.subarray(at, at + take)]);
          at += take;
          if (this.pending.length === cur.length) {
            const payload = this.pending;
            this.pending = Buffer.alloc(0);
            this.cur = null;
            this.state = 'header';
            this.sink.onPayload?.(cur.type, cur.flags, cur.stream, this.frameStart + HEADER, this.frameStart + HEADER + payload.length, payload);
            this.frameStart += HEADER + payload.length;
            this.sink.onFrame({ type: cur.type, flags: cur.flags, stream: cur.stream, payload });
          }
          break;
        }
        case 'data': {
          at = this.dataBytes(bytes, at, this.offset);
          break;
        }
        case 'skip': {
          const take = Math.min(this.skipLeft, bytes.length - at);
          this.skipLeft -= take;
          at += take;
          if (this.skipLeft === 0) this.state = 'header';
          break;
        }
      }
    }
    this.offset += bytes.length;
  }

  /** Offset of the current frame's first byte (for errors and onPayload). */
  private frameStart = 0;

  private startFrame(length: number, type: number, flags: number, stream: number): void {
    this.cur = { type, flags, stream, length };
    if (type === FRAME.DATA) {
      const padded = (flags & FLAG.PADDED) !== 0;
      if (padded && length === 0) return this.fail('PADDED DATA frame without its pad length', this.frameStart);
      this.state = 'data';
      this.padLeft = padded ? -1 : 0; // -1: not known until the pad length byte
      this.dataLeft = length;
      if (length === 0) this.endData();
      return;
    }
    if (length > this.maxFrameBytes) {
      const blocks = type === FRAME.HEADERS || type === FRAME.CONTINUATION || type === FRAME.PUSH_PROMISE;
      // a header block cannot be skipped: its compression state is needed for every later one
      if (blocks) return this.fail(`header block frame of ${length} bytes is larger than the ${this.maxFrameBytes} held`, this.frameStart);
      this.sink.onSkipped(type, length);
      this.state = 'skip';
      this.skipLeft = length;
      this.frameStart += HEADER + length;
      this.cur = null;
      return;
    }
    this.state = 'payload';
    if (length === 0) {
      this.cur = null;
      this.state = 'header';
      this.sink.onPayload?.(type, flags, stream, this.frameStart + HEADER, this.frameStart + HEADER, Buffer.alloc(0));
      this.frameStart += HEADER;
      this.sink.onFrame({ type, flags, stream, payload: Buffer.alloc(0) });
    }
  }

  /** DATA payload bytes from `at` (`base`: stream offset of bytes[0]): [pad length], data, padding. */
  private dataBytes(bytes: Buffer, at: number, base: number): number {
    const cur = this.cur as NonNullable<FrameReader['cur']>;
    if (this.padLeft === -1) {
      // the pad length byte
      const pad = bytes[at++];
      this.dataLeft -= 1;
      if (pad > this.dataLeft) {
        this.fail(`DATA padding of ${pad} bytes in a frame of ${cur.length}`, this.frameStart);
        return at;
      }
      this.padLeft = pad;
      this.dataLeft -= pad;
      if (this.dataLeft === 0 && this.padLeft === 0) this.endData();
      return at;
    }
    if (this.dataLeft > 0) {
      const take = Math.min(this.dataLeft, bytes.length - at);
      this.dataLeft -= take;
      const last = this.dataLeft === 0 && this.padLeft === 0;
      this.sink.onPayload?.(FRAME.DATA, cur.flags, cur.stream, base + at, base + at + take);
      this.sink.onData(cur.stream, bytes.subarray(at, at + take), last && (cur.flags & FLAG.END_STREAM) !== 0);
      at += take;
      if (last) this.finishData(false);
      return at;
    }
    const take = Math.min(this.padLeft, bytes.length - at);
    this.padLeft -= take;
    at += take;
    if (this.padLeft === 0) this.endData();
    return at;
  }

  /** A DATA frame ended with no data bytes left to deliver (empty, or after its padding). */
  private endData(): void {
    this.finishData((this.cur as NonNullable<FrameReader['cur']>).flags & FLAG.END_STREAM ? true : false);
  }

  private finishData(signalEnd: boolean): void {
    const cur = this.cur as NonNullable<FrameReader['cur']>;
    if (signalEnd) this.sink.onData(cur.stream, Buffer.alloc(0), true);
    this.frameStart += HEADER + cur.length;
    this.cur = null;
    this.state = 'header';
  }

  /** Bytes were lost in this direction: framing cannot be followed any more. */
  gap(): void {
    if (this.state !== 'dead') this.fail('bytes were lost: HTTP/2 framing (and its header compression state) cannot be followed after a gap', this.offset);
  }

  private fail(message: string, offset: number): void {
    this.state = 'dead';
    this.pending = Buffer.alloc(0);
    this.sink.onError(message, offset);
  }
}
