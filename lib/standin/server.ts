/**
 * A local HTTPS stand-in for the LLM APIs (Anthropic Messages, OpenAI Chat
 * Completions and Responses, Gemini generateContent), close enough on the
 * wire for the official SDKs, so that tests and the demo produce real TLS
 * traffic on a machine without internet access.
 *
 * It listens on loopback only, answers with the deterministic scripted model
 * of ./script, and records every request and exactly what was sent back.
 * See docs/standin.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import zlib from 'node:zlib';
import { anthropicMessages } from './apis/anthropic';
import { gemini, geminiJsonArrayWrites } from './apis/gemini';
import { openaiChat } from './apis/openai-chat';
import { openaiResponses } from './apis/openai-responses';
import type { ApiModule, RenderContext, StreamWrite } from './apis/types';
import { apiError, KNOB_STATUSES, type Provider } from './errors';
import { encodeBody, ENCODINGS, isEncoding, negotiate, type Encoding } from './encoding';
import { TEST_ANTHROPIC_API_KEY, TEST_GEMINI_API_KEY, TEST_OPENAI_API_KEY } from './keys';
import { countTokens, scriptReply, type ApiKind, type Conversation, type ScriptedReply } from './script';
import { createTlsMaterial, type TlsMaterial } from './tls';

/** `created` timestamps in response bodies: 2025-11-28T00:00:00Z, fixed so bodies are reproducible. */
export const FIXED_CREATED = 1764288000;

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
}

/** What the server sent back for one request. */
export interface RecordedResponse {
  status: number;
  headers: Record<string, string>;
  /** Streamed (SSE or Gemini JSON array, chunked transfer) or not. */
  stream: boolean;
  /** The response body before any Content-Encoding: for streams, every write concatenated. */
  body: Buffer;
  /** For streams: each write, in order (complete SSE events). */
  writes: string[];
  /** Content-Encoding applied to a non-streaming body. */
  encoding?: Encoding;
  /** The encoded body bytes as sent (present when `encoding` is). */
  encodedBody?: Buffer;
  /** Assistant text sent (merged deltas, or the JSON's text): compare with what a tracer reassembled. */
  text: string;
  /** Thinking text sent, if any. */
  thinking: string;
  /** The tool call sent, if any: name and the argument JSON (merged deltas). */
  toolCall?: { name: string; arguments: string };
  /** Every byte was written and the response ended. */
  complete: boolean;
  /** The client went away before the end. */
  aborted: boolean;
}

export interface RecordedRequest {
  /** 1-based arrival order. */
  seq: number;
  /** Unique id sent back as `x-request-id` (and `request-id` for Anthropic). */
  requestId: string;
  /** 1-based number of the TLS connection it came on (the same for keep-alive reuse). */
  connection: number;
  /** The client's port. */
  remotePort: number;
  method: string;
  /** Request target as sent (path and query). */
  url: string;
  path: string;
  query: Record<string, string>;
  httpVersion: string;
  /** Header names lower-cased. */
  headers: IncomingHttpHeaders;
  /** Names and values as sent, alternating. */
  rawHeaders: string[];
  /** The request body as received (after any request Content-Encoding). */
  body: Buffer;
  /** The parsed JSON body, when it is JSON. */
  json?: any;
  /** What it was taken for: an API, `models`, `health`, `count_tokens` or `not_found`. */
  route: ApiKind | 'models' | 'health' | 'count_tokens' | 'not_found' | 'method_not_allowed';
  /** Whose shape the response has. */
  provider?: Provider;
  /** What the scripted model saw, and what it answered (API routes that reached the model). */
  conversation?: Conversation;
  reply?: ScriptedReply;
  response: RecordedResponse;
  /** Epoch ms. */
  startedAt: number;
  finishedAt?: number;
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
  anthropicBaseURL: string;
  openaiBaseURL: string;
  geminiBaseURL: string;
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
  const mod = MODULES[api];
  const b = body as any;
  const conv = mod.parse(b, opts.model ?? b?.model ?? '');
  if (opts.stream !== undefined) conv.stream = opts.stream;
  return scriptReply(conv, { defaultCommand: opts.defaultCommand });
}

