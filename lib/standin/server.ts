/**
 * A local HTTPS stand-in for the LLM APIs (Anthropic Messages, OpenAI Chat
 * Completions and Responses, Gemini generateContent), close enough on the
 * wire for the official SDKs, so that tests and the demo produce real TLS
 * traffic on a machine without internet access.
 *
 * It listens on loopback only, answers with the deterministic scripted model
 * of ./script, and records every request and exactly what was sent back.
 * Routing is in ./routes, request handling in ./handler, sending in
 * ./respond, each API's wire format in ./apis, the Responses API's WebSocket
 * transport in ./websocket. See docs/standin.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { FIXED_CREATED } from './apis/types';
import type { Encoding } from './encoding';
import { RequestHandler, type HandlerConfig } from './handler';
import { WebSocketEndpoint } from './websocket';
import { TEST_ANTHROPIC_API_KEY, TEST_GEMINI_API_KEY, TEST_OPENAI_API_KEY } from './keys';
import type { RecordedRequest } from './recording';
import { moduleFor } from './routes';
import { scriptReply, type ApiKind, type ScriptedReply } from './script';
import { createTlsMaterial, type TlsMaterial } from './tls';

export { FIXED_CREATED };
export type { RecordedRequest, RecordedResponse } from './recording';

export interface StandinOptions {
  /** Port (default 0: an ephemeral one). */
  port?: number;
  /** Loopback address to listen on: `127.0.0.1` (default) or `::1`. Nothing else is accepted. */
  host?: '127.0.0.1' | '::1';
  /** TLS material to use (not disposed by close()). Made afresh by default, and removed by close(). */
  tls?: TlsMaterial;
  /** Where to make the TLS material when `tls` is not given (default: a private temp dir). */
  tlsDir?: string;
  /** Pause between the writes of a streamed response, ms (default 2; 0: none, writes may then coalesce). */
  chunkDelayMs?: number;
  /** Characters per text delta (default 12, cut at word boundaries). */
  deltaChars?: number;
  /** Characters per tool-argument JSON delta (default 6). */
  argChars?: number;
  /** Command the scripted model asks for when the prompt names none (default `echo agentsight-demo`). */
  defaultCommand?: string;
  /**
   * Content-Encoding of non-streaming JSON negotiated from Accept-Encoding, in
   * order of preference (default gzip, br, deflate, zstd); false: identity
   * unless a request forces one with `x-standin-encoding`.
   */
  compression?: false | readonly Encoding[];
  /** Reject requests without an API key the way the real APIs do (default true). */
  requireApiKey?: boolean;
  /** `created` timestamps in bodies: a fixed Unix time (default {@link FIXED_CREATED}) or 'now'. */
  created?: number | 'now';
  /** Keep-alive timeout of idle connections, ms (default 30000). */
  keepAliveTimeoutMs?: number;
  /** Largest request body accepted, bytes (default 32 MiB; larger → 413). */
  maxBodyBytes?: number;
  /** Called when a response has been sent completely (or the client went away). */
  onRequest?: (r: RecordedRequest) => void;
  /** Offer HTTP/2 by ALPN (h2, then http/1.1 for clients that do not take it), as the real APIs do. Default false: HTTP/1.1 only. */
  http2?: boolean;
  /**
   * The Responses API over WebSocket at `GET /v1/responses` (HTTP/1.1
   * upgrade): true (default) with permessage-deflate accepted when the client
   * offers it, 'uncompressed' without it, false: upgrades are refused (404).
   */
  websocket?: boolean | 'uncompressed';
}

export interface Standin {
  /** `https://127.0.0.1:<port>` (no trailing slash). */
  url: string;
  port: number;
  host: string;
  /** CA certificate file clients must trust. */
  caFile: string;
  tls: TlsMaterial;
  /** Base URLs as the SDKs and their environment variables want them. */
  anthropicBaseUrl: string;
  openaiBaseUrl: string;
  geminiBaseUrl: string;
  /** Every request so far, in arrival order (filled in while responses are sent). */
  requests: RecordedRequest[];
  /** The assistant text sent for a request (what a tracer should reassemble). */
  expectedText(r: RecordedRequest | number): string;
  /**
   * Environment for a client process: base URLs, fake API keys and the CA
   * (SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE).
   */
  env(): Record<string, string>;
  /** Stop listening, drop every connection, remove TLS material that was made here. */
  close(): Promise<void>;
}

/** The scripted reply a request body gets from an API: what the server would answer. */
export function replyFor(api: ApiKind, body: unknown, opts: { model?: string; stream?: boolean; defaultCommand?: string } = {}): ScriptedReply {
  const b = body as any;
  const conv = moduleFor(api).parse(b, opts.model ?? b?.model ?? '');
  if (opts.stream !== undefined) conv.stream = opts.stream;
  return scriptReply(conv, { defaultCommand: opts.defaultCommand });
}

