/** OpenTelemetry export: agent sessions as OTLP traces and metrics (docs/otel.md). */
export { OtlpSink, type OtlpSinkOptions, type OtlpExportStats } from './sink';
export { resolveOtlp, otlpWanted, describeTarget, endpointUrls, type ResolvedOtlp, type OtlpTarget } from './config';
export { SessionSpans, type SessionSpansOptions, type SessionSpansStats } from './spans';
export { ExportQueue, type QueueStats } from './queue';
