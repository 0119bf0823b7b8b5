/**
 * The data of the parser's `source: "http"` events (shapes in docs/events.md):
 * request, response_headers, body_chunk, response and parse_error.
 */
import { redactText } from '../../redact/rules';
import type { GrpcInfo } from '../grpc';
import type { StreamError } from '../stream';
import type {
  HttpBodyChunkData,
  HttpBodyFields,
  HttpMessageBase,
  HttpParseErrorData,
  HttpRequestSummary,
  HttpRequestData,
  HttpResponseData,
  HttpResponseHeadersData,
} from '../types';
import { encodeBody, excerpt, msBetween } from '../util';
import type { BodyChunk } from './body-stream';
import type { ParserConfig } from './options';
import { type Conn, type Dir, FUNCTION_OF, type Message, type PendingRequest } from './state';

/** Body text, or base64 when not UTF-8; text that was content-decoded is redacted (see redactDecoded). */
export function bodyText(config: ParserConfig, bytes: Buffer, decoded: boolean): { text: string; encoding: 'utf8' | 'base64' } {
  const enc = encodeBody(bytes);
  if (decoded && config.redactDecoded && enc.encoding === 'utf8') enc.text = redactText(enc.text);
  return enc;
}

/** A copy of a request summary (it is taken when the response is, and does not change after). */
function summaryCopy(r: HttpRequestSummary): HttpRequestSummary {
  return { seq: r.seq, method: r.method, path: r.path, host: r.host, url: r.url, end_mono_ns: r.end_mono_ns, end_timestamp: r.end_timestamp };
}

/**
 * The fields every request and response event has, added to `into` in
 * their order (built field by field: spreading fresh objects into each other
 * costs microseconds per event).
 */
function addMessageBase(
  into: Record<string, unknown>,
  c: Conn,
  m: Message,
  incomplete: string | null,
  body: HttpBodyFields,
  raw: Pick<HttpMessageBase, 'raw' | 'raw_encoding' | 'raw_truncated'>,
  grpc: GrpcInfo | null,
): void {
  into.conn_id = c.id;
  into.seq = m.seq;
  into.role = m.role;
  into.version = m.head.version;
  if (m.streamId !== undefined) into.stream_id = m.streamId;
  into.headers = m.headers;
  if (m.trailers) into.trailers = m.trailers;
  if (m.tid !== undefined) into.tid = m.tid;
  into.ssl = m.refs;
  into.incomplete = incomplete !== null;
  if (incomplete !== null) into.incomplete_reason = incomplete;
  if (grpc) into.grpc = grpc;
  for (const k in body) into[k] = body[k as keyof HttpBodyFields];
  for (const k in raw) into[k] = raw[k as keyof typeof raw];
}

/** What a request or response event says besides its own fields. */
export interface MessageParts {
  c: Conn;
  m: Message;
  incomplete: string | null;
  body: HttpBodyFields;
  raw: Pick<HttpMessageBase, 'raw' | 'raw_encoding' | 'raw_truncated'>;
  grpc: GrpcInfo | null;
}

export function requestData(req: PendingRequest, p: MessageParts): HttpRequestData {
  const out: Record<string, unknown> = {
    type: 'request',
    method: req.summary.method,
    path: req.summary.path,
    host: req.summary.host,
    url: req.summary.url,
  };
  addMessageBase(out, p.c, p.m, p.incomplete, p.body, p.raw, p.grpc);
  return out as unknown as HttpRequestData;
}

/** A response that ended at event time `endNs`. */
export function responseData(m: Message, endNs: number, p: MessageParts): HttpResponseData {
  const req = m.request;
  const reqEndNs = req?.endNs ?? null;
  const out: Record<string, unknown> = {
    type: 'response',
    status_code: m.head.statusCode ?? 0,
    status_text: m.head.statusText ?? '',
    content_type: m.headers['content-type'] ?? null,
    request: req ? summaryCopy(req.summary) : null,
    latency_ms: reqEndNs !== null ? msBetween(reqEndNs, endNs) : null,
    ttfb_ms: reqEndNs !== null ? msBetween(reqEndNs, m.headNs) : null,
    streamed: m.stream !== null,
  };
  if (m.stream) out.body_chunks = m.stream.chunks;
  addMessageBase(out, p.c, p.m, p.incomplete, p.body, p.raw, p.grpc);
  return out as unknown as HttpResponseData;
}

/** The head of a streamed response (its request, if any, is m.request). */
export function responseHeadersData(c: Conn, m: Message): HttpResponseHeadersData {
  const { head, headers } = m;
  const req = m.request;
  const out: HttpResponseHeadersData = {
    type: 'response_headers',
    conn_id: c.id,
    seq: m.seq,
    role: m.role,
    version: head.version,
  } as HttpResponseHeadersData;
  if (m.streamId !== undefined) out.stream_id = m.streamId;
  out.status_code = head.statusCode ?? 0;
  out.status_text = head.statusText ?? '';
  out.headers = headers;
  out.content_type = headers['content-type'] ?? null;
  if (headers['content-encoding']) out.content_encoding = headers['content-encoding'];
  out.request = req ? summaryCopy(req.summary) : null;
  out.ttfb_ms = req?.endNs != null ? msBetween(req.endNs, m.headNs) : null;
  if (m.tid !== undefined) out.tid = m.tid;
  return out;
}

export function bodyChunkData(config: ParserConfig, c: Conn, m: Message, chunk: BodyChunk): HttpBodyChunkData {
  const enc = bodyText(config, chunk.bytes, m.codings.length > 0);
  const out: HttpBodyChunkData = {
    type: 'body_chunk',
    conn_id: c.id,
    seq: m.seq,
    index: chunk.index,
    offset: chunk.offset,
    size: chunk.bytes.length,
    data: enc.text,
    data_encoding: enc.encoding,
  };
  if (m.tid !== undefined) out.tid = m.tid;
  return out;
}

/** A parse error in direction `dir`, about message `m` when one is open. */
export function parseErrorData(c: Conn, dir: Dir, m: Message | null, err: StreamError): HttpParseErrorData {
  const x = excerpt(err.excerpt);
  return {
    type: 'parse_error',
    conn_id: c.id,
    function: FUNCTION_OF[dir],
    kind: err.kind,
    message: err.message,
    offset: err.offset,
    excerpt_hex: x.hex,
    excerpt_text: x.text,
    ...(m ? { seq: m.seq } : {}),
  };
}
