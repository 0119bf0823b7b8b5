/**
 * Where and how OTLP goes: the options of the command line (OtlpOptions) over
 * the standard OpenTelemetry environment variables, checked once, with a
 * usage error for anything that cannot work. The signal-specific variables
 * (OTEL_EXPORTER_OTLP_TRACES_*, _METRICS_*) win over the general ones, the
 * flags over both.
 */
import * as fs from 'node:fs';
import { UsageError } from '../core/errors';
import type { OtlpOptions } from '../config/options';

/** An OTEL_* list of key=value pairs, read as the OpenTelemetry SDK reads it (its module is loaded only when OTLP is configured). */
function keyPairs(s: string | undefined): Record<string, string> {
  if (!s) return {};
  return (require('@opentelemetry/core') as typeof import('@opentelemetry/core')).parseKeyPairsIntoRecord(s);
}

export type OtlpProtocol = 'http/protobuf' | 'http/json';
export type OtlpCompression = 'gzip' | 'none';

/** How one signal (traces or metrics) is sent. */
export interface OtlpTarget {
  url: string;
  protocol: OtlpProtocol;
  headers: Record<string, string>;
  compression: OtlpCompression;
  /** Time one request may take (ms). */
  timeoutMs: number;
  /** TLS: CA to trust, client certificate and key (PEM), from OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE / CLIENT_CERTIFICATE / CLIENT_KEY. */
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

export interface ResolvedOtlp {
  traces: OtlpTarget;
  /** null: no metrics (turned off, or no endpoint for them). */
  metrics: OtlpTarget | null;
  /** metric export interval (ms) */
  metricsIntervalMs: number;
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES */
  resourceAttributes: Record<string, string>;
  content: boolean;
  flushTimeoutMs: number;
  queueSize: number;
  batchSize: number;
  /** Longest wait before a partial batch is sent (ms). */
  batchDelayMs: number;
}

type Env = Record<string, string | undefined>;

const PROTOCOLS: readonly string[] = ['http/protobuf', 'http/json'];

function envOf(env: Env, signal: 'TRACES' | 'METRICS', name: string): string | undefined {
  const v = env[`OTEL_EXPORTER_OTLP_${signal}_${name}`] ?? env[`OTEL_EXPORTER_OTLP_${name}`];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function checkUrl(url: string, what: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${what}: "${url}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UsageError(`${what}: ${u.protocol} is not supported; OTLP/HTTP needs an http:// or https:// URL`);
  if (u.username || u.password) throw new UsageError(`${what}: put credentials in OTEL_EXPORTER_OTLP_HEADERS (e.g. Authorization=Basic ...), not in the URL`);
  return u.toString();
}

/** A signal's URL under a base endpoint: base + v1/traces (OTEL_EXPORTER_OTLP_ENDPOINT's rule). */
export function signalUrl(base: string, signal: 'traces' | 'metrics'): string {
  return `${base.replace(/\/+$/, '')}/v1/${signal}`;
}

/** The URL of --otlp-endpoint for a signal: a base endpoint, or a full traces URL (ending in /v1/traces) whose sibling is /v1/metrics. */
export function endpointUrls(endpoint: string): { traces: string; metrics: string } {
  const e = endpoint.replace(/\/+$/, '');
  if (/\/v1\/traces$/.test(e)) return { traces: e, metrics: e.replace(/\/v1\/traces$/, '/v1/metrics') };
  return { traces: signalUrl(e, 'traces'), metrics: signalUrl(e, 'metrics') };
}

function headersOf(env: Env, signal: 'TRACES' | 'METRICS', flags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {
    ...keyPairs(env.OTEL_EXPORTER_OTLP_HEADERS),
    ...keyPairs(env[`OTEL_EXPORTER_OTLP_${signal}_HEADERS`]),
  };
  for (const h of flags) {
    const i = h.indexOf('=');
    const name = i > 0 ? h.slice(0, i).trim() : '';
    if (!name || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new UsageError(`--otlp-header ${h.slice(0, 40)}: expected NAME=VALUE`);
    out[name] = h.slice(i + 1).trim();
  }
  return out;
}

function readPem(env: Env, signal: 'TRACES' | 'METRICS', name: string): Buffer | undefined {
  const file = envOf(env, signal, name);
  if (!file) return undefined;
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`OTEL_EXPORTER_OTLP_${name} ${file}: ${(err as Error).message}`);
  }
}

function positive(v: string | undefined, name: string, fallback: number, zeroOk = false): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (!zeroOk && n === 0)) throw new UsageError(`${name}=${v}: expected a number of milliseconds${zeroOk ? '' : ' above 0'}`);
  return n;
}

