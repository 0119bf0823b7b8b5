/**
 * OTLP/HTTP requests: one POST per export, through the OpenTelemetry
 * exporter's delegate (which serialises with the SDK's OTLP serializers).
 *
 * agentsight has its own transport because what happens when the collector
 * is away is its business (lib/otel/queue.ts): this one never retries by
 * itself, says whether a failure is worth retrying, ends its requests by a
 * deadline the queue sets when the run ends, and can be closed, aborting what
 * is in flight, so the process never waits on a collector past its flush bound.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as zlib from 'node:zlib';
import { OTLPExporterError } from '@opentelemetry/otlp-exporter-base';
import type { ExportResponse, IExporterTransport } from '@opentelemetry/otlp-exporter-base';
import type { OtlpTarget } from './config';

const VERSION: string = (require('../../package.json') as { version: string }).version;
/** Bytes of a response body kept (an OTLP answer is small; an error page may not be). */
const MAX_RESPONSE = 64 * 1024;
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const RETRYABLE_NET = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED']);

/** Why a request was not made: the flush bound passed (the cause of the earlier failures, if any, says more). */
export const FLUSH_TIME_UP = 'flush time is up';

/** A failed export: whether to try again, and when the server asked us to. */

export class ExportError extends OTLPExporterError {
  constructor(
    message: string,
    readonly retryable: boolean,
    code?: number,
    data?: string,
    readonly retryInMs?: number,
  ) {
    super(message, code, data);
  }
}

/**
 * An export not attempted (the flush time was up, the transport closed): the
 * data was never offered to the receiver, so it was not sent rather than
 * refused, and trying again in this run is pointless.
 */
export class NotAttempted extends ExportError {
  constructor(message: string) {
    super(message, false);
  }
}

function retryAfterMs(v: string | string[] | undefined): number | undefined {
  if (typeof v !== 'string') return undefined;
  const s = Number.parseInt(v, 10);
  if (Number.isInteger(s) && String(s) === v.trim()) return Math.max(0, s * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

export class HttpTransport implements IExporterTransport {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly inflight = new Set<http.ClientRequest>();
  private closed = false;
  private deadline = Infinity;
  /** Bytes sent (request bodies as sent, after compression) and requests made. */
  readonly stats = { requests: 0, bytes_sent: 0 };

  constructor(
    private readonly target: OtlpTarget,
    private readonly contentType: string,
    /** Called with a successful response's body (partial success). */
    private readonly onResponse?: (body: Uint8Array) => void,
  ) {
    this.url = new URL(target.url);
    const opts = { keepAlive: true, maxSockets: 2, ...target.tls };
    this.agent = this.url.protocol === 'https:' ? new https.Agent(opts) : new http.Agent(opts);
  }

  /** Requests made from now on must end by this time (epoch ms). */
  setDeadline(at: number): void {
    this.deadline = at;
  }

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    if (this.closed) return { status: 'failure', error: new NotAttempted('exporter closed') };
    const left = this.deadline - Date.now();
    if (left <= 0) return { status: 'failure', error: new NotAttempted(FLUSH_TIME_UP) };
    const body = this.target.compression === 'gzip' ? await gzip(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.post(body, Math.min(timeoutMillis, left));
  }

  private post(body: Buffer, timeoutMs: number): Promise<ExportResponse> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (r: ExportResponse) => {
        if (done) return;
        done = true;
        this.inflight.delete(req);
        resolve(r);
      };
      const headers: Record<string, string | number> = {
        ...this.target.headers,
        'Content-Type': this.contentType,
        'Content-Length': body.length,
        'User-Agent': `agentsight/${VERSION}`,
      };
      if (this.target.compression === 'gzip') headers['Content-Encoding'] = 'gzip';
      const mod = this.url.protocol === 'https:' ? https : http;
      const req = mod.request(this.url, { method: 'POST', headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_RESPONSE) chunks.push(c);
        });
        res.on('error', (err) => finish(failure(err)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks);
          if (status >= 200 && status < 300) {
            if (this.onResponse && text.length) this.onResponse(text);
            finish({ status: 'success', data: text });
            return;
          }
          const retryable = RETRYABLE_STATUS.has(status);
          const error = new ExportError(
            `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`,
            retryable,
            status,
            text.toString('utf8', 0, 512),
            retryAfterMs(res.headers['retry-after']),
          );
          finish(retryable ? { status: 'retryable', error, retryInMillis: error.retryInMs } : { status: 'failure', error });
        });
      });
      this.inflight.add(req);
      this.stats.requests++;
      req.setTimeout(timeoutMs, () => {
        req.destroy();
        finish({ status: 'retryable', error: new ExportError(`no answer within ${Math.round(timeoutMs)} ms`, true) });
      });
      req.on('error', (err) => finish(failure(err)));
      req.end(body, () => {
        this.stats.bytes_sent += body.length;
      });
    });
  }

  /** Abort what is in flight; later sends fail at once. */
  close(): void {
    this.closed = true;
    for (const r of this.inflight) r.destroy(new ExportError('exporter closed', false));
    this.inflight.clear();
    this.agent.destroy();
  }

  shutdown(): void {
    this.close();
  }
}

function failure(err: Error): ExportResponse {
  if (err instanceof ExportError) return { status: 'failure', error: err };
  const code = (err as { code?: string }).code;
  const retryable = code !== undefined && RETRYABLE_NET.has(code);
  const error = new ExportError(code ? `${code} (${err.message})` : err.message, retryable);
  return retryable ? { status: 'retryable', error } : { status: 'failure', error };
}

function gzip(data: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => zlib.gzip(data, (err, out) => (err ? reject(err) : resolve(out))));
}
