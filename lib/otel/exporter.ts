/**
 * The trace exporter: the OpenTelemetry SDK's OTLP exporter (OTLPExporterBase
 * over the export delegate, with the SDK's protobuf or JSON serializer) on
 * agentsight's HTTP transport, fed by a bounded queue through a span
 * processor. Spans the SDK ends go to the queue; the queue sends them in
 * batches, retrying while the collector is away, and counts what it drops.
 */
import type { Context } from '@opentelemetry/api';
import { createOtlpNetworkExportDelegate, ExporterMetrics, OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import {
  JsonTraceSerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
  type IExporterMetricsHelper,
  type ISerializer,
} from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { OtlpTarget } from './config';
import { ExportQueue, type QueueStats } from './queue';
import { HttpTransport } from './transport';

export interface TraceExportStats extends QueueStats {
  /** spans the collector said it rejected (OTLP partial success) */
  rejected_by_collector: number;
  bytes_sent: number;
}

export interface TraceExporterOptions {
  queueSize: number;
  batchSize: number;
  batchDelayMs: number;
  backoffMs?: [number, number];
}

/** The export delegate of the SDK's OTLP exporters, on a transport of ours, with the serializer of the protocol. */
export function otlpDelegate<T>(
  target: OtlpTarget,
  transport: HttpTransport,
  serializer: ISerializer<T, unknown>,
  componentType: string,
  metricsHelper: IExporterMetricsHelper<T>,
) {
  // the SDK's self-observability metrics stay off (no meter provider)
  const metrics = new ExporterMetrics<T>({
    componentType,
    metricsHelper,
    url: target.url,
    meterProvider: undefined,
    responseAttributesFromError: () => ({}),
  });
  // the delegate's own concurrency limit never bites: the queue sends one request at a time
  return createOtlpNetworkExportDelegate<T, unknown>(
    { timeoutMillis: target.timeoutMs, concurrencyLimit: 2, compression: target.compression },
    serializer,
    metrics,
    transport,
  );
}

export const CONTENT_TYPE = { 'http/protobuf': 'application/x-protobuf', 'http/json': 'application/json' } as const;

export class TraceExporter {
  readonly queue: ExportQueue<ReadableSpan>;
  readonly transport: HttpTransport;
  /** The span processor the sessions' tracer providers end their spans into. */
  readonly processor: SpanProcessor;
  private rejectedByCollector = 0;

  constructor(
    readonly target: OtlpTarget,
    o: TraceExporterOptions,
  ) {
    const serializer = target.protocol === 'http/json' ? JsonTraceSerializer : ProtobufTraceSerializer;
    this.transport = new HttpTransport(target, CONTENT_TYPE[target.protocol], (body) => {
      try {
        const r = serializer.deserializeResponse(body);
        const n = Number(r.partialSuccess?.rejectedSpans ?? 0);
        if (n > 0) this.rejectedByCollector += n;
      } catch {
        /* not an OTLP answer: the spans were accepted all the same */
      }
    });
    const exporter = new OTLPExporterBase<ReadableSpan[]>(
      otlpDelegate(target, this.transport, serializer, 'otlp_http_span_exporter', TraceExporterMetricsHelper),
    );
    this.queue = new ExportQueue<ReadableSpan>(exporter, { maxQueue: o.queueSize, batchSize: o.batchSize, delayMs: o.batchDelayMs, backoffMs: o.backoffMs });
    const queue = this.queue;
    this.processor = {
      onStart(_span: Span, _ctx: Context) {},
      onEnd(span: ReadableSpan) {
        queue.push(span);
      },
      forceFlush: async () => {},
      shutdown: async () => {},
    };
  }

  stats(): TraceExportStats {
    return { ...this.queue.stats(), rejected_by_collector: this.rejectedByCollector, bytes_sent: this.transport.stats.bytes_sent };
  }

  /** Send what is queued, for at most timeoutMs; then stop (what is left is counted as not sent). */
  async close(timeoutMs: number): Promise<void> {
    this.transport.setDeadline(Date.now() + timeoutMs);
    await this.queue.flush(timeoutMs);
    this.queue.close();
    this.transport.close();
  }
}
