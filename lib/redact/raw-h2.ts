/**
 * Raw TLS bytes of an HTTP/2 connection, followed with the HTTP analyzer's
 * HTTP/2 session (lib/http/h2): header blocks are decoded (HPACK, whose
 * Huffman coding hides header values from any text search), and the literal
 * value of a credential header, or of any header holding a secret, is
 * overwritten in place with a value of the same length that decodes to
 * "*****" (so the header compression state of a replay stays intact); a
 * header block cut by the end of a TLS call cannot be decoded in time and
 * its bytes in that call are replaced. DATA is searched per stream like an
 * HTTP/1 body (streamed answers through their deltas too); DATA of a
 * compressed stream is replaced.
 */
import { FLAG, FRAME } from '../http/h2/frames';
import type { HeaderField } from '../http/h2/hpack';
import { H2Session, type Side } from '../http/h2/session';
import { mediaType } from '../http/util';
import { parseCodings } from '../http/decode';
import { findSecrets } from './find';
import { isSecretHeader } from './names';
import { SseDeltaView } from './sse-view';
import { TextStream } from './stream';
import type { Range } from './types';

interface StreamState {
  text: TextStream;
  sse: SseDeltaView | null;
  compressed: boolean;
}

/** What masking one piece of a direction found, in piece coordinates. */
export interface H2PieceResult {
  ranges: Range[];
  replace: Range[];
  rewrites: Array<{ start: number; bytes: Buffer }>;
}

/** Huffman code of '*' (RFC 7541 Appendix B: 0x2a is 11111001, 8 bits): n bytes of it decode to n '*'. */
const HUFFMAN_STAR = 0xf9;

export class RawH2Connection {
  private readonly session: H2Session;
  private readonly streams = new Map<string, StreamState>();
  /** Wire ranges (stream offsets) of the fragments of the header block being received, per side. */
  private readonly fragments: Record<Side, Range[]> = { client: [], server: [] };
  /** The piece being pushed: its side, the stream offset of its first byte, what was found. */
  private cur: { side: Side; base: number; bytes: Buffer; out: H2PieceResult } | null = null;
  private readonly positions: Record<Side, number> = { client: 0, server: 0 };

  constructor(private readonly carry: number) {
    this.session = new H2Session(
      {
        onHeaders: (side, stream, fields) => this.onHeaders(side, stream, fields),
        onData: () => undefined,
        onPush: (stream, _promised, fields) => this.onHeaders('server', stream, fields, false),
        onReset: (side, stream) => this.streams.delete(`${side}:${stream}`),
        onGoaway: () => undefined,
        onError: () => undefined,
        onPayload: (side, type, flags, stream, start, end, payload) => this.onPayload(side, type, flags, stream, start, end, payload),
      },
      { maxHeaderBytes: 256 * 1024 },
    );
  }

  /** Mask a piece of one side of the connection. */
  push(side: Side, bytes: Buffer): H2PieceResult {
    const out: H2PieceResult = { ranges: [], replace: [], rewrites: [] };
    const base = this.positions[side];
    this.positions[side] += bytes.length;
    if (this.session.broken(side)) {
      // not followed any more: searched as plain bytes (what the text scan of the caller does)
      return out;
    }
    this.cur = { side, base, bytes, out };
    this.session.push(side, bytes);
    this.cur = null;
    // a header block frame still arriving: its bytes in this piece cannot wait for it to be decoded
    const p = this.session.partial(side);
    if (p && (p.type === FRAME.HEADERS || p.type === FRAME.CONTINUATION || p.type === FRAME.PUSH_PROMISE)) {
      out.replace.push({ start: Math.max(0, bytes.length - p.bytes), end: bytes.length });
    }
    return out;
  }

  /** Is this side's framing followed (else the caller searches its bytes as plain text)? */
  followed(side: Side): boolean {
    return !this.session.broken(side);
  }

  lose(side: Side): void {
    this.session.gap(side);
  }

  private stream(side: Side, id: number): StreamState {
    const key = `${side}:${id}`;
    let s = this.streams.get(key);
    if (!s) {
      s = { text: new TextStream(this.carry), sse: null, compressed: false };
      this.streams.set(key, s);
      if (this.streams.size > 1024) this.streams.delete(this.streams.keys().next().value as string);
    }
    return s;
  }

  private onPayload(side: Side, type: number, flags: number, stream: number, start: number, end: number, payload?: Buffer): void {
    const cur = this.cur;
    if (!cur || cur.side !== side) return;
    const local = (x: number) => x - cur.base;
    if (type === FRAME.DATA) {
      const s = this.stream(side, stream);
      const a = Math.max(0, local(start));
      const b = Math.min(cur.bytes.length, local(end));
      if (b <= a) return;
      if (s.compressed) {
        cur.out.replace.push({ start: a, end: b });
        return;
      }
      const text = cur.bytes.toString('latin1', a, b);
      for (const f of s.text.push(text)) cur.out.ranges.push({ start: a + f.start, end: a + f.end });
      if (s.sse) for (const r of s.sse.push(text, start)) cur.out.ranges.push({ start: local(r.start), end: local(r.end) });
      return;
    }
    if (type !== FRAME.HEADERS && type !== FRAME.CONTINUATION && type !== FRAME.PUSH_PROMISE) return;
    // where this frame's piece of the header block is: after a pad length, a promised stream or priority fields, before padding
    let from = start;
    let to = end;
    if (type !== FRAME.CONTINUATION && payload) {
      let pad = 0;
      if (flags & FLAG.PADDED) {
        pad = payload[0] ?? 0;
        from += 1;
      }
      if (type === FRAME.PUSH_PROMISE) from += 4;
      else if (flags & FLAG.PRIORITY) from += 5;
      to -= pad;
      this.fragments[side] = [];
    }
    if (to > from) this.fragments[side].push({ start: from, end: to });
  }

  private onHeaders(side: Side, stream: number, fields: HeaderField[], keep = true): void {
    const s = this.stream(side, stream);
    for (const f of fields) {
      if (f.name === 'content-encoding' && parseCodings(f.value).length) s.compressed = true;
      if (f.name === 'content-type' && mediaType(f.value) === 'text/event-stream' && !s.compressed) s.sse ??= new SseDeltaView();
      if (!f.valueSpan || !(isSecretHeader(f.name) || findSecrets(f.value).findings.length)) continue;
      this.rewrite(side, f.valueSpan.data, f.valueSpan.end, f.valueSpan.huffman);
    }
    if (!keep) this.streams.delete(`${side}:${stream}`);
  }

  /** Overwrite block bytes [a, b) (offsets in the header block) with a same-length value that decodes to '*'s. */
  private rewrite(side: Side, a: number, b: number, huffman: boolean): void {
    const cur = this.cur;
    if (!cur) return;
    let blockAt = 0;
    for (const frag of this.fragments[side]) {
      const len = frag.end - frag.start;
      const s = Math.max(a, blockAt);
      const e = Math.min(b, blockAt + len);
      if (e > s) {
        // only the bytes of this piece can still be rewritten (earlier pieces of a cut block were replaced)
        const ws = frag.start + (s - blockAt) - cur.base;
        const we = frag.start + (e - blockAt) - cur.base;
        const from = Math.max(0, ws);
        const to = Math.min(cur.bytes.length, we);
        if (to > from) cur.out.rewrites.push({ start: from, bytes: Buffer.alloc(to - from, huffman ? HUFFMAN_STAR : 0x2a) });
      }
      blockAt += len;
    }
  }
}
