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

/** The fields every request and response event has. */
export function messageBase(
  c: Conn,
  m: Message,
  incomplete: string | null,
  body: HttpBodyFields,
  raw: Pick<HttpMessageBase, 'raw' | 'raw_encoding' | 'raw_truncated'>,
  grpc: GrpcInfo | null = null,
): HttpMessageBase {
  return {
    conn_id: c.id,
    seq: m.seq,
    role: m.role,
    version: m.head.version,
    ...(m.streamId !== undefined ? { stream_id: m.streamId } : {}),
    headers: m.headers,
    ...(m.trailers ? { trailers: m.trailers } : {}),
    ...(m.tid !== undefined ? { tid: m.tid } : {}),
    ssl: m.refs,
    incomplete: incomplete !== null,
    ...(incomplete !== null ? { incomplete_reason: incomplete } : {}),
    ...(grpc ? { grpc } : {}),
    ...body,
    ...raw,
  };
}

export function requestData(req: PendingRequest, base: HttpMessageBase): HttpRequestData {
  return {
    type: 'request',
    method: req.summary.method,
    path: req.summary.path,
    host: req.summary.host,
    url: req.summary.url,
    ...base,
  };
}

/** A response that ended at event time `endNs`. */
export function responseData(m: Message, endNs: number, base: HttpMessageBase): HttpResponseData {
  const req = m.request;
  const reqEndNs = req?.endNs ?? null;
  return {
    type: 'response',
    status_code: m.head.statusCode ?? 0,
    status_text: m.head.statusText ?? '',
    content_type: m.headers['content-type'] ?? null,
    request: req ? { ...req.summary } : null,
    latency_ms: reqEndNs !== null ? msBetween(reqEndNs, endNs) : null,
    ttfb_ms: reqEndNs !== null ? msBetween(reqEndNs, m.headNs) : null,
    streamed: m.stream !== null,
    ...(m.stream ? { body_chunks: m.stream.chunks } : {}),
    ...base,
  };
}

/** The head of a streamed response (its request, if any, is m.request). */
export function responseHeadersData(c: Conn, m: Message): HttpResponseHeadersData {
  const { head, headers } = m;
  const req = m.request;
  return {
    type: 'response_headers',
    conn_id: c.id,
    seq: m.seq,
    role: m.role,
    version: head.version,
    ...(m.streamId !== undefined ? { stream_id: m.streamId } : {}),
    status_code: head.statusCode ?? 0,
    status_text: head.statusText ?? '',
    headers,
    content_type: headers['content-type'] ?? null,
    ...(headers['content-encoding'] ? { content_encoding: headers['content-encoding'] } : {}),
    request: req ? { ...req.summary } : null,
    ttfb_ms: req?.endNs != null ? msBetween(req.endNs, m.headNs) : null,
    ...(m.tid !== undefined ? { tid: m.tid } : {}),
  };
}

export function bodyChunkData(config: ParserConfig, c: Conn, m: Message, chunk: BodyChunk): HttpBodyChunkData {
  const enc = bodyText(config, chunk.bytes, m.codings.length > 0);
  return {
    type: 'body_chunk',
    conn_id: c.id,
    seq: m.seq,
    index: chunk.index,
    offset: chunk.offset,
    size: chunk.bytes.length,
    data: enc.text,
    data_encoding: enc.encoding,
    ...(m.tid !== undefined ? { tid: m.tid } : {}),
  };
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
