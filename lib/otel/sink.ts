/**
 * OtlpSink: sends what the pipeline saw to an OpenTelemetry receiver as
 * traces (one per agent session, lib/otel/spans.ts) and metrics. It is a sink
 * at the end of the chain: it sees the events after every analyzer, and masks
 * the strings it exports once more with the redactor's rules, whatever the
 * chain did (--disable-auth-removal only affects local output).
 *
 * It never slows capture: spans go to a bounded queue (dropped and counted
 * when full), sent in the background. When its input ends it waits for the
 * queue at most flushTimeoutMs, then says what it could not send
 * (loss(), a final `stats` event with `event: "EXPORT"`).
 */
import * as os from 'node:os';
import type { Analyzer, AnalyzerContext } from '../core/analyzer';
import { statsEvent, type Event } from '../core/event';
import { Redactor } from '../analyzers/redactor';
import type { SinkLoss } from '../sinks/output';
import { describeTarget, type ResolvedOtlp } from './config';
import { TraceExporter, type TraceExportStats } from './exporter';
import { OtlpMetrics, type MetricsStats } from './metrics';
import { hostResource } from './resource';
import { SessionSpans, type SessionSpansStats } from './spans';
import { ATTR } from './semconv';
import type { Resource } from '@opentelemetry/resources';

export interface OtlpSinkOptions {
  /** Export metrics too (live runs; default true when the configuration has a metrics endpoint). */
  metrics?: boolean;
  /** Periodic EXPORT stats events while a drop or failure counter changes (ms; 0: only the final one). */
  statsIntervalMs?: number;
  /** Told once, at the first failed export (for stderr). */
  onNotice?: (message: string) => void;
  /** Retry waits (ms, first and longest; default 1000 and 30000). */
  backoffMs?: [number, number];
}

export interface OtlpExportStats {
  endpoint: string;
  /** events the span builder failed on (they went on; their spans may be missing) */
  errors: number;
  spans: SessionSpansStats;
  queue: TraceExportStats;
  metrics?: MetricsStats;
}

export class OtlpSink implements Analyzer {
  readonly name = 'otlp';
  readonly exporter: TraceExporter;
  readonly metrics: OtlpMetrics | null;
  private readonly resource: Resource;
  private readonly hostName: string;
  private readonly redactor = new Redactor({ exposures: false });
  private spans: SessionSpans;
  private readonly spanStats: SessionSpansStats = { sessions: 0, spans: 0, spans_incomplete: 0, spans_evicted: 0 };
  private readonly statsIntervalMs: number;
  private lastStats = Date.now();
  private lastKey = '';
  private closed: Promise<void> | null = null;
  private errors = 0;

  constructor(
    readonly config: ResolvedOtlp,
    o: OtlpSinkOptions = {},
  ) {
    this.resource = hostResource(config.serviceName, config.resourceAttributes);
    this.hostName = String(this.resource.attributes[ATTR.HOST_NAME] ?? os.hostname());
    this.exporter = new TraceExporter(config.traces, {
      queueSize: config.queueSize,
      batchSize: config.batchSize,
      batchDelayMs: config.batchDelayMs,
      backoffMs: o.backoffMs,
    });
    this.exporter.queue.onError = (m) =>
      o.onNotice?.(`OTLP export to ${config.traces.url} failed (${m}); retrying in the background, up to ${config.queueSize} span(s) held meanwhile`);
    this.metrics = config.metrics && o.metrics !== false ? new OtlpMetrics(config.metrics, this.resource, config.metricsIntervalMs) : null;
    if (this.metrics) {
      this.metrics.dropSource = () => {
        const q = this.exporter.stats();
        return { 'otlp.queue_full': q.dropped_queue_full, 'otlp.rejected': q.dropped_rejected + q.rejected_by_collector, 'otlp.not_sent': q.dropped_not_sent };
      };
    }
    this.statsIntervalMs = o.statsIntervalMs ?? 0;
    this.spans = this.newSpans();
  }

  private newSpans(): SessionSpans {
    return new SessionSpans({
      processor: this.exporter.processor,
      resource: this.resource,
      hostName: this.hostName,
      content: this.config.content,
      onChat: (m) => this.metrics?.chat(m),
    });
  }

  /**
   * Start a new, independent stream of events (another session file): open
   * spans of the current one end, and pids are not related across streams.
   */
  newStream(): void {
    this.endSpans();
    this.spans = this.newSpans();
  }