const TEST_KEYS = { anthropic: TEST_ANTHROPIC_API_KEY, openai: TEST_OPENAI_API_KEY, gemini: TEST_GEMINI_API_KEY };

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1';
}

/** The TLS server (HTTP/1.1, or h2 and HTTP/1.1 by ALPN), numbering its connections and holding their sockets (to drop them on close). */
function tlsServer(tls: TlsMaterial, keepAliveTimeoutMs: number, h2: boolean) {
  const server = h2
    ? http2.createSecureServer({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2', allowHTTP1: true })
    : https.createServer({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' });
  if (server instanceof https.Server) server.keepAliveTimeout = keepAliveTimeoutMs;
  const sockets = new Set<Socket>();
  const connectionOf = new WeakMap<Socket, number>();
  let connections = 0;
  server.on('secureConnection', (s) => {
    connectionOf.set(s, ++connections);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {
    /* a client that did not trust the CA: nothing to record */
  });
  // an HTTP/2 request's socket is a proxy; its session holds the real one
  const socketOf = (req: IncomingMessage) => (req as unknown as { stream?: { session?: { socket?: Socket } } }).stream?.session?.socket ?? req.socket;
  return { server, sockets, connectionOf: (req: IncomingMessage) => connectionOf.get(socketOf(req)) ?? 0 };
}

/** Answer 500 to a request whose handling failed (or drop the connection when the answer had begun). */
function internalError(res: ServerResponse, err: any): void {
  if (!res.headersSent) {
    const body = Buffer.from(JSON.stringify({ error: { message: String(err?.message ?? err), type: 'server_error', param: null, code: null } }));
    res.writeHead(500, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  } else res.destroy();
}

/** Start a stand-in. */
export async function startStandin(opts: StandinOptions = {}): Promise<Standin> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopback(host)) throw new Error(`startStandin: host must be a loopback address (127.0.0.1 or ::1), not ${host}`);
  const preference: readonly Encoding[] = opts.compression === false ? [] : (opts.compression ?? ['gzip', 'br', 'deflate', 'zstd']);
  const ownTls = !opts.tls;
  const tls = opts.tls ?? (await createTlsMaterial({ dir: opts.tlsDir }));
  // Whatever happens to the process, do not leave a private key behind.
  const onExit = () => tls.disposeSync();
  if (ownTls) process.once('exit', onExit);

  const { server, sockets, connectionOf } = tlsServer(tls, opts.keepAliveTimeoutMs ?? 30_000, opts.http2 ?? false);
  const cfg: HandlerConfig = {
    chunkDelayMs: opts.chunkDelayMs ?? 2,
    deltaChars: opts.deltaChars ?? 12,
    argChars: opts.argChars ?? 6,
    requireApiKey: opts.requireApiKey ?? true,
    maxBodyBytes: opts.maxBodyBytes ?? 32 * 1024 * 1024,
    defaultCommand: opts.defaultCommand,
    created: opts.created ?? FIXED_CREATED,
    onRequest: opts.onRequest,
  };
  const handler = new RequestHandler(cfg, preference, connectionOf);
  const ws = opts.websocket ?? true;
  if (ws !== false) {
    const endpoint = new WebSocketEndpoint(handler, cfg, connectionOf, ws === true);
    (server as https.Server).on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => endpoint.upgrade(req, socket, head));
  }
  // Never leave a client hanging on an internal error.
  (server as https.Server).on('request', (req: IncomingMessage, res: ServerResponse) => handler.handle(req, res).catch((err) => internalError(res, err)));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://${host === '::1' ? '[::1]' : host}:${port}`;
  const requests = handler.requests;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    host,
    caFile: tls.caFile,
    tls,
    anthropicBaseUrl: url,
    openaiBaseUrl: `${url}/v1`,
    geminiBaseUrl: url,
    requests,
    expectedText(r) {
      const rec = typeof r === 'number' ? requests.find((x) => x.seq === r) : r;
      return rec?.response.text ?? '';
    },
    env() {
      return {
        ANTHROPIC_BASE_URL: url,
        ANTHROPIC_API_KEY: TEST_KEYS.anthropic,
        OPENAI_BASE_URL: `${url}/v1`,
        OPENAI_API_KEY: TEST_KEYS.openai,
        GEMINI_BASE_URL: url,
        GOOGLE_GEMINI_BASE_URL: url,
        GEMINI_API_KEY: TEST_KEYS.gemini,
        SSL_CERT_FILE: tls.caFile,
        NODE_EXTRA_CA_CERTS: tls.caFile,
        REQUESTS_CA_BUNDLE: tls.caFile,
        CURL_CA_BUNDLE: tls.caFile,
      };
    },
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          if (server instanceof https.Server) server.closeAllConnections();
          for (const s of sockets) s.destroy();
        });
        if (ownTls) {
          process.off('exit', onExit);
          await tls.dispose();
        }
      })();
      return closing;
    },
  };
}
