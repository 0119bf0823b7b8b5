/**
 * One HTTP/2 connection seen from outside (RFC 9113): the frames of both
 * directions, a header decompression state per direction, header blocks
 * reassembled from HEADERS/PUSH_PROMISE + CONTINUATION, and what happens on
 * each stream handed to a sink. The client's direction carries requests; the
 * server's, responses.
 */
import { FLAG, FRAME, FrameReader, type Frame } from './frames';
import { HpackDecoder, HpackError, type HeaderField } from './hpack';

export type Side = 'client' | 'server';

export interface H2Sink {
  /** A header block of a stream: request or trailers from the client, response (or 1xx, or trailers) from the server. */
  onHeaders(side: Side, stream: number, fields: HeaderField[], endStream: boolean): void;
  /** DATA of a stream; `endStream` on its last piece. */
  onData(side: Side, stream: number, bytes: Buffer, endStream: boolean): void;
  /** The server promised a pushed stream, with the request it stands for. */
  onPush(stream: number, promised: number, fields: HeaderField[]): void;
  /** RST_STREAM: the stream ends here. */
  onReset(side: Side, stream: number, code: number): void;
  /** GOAWAY: streams above `lastStream` will not be processed. */
  onGoaway(side: Side, lastStream: number, code: number): void;
  /** This direction cannot be followed any more (framing or header compression broken, bytes lost). */
  onError(side: Side, message: string, offset: number): void;
  /** Where a frame's payload lies in the direction's byte stream (FrameSink.onPayload), before what it carries is reported. */
  onPayload?(side: Side, type: number, flags: number, stream: number, start: number, end: number, payload?: Buffer): void;
}

export interface H2Limits {
  /** Largest header block (all its frames), in bytes. */
  maxHeaderBytes: number;
}

/** SETTINGS_HEADER_TABLE_SIZE */
const SETTINGS_HEADER_TABLE_SIZE = 0x1;

interface Block {
  stream: number;
  /** HEADERS, or PUSH_PROMISE with the promised stream. */
  promised: number | null;
  endStream: boolean;
  parts: Buffer[];
  size: number;
}

class Direction {
  readonly reader: FrameReader;
  readonly hpack = new HpackDecoder();
  block: Block | null = null;
  dead = false;

  constructor(
    readonly side: Side,
    session: H2Session,
    maxFrame: number,
  ) {
    this.reader = new FrameReader(
      {
        onFrame: (f) => session.frame(this, f),
        onData: (stream, bytes, end) => session.sink.onData(side, stream, bytes, end),
        onError: (message, offset) => session.fail(this, message, offset),
        onSkipped: () => session.skipped++,
        ...(session.sink.onPayload
          ? { onPayload: (type, flags, stream, start, end, payload) => session.sink.onPayload?.(side, type, flags, stream, start, end, payload) }
          : {}),
      },
      side === 'client',
      maxFrame,
    );
  }
}

export class H2Session {
  private readonly dirs: Record<Side, Direction>;
  /** Frames too large to hold that carried no header block, skipped. */
  skipped = 0;
  /** Frames seen, per type name (for stats). */
  readonly frames: Record<string, number> = {};

  constructor(
    readonly sink: H2Sink,
    private readonly limits: H2Limits,
  ) {
    const maxFrame = Math.max(16384, limits.maxHeaderBytes);
    this.dirs = { client: new Direction('client', this, maxFrame), server: new Direction('server', this, maxFrame) };
  }

  /** Bytes held: incomplete frames and header blocks waiting for their CONTINUATION. */
  get bufferedBytes(): number {
    let n = 0;
    for (const d of Object.values(this.dirs)) n += d.reader.bufferedBytes + (d.block?.size ?? 0);
    return n;
  }

  /** The frame this direction is receiving, when it is not DATA (FrameReader.partial). */
  partial(side: Side): { type: number; bytes: number } | null {
    return this.dirs[side].reader.partial;
  }

  /** Has this direction stopped being followed? */
  broken(side: Side): boolean {
    return this.dirs[side].dead;
  }

  push(side: Side, bytes: Buffer): void {
    const d = this.dirs[side];
    if (!d.dead) d.reader.push(bytes);
  }

  /** Bytes of this direction were lost. */
  gap(side: Side): void {
    const d = this.dirs[side];
    if (!d.dead) d.reader.gap();
  }

