/**
 * The Responses API over WebSocket: `GET /v1/responses` with `Upgrade:
 * websocket` (node's http upgrade event; the handshake of RFC 6455 section
 * 4.2, permessage-deflate accepted as offered), then every
 * `{"type": "response.create", ...}` text message is answered with the
 * events the same request gets over SSE, one text message each, paced like
 * the SSE writes. Errors (a bad message, the error knobs) are `error`
 * events; the connection stays open for the next request. Client frames are
 * read by the decoder agentsight itself uses (lib/http/ws); every call is
 * recorded like an HTTP request.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import { negotiatedDeflate, parseExtensions, type DeflateDirection } from '../http/ws/deflate';
import { WsDecoder, type WsMessage } from '../http/ws/decoder';
import { closePayload, encodeFrame, OPCODE, parseClose } from '../http/ws/frame';
import { openaiResponses } from './apis/openai-responses';
import { apiError, KNOB_STATUSES } from './errors';
import type { HandlerConfig, RequestHandler } from './handler';
import { firstHeader, newRecord, recordWrite } from './recording';
import { checkAuth } from './routes';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The Sec-WebSocket-Accept of a Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** The data of an SSE event write (`event: x\ndata: {...}\n\n`): the JSON text. */
function sseData(write: string): string {
  return write
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6))
    .join('\n');
}

/** The permessage-deflate answer to a client's offer: the header value and the server's compressor (null: declined). */
function acceptDeflate(offer: string | undefined): { header: string; server: DeflateDirection; client: DeflateDirection } | null {
  const ext = parseExtensions(offer).find((e) => e.name === 'permessage-deflate');
  if (!ext) return null;
  const p = ext.params;
  const parts = ['permessage-deflate'];
  if (p.server_no_context_takeover) parts.push('server_no_context_takeover');
  if (p.client_no_context_takeover) parts.push('client_no_context_takeover');
  if (typeof p.server_max_window_bits === 'string') {
    // zlib cannot compress with an 8-bit raw window: decline rather than break the promise
    if (Number(p.server_max_window_bits) < 9) return null;
    parts.push(`server_max_window_bits=${p.server_max_window_bits}`);
  }
  if (typeof p.client_max_window_bits === 'string') parts.push(`client_max_window_bits=${p.client_max_window_bits}`);
  const header = parts.join('; ');
  const agreed = negotiatedDeflate(header) as NonNullable<ReturnType<typeof negotiatedDeflate>>;
  return { header, ...agreed };
}

/** Compresses one connection's messages (a persistent context unless the client asked for none). */
class MessageDeflater {
  private stream: zlib.DeflateRaw | null = null;

  constructor(private readonly dir: DeflateDirection) {}

  async compress(payload: Buffer): Promise<Buffer> {
    if (!this.stream || this.dir.noContextTakeover) {
      this.stream?.close();
      this.stream = zlib.createDeflateRaw({ windowBits: this.dir.windowBits });
    }
    const s = this.stream;
    const parts: Buffer[] = [];
    const onData = (c: Buffer) => parts.push(c);
    s.on('data', onData);
    s.write(payload);
    await new Promise<void>((r) => s.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    s.off('data', onData);
    const out = Buffer.concat(parts);
    // the sync flush's 00 00 ff ff is left for the receiver to put back (RFC 7692 section 7.2.1)
    return out.subarray(0, out.length - 4);
  }

  close(): void {
    this.stream?.close();
  }
}

/** Serves the Responses API's WebSocket transport on a server's upgrade event. */
export class WebSocketEndpoint {
  constructor(
    private readonly handler: RequestHandler,
    private readonly cfg: HandlerConfig,
    private readonly connectionOf: (req: IncomingMessage) => number,
    private readonly deflate: boolean,
  ) {}

  /** An upgrade request (`head`: bytes that came after its head). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      socket.end(
        `HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : status === 401 ? 'Unauthorized' : 'Not Found'}\r\n` +
          `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
      );
    };
    const rec = newRecord(req, 0, this.connectionOf(req));
    if (rec.path !== '/v1/responses' || req.method !== 'GET')
      return refuse(404, apiError('openai', 404, { message: `Invalid URL (${req.method} ${rec.path})` }).body);
    const key = firstHeader(req.headers['sec-websocket-key']);
    if (!/websocket/i.test(firstHeader(req.headers.upgrade) ?? '') || !key || firstHeader(req.headers['sec-websocket-version']) !== '13') {
      return refuse(400, apiError('openai', 400, { message: 'A WebSocket handshake (version 13) was expected' }).body);
    }
    rec.provider = 'openai';
    const authErr = this.cfg.requireApiKey ? checkAuth(rec, 'openai') : undefined;
    if (authErr) return refuse(authErr.status, authErr.body);
    const pmd = this.deflate ? acceptDeflate(firstHeader(req.headers['sec-websocket-extensions'])) : null;
    const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptKey(key)}`];
    if (pmd) lines.push(`Sec-WebSocket-Extensions: ${pmd.header}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    new WebSocketSession(this.handler, this.cfg, req, rec.connection, socket, pmd).start(head);
  }
}

/** One WebSocket connection of the stand-in. */
class WebSocketSession {
  private readonly decoder: WsDecoder;
  private readonly deflater: MessageDeflater | null;
  private sending: Promise<void> = Promise.resolve();
  /** Calls answered one after the other, in arrival order. */
  private answering: Promise<void> = Promise.resolve();
  /** The socket closed. */
  private closed = false;
  /** A close frame was sent: nothing else is. */
  private closing = false;
  private calls = 0;

