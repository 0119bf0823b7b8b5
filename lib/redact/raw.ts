/**
 * Secrets in raw TLS plaintext, per connection and direction.
 *
 * Each direction's bytes are followed with the HTTP/1 framing parser of the
 * HTTP analyzer (lib/http/stream.ts), only to know what each byte is: a
 * header block, body bytes (chunk framing removed), or chunk framing. The
 * text that is scanned is the bytes without their chunk framing, so a key
 * broken by a `\r\n<size>\r\n` line is found whole; streamed answers are
 * also read through their JSON deltas (lib/redact/sse-view.ts); bytes of a
 * compressed body (gzip, br, zstd, deflate) cannot be searched and are
 * replaced. Bytes that are not HTTP/1 (HTTP/2, other protocols) are scanned
 * as they are. All masking is length-preserving.
 */
import type { ParsedHead } from '../http/head';
import { parseCodings } from '../http/decode';
import { bodyFraming } from '../http/parser/message';
import { isInterim } from '../http/parser/pairing';
import { Http1Stream, type BodyFraming } from '../http/stream';
import { headerRecord, mediaType } from '../http/util';
import { sniff } from '../http/parser/h2';
import { RawH2Connection } from './raw-h2';
import { remask, WsRawDirection, type WsSegment } from './raw-ws';
import { applyRanges } from './mask';
import { SseDeltaView } from './sse-view';
import { mapRanges, TextStream, type ViewMap } from './stream';
import type { Finding, Range } from './types';

export type Direction = 'write' | 'read';

interface MessageState {
  compressed: boolean;
  sse: SseDeltaView | null;
  chunked: boolean;
}

/** What the framing parser said about bytes of the piece, in order. */
type Mark = { t: 'head' | 'body'; start: number; end: number; msg: MessageState } | { t: 'end'; at: number };

/** What raw masking of one piece found. */
export interface RawResult {
  /** Ranges of the piece to mask with "[REDACTED]***" (length-preserving). */
  ranges: Range[];
  /** What was found (kinds; positions in the scanned view). */
  findings: Finding[];
  /** Ranges of compressed body bytes, to be replaced whole. */
  compressed: Range[];
  /** Bytes to write over the piece (masked WebSocket payloads, masked then masked again with the frame's key). */
  rewrites: Array<{ start: number; bytes: Buffer }>;
}

class RawDirection {
  readonly http: Http1Stream;
  readonly text: TextStream;
  private msg: MessageState = { compressed: false, sse: null, chunked: false };
  /** Inside a chunked body between its head and its end: bytes that are not body are framing. */
  inChunked = false;
  marks: Mark[] = [];
  /** The first bytes while they may still be the HTTP/2 preface (null once decided). */
  private first: Buffer | null = Buffer.alloc(0);
  /** After a WebSocket upgrade: its frames, from stream position `wsFrom` on. */
  ws: WsRawDirection | null = null;
  wsFrom = 0;

  constructor(
    private readonly conn: RawConnection,
    readonly dir: Direction,
    carry: number,
  ) {
    this.text = new TextStream(carry);
    this.http = new Http1Stream(
      {
        onHead: (head, raw) => this.onHead(head, raw.length),
        onBody: (bytes) => {
          const end = this.consumed();
          this.marks.push({ t: 'body', start: end - bytes.length, end, msg: this.msg });
        },
        onEnd: () => this.marks.push({ t: 'end', at: this.consumed() }),
        onError: () => undefined,
        onDiscard: () => undefined,
        onBodyHole: () => undefined,
      },
      { maxHeaderBytes: 64 * 1024 },
    );
  }

  /** Stream offset of the first byte the framing parser has not consumed. */
  consumed(): number {
    return this.http.position - this.http.bufferedBytes;
  }

