/**
 * HPACK header block decoding (RFC 7541): the static table, one dynamic
 * table per direction of a connection, integer and string literals (raw or
 * Huffman-coded). Decoding reports where each literal value lies in the
 * block, so a redactor can rewrite it in place.
 */
import { huffmanDecode } from './huffman';

/** RFC 7541 Appendix A. */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** Where a string literal's octets lie in the block, and whether they are Huffman-coded. */
export interface LiteralSpan {
  /** Offset of the literal's first byte (H flag and length prefix). */
  start: number;
  /** Offset of its first octet of data. */
  data: number;
  /** End (exclusive). */
  end: number;
  huffman: boolean;
}

export interface HeaderField {
  name: string;
  value: string;
  /** The value came as a literal in this block (not from a table): where. */
  valueSpan?: LiteralSpan;
  /** The representation forbids indexing (sensitive fields are sent so). */
  neverIndexed?: boolean;
}

export class HpackError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Size of an entry in the dynamic table (RFC 7541 4.1). */
const entrySize = (name: string, value: string) => Buffer.byteLength(name) + Buffer.byteLength(value) + 32;

/** The dynamic table of one direction. */
class DynamicTable {
  private entries: [string, string][] = [];
  private size = 0;
  constructor(public maxSize: number) {}

  get(i: number): [string, string] | undefined {
    return this.entries[i];
  }

  get length(): number {
    return this.entries.length;
  }

  get bytes(): number {
    return this.size;
  }

  add(name: string, value: string): void {
    const n = entrySize(name, value);
    this.entries.unshift([name, value]);
    this.size += n;
    this.evict();
  }

  resize(max: number): void {
    this.maxSize = max;
    this.evict();
  }

  private evict(): void {
    while (this.size > this.maxSize && this.entries.length) {
      const [name, value] = this.entries.pop() as [string, string];
      this.size -= entrySize(name, value);
    }
  }
}

/**
 * Decoder of one direction's header blocks. The table size the encoder may
 * use is bounded by what the peer allowed (SETTINGS_HEADER_TABLE_SIZE seen
 * in the other direction): setMaxTableSize().
 */
export class HpackDecoder {
  private readonly table: DynamicTable;
  /** The most the encoder may grow the table to. */
  private limit: number;

  constructor(
    maxTableSize = 4096,
    /** Longest header list decoded (names + values), in octets. */
    private readonly maxListBytes = 256 * 1024,
  ) {
    this.limit = maxTableSize;
    this.table = new DynamicTable(maxTableSize);
  }

  /** Octets held by the dynamic table. */
  get tableBytes(): number {
    return this.table.bytes;
  }

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE: the most a size update may ask for.
   * The table itself changes only with the encoder's own size update (it must
   * send one before using a smaller table), so blocks encoded before the
   * encoder saw the setting still decode.
   */
  setMaxTableSize(n: number): void {
    this.limit = Math.max(n, this.table.maxSize);
  }

  /** Decode one complete header block. Throws HpackError (with the offset) on a malformed block. */
  decode(block: Buffer): HeaderField[] {
    const out: HeaderField[] = [];
    let at = 0;
    let listBytes = 0;
    const push = (f: HeaderField) => {
      listBytes += f.name.length + f.value.length + 32;
      if (listBytes > this.maxListBytes) throw new HpackError(`header list larger than ${this.maxListBytes} octets`, at);
      out.push(f);
    };
    let sawField = false;
    while (at < block.length) {
      const b = block[at];
      if (b & 0x80) {
        // indexed header field
        const [index, next] = this.int(block, at, 7);
        at = next;
        const [name, value] = this.entry(index, at);
        push({ name, value });
        sawField = true;
      } else if ((b & 0xe0) === 0x20) {
        // dynamic table size update: only at the start of a block
        if (sawField) throw new HpackError('table size update after a header field', at);
        const [size, next] = this.int(block, at, 5);
        if (size > this.limit) throw new HpackError(`table size update to ${size} beyond the allowed ${this.limit}`, at);
        this.table.resize(size);
        at = next;
      } else {
        // literal: with incremental indexing (01), without indexing (0000) or never indexed (0001)
        const incremental = (b & 0xc0) === 0x40;
        const prefix = incremental ? 6 : 4;
        const neverIndexed = !incremental && (b & 0xf0) === 0x10;
        const [index, next] = this.int(block, at, prefix);
        at = next;
        let name: string;
        if (index === 0) {
          const lit = this.string(block, at);
          name = lit.text;
          at = lit.span.end;
        } else name = this.entry(index, at)[0];
        const lit = this.string(block, at);
        at = lit.span.end;
        push({ name, value: lit.text, valueSpan: lit.span, ...(neverIndexed ? { neverIndexed: true } : {}) });
        if (incremental) this.table.add(name, lit.text);
        sawField = true;
      }
    }
    return out;
  }

  private entry(index: number, at: number): [string, string] {
    if (index === 0) throw new HpackError('index 0', at);
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1] as [string, string];
    const e = this.table.get(index - STATIC_TABLE.length - 1);
    if (!e) throw new HpackError(`index ${index} is beyond the dynamic table (${this.table.length} entries)`, at);
    return e;
  }

  /** An integer with an n-bit prefix at `at`: [value, offset after it]. */
  private int(block: Buffer, at: number, n: number): [number, number] {
    const max = (1 << n) - 1;
    let v = block[at] & max;
    let i = at + 1;
    if (v < max) return [v, i];
    let shift = 0;
    for (;;) {
      if (i >= block.length) throw new HpackError('integer runs past the end of the block', at);
      const b = block[i++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) break;
      if (shift > 28) throw new HpackError('integer too large', at);
    }
    return [v, i];
  }

  private string(block: Buffer, at: number): { text: string; span: LiteralSpan } {
    if (at >= block.length) throw new HpackError('string literal runs past the end of the block', at);
    const huffman = (block[at] & 0x80) !== 0;
    const [len, data] = this.int(block, at, 7);
    const end = data + len;
    if (end > block.length) throw new HpackError(`string literal of ${len} octets runs past the end of the block`, at);
    let bytes: Buffer = block.subarray(data, end);
    if (huffman) {
      try {
        bytes = huffmanDecode(bytes);
      } catch (e) {
        throw new HpackError((e as Error).message, at);
      }
    }
    return { text: bytes.toString('latin1'), span: { start: at, data, end, huffman } };
  }
}