  constructor(
    private readonly handler: RequestHandler,
    private readonly cfg: HandlerConfig,
    private readonly req: IncomingMessage,
    private readonly connection: number,
    private readonly socket: Duplex,
    pmd: ReturnType<typeof acceptDeflate>,
  ) {
    this.deflater = pmd ? new MessageDeflater(pmd.server) : null;
    this.decoder = new WsDecoder(
      { onBegin: () => undefined, onMessage: (m) => this.onMessage(m), onError: (e) => (e.fatal ? this.close(1002, 'protocol error') : undefined) },
      { fromClient: true, deflate: pmd?.client ?? null, maxMessageBytes: cfg.maxBodyBytes },
    );
  }

  start(head: Buffer): void {
    this.socket.on('data', (d: Buffer) => this.decoder.push(d));
    this.socket.on('close', () => {
      this.closed = true;
      this.deflater?.close();
    });
    this.socket.on('error', () => undefined);
    if (head.length) this.decoder.push(head);
  }

  /** Send one message (compressed when permessage-deflate is on), after those before it. */
  private send(opcode: number, payload: Buffer): Promise<void> {
    this.sending = this.sending.then(async () => {
      if (this.closed || (this.closing && opcode !== OPCODE.close)) return;
      const compress = this.deflater !== null && (opcode === OPCODE.text || opcode === OPCODE.binary);
      const body = compress ? await (this.deflater as MessageDeflater).compress(payload) : payload;
      if (this.closed) return;
      await new Promise<void>((r) => this.socket.write(encodeFrame({ opcode, payload: body, rsv1: compress }), () => r()));
    });
    return this.sending;
  }

  private close(code: number, reason: string): void {
    if (this.closed || this.closing) return;
    void this.send(OPCODE.close, closePayload(code, reason)).then(() => this.socket.end());
    this.closing = true;
  }

  private onMessage(m: WsMessage): void {
    if (m.kind === 'ping') void this.send(OPCODE.pong, m.payload);
    else if (m.kind === 'close') {
      const { code } = parseClose(m.payload);
      this.close(code ?? 1000, '');
    } else if (m.kind === 'text') {
      const text = m.payload.toString('utf8');
      this.answering = this.answering.then(() => this.answer(text)).catch(() => this.close(1011, 'internal error'));
    }
  }

  /** Answer one text message: a response.create gets the scripted events, anything else an error event. */
  private async answer(text: string): Promise<void> {
    const rec = newRecord(this.req, this.handler.requests.length + 1, this.connection);
    this.handler.requests.push(rec);
    rec.provider = 'openai';
    rec.route = 'openai.responses';
    rec.websocket = { message: this.calls++ };
    rec.body = Buffer.from(text, 'utf8');
    Object.assign(rec.response, { status: 101, stream: true });
    const sent: Buffer[] = [];
    const event = async (data: string, w: { text?: string; thinking?: string; args?: string } = {}) => {
      const buf = Buffer.from(data, 'utf8');
      sent.push(buf);
      recordWrite(rec, { ...w, data }, sent);
      await this.send(OPCODE.text, buf);
    };
    const error = (status: number, message?: string, param?: string, code?: string) => {
      const body = apiError('openai', status, { message, param, code }).body as { error: Record<string, unknown> };
      return event(JSON.stringify({ type: 'error', status, error: body.error }));
    };
    try {
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        return await error(400, 'The message is not valid JSON.');
      }
      if (json?.type !== 'response.create') return await error(400, `Unknown message type: ${JSON.stringify(json?.type ?? null)}.`, 'type');
      const { type: _type, ...body } = json;
      rec.json = body;
      const modelName = typeof body.model === 'string' ? body.model : '';
      const knob = /^error-(\d{3})$/.exec(modelName)?.[1];
      if (knob && KNOB_STATUSES.includes(Number(knob))) return await error(Number(knob));
      const invalid = openaiResponses.validate(body);
      if (invalid) return await error(invalid.status, invalid.message, invalid.param, invalid.code);
      // the transport always streams
      const { conv, reply, ctx } = this.handler.script(rec, openaiResponses, modelName, body, true);
      rec.response.usage = openaiResponses.usage(conv, reply, ctx) ?? undefined;
      const writes = openaiResponses.stream(conv, reply, ctx);
      for (let i = 0; i < writes.length && !this.closed && !this.closing; i++) {
        const w = writes[i]!;
        await event(sseData(w.data), w);
        if (this.cfg.chunkDelayMs > 0 && i < writes.length - 1) await new Promise((r) => setTimeout(r, this.cfg.chunkDelayMs));
      }
    } finally {
      rec.response.complete = !this.closed && !this.closing;
      rec.response.aborted = !rec.response.complete;
      rec.finishedAt = Date.now();
      this.cfg.onRequest?.(rec);
    }
  }
}