  private onHead(head: ParsedHead, length: number): BodyFraming | { error: string } {
    const end = this.consumed();
    const headers = headerRecord(head.fields);
    let framing: BodyFraming | { error: string };
    if (head.kind === 'request') {
      this.conn.methods.push(head.method ?? '');
      if (this.conn.methods.length > 64) this.conn.methods.shift();
      framing = bodyFraming(headers, { mode: 'none' });
    } else if (isInterim(head)) {
      framing = { mode: 'none' };
    } else {
      const method = this.conn.methods.shift();
      const status = head.statusCode ?? 0;
      const upgrade = status === 101 || (method === 'CONNECT' && status >= 200 && status < 300);
      if (upgrade) this.conn.upgrade(status === 101 && /websocket/i.test(headers['upgrade'] ?? '') ? this : null, end);
      framing = method === 'HEAD' || status === 204 || status === 304 || upgrade ? { mode: 'none' } : bodyFraming(headers, { mode: 'close' });
    }
    const compressed = parseCodings(headers['content-encoding']).length > 0;
    const sse = !compressed && mediaType(headers['content-type']) === 'text/event-stream';
    this.msg = { compressed, sse: sse ? new SseDeltaView() : null, chunked: !('error' in framing) && framing.mode === 'chunked' };
    this.marks.push({ t: 'head', start: end - length, end, msg: this.msg });
    return framing;
  }

  /** Mask one piece of this direction's stream. */
  push(bytes: Buffer, lost: number | null | undefined): RawResult {
    if (this.first !== null && !this.conn.h2 && bytes.length) {
      // HTTP/2: the client's preface (once all of it is there), or a server's first SETTINGS frame
      const seen = Buffer.concat([this.first, bytes]);
      const kind = sniff(seen);
      if (kind === 'preface' || kind === 'maybe-settings') {
        const h2 = this.conn.startH2(kind === 'preface' ? this.dir : this.dir === 'write' ? 'read' : 'write');
        // what came before was passed on already (a part of the preface): the session reads it first
        if (this.first.length) h2.push(this.dir === this.conn.clientDir ? 'client' : 'server', this.first);
      }
      this.first = kind === 'maybe-preface' ? seen : null;
    }
    if (this.conn.h2) return this.pushH2(this.conn.h2, bytes, lost);
    const start = this.http.position;
    const wsBefore = this.ws;
    this.marks = [];
    this.http.push(bytes);
    const marks = this.marks;
    const all = start + bytes.length;
    // WebSocket frames from where the upgrade ended (the start, for a connection upgraded before)
    const wsAt = this.ws ? (wsBefore ? start : Math.max(start, Math.min(all, this.wsFrom))) : all;
    const end = wsAt;
    // the view: everything but chunk framing and compressed bodies
    const map: ViewMap = { viewStarts: [], origStarts: [], lengths: [] };
    const compressed: Range[] = [];
    const sseRanges: Range[] = [];
    const text = bytes.toString('latin1');
    let view = '';
    let pos = start;
    const take = (a: number, b: number) => {
      if (b <= a) return;
      map.viewStarts.push(view.length);
      map.origStarts.push(a - start);
      map.lengths.push(b - a);
      view += text.slice(a - start, b - start);
    };
    const gap = (to: number) => {
      // bytes no mark describes: framing inside a chunked body, text anywhere else
      if (to > pos && !this.inChunked) take(pos, to);
      pos = Math.max(pos, to);
    };
    for (const mk of marks) {
      if (mk.t === 'end') {
        gap(Math.min(mk.at, end));
        this.inChunked = false;
        continue;
      }
      const a = Math.max(mk.start, start);
      const b = Math.min(mk.end, end);
      gap(a);
      const sse = mk.msg.sse;
      if (mk.t === 'body' && mk.msg.compressed) compressed.push({ start: a - start, end: b - start });
      else {
        take(a, b);
        if (mk.t === 'body' && sse)
          for (const r of sse.push(text.slice(a - start, b - start), a)) sseRanges.push({ start: r.start - start, end: r.end - start });
      }
      pos = Math.max(pos, b);
      if (mk.t === 'head' && mk.msg.chunked) this.inChunked = true;
    }
    gap(end);
    const masked: WsSegment[] = [];
    if (this.ws && wsAt < all) {
      const w = this.ws.push(bytes, wsAt - start);
      for (const g of w.segments) {
        if (g.mask) masked.push(g);
        map.viewStarts.push(view.length);
        map.origStarts.push(g.start);
        map.lengths.push(g.end - g.start);
        view += g.text;
      }
      for (const r of w.replace) compressed.push(r);
    }
    const viewText = map.lengths.length === 1 && map.lengths[0] === text.length && !this.ws ? text : view;
    const findings = this.text.push(viewText);
    const ranges = mapRanges(findings, map);
    for (const r of sseRanges) if (r.end > 0 && r.start < bytes.length) ranges.push({ start: Math.max(0, r.start), end: Math.min(bytes.length, r.end) });
    if (lost !== undefined) this.lose(lost);
    return {
      ranges: masked.length ? ranges.filter((r) => !masked.some((g) => r.start >= g.start && r.end <= g.end)) : ranges,
      findings,
      compressed,
      rewrites: rewritesOf(masked, ranges),
    };
  }

