/**
 * One direction of a WebSocket connection as a push decoder (RFC 6455):
 * frames in any split of the byte stream, unmasked, fragments reassembled
 * into messages with control frames taken out in between, compressed
 * messages decompressed (./deflate).
 *
 * Memory is bounded: a frame header is at most 14 bytes, a control frame at
 * most 125, a data message at most maxMessageBytes (of wire payload, and of
 * decompressed output); what does not fit is counted and the message is
 * delivered truncated. No length announced by a header is ever allocated.
 * A frame that breaks the protocol ends the decoding of the direction (its
 * payload boundaries cannot be trusted after it), as do lost bytes; later
 * bytes are only counted.
 */
import { MessageInflater, type DeflateDirection } from './deflate';
import { isControl, kindOf, MAX_CONTROL_PAYLOAD, MAX_HEADER, OPCODE, parseHeader, unmask, type FrameHeader, type WsMessageKind } from './frame';

/** A message as it was sent: the payload decoded (unmasked, decompressed) within the bounds. */
export interface WsMessage {
  kind: WsMessageKind;
  opcode: number;
  /** The payload bytes kept. */
  payload: Buffer;
  /** Payload bytes of the whole message after decompression (kept or not; only what could be decompressed when compressed and truncated). */
  size: number;
  /** Payload bytes on the wire, over all its frames. */
  wireSize: number;
  frames: number;
  compressed: boolean;
  /** payload holds less than the message. */
  truncated: boolean;
  /** Wire payload bytes not kept (bounds). */
  droppedBytes: number;
  /** Why it could not be (fully) decompressed. */
  decodeError?: string;
  /** Why it ended before its last frame (bytes lost, stream ended). */
  incomplete?: string;
  /** Stream offset of its first byte. */
  offset: number;
}

/** What went wrong, for a parse_error event. */
export interface WsError {
  kind: 'invalid_frame' | 'unmasked_client_frame' | 'masked_server_frame' | 'gap' | 'incomplete_message';
  message: string;
  /** Stream offset of the problem. */
  offset: number;
  excerpt: Buffer;
  /** The direction is not decoded any further. */
  fatal: boolean;
}

export interface WsSink {
  /** The first byte of a message (control: a control frame) was seen. */
  onBegin(control: boolean): void;
  onMessage(m: WsMessage): void;
  onError(e: WsError): void;
}

/** A shared bound on held bytes: how many of `n` may be held now, and giving them back. */
export interface WsBudget {
  take(n: number): number;
  release(n: number): void;
}

export interface WsDecoderOptions {
  /** The sender is the client: its frames are masked. */
  fromClient: boolean;
  /** This sender's permessage-deflate parameters, when it was negotiated. */
  deflate: DeflateDirection | null;
  maxMessageBytes: number;
  budget?: WsBudget;
}

/** A message (or control frame) being received. */
interface Open {
  opcode: number;
  compressed: boolean;
  parts: Buffer[];
  kept: number;
  dropped: number;
  wire: number;
  frames: number;
  offset: number;
}

const EXCERPT = 48;

export class WsDecoder {
  private head: Buffer = Buffer.alloc(0);
  private frame: FrameHeader | null = null;
  /** Payload bytes of the current frame seen so far. */
  private frameAt = 0;
  private data: Open | null = null;
  private control: Open | null = null;
  private readonly inflater: MessageInflater | null;
  private offset = 0;
  private stopped: string | null = null;
  private maskNoted = false;
  /** Bytes not decoded because decoding had stopped. */
  ignoredBytes = 0;

  constructor(
    private readonly sink: WsSink,
    private readonly opts: WsDecoderOptions,
  ) {
    this.inflater = opts.deflate ? new MessageInflater(opts.deflate) : null;
  }

  /** Bytes held: a partial header, the messages being received, the compression window. */
  get heldBytes(): number {
    return this.head.length + (this.data?.kept ?? 0) + (this.control?.kept ?? 0) + (this.inflater?.heldBytes ?? 0);
  }