const MODULES: Record<ApiKind, ApiModule> = {
  'anthropic.messages': anthropicMessages,
  'openai.chat': openaiChat,
  'openai.responses': openaiResponses,
  gemini,
};

const GEMINI_PATH = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;
const GEMINI_MODEL_PATH = /^\/(v1beta|v1|v1alpha)\/models(?:\/([^/:]+))?$/;

const MODELS = {
  anthropic: [
    ['claude-sonnet-4-6', 'Claude Sonnet 4.6', '2026-02-17T00:00:00Z'],
    ['claude-haiku-4-5-20251001', 'Claude Haiku 4.5', '2025-10-01T00:00:00Z'],
    ['claude-opus-4-7', 'Claude Opus 4.7', '2026-04-16T00:00:00Z'],
  ],
  openai: ['gpt-4o-mini', 'gpt-4.1', 'gpt-5', 'o4-mini'],
  gemini: ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.0-flash'],
} as const;

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const randomB62 = (n: number) => Array.from(randomBytes(n), (b) => B62[b % 62]).join('');

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1';
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Start a stand-in. */
export async function startStandin(opts: StandinOptions = {}): Promise<Standin> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopback(host)) throw new Error(`startStandin: host must be a loopback address (127.0.0.1 or ::1), not ${host}`);
  const chunkDelayMs = opts.chunkDelayMs ?? 2;
  const deltaChars = opts.deltaChars ?? 12;
  const argChars = opts.argChars ?? 6;
  const requireApiKey = opts.requireApiKey ?? true;
  const preference: readonly Encoding[] = opts.compression === false ? [] : opts.compression ?? ['gzip', 'br', 'deflate', 'zstd'];
  const maxBody = opts.maxBodyBytes ?? 32 * 1024 * 1024;
  const ownTls = !opts.tls;
  const tls = opts.tls ?? (await createTlsMaterial({ dir: opts.tlsDir }));
  // Whatever happens to the process, do not leave a private key behind.
  const onExit = () => tls.disposeSync();
  if (ownTls) process.once('exit', onExit);

  const requests: RecordedRequest[] = [];
  /** Responses API tool calls by response id, for previous_response_id. */
  const responseCalls = new Map<string, Map<string, { name: string; input: unknown }>>();
  const sockets = new Set<Socket>();
  let connections = 0;
  const connectionOf = new WeakMap<Socket, number>();

  const server = https.createServer({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' });
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 30_000;
  server.on('secureConnection', (s) => {
    connectionOf.set(s, ++connections);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {
    /* a client that did not trust the CA: nothing to record */
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err) => {
      // Never leave a client hanging on an internal error.
      if (!res.headersSent) {
        const body = Buffer.from(JSON.stringify({ error: { message: String(err?.message ?? err), type: 'server_error', param: null, code: null } }));
        res.writeHead(500, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      } else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'https://standin.invalid');
    const headerId = randomB62(24);
    const rec: RecordedRequest = {
      seq: requests.length + 1,
      requestId: 'req_011C' + headerId,
      connection: connectionOf.get(req.socket) ?? 0,
      remotePort: req.socket.remotePort ?? 0,
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      httpVersion: req.httpVersion,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: Buffer.alloc(0),
      route: 'not_found',
      response: { status: 0, headers: {}, stream: false, body: Buffer.alloc(0), writes: [], text: '', thinking: '', complete: false, aborted: false },
      startedAt: Date.now(),
    };
    requests.push(rec);
    res.on('close', () => {
      if (!rec.response.complete) rec.response.aborted = true;
      rec.finishedAt = Date.now();
      opts.onRequest?.(rec);
    });

    // Body (decoded when the client compressed it).
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > maxBody) tooBig = true;
      else chunks.push(c);
    }
    let body = Buffer.concat(chunks);
    const reqEnc = firstHeader(req.headers['content-encoding'])?.toLowerCase();
    const provider = guessProvider(rec);
    rec.provider = provider;
    if (tooBig) return sendError(rec, res, provider, 413);
    try {
      if (reqEnc === 'gzip') body = zlib.gunzipSync(body);
      else if (reqEnc === 'deflate') body = zlib.inflateSync(body);
      else if (reqEnc === 'br') body = zlib.brotliDecompressSync(body);
    } catch {
      return sendError(rec, res, provider, 400, { message: `Could not decode the ${reqEnc} request body` });
    }
    rec.body = body;

    const { method, path } = rec;
    if (path === '/health' || path === '/healthz') {
      rec.route = 'health';
      if (method !== 'GET' && method !== 'HEAD') return sendError(rec, res, provider, 405);
      return sendJson(rec, res, 200, { status: 'ok' }, { pretty: false, compress: false });
    }

    // Which API?
    let api: ApiKind | undefined;
    let model: string | undefined;
    let geminiStream = false;
    const gm = GEMINI_PATH.exec(path);
    if (path === '/v1/messages') api = 'anthropic.messages';
    else if (path === '/v1/messages/count_tokens') rec.route = 'count_tokens';
    else if (path === '/v1/chat/completions') api = 'openai.chat';
    else if (path === '/v1/responses') api = 'openai.responses';
    else if (gm) {
      model = decodeURIComponent(gm[2]!);
      if (gm[3] === 'countTokens') rec.route = 'count_tokens';
      else {
        api = 'gemini';
        geminiStream = gm[3] === 'streamGenerateContent';
      }
    } else if (path === '/v1/models' || path.startsWith('/v1/models/') || GEMINI_MODEL_PATH.test(path)) {
      rec.route = 'models';
    }
    if (api) rec.route = api;

    if (rec.route === 'not_found') {
      return sendError(rec, res, provider, 404, {
        message: provider === 'openai' ? `Invalid URL (${method} ${path})` : provider === 'anthropic' ? 'Not Found' : undefined,
        code: null,
      });
    }
    const wantMethod = rec.route === 'models' ? 'GET' : 'POST';
    if (method !== wantMethod) {
      rec.route = 'method_not_allowed';
      return sendError(rec, res, provider, 405);
    }

    // Authentication, as the real services check it first.
    const authErr = checkAuth(rec, provider);
    if (authErr) return sendReply(rec, res, authErr);
    if (provider === 'anthropic' && !rec.headers['anthropic-version']) {
      return sendError(rec, res, provider, 400, { message: 'anthropic-version: header is required' });
    }

    if (rec.route === 'models') return sendModels(rec, res, provider);

    // JSON body.
    let json: any;
    try {
      json = JSON.parse(body.toString('utf8'));
      rec.json = json;
    } catch {
      return sendError(rec, res, provider, 400, {
        message: provider === 'openai' ? 'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly.)' : 'Invalid JSON in request body',
      });
    }

    if (rec.route === 'count_tokens') {
      const n = countTokens(JSON.stringify(json));
      return sendJson(rec, res, 200, provider === 'gemini' ? { totalTokens: n, promptTokensDetails: [{ modality: 'TEXT', tokenCount: n }] } : { input_tokens: n }, {
        pretty: provider === 'gemini',
      });
    }
    const mod = MODULES[api!];
    const modelName: string = model ?? (typeof json?.model === 'string' ? json.model : '');

    // Error knobs: model "error-<status>" or header x-standin-error: <status>.
    const knob = /^error-(\d{3})$/.exec(modelName)?.[1] ?? firstHeader(rec.headers['x-standin-error']);
    if (knob && KNOB_STATUSES.includes(Number(knob))) {
      return sendError(rec, res, provider, Number(knob), Number(knob) === 404 && provider === 'openai' ? { message: `The model \`${modelName}\` does not exist or you do not have access to it.` } : {});
    }
    const invalid = mod.validate(json);
    if (invalid) return sendError(rec, res, provider, invalid.status, { message: invalid.message, param: invalid.param, code: invalid.code });

    const conv = mod.parse(json, modelName, (respId, callId) => responseCalls.get(respId)?.get(callId));
    if (api === 'gemini') conv.stream = geminiStream;
    const reply = scriptReply(conv, { defaultCommand: opts.defaultCommand });
    rec.conversation = conv;
    rec.reply = reply;
    const seed = createHash('sha256').update(`${method} ${path}\n`).update(body).digest('hex');
    const ctx: RenderContext = {
      seed,
      created: opts.created === 'now' ? Math.floor(Date.now() / 1000) : opts.created ?? FIXED_CREATED,
      deltaChars: numHeader(rec, 'x-standin-delta-chars') ?? deltaChars,
      argChars,
      body: json,
    };

    if (api === 'openai.responses' && reply.toolCall) {
      const done = openaiResponses.json(conv, reply, ctx) as { id: string; output: { type: string; call_id?: string }[] };
      const fc = done.output.find((o) => o.type === 'function_call');
      if (fc?.call_id) responseCalls.set(done.id, new Map([[fc.call_id, { name: reply.toolCall.name, input: reply.toolCall.input }]]));
    }

    if (conv.stream) {
      const midstream = modelName === 'error-midstream' || firstHeader(rec.headers['x-standin-error']) === 'midstream';
      const jsonArray = api === 'gemini' && rec.query.alt !== 'sse';
      let writes = jsonArray ? geminiJsonArrayWrites(conv, reply, ctx) : mod.stream(conv, reply, ctx);
      if (midstream) writes = cutWithError(writes, provider, api!, jsonArray);
      const contentType = api === 'gemini' ? (rec.query.alt === 'sse' ? 'text/event-stream' : 'application/json; charset=UTF-8') : 'text/event-stream; charset=utf-8';
      return sendStream(rec, res, writes, contentType, numHeader(rec, 'x-standin-delay-ms') ?? chunkDelayMs);
    }
    const out = mod.json(conv, reply, ctx);
    rec.response.text = reply.text;
    rec.response.thinking = visibleThinking(api!, json, reply);
    if (reply.toolCall) rec.response.toolCall = { name: reply.toolCall.name, arguments: reply.toolCall.arguments };
    return sendJson(rec, res, 200, out, { pretty: provider !== 'anthropic' });
  }

  function numHeader(rec: RecordedRequest, name: string): number | undefined {
    const v = firstHeader(rec.headers[name]);
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    return Number.isFinite(n) && n >= 0 ? n : undefined;
  }

  function guessProvider(rec: RecordedRequest): Provider {
    const h = rec.headers;
    if (rec.path.startsWith('/v1beta') || rec.path.startsWith('/v1alpha') || GEMINI_PATH.test(rec.path) || h['x-goog-api-key'] || rec.query.key) return 'gemini';
    if (rec.path.startsWith('/v1/messages') || h['anthropic-version'] || h['x-api-key']) return 'anthropic';
    return 'openai';
  }

  function checkAuth(rec: RecordedRequest, provider: Provider) {
    if (!requireApiKey) return undefined;
    const bearer = /^Bearer\s+(\S+)/i.exec(firstHeader(rec.headers.authorization) ?? '')?.[1];
    if (provider === 'anthropic') {
      if (firstHeader(rec.headers['x-api-key']) || bearer) return undefined;
      return apiError('anthropic', 401, { message: 'x-api-key header is required', requestId: rec.requestId });
    }
    if (provider === 'openai') {
      if (bearer) return undefined;
      return apiError('openai', 401, {
        message:
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (i.e. username:YOUR_KEY) when using HTTPS Basic auth.",
        code: null,
      });
    }
    if (firstHeader(rec.headers['x-goog-api-key']) || rec.query.key || bearer) return undefined;
    return apiError('gemini', 403);
  }

  function sendError(rec: RecordedRequest, res: ServerResponse, provider: Provider, status: number, o: Parameters<typeof apiError>[2] = {}) {
    return sendReply(rec, res, apiError(provider, status, { requestId: rec.requestId, ...o }));
  }

  function sendReply(rec: RecordedRequest, res: ServerResponse, e: ReturnType<typeof apiError>) {
    return sendJson(rec, res, e.status, e.body, { pretty: rec.provider !== 'anthropic', extra: e.headers });
  }

  function sendModels(rec: RecordedRequest, res: ServerResponse, provider: Provider) {
    const id = decodeURIComponent(rec.path.replace(/^\/(v1beta|v1alpha|v1)\/models\/?/, ''));
    if (provider === 'anthropic') {
      const all = MODELS.anthropic.map(([m, display, created]) => ({ type: 'model', id: m, display_name: display, created_at: created }));
      if (id) {
        const one = all.find((m) => m.id === id);
        return one ? sendJson(rec, res, 200, one, { pretty: false }) : sendError(rec, res, provider, 404, { message: `model: ${id}` });
      }
      return sendJson(rec, res, 200, { data: all, has_more: false, first_id: all[0]!.id, last_id: all[all.length - 1]!.id }, { pretty: false });
    }
    if (provider === 'openai') {
      const all = MODELS.openai.map((m) => ({ id: m, object: 'model', created: FIXED_CREATED, owned_by: 'system' }));
      if (id) {
        const one = all.find((m) => m.id === id);
        return one ? sendJson(rec, res, 200, one, { pretty: true }) : sendError(rec, res, provider, 404, { message: `The model '${id}' does not exist`, code: 'model_not_found' });
      }
      return sendJson(rec, res, 200, { object: 'list', data: all }, { pretty: true });
    }
    const all = MODELS.gemini.map((m) => ({
      name: `models/${m}`,
      version: '001',
      displayName: m,
      inputTokenLimit: 1048576,
      outputTokenLimit: 65536,
      supportedGenerationMethods: ['generateContent', 'countTokens'],
    }));
    if (id) {
      const one = all.find((m) => m.name === `models/${id}`);
      return one ? sendJson(rec, res, 200, one, { pretty: true }) : sendError(rec, res, provider, 404, { message: `models/${id} is not found for API version v1beta, or is not supported for generateContent.` });
    }
    return sendJson(rec, res, 200, { models: all }, { pretty: true });
  }

  function baseHeaders(rec: RecordedRequest): Record<string, string> {
    const h: Record<string, string> = { 'x-request-id': rec.requestId };
    if (rec.provider === 'anthropic') {
      h['request-id'] = rec.requestId;
      h['anthropic-organization-id'] = '00000000-0000-4000-8000-a9e175165ad0';
    } else if (rec.provider === 'openai') {
      h['openai-version'] = '2020-10-01';
      h['openai-organization'] = 'user-agentsight-standin';
      h['openai-processing-ms'] = String(Math.max(1, Date.now() - rec.startedAt));
    } else {
      h['vary'] = 'Origin, X-Origin, Referer';
      h['x-content-type-options'] = 'nosniff';
    }
    h['server'] = 'agentsight-standin';
    return h;
  }

  async function sendJson(
    rec: RecordedRequest,
    res: ServerResponse,
    status: number,
    obj: unknown,
    o: { pretty: boolean; compress?: boolean; extra?: Record<string, string> },
  ): Promise<void> {
    const body = Buffer.from(o.pretty ? JSON.stringify(obj, null, 2) + '\n' : JSON.stringify(obj), 'utf8');
    const headers: Record<string, string> = {
      ...baseHeaders(rec),
      'content-type': rec.provider === 'gemini' ? 'application/json; charset=UTF-8' : 'application/json',
      ...(o.extra ?? {}),
    };
    let enc: Encoding | undefined;
    const forced = firstHeader(rec.headers['x-standin-encoding'])?.trim().toLowerCase();
    if (o.compress !== false) {
      if (forced && forced !== 'identity') {
        if (!isEncoding(forced)) {
          return sendJson(rec, res, 400, apiError(rec.provider ?? 'openai', 400, { message: `x-standin-encoding must be one of identity, ${ENCODINGS.join(', ')}` }).body, {
            pretty: false,
            compress: false,
          });
        }
        enc = forced;
      } else if (!forced) enc = negotiate(firstHeader(rec.headers['accept-encoding']), preference);
    }
    let wire: Buffer = body;
    if (enc) {
      wire = await encodeBody(body, enc);
      headers['content-encoding'] = enc;
      headers['vary'] = headers['vary'] ? `${headers['vary']}, Accept-Encoding` : 'Accept-Encoding';
      rec.response.encoding = enc;
      rec.response.encodedBody = wire;
    }
    headers['content-length'] = String(wire.length);
    Object.assign(rec.response, { status, headers, stream: false, body });
    res.writeHead(status, headers);
    res.end(rec.method === 'HEAD' ? undefined : wire, () => {
      rec.response.complete = true;
    });
  }

  async function sendStream(rec: RecordedRequest, res: ServerResponse, writes: StreamWrite[], contentType: string, delayMs: number): Promise<void> {
    const headers: Record<string, string> = { ...baseHeaders(rec), 'content-type': contentType, 'cache-control': 'no-cache' };
    Object.assign(rec.response, { status: 200, headers, stream: true });
    res.writeHead(200, headers);
    const sent: Buffer[] = [];
    let closed = false;
    res.on('close', () => (closed = true));
    for (let i = 0; i < writes.length; i++) {
      if (closed) break;
      const w = writes[i]!;
      const buf = Buffer.from(w.data, 'utf8');
      sent.push(buf);
      rec.response.writes.push(w.data);
      rec.response.body = Buffer.concat(sent);
      if (w.text) rec.response.text += w.text;
      if (w.thinking) rec.response.thinking += w.thinking;
      if (w.args !== undefined) {
        rec.response.toolCall ??= { name: rec.reply?.toolCall?.name ?? '', arguments: '' };
        rec.response.toolCall.arguments += w.args;
      }
      const ok = res.write(buf);
      if (!ok && !closed) await new Promise<void>((r) => res.once('drain', r).once('close', r));
      if (delayMs > 0 && i < writes.length - 1) await new Promise((r) => setTimeout(r, delayMs));
    }
    if (closed) return;
    await new Promise<void>((r) => res.end(r));
    rec.response.complete = true;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://${host === '::1' ? '[::1]' : host}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    host,
    caFile: tls.caFile,
    tls,
    anthropicBaseURL: url,
    openaiBaseURL: `${url}/v1`,
    geminiBaseURL: url,
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
          server.closeAllConnections();
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

const TEST_KEYS = { anthropic: TEST_ANTHROPIC_API_KEY, openai: TEST_OPENAI_API_KEY, gemini: TEST_GEMINI_API_KEY };

/** Cut a stream about half way and end it with the provider's in-stream error event. */
function cutWithError(writes: StreamWrite[], provider: Provider, api: ApiKind, jsonArray: boolean): StreamWrite[] {
  // Cut half way through the writes that carry content, so that part of the reply is missing.
  const carrying = writes.flatMap((w, i) => (w.text || w.thinking || w.args ? [i] : []));
  const cut = carrying.length ? carrying[Math.floor(carrying.length / 2)]! : Math.max(1, Math.floor(writes.length / 2));
  const keep = writes.slice(0, cut);
  const googleError = { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } };
  let data: string;
  if (jsonArray) {
    data = ',\r\n' + JSON.stringify(googleError, null, 2) + '\n]';
  } else if (provider === 'anthropic') {
    data = `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`;
  } else if (api === 'openai.responses') {
    data = `event: error\ndata: ${JSON.stringify({ type: 'error', sequence_number: keep.length, code: 'server_error', message: 'The server had an error while processing your request. Sorry about that!', param: null })}\n\n`;
  } else if (provider === 'openai') {
    data = `data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null } })}\n\n`;
  } else {
    data = `data: ${JSON.stringify(googleError)}\r\n\r\n`;
  }
  return [...keep, { data }];
}

/** The thinking text a non-streaming body shows (reasoning is hidden unless the API shows it). */
function visibleThinking(api: ApiKind, body: any, reply: ScriptedReply): string {
  if (!reply.thinking) return '';
  if (api === 'anthropic.messages') return reply.thinking;
  if (api === 'openai.responses') return typeof body.reasoning?.summary === 'string' ? reply.thinking : '';
  if (api === 'gemini') return body.generationConfig?.thinkingConfig?.includeThoughts === true ? reply.thinking : '';
  return '';
}
