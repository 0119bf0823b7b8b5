/**
 * A connection that switched to WebSocket: after a `101 Switching Protocols`
 * with `Upgrade: websocket` both directions are decoded by lib/http/ws (the
 * client's frames, masked, on the direction that sent the request), and
 * every message becomes a `websocket` event at the time of the ssl event
 * that completed it.
 */
import { redactText } from '../../redact/rules';
import { negotiatedDeflate, type DeflateParams } from '../ws/deflate';
import { WsDecoder, type WsBudget, type WsError, type WsMessage } from '../ws/decoder';
import { parseClose } from '../ws/frame';
import type { WebSocketBase, WebSocketEndData, WsDirection } from '../ws/types';
import type { SslRefs } from '../types';
import { encodeBody, excerpt } from '../util';
import type { ParseContext } from './context';
import { type Conn, type Dir, FUNCTION_OF, type Message, type WsConn } from './state';

/** Does this response switch its connection to WebSocket? */
export function isWebSocketUpgrade(m: Message): boolean {
  return m.head.statusCode === 101 && /(^|,)\s*websocket\s*(,|$)/i.test(m.headers['upgrade'] ?? '');
}

/** Follow connection `c` as WebSocket from now on, after its 101 response `m`. */
export function startWebSocket(ctx: ParseContext, c: Conn, m: Message): void {
  const req = m.request?.summary;
  // the response was read by a client, written by a server
  const clientDir: Dir = m.role === 'client' ? 'write' : 'read';
  const ws = new WebSocketConnection(ctx, c, {
    http_seq: m.seq,
    path: req?.path ?? '',
    host: req?.host ?? null,
    url: req?.url ?? null,
    clientDir,
    deflate: negotiatedDeflate(m.headers['sec-websocket-extensions']),
    protocol: m.headers['sec-websocket-protocol'] ?? null,
    tid: m.tid,
  });
  c.ws = ws;
  ctx.counters.websocket_connections++;
  // what each direction holds past the handshake is already WebSocket
  for (const dir of ['read', 'write'] as const) {
    const rest = c.dirs[dir].parser.handOver();
    if (rest.length) ws.push(dir, rest);
  }
}

interface Upgrade {
  http_seq: number;
  path: string;
  host: string | null;
  url: string | null;
  clientDir: Dir;
  deflate: DeflateParams | null;
  protocol: string | null;
  tid?: number;
}

/** The ssl events that carried a message being received. */
interface Slot {
  refs: SslRefs | null;
}

class WebSocketConnection implements WsConn {
  private readonly decoders: Record<Dir, WsDecoder>;
  private readonly slots: Record<Dir, { data: Slot; control: Slot }>;
  private readonly counts: Record<WsDirection, number> = { client_to_server: 0, server_to_client: 0 };
  private readonly closeSeen: Record<Dir, boolean> = { read: false, write: false };
  private index = 0;
  private ended = false;

  constructor(
    private readonly ctx: ParseContext,
    private readonly c: Conn,
    private readonly up: Upgrade,
  ) {
    const budget: WsBudget = {
      take: (n) => {
        const room = Math.max(0, ctx.config.maxBufferedBytes - ctx.stored);
        const t = Math.min(n, room);
        ctx.stored += t;
        return t;
      },
      release: (n) => {
        ctx.stored -= n;
      },
    };
    const decoder = (dir: Dir) => {
      const fromClient = dir === up.clientDir;
      return new WsDecoder(
        {
          onBegin: (control) => {
            this.slots[dir][control ? 'control' : 'data'].refs = ctx.refsHere();
          },
          onMessage: (msg) => this.onMessage(dir, msg),
          onError: (err) => this.onError(dir, err),
        },
        {
          fromClient,
          deflate: up.deflate ? up.deflate[fromClient ? 'client' : 'server'] : null,
          maxMessageBytes: ctx.config.maxBodyBytes,
          budget,
        },
      );
    };
    this.slots = { read: { data: { refs: null }, control: { refs: null } }, write: { data: { refs: null }, control: { refs: null } } };
    this.decoders = { read: decoder('read'), write: decoder('write') };
  }

  get bufferedBytes(): number {
    return this.decoders.read.heldBytes + this.decoders.write.heldBytes;
  }

  push(dir: Dir, bytes: Buffer): void {
    if (this.ended) {
      // nothing follows the closing handshake
      this.ctx.counters.websocket_bytes_dropped += bytes.length;
      return;
    }
    const seq = this.ctx.ref();
    for (const slot of [this.slots[dir].data, this.slots[dir].control]) {
      const r = slot.refs;
      if (r && r.last_seq !== seq.seq) {
        r.last_seq = seq.seq;
        if (seq.mono !== undefined) r.last_mono_ns = seq.mono;
        r.events++;
      }
    }
    this.decoders[dir].push(bytes);
  }