  /** Why decoding stopped (null while it goes on). */
  get stoppedBy(): string | null {
    return this.stopped;
  }

  /** Stream offset of the next byte. */
  get position(): number {
    return this.offset;
  }

  push(bytes: Buffer): void {
    let i = 0;
    while (i < bytes.length) {
      if (this.stopped) {
        this.ignoredBytes += bytes.length - i;
        this.offset += bytes.length - i;
        return;
      }
      i += this.frame ? this.payload(bytes, i) : this.header(bytes, i);
    }
  }

  /** Bytes were lost (n, or an unknown number): the direction is not decoded further. */
  gap(n: number | null): void {
    if (this.stopped) return;
    const at = this.offset;
    this.endOpen('bytes lost');
    this.stop('gap', `${n === null ? 'an unknown number of' : n} bytes lost: the rest of this direction is not decoded`, at, Buffer.alloc(0));
  }

  /** The stream ended: a message still open is delivered as incomplete. */
  end(): void {
    if (this.stopped) return;
    const partial = this.head.length > 0 || this.frame !== null;
    const at = this.offset;
    const excerpt = this.head;
    this.endOpen('stream ended mid-message');
    if (partial && !this.data) this.stop('incomplete_message', 'the stream ended inside a frame', at, excerpt);
    else this.stopped = 'stream ended';
  }

  /** Consume header bytes from bytes[i..]; returns how many. */
  private header(bytes: Buffer, i: number): number {
    if (this.head.length === 0) {
      const opcode = bytes[i] & 0x0f;
      if (isControl(opcode)) this.sink.onBegin(true);
      else if (opcode !== OPCODE.continuation) this.sink.onBegin(false);
    }
    const take = Math.min(MAX_HEADER - this.head.length, bytes.length - i);
    const cand = this.head.length ? Buffer.concat([this.head, bytes.subarray(i, i + take)]) : bytes.subarray(i, i + take);
    const h = parseHeader(cand);
    if (h === null) {
      this.head = Buffer.from(cand);
      this.offset += take;
      return take;
    }
    const at = this.offset - this.head.length;
    if ('error' in h) {
      this.head = Buffer.alloc(0);
      this.offset += take;
      this.stop('invalid_frame', `invalid frame header: ${h.error}`, at, cand);
      return take;
    }
    const used = h.headerSize - this.head.length;
    this.head = Buffer.alloc(0);
    this.offset += used;
    const problem = this.check(h);
    if (problem) {
      this.stop('invalid_frame', problem, at, cand.subarray(0, h.headerSize));
      return used;
    }
    if (!this.maskNoted && (h.mask === null) === this.opts.fromClient) {
      this.maskNoted = true;
      const kind = this.opts.fromClient ? 'unmasked_client_frame' : 'masked_server_frame';
      const message = this.opts.fromClient ? 'a client frame is not masked (decoded as it is)' : 'a server frame is masked (unmasked)';
      this.sink.onError({ kind, message, offset: at, excerpt: Buffer.from(cand.subarray(0, h.headerSize)), fatal: false });
    }
    this.frame = h;
    this.frameAt = 0;
    const open = (): Open => ({ opcode: h.opcode, compressed: h.rsv1, parts: [], kept: 0, dropped: 0, wire: 0, frames: 0, offset: at });
    if (isControl(h.opcode)) this.control = open();
    else if (h.opcode !== OPCODE.continuation) this.data = open();
    if (h.length === 0) this.endFrame();
    return used;
  }

  /** What is wrong with a frame, by RFC 6455 section 5 (null: nothing). */
  private check(h: FrameHeader): string | null {
    if (h.rsv2 || h.rsv3) return 'RSV2 or RSV3 set: no negotiated extension uses them';
    if (kindOf(h.opcode) === null && h.opcode !== OPCODE.continuation) return `reserved opcode 0x${h.opcode.toString(16)}`;
    if (isControl(h.opcode)) {
      if (!h.fin) return 'a fragmented control frame';
      if (h.length > MAX_CONTROL_PAYLOAD) return `a control frame of ${h.length} bytes (at most ${MAX_CONTROL_PAYLOAD})`;
      if (h.rsv1) return 'RSV1 set on a control frame';
      return null;
    }
    if (h.rsv1 && !this.inflater) return 'RSV1 set but permessage-deflate was not negotiated';
    if (h.opcode === OPCODE.continuation) {
      if (!this.data) return 'a continuation frame with no message to continue';
      if (h.rsv1) return 'RSV1 set on a continuation frame';
    } else if (this.data) return 'a new message began before the fragmented one ended';
    return null;
  }

