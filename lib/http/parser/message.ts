/**
 * Assembly of one HTTP message: from its parsed head (and how its body is
 * framed) through its body bytes, kept within maxBodyBytes per message and
 * maxBufferedBytes in all, with an optional bounded raw copy, to the decoded
 * body of its final event.
 */
import { decodeBody, parseCodings } from '../decode';
import { grpcInfo, grpcKind, type GrpcInfo } from '../grpc';
import type { ParsedHead } from '../head';
import type { BodyFraming } from '../stream';
import type { HttpBodyFields } from '../types';
import { encodeBody, headerRecord } from '../util';
import type { ParseContext } from './context';
import { bodyText } from './events';
import type { DirState, Message } from './state';

/** Start a message at its parsed head; the ssl events that carried the head so far become its refs. */
export function openMessage(ctx: ParseContext, ds: DirState, head: ParsedHead, raw: Buffer): Message {
  const lastRefSeq = ctx.refSeq();
  const headers = headerRecord(head.fields);
  const startRefs = ds.startRefs;
  const headNs = startRefs ? ds.startNs : ctx.ns;
  ds.startRefs = null;
  const tid = ctx.cursor?.event.data.tid;
  const m: Message = {
    head,
    seq: -1,
    role: 'client',
    headers,
    codings: parseCodings(headers['content-encoding']),
    parts: [],
    stored: 0,
    wireSize: 0,
    dropped: 0,
    hole: false,
    raw: null,
    rawSize: 0,
    rawTruncated: false,
    refs: startRefs ?? ctx.refsHere(),
    lastRefSeq,
    headNs,
    request: null,
    interim: false,
    upgrade: false,
    stream: null,
    tid: typeof tid === 'number' ? tid : undefined,
  };
  if (ctx.config.rawData) {
    m.raw = [];
    storeRaw(ctx, m, raw);
  }
  return m;
}

/** Transfer-Encoding ends with chunked. */
export function isChunked(headers: Record<string, string>): boolean {
  const te = (headers['transfer-encoding'] ?? '').toLowerCase();
  return (
    te
      .split(',')
      .map((s) => s.trim())
      .pop() === 'chunked'
  );
}

/**
 * How the body of a message that may have one is framed: chunked, else by
 * Content-Length, else `otherwise` (none for a request, until close for a response).
 */
export function bodyFraming(headers: Record<string, string>, otherwise: BodyFraming): BodyFraming | { error: string } {
  if (isChunked(headers)) return { mode: 'chunked' };
  const cl = headers['content-length'];
  if (cl !== undefined) return lengthFraming(cl);
  return otherwise;
}

function lengthFraming(value: string): BodyFraming | { error: string } {
  // Repeated identical values ("12, 12") are allowed (RFC 9110 section 8.6).
  const parts = value.split(',').map((s) => s.trim());
  if (!parts.every((p) => /^\d{1,15}$/.test(p)) || new Set(parts).size !== 1) return { error: `invalid Content-Length: ${value.slice(0, 40)}` };
  return { mode: 'length', length: Number(parts[0]) };
}

/** Count the current ssl event in the message's refs (once). */
export function touchRefs(ctx: ParseContext, m: Message): void {
  const seq = ctx.refSeq();
  if (seq === m.lastRefSeq) return;
  m.lastRefSeq = seq;
  m.refs.last_seq = seq;
  const mono = ctx.refMono();
  if (mono !== undefined) m.refs.last_mono_ns = mono;
  m.refs.events++;
}

/** Body bytes as framed: kept within the bounds (the rest counted as dropped), and streamed on when the body is. */
export function appendBody(ctx: ParseContext, m: Message, bytes: Buffer): void {
  touchRefs(ctx, m);
  m.wireSize += bytes.length;
  if (m.raw) storeRaw(ctx, m, bytes);
  if (m.hole) {
    m.dropped += bytes.length;
    return;
  }
  const { maxBodyBytes, maxBufferedBytes } = ctx.config;
  const room = Math.min(maxBodyBytes - m.stored, maxBufferedBytes - ctx.stored);
  const take = room <= 0 ? 0 : Math.min(room, bytes.length);
  if (take > 0) {
    // Copy: the input buffer belongs to the ssl event.
    const piece = Buffer.from(bytes.subarray(0, take));
    m.parts.push(piece);
    m.stored += take;
    ctx.stored += take;
  }
  m.dropped += bytes.length - take;
  // A stream is delivered in full even past the size kept for the final body
  // (long-lived event streams): chunks are passed on, not held.
  if (m.stream) m.stream.push(take === bytes.length ? (m.parts[m.parts.length - 1] as Buffer) : Buffer.from(bytes));
}

