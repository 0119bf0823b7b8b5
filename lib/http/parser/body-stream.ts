/**
 * The incremental side of a streamed response body: wire bytes in (transfer
 * coding removed), decoded chunks out, cut on UTF-8 boundaries so every
 * body_chunk event holds whole characters.
 */
import { StreamingDecoder } from '../decode';
import { utf8CompleteLength } from '../util';

/** One piece of decoded body, ready for a body_chunk event. */
export interface BodyChunk {
  bytes: Buffer;
  /** 0-based chunk number within the body. */
  index: number;
  /** Offset of the chunk in the decoded body. */
  offset: number;
}

/** No carried bytes (shared: never written to). */
const NO_BYTES: Buffer = Buffer.alloc(0);

/** Decoded bytes of one streamed body received since the last chunk was taken. */
export class BodyStream {
  private readonly decoder: StreamingDecoder | null;
  /** The cut tail of a UTF-8 sequence, held for the next chunk. */
  private carry: Buffer = NO_BYTES;
  private pending: Buffer[] = [];
  private pendingSize = 0;
  private nextIndex = 0;
  private offset = 0;

  /** `codings`: Content-Encoding of the body (none: the wire bytes are the body). */
  constructor(codings: readonly string[], maxBodyBytes: number) {
    this.decoder = codings.length ? new StreamingDecoder(codings, maxBodyBytes) : null;
  }

  /** Chunks taken so far. */
  get chunks(): number {
    return this.nextIndex;
  }

  /** Bytes held: decoded bytes not yet taken, and compressed input held by the decoder. */
  get heldBytes(): number {
    return this.carry.length + this.pendingSize + (this.decoder?.heldBytes ?? 0);
  }

  /** Why incremental decoding stopped, if it did. */
  get decodeError(): string | null {
    return this.decoder?.error ?? null;
  }

  /** Feed body bytes as framed on the wire. */
  push(wire: Buffer): void {
    this.hold(this.decoder ? this.decoder.push(wire) : wire);
  }

  /**
   * Take what arrived since the last chunk, null when there is nothing to
   * pass on. `final`: the body ended: flush the decoder and the held tail.
   */
  take(final: boolean): BodyChunk | null {
    if (final && this.decoder) this.hold(this.decoder.finish());
    if (this.pendingSize === 0 && this.carry.length === 0) return null;
    // one piece and no carried tail: that piece (the message's stored copy, read only from here on)
    let buf = this.carry.length === 0 && this.pending.length === 1 ? this.pending[0] : Buffer.concat([this.carry, ...this.pending]);
    this.pending = [];
    this.pendingSize = 0;
    this.carry = NO_BYTES;
    if (!final) {
      const cut = utf8CompleteLength(buf);
      if (cut < buf.length) {
        this.carry = Buffer.from(buf.subarray(cut));
        buf = buf.subarray(0, cut);
      }
    }
    if (buf.length === 0) return null;
    const chunk = { bytes: buf, index: this.nextIndex++, offset: this.offset };
    this.offset += buf.length;
    return chunk;
  }

  private hold(decoded: Buffer): void {
    if (decoded.length) {
      this.pending.push(decoded);
      this.pendingSize += decoded.length;
    }
  }
}
