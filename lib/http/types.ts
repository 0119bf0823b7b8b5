/**
 * Data shapes of `source: "http"` events (see docs/events.md, section `http`).
 */
import type { GrpcInfo } from './grpc';

/** Which side of the connection the traced process is. */
export type HttpRole = 'client' | 'server';

/** Where an HTTP message came from in the ssl event stream. */
export interface SslRefs {
  /** The parser's 0-based index of the first / last ssl event that carried bytes of it. */
  first_seq: number;
  last_seq: number;
  /** mono_ns of those ssl events, when they had one. */
  first_mono_ns?: number;
  last_mono_ns?: number;
  /** How many ssl events carried bytes of it. */
  events: number;
}

/** The request an answer belongs to, as repeated in response-side events. */
export interface HttpRequestSummary {
  seq: number;
  method: string;
  path: string;
  host: string | null;
  url: string | null;
  /** When the last byte of the request was seen (null while it is still being sent). */
  end_mono_ns: number | null;
  end_timestamp: number | null;
}

/** Body fields shared by requests and responses. */
export interface HttpBodyFields {
  /** Decoded body (content coding removed): text when valid UTF-8, else base64. */
  body: string;
  body_encoding: 'utf8' | 'base64';
  /** Decoded bytes in `body`. */
  body_size: number;
  /** Body bytes seen on the wire after transfer decoding (stored or not). */
  body_wire_size: number;
  /** Part of the body is missing from `body` (size limit, lost bytes, or decode limit). */
  body_truncated: boolean;
  /** Wire body bytes not kept (size limit or after a hole). */
  body_dropped_bytes: number;
  /** Content-Encoding as sent (e.g. "gzip"), when there was one. */
  content_encoding?: string;
  /** Why the body could not be (fully) decoded: body then holds the wire bytes. */
  decode_error?: string;
}

/** Fields on every message event. */
export interface HttpMessageBase extends HttpBodyFields {
  conn_id: string;
  /** Exchange number on the connection (request and response share it). */
  seq: number;
  role: HttpRole;
  /** "1.1", "1.0" or "2". */
  version: string;
  /** HTTP/2: the stream the exchange ran on. */
  stream_id?: number;
  /** Header fields, names lower-cased; repeated fields joined with ", " (set-cookie with "\n", HTTP/2 cookie crumbs with "; "). */
  headers: Record<string, string>;
  /** HTTP/2 trailers (e.g. grpc-status), names lower-cased. */
  trailers?: Record<string, string>;
  /** gRPC (content type application/grpc*): method, messages and status (lib/http/grpc.ts). */
  grpc?: GrpcInfo;
  tid?: number;
  ssl: SslRefs;
  /** The message was cut short (bytes lost, stream ended, parse error). */
  incomplete: boolean;
  incomplete_reason?: string;
  /** Raw message bytes as seen (head + framed body, bounded), only with rawData. */
  raw?: string;
  raw_encoding?: 'utf8' | 'base64';
  raw_truncated?: boolean;
}

/** `data.type === "request"`: a complete request (emitted as soon as its last byte is seen). */
export interface HttpRequestData extends HttpMessageBase {
  type: 'request';
  method: string;
  path: string;
  host: string | null;
  url: string | null;
}

/** `data.type === "response"`: a complete response, paired with its request. */
export interface HttpResponseData extends HttpMessageBase {
  type: 'response';
  status_code: number;
  status_text: string;
  content_type: string | null;
  request: HttpRequestSummary | null;
  /** Request end to response end. */
  latency_ms: number | null;
  /** Request end to the response's first byte. */
  ttfb_ms: number | null;
  /** The body was also delivered incrementally as body_chunk events. */
  streamed: boolean;
  /** Number of body_chunk events sent for it. */
  body_chunks?: number;
}

/** `data.type === "response_headers"`: head of a streamed response, before its body. */
export interface HttpResponseHeadersData {
  type: 'response_headers';
  conn_id: string;
  seq: number;
  role: HttpRole;
  version: string;
  stream_id?: number;
  status_code: number;
  status_text: string;
  headers: Record<string, string>;
  content_type: string | null;
  content_encoding?: string;
  request: HttpRequestSummary | null;
  ttfb_ms: number | null;
  tid?: number;
}

/** `data.type === "body_chunk"`: decoded bytes of a streamed body, one event per TLS read. */
export interface HttpBodyChunkData {
  type: 'body_chunk';
  conn_id: string;
  seq: number;
  /** 0-based chunk number within the body. */
  index: number;
  /** Offset of this chunk in the decoded body. */
  offset: number;
  size: number;
  data: string;
  data_encoding: 'utf8' | 'base64';
  tid?: number;
}

/** `data.type === "parse_error"`: bytes that could not be parsed, lost, or an unsupported protocol. */
export interface HttpParseErrorData {
  type: 'parse_error';
  conn_id: string;
  /** The TLS call direction of the bytes ("WRITE/SEND" or "READ/RECV"). */
  function: string;
  kind: string;
  message: string;
  /** Byte offset in that direction's stream. */
  offset: number;
  /** Up to 48 bytes at the problem: hex and printable text. */
  excerpt_hex: string;
  excerpt_text: string;
  /** Exchange number, when the error concerns an open message. */
  seq?: number;
}

/** Any `source: "http"` event data. */
export type HttpEventData = HttpRequestData | HttpResponseData | HttpResponseHeadersData | HttpBodyChunkData | HttpParseErrorData;

/** Counters of the HTTP parser (see HttpParser.stats()). */
export interface HttpParserStats {
  ssl_events: number;
  ssl_bytes: number;
  connections: number;
  connections_evicted: number;
  connections_opaque: number;
  requests: number;
  responses: number;
  interim_responses: number;
  unpaired_responses: number;
  /** TLS reads of a response held until the write of its request was seen (threads of one client reported them out of order). */
  responses_reordered: number;
  unanswered_requests_dropped: number;
  incomplete_messages: number;
  parse_errors: number;
  bytes_discarded: number;
  bytes_lost: number;
  gaps_unknown_size: number;
  bodies_truncated: number;
  body_bytes_dropped: number;
  body_chunks: number;
  /** Connections followed as WebSocket after a 101 response. */
  websocket_connections: number;
  websocket_messages: number;
  /** Messages delivered truncated (bounds, lost bytes, decompression). */
  websocket_messages_truncated: number;
  /** WebSocket payload bytes not kept, and bytes not decoded after a direction stopped. */
  websocket_bytes_dropped: number;
  /** websocket parse_error events. */
  websocket_errors: number;
  /** Bytes held right now (undecided input + stored bodies + raw copies). */
  buffered_bytes: number;
  /** Highest buffered_bytes seen. */
  peak_buffered_bytes: number;
}
