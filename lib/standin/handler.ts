/**
 * The stand-in's request handling: record the request, read and decode its
 * body, route it, check it as the real service would (method, credentials,
 * JSON, the API's own validation, the error knobs), and answer with the
 * scripted model's reply in the API's wire format.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import type { ApiModule, RenderContext, StreamWrite } from './apis/types';
import { KNOB_STATUSES, type Provider } from './errors';
import { firstHeader, newRecord, numHeader, type RecordedRequest } from './recording';
import { Responder } from './respond';
import { checkAuth, guessProvider, modelsAnswer, routeOf, type Routed } from './routes';
import { countTokens, scriptReply, type Conversation, type ScriptedReply } from './script';

/** What the handler needs of the server's options (defaults applied). */
export interface HandlerConfig {
  chunkDelayMs: number;
  deltaChars: number;
  argChars: number;
  requireApiKey: boolean;
  maxBodyBytes: number;
  defaultCommand?: string;
  created: number | 'now';
  onRequest?: (r: RecordedRequest) => void;
}

const OPENAI_BAD_JSON = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)";

/** The body of a request, up to `max` bytes (what is beyond is read and dropped). */
async function readBody(req: IncomingMessage, max: number): Promise<{ body: Buffer; tooBig: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > max) tooBig = true;
    else chunks.push(c);
  }
  return { body: Buffer.concat(chunks), tooBig };
}

/** A request body without its Content-Encoding (gzip, deflate, br); throws when it does not decode. */
function decodeBody(body: Buffer, encoding: string | undefined): Buffer {
  if (encoding === 'gzip') return zlib.gunzipSync(body);
  if (encoding === 'deflate') return zlib.inflateSync(body);
  if (encoding === 'br') return zlib.brotliDecompressSync(body);
  return body;
}

/** Cut a stream about half way through the writes that carry content, and end it with the API's in-stream error. */
function cutWithError(writes: StreamWrite[], errorWrite: (kept: number) => string): StreamWrite[] {
  const carrying = writes.flatMap((w, i) => (w.text || w.thinking || w.args ? [i] : []));
  const cut = carrying.length ? carrying[Math.floor(carrying.length / 2)]! : Math.max(1, Math.floor(writes.length / 2));
  const keep = writes.slice(0, cut);
  return [...keep, { data: errorWrite(keep.length) }];
}

/** Answers requests and keeps their records. */
export class RequestHandler {
  /** Every request so far, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** Tool calls of earlier responses, by response id (Responses API previous_response_id). */
  private readonly responseCalls = new Map<string, Map<string, { name: string; input: unknown }>>();
  private readonly send: Responder;

  constructor(
    private readonly cfg: HandlerConfig,
    preference: ConstructorParameters<typeof Responder>[0],
    private readonly connectionOf: (req: IncomingMessage) => number,
  ) {
    this.send = new Responder(preference);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rec = newRecord(req, this.requests.length + 1, this.connectionOf(req));
    this.requests.push(rec);
    res.on('close', () => {
      if (!rec.response.complete) rec.response.aborted = true;
      rec.finishedAt = Date.now();
      this.cfg.onRequest?.(rec);
    });
    const { body, tooBig } = await readBody(req, this.cfg.maxBodyBytes);
    const reqEnc = firstHeader(req.headers['content-encoding'])?.toLowerCase();
    const provider = guessProvider(rec);
    rec.provider = provider;
    if (tooBig) return this.send.error(rec, res, provider, 413);
    try {
      rec.body = decodeBody(body, reqEnc);
    } catch {
      return this.send.error(rec, res, provider, 400, { message: `Could not decode the ${reqEnc} request body` });
    }
    return this.dispatch(rec, res, provider);
  }