  /** @internal a whole frame of a direction. */
  frame(d: Direction, f: Frame): void {
    const name = TYPE_NAMES[f.type] ?? `type_${f.type}`;
    this.frames[name] = (this.frames[name] ?? 0) + 1;
    if (d.block && f.type !== FRAME.CONTINUATION) return this.fail(d, `${name} frame inside a header block of stream ${d.block.stream}`, 0);
    switch (f.type) {
      case FRAME.HEADERS:
      case FRAME.PUSH_PROMISE:
        return this.startBlock(d, f);
      case FRAME.CONTINUATION:
        if (!d.block || d.block.stream !== f.stream) return this.fail(d, `CONTINUATION of stream ${f.stream} without a header block open`, 0);
        return this.addFragment(d, f.payload, (f.flags & FLAG.END_HEADERS) !== 0);
      case FRAME.SETTINGS:
        if (!(f.flags & FLAG.ACK)) this.settings(d, f.payload);
        return;
      case FRAME.RST_STREAM:
        if (f.payload.length >= 4) this.sink.onReset(d.side, f.stream, f.payload.readUInt32BE(0));
        return;
      case FRAME.GOAWAY:
        if (f.payload.length >= 8) this.sink.onGoaway(d.side, f.payload.readUInt32BE(0) & 0x7fffffff, f.payload.readUInt32BE(4));
        return;
      default:
        // PRIORITY, PING, WINDOW_UPDATE, extensions: nothing for the exchanges
        return;
    }
  }

  private startBlock(d: Direction, f: Frame): void {
    let p = f.payload;
    let pad = 0;
    if (f.flags & FLAG.PADDED) {
      if (p.length < 1) return this.fail(d, 'PADDED frame without its pad length', 0);
      pad = p[0];
      p = p.subarray(1);
    }
    let promised: number | null = null;
    if (f.type === FRAME.PUSH_PROMISE) {
      if (p.length < 4) return this.fail(d, 'PUSH_PROMISE without its promised stream', 0);
      promised = p.readUInt32BE(0) & 0x7fffffff;
      p = p.subarray(4);
    } else if (f.flags & FLAG.PRIORITY) {
      if (p.length < 5) return this.fail(d, 'HEADERS with PRIORITY but without its fields', 0);
      p = p.subarray(5);
    }
    if (pad > p.length) return this.fail(d, `padding of ${pad} bytes in a frame of ${f.payload.length}`, 0);
    p = p.subarray(0, p.length - pad);
    d.block = { stream: f.stream, promised, endStream: f.type === FRAME.HEADERS && (f.flags & FLAG.END_STREAM) !== 0, parts: [], size: 0 };
    this.addFragment(d, p, (f.flags & FLAG.END_HEADERS) !== 0);
  }

  private addFragment(d: Direction, fragment: Buffer, last: boolean): void {
    const b = d.block as Block;
    b.parts.push(Buffer.from(fragment));
    b.size += fragment.length;
    if (b.size > this.limits.maxHeaderBytes) return this.fail(d, `header block of stream ${b.stream} larger than ${this.limits.maxHeaderBytes} bytes`, 0);
    if (!last) return;
    d.block = null;
    let fields: HeaderField[];
    try {
      fields = d.hpack.decode(b.parts.length === 1 ? b.parts[0] : Buffer.concat(b.parts));
    } catch (err) {
      const e = err as HpackError;
      return this.fail(d, `header block of stream ${b.stream}: ${e.message}`, 0);
    }
    if (b.promised !== null) this.sink.onPush(b.stream, b.promised, fields);
    else this.sink.onHeaders(d.side, b.stream, fields, b.endStream);
  }

  /** SETTINGS sent by this direction's endpoint govern what the other endpoint's encoder may do. */
  private settings(d: Direction, payload: Buffer): void {
    const other = this.dirs[d.side === 'client' ? 'server' : 'client'];
    for (let i = 0; i + 6 <= payload.length; i += 6) {
      if (payload.readUInt16BE(i) === SETTINGS_HEADER_TABLE_SIZE) other.hpack.setMaxTableSize(payload.readUInt32BE(i + 2));
    }
  }

  /** @internal this direction cannot be followed any more. */
  fail(d: Direction, message: string, offset: number): void {
    if (d.dead) return;
    d.dead = true;
    d.block = null;
    this.sink.onError(d.side, message, offset);
  }
}

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(FRAME).map(([k, v]) => [v, k]));
