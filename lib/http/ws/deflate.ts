/**
 * permessage-deflate (RFC 7692): what the 101 response's
 * Sec-WebSocket-Extensions agreed to, and the decompression of one
 * direction's messages with node's zlib.
 *
 * A compressed message is raw DEFLATE data whose trailing 00 00 ff ff (the
 * end of a sync flush) the sender removed; it is put back before inflating.
 * With context takeover the sender's LZ77 window runs on from one message to
 * the next. Every message ends on a sync-flush boundary, so that window is
 * all the state there is between messages: the last 2^windowBits bytes of
 * what this direction decompressed so far are handed to the next inflate as
 * its dictionary, which is exactly a persistent inflate context (and needs
 * no zlib object kept between messages).
 */
import { zlib } from '../../core/lazy';
import { zlibDecode } from '../decode';

/** What permessage-deflate does in one direction. */
export interface DeflateDirection {
  /** The sender resets its compressor for every message (`*_no_context_takeover`). */
  noContextTakeover: boolean;
  /** The sender's LZ77 window (`*_max_window_bits`, 8-15; 15 when not negotiated). */
  windowBits: number;
}

/** The agreed parameters, per sender. */
export interface DeflateParams {
  client: DeflateDirection;
  server: DeflateDirection;
}

/** Split an extension list (RFC 6455 section 9.1): `name; param[=value]; ...`, comma-separated, values possibly quoted. */
export function parseExtensions(header: string | undefined): { name: string; params: Record<string, string | true> }[] {
  if (!header) return [];
  const out: { name: string; params: Record<string, string | true> }[] = [];
  for (const ext of header.split(',')) {
    const [name, ...params] = ext.split(';').map((s) => s.trim());
    if (!name) continue;
    const p: Record<string, string | true> = {};
    for (const param of params) {
      if (!param) continue;
      const eq = param.indexOf('=');
      if (eq === -1) p[param.toLowerCase()] = true;
      else
        p[param.slice(0, eq).trim().toLowerCase()] = param
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, '$1');
    }
    out.push({ name: name.toLowerCase(), params: p });
  }
  return out;
}

function bits(v: string | true | undefined): number {
  const n = typeof v === 'string' ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 8 && n <= 15 ? n : 15;
}

/** permessage-deflate as a server's 101 response accepted it (null: not in use). */
export function negotiatedDeflate(header: string | undefined): DeflateParams | null {
  const ext = parseExtensions(header).find((e) => e.name === 'permessage-deflate');
  if (!ext) return null;
  const p = ext.params;
  return {
    client: { noContextTakeover: p.client_no_context_takeover !== undefined, windowBits: bits(p.client_max_window_bits) },
    server: { noContextTakeover: p.server_no_context_takeover !== undefined, windowBits: bits(p.server_max_window_bits) },
  };
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** One message decompressed: what fits the bound, and why it is not all (when it is not). */
export interface Inflated {
  bytes: Buffer;
  truncated: boolean;
  error?: string;
}

/** The decompression of one direction's messages. */
export class MessageInflater {
  /** The end of what was decompressed so far (context takeover only). */
  private window: Buffer = Buffer.alloc(0);
  private readonly windowSize: number;
  /** Why later messages cannot be decompressed any more (the window is not known). */
  private lost: string | null = null;

  constructor(private readonly dir: DeflateDirection) {
    // zlib treats a raw window of 8 bits as 9
    this.windowSize = 1 << Math.max(9, dir.windowBits);
  }

  /** Bytes held between messages. */
  get heldBytes(): number {
    return this.window.length;
  }

  /**
   * Decompress a message's payload (`whole`: every compressed byte of it is
   * here, else it was cut short) into at most `maxOutput` bytes.
   */
  inflate(compressed: Buffer, whole: boolean, maxOutput: number): Inflated {
    if (this.lost) return { bytes: Buffer.alloc(0), truncated: true, error: this.lost };
    const takeover = !this.dir.noContextTakeover;
    const dictionary = takeover && this.window.length ? this.window : undefined;
    const input = whole ? Buffer.concat([compressed, TAIL]) : compressed;
    const r = zlibDecode(input, maxOutput, true, (b, o) =>
      zlib().inflateRawSync(b, { ...o, finishFlush: zlib().constants.Z_SYNC_FLUSH, ...(dictionary ? { dictionary } : {}) }),
    );
    const out: Inflated = { bytes: r.bytes, truncated: r.truncated || !whole };
    if (r.error) out.error = `inflate: ${r.error}`;
    if (!takeover) return out;
    if (out.error || out.truncated) {
      // The sender's window now holds bytes not seen here: later messages would decode wrongly.
      this.lost = `an earlier message could not be decompressed completely (${out.error ?? 'larger than the message bound'}), so the compression context is not known`;
      this.window = Buffer.alloc(0);
      return out;
    }
    const joined = this.window.length ? Buffer.concat([this.window, out.bytes]) : out.bytes;
    this.window = Buffer.from(joined.subarray(Math.max(0, joined.length - this.windowSize)));
    return out;
  }
}
