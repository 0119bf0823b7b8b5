/**
 * A real OTLP/HTTP receiver on loopback for the tests: it accepts
 * POST .../v1/traces and .../v1/metrics (under any prefix, as Langfuse's
 * /api/public/otel) as protobuf (decoded with protobufjs from
 * the official OTLP .proto files of the opentelemetry-proto repository, as
 * the OpenTelemetry gRPC exporter base package ships them) and as OTLP JSON,
 * gzip or not, and keeps what it decoded: spans with their resource, metrics,
 * request headers. It can go away (connections refused) and come back on the
 * same port, or answer with an error status.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as protobuf from 'protobufjs';

const PROTO_DIR = path.join(path.dirname(require.resolve('@opentelemetry/otlp-grpc-exporter-base/package.json')), 'build', 'protos');

export type AttrValue = string | number | boolean | AttrValue[] | { [k: string]: AttrValue } | null;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 INTERNAL, 2 SERVER, 3 CLIENT */
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, AttrValue>;
  status: { code: number; message: string };
  resource: Record<string, AttrValue>;
  scope: string;
}

export interface ReceivedMetric {
  name: string;
  unit: string;
  resource: Record<string, AttrValue>;
  /** data points: attributes and value (sum/gauge) or count/sum (histogram) */
  points: { attributes: Record<string, AttrValue>; value?: number; count?: number; sum?: number }[];
}

export interface ReceivedRequest {
  path: string;
  contentType: string;
  encoding: string | null;
  headers: http.IncomingHttpHeaders;
  /** body bytes as received (compressed when gzip) and decoded */
  bytes: number;
  rawBytes: number;
  spans: number;
}

let root: protobuf.Root | null = null;
function protos(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  r.loadSync(['opentelemetry/proto/collector/trace/v1/trace_service.proto', 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto']);
  root = r;
  return r;
}

/** The .proto files the receiver decodes with (they must exist: the test would not prove anything without them). */
export function protoFiles(): string[] {
  return ['trace/v1/trace.proto', 'common/v1/common.proto', 'resource/v1/resource.proto', 'metrics/v1/metrics.proto'].map((f) =>
    path.join(PROTO_DIR, 'opentelemetry', 'proto', f),
  );
}

const hex = (v: unknown): string => (typeof v === 'string' ? v.toLowerCase() : v ? Buffer.from(v as Uint8Array).toString('hex') : '');
const big = (v: unknown): bigint => (v === undefined || v === null ? 0n : BigInt(String(v)));

function anyValue(v: Record<string, unknown> | undefined): AttrValue {
  if (!v) return null;
  if ('stringValue' in v) return String(v.stringValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('intValue' in v) return Number(String(v.intValue));
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return ((v.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map(anyValue);
  if ('kvlistValue' in v) return attrs((v.kvlistValue as { values?: unknown[] }).values);
  if ('bytesValue' in v) return hex(v.bytesValue);
  return null;
}

function attrs(list: unknown): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of (list ?? []) as { key: string; value?: Record<string, unknown> }[]) out[kv.key] = anyValue(kv.value);
  return out;
}

/** Spans of an ExportTraceServiceRequest, as a plain object (protobufjs's, or OTLP JSON's: the field names are the same). */
function spansOf(req: Record<string, unknown>): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of (req.resourceSpans ?? []) as Record<string, unknown>[]) {
    const resource = attrs((rs.resource as { attributes?: unknown } | undefined)?.attributes);
    for (const ss of (rs.scopeSpans ?? []) as Record<string, unknown>[]) {
      const scope = String((ss.scope as { name?: string } | undefined)?.name ?? '');
      for (const s of (ss.spans ?? []) as Record<string, unknown>[]) {
        const st = (s.status ?? {}) as { code?: number | string; message?: string };
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: String(s.name),
          kind: Number(s.kind ?? 0),
          startNs: big(s.startTimeUnixNano),
          endNs: big(s.endTimeUnixNano),
          attributes: attrs(s.attributes),
          status: {
            code: typeof st.code === 'string' ? ({ STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 }[st.code] ?? 0) : Number(st.code ?? 0),
            message: st.message ?? '',
          },
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

function metricsOf(req: Record<string, unknown>): ReceivedMetric[] {
  const out: ReceivedMetric[] = [];
  for (const rm of (req.resourceMetrics ?? []) as Record<string, unknown>[]) {
    const resource = attrs((rm.resource as { attributes?: unknown } | undefined)?.attributes);
    for (const sm of (rm.scopeMetrics ?? []) as Record<string, unknown>[]) {
      for (const m of (sm.metrics ?? []) as Record<string, unknown>[]) {
        const data = (m.sum ?? m.gauge ?? m.histogram) as { dataPoints?: Record<string, unknown>[] } | undefined;
        out.push({
          name: String(m.name),
          unit: String(m.unit ?? ''),
          resource,
          points: (data?.dataPoints ?? []).map((p) => ({
            attributes: attrs(p.attributes),
            ...('asInt' in p ? { value: Number(String(p.asInt)) } : 'asDouble' in p ? { value: Number(p.asDouble) } : {}),
            ...(p.count !== undefined ? { count: Number(String(p.count)), sum: Number(p.sum ?? 0) } : {}),
          })),
        });
      }
    }
  }
  return out;
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly metrics: ReceivedMetric[] = [];
  readonly requests: ReceivedRequest[] = [];
  /** Answer every request with this status (0: decode and answer 200). */
  failWith = 0;
  private server: http.Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  private constructor() {
    this.server = this.make();
  }

  static async start(): Promise<OtlpReceiver> {
    const r = new OtlpReceiver();
    await r.listen(0);
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private make(): http.Server {
    const s = http.createServer((req, res) => this.handle(req, res));
    s.on('connection', (sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
    });
    return s;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (this.failWith) {
        res.writeHead(this.failWith).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      const encoding = (req.headers['content-encoding'] as string | undefined) ?? null;
      const body = encoding === 'gzip' ? zlib.gunzipSync(raw) : raw;
      const contentType = String(req.headers['content-type'] ?? '');
      const json = contentType.includes('json');
      const isTraces = /\/v1\/traces$/.test(req.url ?? '');
      if (!isTraces && !/\/v1\/metrics$/.test(req.url ?? '')) {
        res.writeHead(404).end();
        return;
      }
      const type = protos().lookupType(
        isTraces ? 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest' : 'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest',
      );
      let obj: Record<string, unknown>;
      try {
        obj = json
          ? JSON.parse(body.toString('utf8'))
          : (type.toObject(type.decode(body), { longs: String, enums: Number, defaults: false }) as Record<string, unknown>);
      } catch (err) {
        res.writeHead(400).end(String(err));
        return;
      }
      const spans = isTraces ? spansOf(obj) : [];
      this.spans.push(...spans);
      if (!isTraces) this.metrics.push(...metricsOf(obj));
      this.requests.push({ path: req.url ?? '', contentType, encoding, headers: req.headers, bytes: body.length, rawBytes: raw.length, spans: spans.length });
      if (json) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  }

  /** Go away: stop listening and drop every connection (new ones are refused). */
  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Come back on the same port. */
  async up(): Promise<void> {
    this.server = this.make();
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server.listening ? this.server.close(() => r()) : r()));
  }

  /** Wait until `cond` holds (polling), at most ms. */
  async until(cond: () => boolean, ms = 10_000): Promise<boolean> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
    return true;
  }
}

/** Exists only to fail loudly when the proto files are missing. */
export function assertProtos(): void {
  for (const f of protoFiles()) if (!fs.existsSync(f)) throw new Error(`OTLP proto file missing: ${f}`);
}
