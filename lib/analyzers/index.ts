/**
 * The analyzer chain: HTTP parsing, SSE merging, filters, redaction, file
 * logging, NDJSON replay. (lib/index.ts re-exports what it chooses.)
 */
export { HttpParser } from './http-parser';
export type { HttpParserOptions } from './http-parser';
export { SseProcessor } from './sse-processor';
export type { SseProcessorOptions, SseProcessorStats, SseEndReason, SseMergedData } from './sse-processor';
export { HttpFilter, SslFilter } from './filters';
// the original collector's names
export { HttpParser as HTTPParser } from './http-parser';
export { SseProcessor as SSEProcessor } from './sse-processor';
export { HttpFilter as HTTPFilter, SslFilter as SSLFilter } from './filters';
export type { FilterStats } from './filters';
export { Redactor } from './redactor';
export type { RedactorOptions, RedactorStats } from './redactor';
export { FileLogger } from '../sinks/file-logger';
export type { FileLoggerOptions, FileLoggerStats } from '../sinks/file-logger';
export { readNdjson, toJsonLine } from '../sinks/ndjson';
export type {
  HttpBodyChunkData,
  HttpEventData,
  HttpParseErrorData,
  HttpParserStats,
  HttpRequestData,
  HttpRequestSummary,
  HttpResponseData,
  HttpResponseHeadersData,
  HttpRole,
  SslRefs,
} from '../http/types';
export type { WebSocketEndData, WebSocketEventData, WebSocketMessageData, WebSocketParseErrorData, WsDirection } from '../http/ws/types';
export type { MergedContent, MergedToolCall, MergedUsage, SseApi, SseProvider } from '../sse/stream-merger';
export { parseExpr, printExpr } from '../filter/expr';
export type { Expr, Op } from '../filter/expr';
export { httpDialect, sslDialect } from '../filter/dialects';
export { redactText, isSecretHeader, findSecrets } from '../redact/rules';
export type { ExposureData, ExposureWhere } from '../redact/exposure';
export { renderHttp, renderSse, renderHttpEvent } from '../render/http';
export type { RenderOptions } from '../render/http';
