/**
 * Raw TLS bytes of a WebSocket connection (after a 101 upgrade), one
 * direction: frames are followed with the frame format of lib/http/ws, and
 * their payloads are what is searched: a client's masked payloads unmasked
 * first (the masking key is in the frame, so the wire bytes hide nothing),
 * compressed messages (permessage-deflate) not at all: their payload bytes
 * are replaced, as compressed HTTP bodies are.
 */
import { isControl, parseHeader, unmask } from '../http/ws/frame';
import type { Range } from './types';

/** A piece of payload to search: its text (unmasked) and where it lies in the piece. */
export interface WsSegment {
  start: number;
  end: number;
  text: string;
  /** A client's masked payload: the key and the position in the payload, to mask what is found the same way. */
  mask?: { key: Buffer; at: number };
}

/** The bytes of a masked segment with `ranges` (in the piece) masked: masked in the text, then masked again with the frame's key. */
export function remask(g: WsSegment & { mask: { key: Buffer; at: number } }, masked: string): Buffer {
  const out = Buffer.from(masked, 'latin1');
  unmask(out, g.mask.key, g.mask.at);
  return out;
}

export class WsRawDirection {
  private head: Buffer = Buffer.alloc(0);
  /** Payload bytes left in the current frame. */
  private left = 0;
  private key: Buffer | null = null;
  /** Position in the current frame's payload (for unmasking). */
  private at = 0;
  /** The current frame's payload is compressed. */
  private deflated = false;
  /** The data message in progress is compressed (set by its first frame's RSV1). */
  private messageDeflated = false;
  /** The framing could not be followed: what follows is searched as it is. */
  private lost = false;

  /** Split `bytes` (from index `from`) into payload to search and payload to replace. */
  push(bytes: Buffer, from = 0): { segments: WsSegment[]; replace: Range[] } {
    const segments: WsSegment[] = [];
    const replace: Range[] = [];
    let i = from;
    if (this.lost) return { segments: [{ start: from, end: bytes.length, text: bytes.toString('latin1', from) }], replace };
    while (i < bytes.length) {
      if (this.left === 0) {
        // a frame header, maybe cut across pieces
        const need = Math.min(bytes.length - i, 14);
        const buf = this.head.length ? Buffer.concat([this.head, bytes.subarray(i, i + need)]) : bytes.subarray(i, i + need);
        const h = parseHeader(buf);
        if (h === null) {
          this.head = Buffer.from(buf);
          return { segments, replace };
        }
        if ('error' in h) {
          this.lost = true;
          segments.push({ start: i, end: bytes.length, text: bytes.toString('latin1', i) });
          return { segments, replace };
        }
        i += h.headerSize - this.head.length;
        this.head = Buffer.alloc(0);
        this.left = h.length;
        this.key = h.mask;
        this.at = 0;
        if (!isControl(h.opcode)) {
          if (h.opcode !== 0) this.messageDeflated = h.rsv1;
          this.deflated = this.messageDeflated;
        } else this.deflated = false;
        continue;
      }
      const n = Math.min(this.left, bytes.length - i);
      if (this.deflated) replace.push({ start: i, end: i + n });
      else {
        let piece = bytes.subarray(i, i + n);
        if (this.key) {
          piece = Buffer.from(piece);
          unmask(piece, this.key, this.at);
          segments.push({ start: i, end: i + n, text: piece.toString('latin1'), mask: { key: this.key, at: this.at } });
        } else segments.push({ start: i, end: i + n, text: piece.toString('latin1') });
      }
      this.left -= n;
      this.at += n;
      i += n;
    }
    return { segments, replace };
  }
}
