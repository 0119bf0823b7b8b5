/**
 * Sending the stand-in's answers: JSON bodies (with negotiated or forced
 * Content-Encoding), streams (one write per event, paced), API errors in the
 * provider's shape; each provider's response headers. Everything sent is
 * noted in the request's record.
 */
import type { ServerResponse } from 'node:http';
import type { StreamWrite } from './apis/types';
import { encodeBody, ENCODINGS, isEncoding, negotiate, type Encoding } from './encoding';
import { apiError, type ApiErrorOptions, type ApiErrorReply, type Provider } from './errors';
import { firstHeader, recordWrite, type RecordedRequest } from './recording';

/** Options of one JSON answer. */
export interface JsonOptions {
  /** Pretty-printed (OpenAI and Google) or compact (Anthropic). */
  pretty: boolean;
  /** May be content-encoded (default true). */
  compress?: boolean;
  extra?: Record<string, string>;
}

/** The headers every answer of the request's provider has. */
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

export class Responder {
  /** @param preference Content-Encodings of JSON bodies, in order of preference (empty: identity unless forced). */
  constructor(private readonly preference: readonly Encoding[]) {}

  /** An API error in `provider`'s shape. */
  error(rec: RecordedRequest, res: ServerResponse, provider: Provider, status: number, o: ApiErrorOptions = {}): Promise<void> {
    return this.reply(rec, res, apiError(provider, status, { requestId: rec.requestId, ...o }));
  }

  reply(rec: RecordedRequest, res: ServerResponse, e: ApiErrorReply): Promise<void> {
    return this.json(rec, res, e.status, e.body, { pretty: rec.provider !== 'anthropic', extra: e.headers });
  }

  async json(rec: RecordedRequest, res: ServerResponse, status: number, obj: unknown, o: JsonOptions): Promise<void> {
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
          return this.json(
            rec,
            res,
            400,
            apiError(rec.provider ?? 'openai', 400, { message: `x-standin-encoding must be one of identity, ${ENCODINGS.join(', ')}` }).body,
            {
              pretty: false,
              compress: false,
            },
          );
        }
        enc = forced;
      } else if (!forced) enc = negotiate(firstHeader(rec.headers['accept-encoding']), this.preference);
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

  /** A 200 stream: the writes in order, `delayMs` apart, until the client goes away. */
  async stream(rec: RecordedRequest, res: ServerResponse, writes: StreamWrite[], contentType: string, delayMs: number): Promise<void> {
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
      recordWrite(rec, w, sent);
      const ok = res.write(buf);
      if (!ok && !closed) await new Promise<void>((r) => res.once('drain', r).once('close', r));
      if (delayMs > 0 && i < writes.length - 1) await new Promise((r) => setTimeout(r, delayMs));
    }
    if (closed) return;
    await new Promise<void>((r) => res.end(r));
    rec.response.complete = true;
  }
}
