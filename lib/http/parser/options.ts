/** Options of the HTTP parser analyzer, and their defaults. */
import { UsageError } from '../../core/errors';

/** Options of the HTTP parser. */
export interface HttpParserOptions {
  /** Include the raw message bytes in request/response events (`--http-raw-data`). Default false. */
  rawData?: boolean;
  /** Yield the ssl events on after the http events derived from them. Default true. */
  passThroughSsl?: boolean;
  /** Largest start line + header block, in bytes. Default 64 KiB. */
  maxHeaderBytes?: number;
  /** Largest body kept per message (wire and decoded), in bytes; the rest is counted, not kept. Default 8 MiB. */
  maxBodyBytes?: number;
  /** Bound on all bytes held by the parser at once (bodies + raw copies). Default 256 MiB. */
  maxBufferedBytes?: number;
  /** Connections tracked at once; the least recently active is evicted beyond. Default 1024. */
  maxConnections?: number;
  /** A connection with no bytes for this long (event time) is evicted. Default 300000 (5 min). */
  idleTimeoutMs?: number;
  /** Requests awaiting a response per connection (pipelining depth). Default 64. */
  maxPipelined?: number;
  /** Response media types delivered incrementally (response_headers, body_chunk...). Default event-stream and NDJSON types. */
  streamingContentTypes?: readonly string[];
  /** Also stream every chunked response, whatever its type. Default false. */
  streamChunked?: boolean;
  /** Emit a final `stats` event with the parser's counters when the input ends. Default true. */
  emitStats?: boolean;
  /**
   * Mask secrets in bodies that were compressed on the wire (gzip, br, ...),
   * where a Redactor placed before the parser could not see them. Default
   * true; the CLI turns it off with --disable-auth-removal.
   */
  redactDecoded?: boolean;
}

/** HttpParserOptions with every default filled in and checked. */
export interface ParserConfig {
  rawData: boolean;
  passThroughSsl: boolean;
  maxHeaderBytes: number;
  maxBodyBytes: number;
  maxBufferedBytes: number;
  maxConnections: number;
  /** idleTimeoutMs in nanoseconds. */
  idleNs: number;
  maxPipelined: number;
  /** streamingContentTypes, lower-cased. */
  streamingTypes: Set<string>;
  streamChunked: boolean;
  emitStats: boolean;
  redactDecoded: boolean;
}

const DEFAULT_STREAMING_TYPES = ['text/event-stream', 'application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines'];

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new UsageError(`HttpParser: ${name} must be a positive number (got ${String(v)})`);
  return v;
}

/** Fill in the defaults; a bound that is not a positive number is a UsageError. */
export function resolveOptions(o: HttpParserOptions): ParserConfig {
  return {
    rawData: o.rawData ?? false,
    passThroughSsl: o.passThroughSsl ?? true,
    maxHeaderBytes: positive('maxHeaderBytes', o.maxHeaderBytes, 64 * 1024),
    maxBodyBytes: positive('maxBodyBytes', o.maxBodyBytes, 8 * 1024 * 1024),
    maxBufferedBytes: positive('maxBufferedBytes', o.maxBufferedBytes, 256 * 1024 * 1024),
    maxConnections: positive('maxConnections', o.maxConnections, 1024),
    idleNs: positive('idleTimeoutMs', o.idleTimeoutMs, 300_000) * 1e6,
    maxPipelined: positive('maxPipelined', o.maxPipelined, 64),
    streamingTypes: new Set((o.streamingContentTypes ?? DEFAULT_STREAMING_TYPES).map((t) => t.toLowerCase())),
    streamChunked: o.streamChunked ?? false,
    emitStats: o.emitStats ?? true,
    redactDecoded: o.redactDecoded ?? true,
  };
}