  /** A piece of an HTTP/2 connection: its frames followed (lib/redact/raw-h2.ts), or searched as text once they cannot be. */
  private pushH2(h2: RawH2Connection, bytes: Buffer, lost: number | null | undefined): RawResult {
    const side = this.dir === this.conn.clientDir ? 'client' : 'server';
    const followed = h2.followed(side);
    const r = followed ? h2.push(side, bytes) : { ranges: [], replace: [], rewrites: [] };
    let findings: Finding[] = [];
    if (!followed || !h2.followed(side)) {
      findings = this.text.push(bytes.toString('latin1'));
      for (const f of findings) r.ranges.push({ start: f.start, end: f.end });
    }
    if (lost !== undefined) {
      h2.lose(side);
      this.text.reset();
    }
    return { ranges: r.ranges, findings, compressed: r.replace, rewrites: r.rewrites };
  }

  /** The tracer lost bytes after this piece. */
  private lose(n: number | null): void {
    this.http.gap(n);
    this.text.reset();
  }
}

/** Masked WebSocket payloads with what was found in them masked, as bytes to write back (masked with their key again). */
function rewritesOf(segments: WsSegment[], ranges: Range[]): Array<{ start: number; bytes: Buffer }> {
  const out: Array<{ start: number; bytes: Buffer }> = [];
  for (const g of segments) {
    const mine: Range[] = [];
    for (const r of ranges)
      if (r.end > g.start && r.start < g.end) mine.push({ start: Math.max(r.start, g.start) - g.start, end: Math.min(r.end, g.end) - g.start });
    if (mine.length === 0 || !g.mask) continue;
    out.push({ start: g.start, bytes: remask(g as WsSegment & { mask: { key: Buffer; at: number } }, applyRanges(g.text, mine)) });
  }
  return out;
}

class RawConnection {
  readonly methods: string[] = [];
  readonly dirs: Record<Direction, RawDirection>;
  h2: RawH2Connection | null = null;
  /** The direction that carries an HTTP/2 connection's requests. */
  clientDir: Direction | null = null;

  constructor(private readonly carry: number) {
    this.dirs = { write: new RawDirection(this, 'write', carry), read: new RawDirection(this, 'read', carry) };
  }

  startH2(clientDir: Direction): RawH2Connection {
    this.h2 = new RawH2Connection(this.carry);
    this.clientDir = clientDir;
    return this.h2;
  }

  /**
   * The connection stopped being HTTP/1 (101, CONNECT). To WebSocket (`ws`:
   * the direction whose response head ended at `at`): both directions' frames
   * are followed from there; anything else is scanned as plain bytes.
   */
  upgrade(ws: RawDirection | null, at: number): void {
    for (const d of Object.values(this.dirs)) {
      d.http.setOpaque('upgrade');
      if (!ws) continue;
      d.ws = new WsRawDirection();
      d.wsFrom = d === ws ? at : d.http.position;
    }
  }
}

/** Raw masking of every connection (least recently used forgotten beyond `maxConnections`). */
export class RawStreams {
  private readonly conns = new Map<string, RawConnection>();
  private lastId: string | null = null;
  private last: RawConnection | undefined = undefined;

  constructor(
    private readonly carry = 512,
    private readonly maxConnections = 2048,
  ) {}

  get size(): number {
    return this.conns.size;
  }

  /** Mask a piece of connection `conn`'s direction `dir`; `lost`: bytes lost after it (null: an unknown number). */
  push(conn: string, dir: Direction, bytes: Buffer, lost?: number | null): RawResult {
    // the connection of the last piece is the most recently used already
    let c = conn === this.lastId ? this.last : undefined;
    if (!c) {
      c = this.conns.get(conn);
      if (c) this.conns.delete(conn);
      else {
        c = new RawConnection(this.carry);
        if (this.conns.size >= this.maxConnections) this.conns.delete(this.conns.keys().next().value as string);
      }
      this.conns.set(conn, c);
      this.lastId = conn;
      this.last = c;
    }
    return c.dirs[dir].push(bytes, lost);
  }

  /** Forget a connection (its process exited). */
  close(conn: string): void {
    this.conns.delete(conn);
    if (conn === this.lastId) {
      this.lastId = null;
      this.last = undefined;
    }
  }
}
