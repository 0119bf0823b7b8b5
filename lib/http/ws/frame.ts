/**
 * The WebSocket frame format (RFC 6455 section 5.2): opcodes, header bits,
 * the three payload length forms, masking; close payloads (section 5.5.1);
 * and an encoder, for the stand-in's server side and for tests.
 */

/** Frame opcodes. */
export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** What a message is, by its opcode. */
export type WsMessageKind = 'text' | 'binary' | 'close' | 'ping' | 'pong';

const KIND_OF: Record<number, WsMessageKind> = { 0x1: 'text', 0x2: 'binary', 0x8: 'close', 0x9: 'ping', 0xa: 'pong' };

/** The kind of a data or control opcode; null for continuation and reserved opcodes. */
export function kindOf(opcode: number): WsMessageKind | null {
  return KIND_OF[opcode] ?? null;
}

/** Control frames (close, ping, pong and the reserved 0xB-0xF) have the high opcode bit set. */
export const isControl = (opcode: number): boolean => (opcode & 0x8) !== 0;

export const FIN = 0x80;
export const RSV1 = 0x40;
export const RSV2 = 0x20;
export const RSV3 = 0x10;
export const MASK = 0x80;

/** Largest payload of a control frame. */
export const MAX_CONTROL_PAYLOAD = 125;
/** Longest frame header: 2 bytes, a 64-bit length, a 4-byte mask key. */
export const MAX_HEADER = 14;

/** A parsed frame header. */
export interface FrameHeader {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  /** The masking key, when the frame is masked. */
  mask: Buffer | null;
  /** Payload length (a 64-bit length beyond 2^53 is an error, see parseHeader). */
  length: number;
  /** Bytes of the header. */
  headerSize: number;
}

/**
 * Parse a frame header at the start of `buf`. Returns null when more bytes
 * are needed, or an error message for a length no peer can mean (the most
 * significant bit of a 64-bit length set, or beyond 2^53 - 1 bytes). Nothing
 * is allocated from the announced length.
 */
export function parseHeader(buf: Buffer): FrameHeader | { error: string } | null {
  if (buf.length < 2) return null;
  const b0 = buf[0];
  const b1 = buf[1];
  const masked = (b1 & MASK) !== 0;
  const len7 = b1 & 0x7f;
  const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const headerSize = 2 + extra + (masked ? 4 : 0);
  if (buf.length < headerSize) return null;
  let length = len7;
  if (len7 === 126) length = buf.readUInt16BE(2);
  else if (len7 === 127) {
    const hi = buf.readUInt32BE(2);
    const lo = buf.readUInt32BE(6);
    if (hi & 0x80000000) return { error: 'the most significant bit of a 64-bit payload length is set' };
    // 2^53 - 1 = 0x1fffff * 2^32 + 0xffffffff
    if (hi > 0x1fffff) return { error: `a payload length of ${(BigInt(hi) << 32n) | BigInt(lo)} bytes` };
    length = hi * 0x100000000 + lo;
  }
  return {
    fin: (b0 & FIN) !== 0,
    rsv1: (b0 & RSV1) !== 0,
    rsv2: (b0 & RSV2) !== 0,
    rsv3: (b0 & RSV3) !== 0,
    opcode: b0 & 0x0f,
    mask: masked ? Buffer.from(buf.subarray(2 + extra, headerSize)) : null,
    length,
    headerSize,
  };
}

/** XOR `bytes` in place with the masking key, `offset` being their position in the frame's payload. */
export function unmask(bytes: Buffer, key: Buffer, offset: number): void {
  for (let i = 0; i < bytes.length; i++) bytes[i] ^= key[(offset + i) & 3];
}

/** A close frame's status code and reason; code null when the payload has none (or is malformed: 1 byte). */
export function parseClose(payload: Buffer): { code: number | null; reason: Buffer } {
  if (payload.length < 2) return { code: null, reason: Buffer.alloc(0) };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2) };
}

/** What to put in one frame. */
export interface FrameSpec {
  opcode: number;
  payload: Buffer;
  /** Default true. */
  fin?: boolean;
  /** Per-message compressed (permessage-deflate sets RSV1 on a message's first frame). */
  rsv1?: boolean;
  /** A masking key (client frames): the payload is masked with it. */
  mask?: Buffer;
  /** Force the 16- or 64-bit length form even when a shorter one fits (tests). */
  lengthForm?: 16 | 64;
}

/** The bytes of one frame. */
export function encodeFrame(f: FrameSpec): Buffer {
  const n = f.payload.length;
  const form = f.lengthForm ?? (n < 126 ? 7 : n < 0x10000 ? 16 : 64);
  const extra = form === 7 ? 0 : form === 16 ? 2 : 8;
  const head = Buffer.alloc(2 + extra + (f.mask ? 4 : 0));
  head[0] = (f.fin === false ? 0 : FIN) | (f.rsv1 ? RSV1 : 0) | (f.opcode & 0x0f);
  head[1] = (f.mask ? MASK : 0) | (form === 7 ? n : form === 16 ? 126 : 127);
  if (form === 16) head.writeUInt16BE(n, 2);
  else if (form === 64) {
    head.writeUInt32BE(Math.floor(n / 0x100000000), 2);
    head.writeUInt32BE(n >>> 0, 6);
  }
  let payload = f.payload;
  if (f.mask) {
    f.mask.copy(head, 2 + extra);
    payload = Buffer.from(payload);
    unmask(payload, f.mask, 0);
  }
  return Buffer.concat([head, payload]);
}

/** A close frame's payload: the code and a UTF-8 reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const r = Buffer.from(reason, 'utf8');
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}