  private async dispatch(rec: RecordedRequest, res: ServerResponse, provider: Provider): Promise<void> {
    const { method, path } = rec;
    if (path === '/health' || path === '/healthz') {
      rec.route = 'health';
      if (method !== 'GET' && method !== 'HEAD') return this.send.error(rec, res, provider, 405);
      return this.send.json(rec, res, 200, { status: 'ok' }, { pretty: false, compress: false });
    }
    const routed = routeOf(path);
    rec.route = routed.route;
    if (rec.route === 'not_found') {
      return this.send.error(rec, res, provider, 404, {
        message: provider === 'openai' ? `Invalid URL (${method} ${path})` : provider === 'anthropic' ? 'Not Found' : undefined,
        code: null,
      });
    }
    if (method !== (rec.route === 'models' ? 'GET' : 'POST')) {
      rec.route = 'method_not_allowed';
      return this.send.error(rec, res, provider, 405);
    }

    // Authentication, as the real services check it first.
    const authErr = this.cfg.requireApiKey ? checkAuth(rec, provider) : undefined;
    if (authErr) return this.send.reply(rec, res, authErr);
    if (provider === 'anthropic' && !rec.headers['anthropic-version']) {
      return this.send.error(rec, res, provider, 400, { message: 'anthropic-version: header is required' });
    }

    if (rec.route === 'models') {
      const m = modelsAnswer(rec, provider);
      return m.found ? this.send.json(rec, res, 200, m.body, { pretty: m.pretty }) : this.send.error(rec, res, provider, 404, m.error);
    }

    let json: any;
    try {
      json = JSON.parse(rec.body.toString('utf8'));
      rec.json = json;
    } catch {
      return this.send.error(rec, res, provider, 400, { message: provider === 'openai' ? OPENAI_BAD_JSON : 'Invalid JSON in request body' });
    }

    if (rec.route === 'count_tokens') {
      const n = countTokens(JSON.stringify(json));
      return this.send.json(
        rec,
        res,
        200,
        provider === 'gemini' ? { totalTokens: n, promptTokensDetails: [{ modality: 'TEXT', tokenCount: n }] } : { input_tokens: n },
        {
          pretty: provider === 'gemini',
        },
      );
    }
    if (!routed.mod) throw new Error(`no API module for route ${rec.route}`);
    return this.answer(rec, res, provider, routed.mod, routed, json);
  }

  /**
   * The scripted model's reply to a request body that passed the checks, and
   * how to render it (noted in the record; tool calls remembered for
   * previous_response_id). `stream`: what the path says about streaming.
   */
  script(
    rec: RecordedRequest,
    mod: ApiModule,
    modelName: string,
    json: any,
    stream?: boolean,
  ): { conv: Conversation; reply: ScriptedReply; ctx: RenderContext } {
    const conv = mod.parse(json, modelName, (respId, callId) => this.responseCalls.get(respId)?.get(callId));
    if (stream !== undefined) conv.stream = stream;
    const reply = scriptReply(conv, { defaultCommand: this.cfg.defaultCommand });
    rec.conversation = conv;
    rec.reply = reply;
    const ctx: RenderContext = {
      seed: createHash('sha256').update(`${rec.method} ${rec.path}\n`).update(rec.body).digest('hex'),
      created: this.cfg.created === 'now' ? Math.floor(Date.now() / 1000) : this.cfg.created,
      deltaChars: numHeader(rec, 'x-standin-delta-chars') ?? this.cfg.deltaChars,
      argChars: this.cfg.argChars,
      body: json,
    };
    const remembered = mod.remember?.(conv, reply, ctx);
    if (remembered) this.responseCalls.set(remembered.responseId, remembered.calls);
    return { conv, reply, ctx };
  }

  /** An API call that got through the checks: the error knobs, the API's validation, then the scripted reply. */
  private async answer(rec: RecordedRequest, res: ServerResponse, provider: Provider, mod: ApiModule, routed: Routed, json: any): Promise<void> {
    const modelName: string = routed.model ?? (typeof json?.model === 'string' ? json.model : '');

    // Error knobs: model "error-<status>" or header x-standin-error: <status>.
    const knob = /^error-(\d{3})$/.exec(modelName)?.[1] ?? firstHeader(rec.headers['x-standin-error']);
    if (knob && KNOB_STATUSES.includes(Number(knob))) {
      return this.send.error(
        rec,
        res,
        provider,
        Number(knob),
        Number(knob) === 404 && provider === 'openai' ? { message: `The model \`${modelName}\` does not exist or you do not have access to it.` } : {},
      );
    }
    const invalid = mod.validate(json);
    if (invalid) return this.send.error(rec, res, provider, invalid.status, { message: invalid.message, param: invalid.param, code: invalid.code });

    const { conv, reply, ctx } = this.script(rec, mod, modelName, json, routed.stream);

    if (conv.stream) {
      const out = mod.streamed(conv, reply, ctx, rec.query);
      const midstream = modelName === 'error-midstream' || firstHeader(rec.headers['x-standin-error']) === 'midstream';
      const writes = midstream ? cutWithError(out.writes, out.errorWrite) : out.writes;
      const sent = midstream ? null : mod.usage(conv, reply, ctx);
      if (sent) rec.response.usage = sent;
      return this.send.stream(rec, res, writes, out.contentType, numHeader(rec, 'x-standin-delay-ms') ?? this.cfg.chunkDelayMs);
    }
    rec.response.text = reply.text;
    rec.response.thinking = mod.visibleThinking(json, reply);
    if (reply.toolCall) rec.response.toolCall = { name: reply.toolCall.name, arguments: reply.toolCall.arguments };
    const sent = mod.usage(conv, reply, ctx);
    if (sent) rec.response.usage = sent;
    return this.send.json(rec, res, 200, mod.json(conv, reply, ctx), { pretty: provider !== 'anthropic' });
  }
}