  gap(dir: Dir, n: number | null): void {
    this.decoders[dir].gap(n);
  }

  close(reason: string): void {
    if (this.ended) return;
    this.decoders.write.end();
    this.decoders.read.end();
    this.end(reason);
  }

  private direction(dir: Dir): WsDirection {
    return dir === this.up.clientDir ? 'client_to_server' : 'server_to_client';
  }

  private base(): WebSocketBase {
    const u = this.up;
    return {
      conn_id: this.c.id,
      role: u.clientDir === 'write' ? 'client' : 'server',
      http_seq: u.http_seq,
      path: u.path,
      host: u.host,
      url: u.url,
      ...(u.tid !== undefined ? { tid: u.tid } : {}),
    };
  }

  /** Text as it goes into an event: masked when it may hold secrets the ssl-level redactor could not see (masked or compressed frames). */
  private text(bytes: Buffer): { text: string; encoding: 'utf8' | 'base64' } {
    const enc = encodeBody(bytes);
    if (this.ctx.config.redactDecoded && enc.encoding === 'utf8') enc.text = redactText(enc.text);
    return enc;
  }

  private onMessage(dir: Dir, msg: WsMessage): void {
    const counters = this.ctx.counters;
    counters.websocket_messages++;
    if (msg.truncated) counters.websocket_messages_truncated++;
    counters.websocket_bytes_dropped += msg.droppedBytes;
    const direction = this.direction(dir);
    this.counts[direction]++;
    const slot = this.slots[dir][msg.kind === 'close' || msg.kind === 'ping' || msg.kind === 'pong' ? 'control' : 'data'];
    const ssl = slot.refs ?? this.ctx.refsHere();
    slot.refs = null;
    let payload = msg.payload;
    let closeCode: number | null | undefined;
    if (msg.kind === 'close') {
      const cl = parseClose(payload);
      closeCode = cl.code;
      payload = cl.reason;
    }
    const enc = this.text(payload);
    this.ctx.emitWebSocket(this.c, {
      type: 'message',
      ...this.base(),
      index: this.index++,
      direction,
      opcode: msg.kind,
      data: enc.text,
      data_encoding: enc.encoding,
      size: msg.size,
      wire_size: msg.wireSize,
      frames: msg.frames,
      compressed: msg.compressed,
      fragmented: msg.frames > 1,
      truncated: msg.truncated,
      dropped_bytes: msg.droppedBytes,
      ...(closeCode !== undefined ? { close_code: closeCode } : {}),
      ...(msg.decodeError ? { decode_error: msg.decodeError } : {}),
      incomplete: msg.incomplete !== undefined,
      ...(msg.incomplete !== undefined ? { incomplete_reason: msg.incomplete } : {}),
      ssl,
    });
    if (msg.kind === 'close' && !msg.incomplete) {
      this.closeSeen[dir] = true;
      if (this.closeSeen.read && this.closeSeen.write) this.end('closed');
    }
  }

  private onError(dir: Dir, err: WsError): void {
    this.ctx.counters.websocket_errors++;
    const x = excerpt(err.excerpt);
    this.ctx.emitWebSocket(this.c, {
      type: 'parse_error',
      ...this.base(),
      direction: this.direction(dir),
      function: FUNCTION_OF[dir],
      kind: err.kind,
      message: err.message,
      offset: err.offset,
      excerpt_hex: x.hex,
      excerpt_text: x.text,
      fatal: err.fatal,
    });
  }

  private end(reason: string): void {
    this.ended = true;
    const stopped: WebSocketEndData['stopped'] = {};
    let ignored = 0;
    for (const dir of ['write', 'read'] as const) {
      const d = this.decoders[dir];
      ignored += d.ignoredBytes;
      const why = d.stoppedBy;
      if (why && why !== 'stream ended') stopped[this.direction(dir)] = why;
    }
    this.ctx.counters.websocket_bytes_dropped += ignored;
    const df = this.up.deflate;
    this.ctx.emitWebSocket(this.c, {
      type: 'end',
      ...this.base(),
      reason,
      messages: { ...this.counts },
      stopped,
      ignored_bytes: ignored,
      deflate: df
        ? {
            client_no_context_takeover: df.client.noContextTakeover,
            server_no_context_takeover: df.server.noContextTakeover,
            client_max_window_bits: df.client.windowBits,
            server_max_window_bits: df.server.windowBits,
          }
        : null,
      protocol: this.up.protocol,
    });
  }
}