  private endSpans(): void {
    this.spans.end();
    for (const k of Object.keys(this.spanStats) as (keyof SessionSpansStats)[]) this.spanStats[k] += this.spans.stats[k];
    this.spans.stats.sessions = this.spans.stats.spans = this.spans.stats.spans_incomplete = this.spans.stats.spans_evicted = 0;
  }

  /** Follow one event. Never throws. */
  observe(e: Event): void {
    try {
      // the events whose strings are exported: calls (content, errors) and command lines
      if (e.source === 'llm' || (e.source === 'process' && e.data.event === 'EXEC')) this.spans.observe(this.redactor.redact(e));
      else this.spans.observe(e);
      if (this.metrics) {
        this.metrics.event(e);
        if (e.source === 'stats' && (e.data.event === 'STATS' || e.data.event === 'FINAL')) {
          for (const [k, v] of Object.entries((e.data.kernel ?? {}) as Record<string, number>)) this.metrics.setDrops(`${e.data.tracer}.${k}`, v);
        }
      }
    } catch {
      // a span that cannot be made is not worth stopping capture for; the event itself went on, and it is counted
      this.errors++;
    }
  }

  stats(): OtlpExportStats {
    const s = this.spans.stats;
    return {
      endpoint: this.config.traces.url,
      errors: this.errors,
      spans: {
        sessions: this.spanStats.sessions + s.sessions,
        spans: this.spanStats.spans + s.spans,
        spans_incomplete: this.spanStats.spans_incomplete + s.spans_incomplete,
        spans_evicted: this.spanStats.spans_evicted + s.spans_evicted,
      },
      queue: this.exporter.stats(),
      ...(this.metrics ? { metrics: this.metrics.stats() } : {}),
    };
  }

  private statsEvent(final: boolean): Event {
    return statsEvent({ event: 'EXPORT', exporter: 'otlp', final, ...this.stats() });
  }

  /** A periodic stats event when a drop or failure counter changed. */
  private periodic(): Event | null {
    if (this.statsIntervalMs <= 0 || Date.now() - this.lastStats < this.statsIntervalMs) return null;
    this.lastStats = Date.now();
    const q = this.exporter.stats();
    const key = `${q.dropped_queue_full}/${q.dropped_rejected}/${q.failed_requests}/${q.rejected_by_collector}`;
    if (key === this.lastKey || key === '0/0/0/0') return null;
    this.lastKey = key;
    return this.statsEvent(false);
  }

  async *process(input: AsyncIterable<Event>, _ctx: AnalyzerContext): AsyncGenerator<Event> {
    for await (const e of input) {
      this.observe(e);
      yield e;
      const s = this.periodic();
      if (s) yield s;
    }
    await this.close();
    yield this.statsEvent(true);
  }

  /** End the open spans, send what is queued within the flush bound, stop. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.endSpans();
      const t = this.config.flushTimeoutMs;
      await Promise.all([this.exporter.close(t), this.metrics?.close(t)]);
    })();
    return this.closed;
  }

  /** Spans that did not reach the receiver. */
  notSent(): number {
    const q = this.exporter.stats();
    return q.dropped_queue_full + q.dropped_rejected + q.dropped_not_sent + q.rejected_by_collector;
  }

  loss(): SinkLoss | null {
    const n = this.notSent();
    if (n === 0) return null;
    return { sink: `OTLP endpoint ${this.config.traces.url}`, events_not_written: n, error: this.exporter.stats().last_error, unit: 'span(s)', export: true };
  }

  /** What was sent, for the end-of-run summary. */
  summaryLines(): string[] {
    const s = this.stats();
    const q = s.queue;
    const lines = [
      `OTLP: ${q.exported} span(s) of ${s.spans.sessions} session(s) sent to ${describeTarget(this.config.traces)}${q.retries ? ` (${q.retries} retried request(s))` : ''}`,
    ];
    const why = [
      q.dropped_queue_full ? `${q.dropped_queue_full} dropped when the queue was full (--otlp-queue-size)` : '',
      q.dropped_rejected || q.rejected_by_collector ? `${q.dropped_rejected + q.rejected_by_collector} refused by the receiver` : '',
      q.dropped_not_sent ? `${q.dropped_not_sent} still queued when the flush time was up (--otlp-flush-timeout)` : '',
    ].filter(Boolean);
    if (why.length) lines.push(`OTLP: not sent: ${why.join(', ')}`);
    if (s.metrics?.failed_exports) lines.push(`OTLP: ${s.metrics.failed_exports} of ${s.metrics.exports} metric export(s) failed`);
    return lines;
  }
}