  /** Consume payload bytes of the current frame from bytes[i..]; returns how many. */
  private payload(bytes: Buffer, i: number): number {
    const f = this.frame as FrameHeader;
    const n = Math.min(f.length - this.frameAt, bytes.length - i);
    const m = (isControl(f.opcode) ? this.control : this.data) as Open;
    m.wire += n;
    const limit = isControl(f.opcode) ? MAX_CONTROL_PAYLOAD : this.opts.maxMessageBytes;
    const want = Math.max(0, Math.min(n, limit - m.kept));
    const take = want > 0 && this.opts.budget ? this.opts.budget.take(want) : want;
    if (take > 0) {
      const piece = Buffer.from(bytes.subarray(i, i + take));
      if (f.mask) unmask(piece, f.mask, this.frameAt);
      m.parts.push(piece);
      m.kept += take;
    }
    m.dropped += n - take;
    this.frameAt += n;
    this.offset += n;
    if (this.frameAt === f.length) this.endFrame();
    return n;
  }

  private endFrame(): void {
    const f = this.frame as FrameHeader;
    this.frame = null;
    if (isControl(f.opcode)) {
      const c = this.control as Open;
      this.control = null;
      c.frames = 1;
      this.deliver(c, null);
      return;
    }
    const d = this.data as Open;
    d.frames++;
    if (!f.fin) return;
    this.data = null;
    this.deliver(d, null);
  }

  /** End what is open (a partial frame, a fragmented message) as incomplete. */
  private endOpen(reason: string): void {
    const d = this.data;
    const c = this.control;
    if (this.frame) {
      if (d && !isControl(this.frame.opcode)) d.frames++;
    }
    this.frame = null;
    this.head = Buffer.alloc(0);
    this.data = null;
    this.control = null;
    if (c) this.release(c);
    if (d) this.deliver(d, reason);
  }

  private deliver(o: Open, incomplete: string | null): void {
    const wire = o.parts.length === 1 ? o.parts[0] : Buffer.concat(o.parts);
    const size = o.kept + o.dropped;
    this.release(o);
    const m: WsMessage = {
      kind: kindOf(o.opcode) as WsMessageKind,
      opcode: o.opcode,
      payload: wire,
      size,
      wireSize: o.wire,
      frames: o.frames,
      compressed: o.compressed,
      truncated: o.dropped > 0 || incomplete !== null,
      droppedBytes: o.dropped,
      offset: o.offset,
    };
    if (incomplete !== null) m.incomplete = incomplete;
    if (o.compressed && this.inflater) {
      const r = this.inflater.inflate(wire, o.dropped === 0 && incomplete === null, this.opts.maxMessageBytes);
      m.payload = r.bytes;
      m.size = r.bytes.length;
      m.truncated = m.truncated || r.truncated;
      if (r.error) {
        m.decodeError = r.error;
        // nothing could be decompressed: keep the wire bytes, as http bodies do
        if (r.bytes.length === 0) m.payload = wire;
      }
    }
    this.sink.onMessage(m);
  }

  private release(o: Open): void {
    if (this.opts.budget && o.kept) this.opts.budget.release(o.kept);
    o.kept = 0;
  }

  private stop(kind: WsError['kind'], message: string, offset: number, excerpt: Buffer): void {
    this.endOpen('protocol error');
    this.stopped = message;
    this.sink.onError({ kind, message, offset, excerpt: Buffer.from(excerpt.subarray(0, EXCERPT)), fatal: true });
  }
}
