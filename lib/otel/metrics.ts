/**
 * OTLP metrics, through the SDK's MeterProvider, periodic reader and OTLP
 * metric exporter (on agentsight's transport):
 *
 * - the GenAI client metrics: gen_ai.client.token.usage (histogram of tokens
 *   per call, by gen_ai.token.type), gen_ai.client.operation.duration and
 *   gen_ai.client.operation.time_to_first_chunk (seconds), with the
 *   conventions' bucket boundaries;
 * - agentsight's health: agentsight.events (by source), agentsight.drops
 *   (everything lost, by cause: kernel ring buffers, truncations, the export
 *   queue), agentsight.lag (seconds from an event in the kernel to the end of
 *   the pipeline).
 */
import type { Counter, Histogram, Meter } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporterBase } from '@opentelemetry/exporter-metrics-otlp-http';
import { JsonMetricsSerializer, MetricsExporterMetricsHelper, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import type { Resource } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Event } from '../core/event';
import type { OtlpTarget } from './config';
import { CONTENT_TYPE, otlpDelegate } from './exporter';
import type { ChatMeasure } from './spans';
import { AS, GEN_AI } from './semconv';
import { HttpTransport } from './transport';

const VERSION: string = (require('../../package.json') as { version: string }).version;
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const SECOND_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
/** Lag is sampled at most this often (ms): one histogram record per event would cost more than it tells. */
const LAG_SAMPLE_MS = 50;

/** The SDK's OTLP metric exporter, counting failed exports. */
class MetricExporter extends OTLPMetricExporterBase {
  failures = 0;
  exports = 0;
  /** After the last flush: the SDK's shutdown exports once more, which has nothing new to say. */
  stopped = false;
  override export(metrics: ResourceMetrics, done: (r: ExportResult) => void): void {
    if (this.stopped) {
      done({ code: ExportResultCode.FAILED, error: new Error('exporter stopped') });
      return;
    }
    super.export(metrics, (r) => {
      this.exports++;
      if (r.code !== ExportResultCode.SUCCESS) this.failures++;
      done(r);
    });
  }
}

export interface MetricsStats {
  exports: number;
  failed_exports: number;
}

export class OtlpMetrics {
  private readonly provider: MeterProvider;
  private readonly transport: HttpTransport;
  private readonly exporter: MetricExporter;
  private readonly tokens: Histogram;
  private readonly duration: Histogram;
  private readonly ttfc: Histogram;
  private readonly events: Counter;
  private readonly lag: Histogram;
  private readonly drops = new Map<string, number>();
  private lastLag = 0;
  /** More drop counters, read when metrics are collected (the export queue's own). */
  dropSource: (() => Record<string, number>) | null = null;

  constructor(target: OtlpTarget, resource: Resource, intervalMs: number) {
    const serializer = target.protocol === 'http/json' ? JsonMetricsSerializer : ProtobufMetricsSerializer;
    this.transport = new HttpTransport(target, CONTENT_TYPE[target.protocol]);
    this.exporter = new MetricExporter(
      otlpDelegate<ResourceMetrics>(target, this.transport, serializer, 'otlp_http_metric_exporter', MetricsExporterMetricsHelper),
    );
    const reader = new PeriodicExportingMetricReader({
      exporter: this.exporter,
      exportIntervalMillis: intervalMs,
      exportTimeoutMillis: Math.min(intervalMs, target.timeoutMs),
    });
    this.provider = new MeterProvider({ resource, readers: [reader] });
    const m: Meter = this.provider.getMeter('agentsight', VERSION);
    this.tokens = m.createHistogram('gen_ai.client.token.usage', {
      unit: '{token}',
      description: 'Tokens used per LLM call, by input and output',
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    });
    this.duration = m.createHistogram('gen_ai.client.operation.duration', {
      unit: 's',
      description: 'Duration of LLM calls, request start to answer end',
      advice: { explicitBucketBoundaries: SECOND_BUCKETS },
    });
    this.ttfc = m.createHistogram('gen_ai.client.operation.time_to_first_chunk', {
      unit: 's',
      description: 'Time from the request to the first chunk of a streamed answer',
      advice: { explicitBucketBoundaries: SECOND_BUCKETS },
    });
    this.events = m.createCounter('agentsight.events', { unit: '{event}', description: 'Events through the pipeline, by source' });
    this.lag = m.createHistogram('agentsight.lag', {
      unit: 's',
      description: 'From an event in the kernel to the end of the pipeline (sampled)',
      advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
    });
    m.createObservableCounter('agentsight.drops', { unit: '{item}', description: 'Records, events and spans lost, by cause' }).addCallback((obs) => {
      for (const [cause, n] of this.drops) obs.observe(n, { [AS.DROP_CAUSE]: cause });
      for (const [cause, n] of Object.entries(this.dropSource?.() ?? {})) if (n > 0) obs.observe(n, { [AS.DROP_CAUSE]: cause });
    });
  }

  chat(c: ChatMeasure): void {
    if (c.inputTokens !== undefined) this.tokens.record(c.inputTokens, { ...c.attrs, [GEN_AI.TOKEN_TYPE]: 'input' });
    if (c.outputTokens !== undefined) this.tokens.record(c.outputTokens, { ...c.attrs, [GEN_AI.TOKEN_TYPE]: 'output' });
    this.duration.record(c.durationS, c.attrs);
    if (c.ttfcS !== undefined) this.ttfc.record(c.ttfcS, c.attrs);
  }

  event(e: Event): void {
    this.events.add(1, { [AS.EVENT_SOURCE]: e.source });
    if (typeof e.mono_ns !== 'number') return;
    const now = Date.now();
    if (now - this.lastLag < LAG_SAMPLE_MS) return;
    this.lastLag = now;
    this.lag.record(Math.max(0, now - e.timestamp) / 1000);
  }

  /** A drop counter's total so far. */
  setDrops(cause: string, total: number): void {
    if (total > 0) this.drops.set(cause, total);
  }

  stats(): MetricsStats {
    return { exports: this.exporter.exports, failed_exports: this.exporter.failures };
  }

  /** Export what was recorded, for at most timeoutMs, then stop. */
  async close(timeoutMs: number): Promise<void> {
    this.transport.setDeadline(Date.now() + timeoutMs);
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([
      this.provider.forceFlush().catch(() => undefined),
      new Promise<void>((r) => {
        bound = setTimeout(r, timeoutMs);
      }),
    ]);
    clearTimeout(bound);
    this.exporter.stopped = true;
    this.transport.close();
    await this.provider.shutdown().catch(() => undefined);
  }
}