function target(env: Env, signal: 'TRACES' | 'METRICS', url: string, o: OtlpOptions): OtlpTarget {
  const protocol = o.otlpProtocol ?? envOf(env, signal, 'PROTOCOL') ?? 'http/protobuf';
  if (protocol === 'grpc')
    throw new UsageError(
      `OTLP over gRPC is not supported: send OTLP/HTTP (http/protobuf) to the collector's HTTP receiver (port 4318) instead (OTEL_EXPORTER_OTLP_${signal}_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL is grpc)`,
    );
  if (!PROTOCOLS.includes(protocol)) throw new UsageError(`OTLP protocol ${protocol}: expected http/protobuf or http/json`);
  const compression = envOf(env, signal, 'COMPRESSION') ?? 'none';
  if (compression !== 'gzip' && compression !== 'none') throw new UsageError(`OTEL_EXPORTER_OTLP_COMPRESSION=${compression}: expected gzip or none`);
  const tls = { ca: readPem(env, signal, 'CERTIFICATE'), cert: readPem(env, signal, 'CLIENT_CERTIFICATE'), key: readPem(env, signal, 'CLIENT_KEY') };
  return {
    url: checkUrl(url, signal === 'TRACES' ? 'OTLP traces endpoint' : 'OTLP metrics endpoint'),
    protocol: protocol as OtlpProtocol,
    headers: headersOf(env, signal, o.otlpHeaders ?? []),
    compression,
    timeoutMs: positive(envOf(env, signal, 'TIMEOUT'), 'OTEL_EXPORTER_OTLP_TIMEOUT', 10_000),
    tls: Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)),
  };
}

/** Is OTLP export asked for? */
export function otlpWanted(o: OtlpOptions): boolean {
  return o.otlpEndpoint !== undefined || o.otlp === true;
}

/**
 * The export configuration, or null when OTLP is not asked for. `metrics`:
 * whether this command exports metrics at all (`export` does not).
 */
export function resolveOtlp(o: OtlpOptions, env: Env = process.env, metrics = true): ResolvedOtlp | null {
  if (!otlpWanted(o)) return null;
  let traces: string;
  let metricsUrl: string | null;
  if (o.otlpEndpoint !== undefined) {
    if (o.otlpEndpoint.trim() === '') throw new UsageError('--otlp-endpoint needs a URL (or use --otlp to take it from OTEL_EXPORTER_OTLP_ENDPOINT)');
    checkUrl(o.otlpEndpoint, '--otlp-endpoint');
    ({ traces, metrics: metricsUrl } = endpointUrls(o.otlpEndpoint.trim()));
  } else {
    const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || undefined;
    const t = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || undefined;
    if (!t && !base)
      throw new UsageError(
        '--otlp takes the endpoint from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT, and neither is set (or give --otlp-endpoint URL)',
      );
    traces = t ?? signalUrl(base as string, 'traces');
    const m = env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT?.trim() || undefined;
    metricsUrl = m ?? (base ? signalUrl(base, 'metrics') : /\/v1\/traces\/?$/.test(traces) ? traces.replace(/\/v1\/traces\/?$/, '/v1/metrics') : null);
  }
  const queueSize = o.otlpQueueSize ?? positive(env.OTEL_BSP_MAX_QUEUE_SIZE, 'OTEL_BSP_MAX_QUEUE_SIZE', 8192);
  if (!Number.isInteger(queueSize) || queueSize < 1) throw new UsageError(`--otlp-queue-size must be a whole number of spans above 0 (got ${queueSize})`);
  const batchSize = Math.min(queueSize, positive(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512));
  const flushTimeoutMs = o.otlpFlushTimeoutMs ?? 5000;
  if (!(flushTimeoutMs >= 0)) throw new UsageError(`--otlp-flush-timeout must be >= 0 seconds (got ${flushTimeoutMs / 1000})`);
  const resourceAttributes = keyPairs(env.OTEL_RESOURCE_ATTRIBUTES);
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || resourceAttributes['service.name'] || 'agentsight';
  return {
    traces: target(env, 'TRACES', traces, o),
    metrics: metrics && o.otlpMetrics !== false && metricsUrl ? target(env, 'METRICS', metricsUrl, o) : null,
    metricsIntervalMs: positive(env.OTEL_METRIC_EXPORT_INTERVAL, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000),
    serviceName,
    resourceAttributes,
    content: o.otlpContent === true,
    flushTimeoutMs,
    queueSize,
    batchSize: Math.max(1, Math.floor(batchSize)),
    batchDelayMs: positive(env.OTEL_BSP_SCHEDULE_DELAY, 'OTEL_BSP_SCHEDULE_DELAY', 1000, true),
  };
}

/** The endpoint for people: scheme, host and path, never headers. */
export function describeTarget(t: OtlpTarget): string {
  return `${t.url} (${t.protocol}${t.compression === 'gzip' ? ', gzip' : ''})`;
}