/** `n` bytes of the body (or an unknown number) were lost: nothing after is kept. */
export function noteBodyHole(m: Message, n: number | null): void {
  m.hole = true;
  if (n !== null) m.wireSize += n;
  if (n !== null) m.dropped += n;
}

function storeRaw(ctx: ParseContext, m: Message, bytes: Buffer): void {
  if (!m.raw) return;
  const { maxBodyBytes, maxHeaderBytes, maxBufferedBytes } = ctx.config;
  const room = Math.min(maxBodyBytes + maxHeaderBytes - m.rawSize, maxBufferedBytes - ctx.stored);
  if (room <= 0) {
    if (bytes.length) m.rawTruncated = true;
    return;
  }
  const take = bytes.length <= room ? bytes : bytes.subarray(0, room);
  if (take.length < bytes.length) m.rawTruncated = true;
  m.raw.push(Buffer.from(take));
  m.rawSize += take.length;
  ctx.stored += take.length;
}

/** The body fields of the message's event: content coding removed (bounded), and whether anything is missing. */
/** The body bytes a message holds, joined once (finalBody and grpcFields both read them). */
function wireBody(m: Message): Buffer {
  if (m.parts.length !== 1) m.parts = [Buffer.concat(m.parts)];
  return m.parts[0];
}

export function finalBody(ctx: ParseContext, m: Message, incomplete: boolean): HttpBodyFields {
  const wire = wireBody(m);
  const partial = incomplete || m.dropped > 0 || m.hole;
  const dec = decodeBody(wire, m.codings, ctx.config.maxBodyBytes, partial);
  const truncated = m.dropped > 0 || m.hole || dec.truncated || incomplete;
  if (truncated) ctx.counters.bodies_truncated++;
  ctx.counters.body_bytes_dropped += m.dropped;
  const enc = bodyText(ctx.config, dec.bytes, dec.decoded);
  const streamError = m.stream?.decodeError;
  const out: HttpBodyFields = {
    body: enc.text,
    body_encoding: enc.encoding,
    body_size: dec.bytes.length,
    body_wire_size: m.wireSize,
    body_truncated: truncated,
    body_dropped_bytes: m.dropped,
  };
  const coding = m.headers['content-encoding'];
  if (coding) out.content_encoding = coding;
  if (dec.error) out.decode_error = dec.error;
  else if (streamError) out.decode_error = `body_chunk events: ${streamError}`;
  return out;
}

/** gRPC recognised in the message (content type application/grpc*): its framing, method and status; null otherwise. */
export function grpcFields(m: Message, incomplete: boolean): GrpcInfo | null {
  const type = m.headers['content-type'];
  const kind = grpcKind(type);
  if (!kind) return null;
  const path = m.head.kind === 'request' ? m.head.target : (m.request?.summary.path ?? null);
  const wire = wireBody(m);
  return grpcInfo(kind, type ?? '', wire, incomplete || m.dropped > 0 || m.hole, m.headers, m.trailers, path, m.head.kind === 'response');
}

/** The raw-copy fields of the message's event (none without rawData). */
export function rawFields(m: Message): { raw?: string; raw_encoding?: 'utf8' | 'base64'; raw_truncated?: boolean } {
  if (!m.raw) return {};
  const enc = encodeBody(Buffer.concat(m.raw));
  return { raw: enc.text, raw_encoding: enc.encoding, raw_truncated: m.rawTruncated };
}

/** Give back the bytes the message holds (after its event, or when it is forgotten). */
export function releaseMessage(ctx: ParseContext, m: Message): void {
  ctx.stored -= m.stored + m.rawSize;
  m.parts = [];
  m.raw = m.raw ? [] : null;
  m.stored = 0;
  m.rawSize = 0;
}
