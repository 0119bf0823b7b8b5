/**
 * .eh_frame parsing: function boundaries of a (possibly stripped) binary from
 * its unwind tables. Every FDE gives [pc_begin, pc_begin + pc_range) of one
 * function (or one cold/hot part of one). Compilers emit these for C/C++ code
 * built with unwind tables, which survive `strip`.
 */
import { u64 } from './bytes';
import { ElfError } from './errors';
import type { ElfFile } from './reader';
import { PT } from './types';

/** One Frame Description Entry: a code range with unwind info. */
export interface Fde {
  /** First address of the range (pc_begin). */
  start: number;
  /** One past the last address (pc_begin + pc_range). */
  end: number;
}

const DW_EH_PE_omit = 0xff;

interface Cursor {
  o: number;
}

function uleb(b: Buffer, c: Cursor): number {
  let result = 0;
  let mul = 1;
  for (;;) {
    if (c.o >= b.length) throw new RangeError('uleb128 past end');
    const byte = b[c.o++];
    result += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) return result;
    mul *= 128;
    if (mul > 2 ** 63) throw new RangeError('uleb128 too long');
  }
}

function sleb(b: Buffer, c: Cursor): number {
  let result = 0;
  let mul = 1;
  let byte: number;
  do {
    if (c.o >= b.length) throw new RangeError('sleb128 past end');
    byte = b[c.o++];
    result += (byte & 0x7f) * mul;
    mul *= 128;
    if (mul > 2 ** 63) throw new RangeError('sleb128 too long');
  } while (byte & 0x80);
  if (byte & 0x40) result -= mul;
  return result;
}

/**
 * Decode a DW_EH_PE-encoded pointer at c.o. `fieldVaddr` is the virtual address
 * of buffer offset 0 (for pcrel), `dataBase` the base for datarel.
 */
function encoded(b: Buffer, c: Cursor, enc: number, bufVaddr: number, dataBase = 0): number {
  if (enc === DW_EH_PE_omit) return 0;
  const at = c.o;
  let v: number;
  switch (enc & 0x0f) {
    case 0x00:
      v = u64(b, c.o);
      c.o += 8;
      break; // absptr (8 bytes on x86-64)
    case 0x01:
      v = uleb(b, c);
      break;
    case 0x02:
      v = b.readUInt16LE(c.o);
      c.o += 2;
      break;
    case 0x03:
      v = b.readUInt32LE(c.o);
      c.o += 4;
      break;
    case 0x04:
      v = u64(b, c.o);
      c.o += 8;
      break;
    case 0x09:
      v = sleb(b, c);
      break;
    case 0x0a:
      v = b.readInt16LE(c.o);
      c.o += 2;
      break;
    case 0x0b:
      v = b.readInt32LE(c.o);
      c.o += 4;
      break;
    case 0x0c:
      v = Number(b.readBigInt64LE(c.o));
      c.o += 8;
      break;
    default:
      throw new RangeError(`unsupported pointer encoding 0x${enc.toString(16)}`);
  }
  switch (enc & 0x70) {
    case 0x00:
      break;
    case 0x10:
      v += bufVaddr + at;
      break; // pcrel
    case 0x30:
      v += dataBase;
      break; // datarel
    default:
      throw new RangeError(`unsupported pointer application 0x${enc.toString(16)}`);
  }
  return v;
}

/**
 * Parse the FDEs of an .eh_frame image located at virtual address `vaddr`.
 * Stops at the zero terminator or the end of the buffer. CIEs with an
 * unknown augmentation make their FDEs unreadable; those are skipped.
 */
export function parseEhFrame(b: Buffer, vaddr: number): Fde[] {
  const fdes: Fde[] = [];
  const cieEnc = new Map<number, number>(); // CIE offset -> FDE pointer encoding (or -1: unreadable)
  let o = 0;
  while (o + 4 <= b.length) {
    let len = b.readUInt32LE(o);
    let hdr = 4;
    if (len === 0) break;
    if (len === 0xffffffff) {
      if (o + 12 > b.length) break;
      len = u64(b, o + 4);
      hdr = 12;
    }
    const body = o + hdr;
    const next = body + len;
    if (next > b.length || len < 4) break;
    const id = b.readUInt32LE(body);
    if (id === 0) {
      cieEnc.set(o, parseCie(b, body + 4, next));
    } else {
      const cieOff = body - id;
      const enc = cieEnc.get(cieOff) ?? (cieOff >= 0 && cieOff < b.length ? parseCieAt(b, cieOff, cieEnc) : -1);
      if (enc >= 0) {
        try {
          const c = { o: body + 4 };
          const start = encoded(b, c, enc, vaddr);
          const range = encoded(b, c, enc & 0x0f, vaddr);
          if (range > 0) fdes.push({ start, end: start + range });
        } catch {
          // malformed FDE: skip
        }
      }
    }
    o = next;
  }
  return fdes;
}

function parseCieAt(b: Buffer, o: number, cache: Map<number, number>): number {
  if (o + 8 > b.length) return -1;
  let len = b.readUInt32LE(o);
  let hdr = 4;
  if (len === 0xffffffff) {
    len = u64(b, o + 4);
    hdr = 12;
  }
  const body = o + hdr;
  if (body + len > b.length || b.readUInt32LE(body) !== 0) return -1;
  const enc = parseCie(b, body + 4, body + len);
  cache.set(o, enc);
  return enc;
}

/** Returns the FDE pointer encoding of a CIE ('R' augmentation; absptr by default), or -1 if unreadable. */
function parseCie(b: Buffer, start: number, end: number): number {
  try {
    const c = { o: start };
    const version = b[c.o++];
    const augEnd = b.indexOf(0, c.o);
    if (augEnd < 0 || augEnd >= end) return -1;
    const aug = b.toString('latin1', c.o, augEnd);
    c.o = augEnd + 1;
    if (aug.includes('eh')) c.o += 8;
    uleb(b, c); // code alignment
    sleb(b, c); // data alignment
    if (version === 1) c.o++;
    else uleb(b, c); // return address register
    let enc = 0x00;
    if (aug.startsWith('z')) {
      uleb(b, c); // augmentation data length
      for (const ch of aug.slice(1)) {
        if (ch === 'R') enc = b[c.o++];
        else if (ch === 'L') c.o++;
        else if (ch === 'P') {
          const penc = b[c.o++];
          encoded(b, c, penc & 0x7f, 0); // personality pointer: value unused
        } else if (ch === 'S' || ch === 'B' || ch === 'G') continue;
        else return -1;
      }
    } else if (aug !== '') {
      return -1;
    }
    return enc;
  } catch {
    return -1;
  }
}

/** Sorted function ranges with binary-search lookup. */
export class FunctionTable {
  /** FDEs sorted by start, overlapping duplicates kept. */
  readonly fdes: readonly Fde[];
  private readonly starts: Float64Array;

  constructor(fdes: Fde[]) {
    this.fdes = [...fdes].sort((a, b) => a.start - b.start || a.end - b.end);
    this.starts = Float64Array.from(this.fdes, (f) => f.start);
  }

  get size(): number {
    return this.fdes.length;
  }

  /** Index of the last FDE whose start is <= addr, or -1. */
  private floor(addr: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] <= addr) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  /** The FDE containing `addr` (the one with the greatest start <= addr whose end > addr). */
  containing(addr: number): Fde | undefined {
    const top = this.floor(addr);
    for (let i = top; i >= 0 && i > top - 4; i--) {
      const f = this.fdes[i];
      if (addr < f.end) return f;
    }
    return undefined;
  }

  /** The FDE that starts exactly at `addr`. */
  startingAt(addr: number): Fde | undefined {
    const i = this.floor(addr);
    return i >= 0 && this.starts[i] === addr ? this.fdes[i] : undefined;
  }
}

/**
 * Read the FDEs of `elf`: from the `.eh_frame` section, or, when the section
 * headers are gone, from PT_GNU_EH_FRAME's eh_frame_ptr up to the end of its
 * segment. Empty when the file has neither.
 */
export async function readEhFrame(elf: ElfFile): Promise<Fde[]> {
  const sec = elf.section('.eh_frame');
  if (sec && sec.size > 0) return parseEhFrame(await elf.readSection(sec), sec.addr);
  const ph = elf.programHeaders.find((p) => p.type === PT.GNU_EH_FRAME);
  if (!ph || ph.filesz < 12) return [];
  const hdr = await elf.read(ph.offset, Math.min(ph.filesz, 16), '.eh_frame_hdr');
  if (hdr[0] !== 1) throw new ElfError(elf.path, `.eh_frame_hdr version ${hdr[0]} unsupported`, 'EBADELF');
  let ehVaddr: number;
  try {
    ehVaddr = encoded(hdr, { o: 4 }, hdr[1], ph.vaddr, ph.vaddr);
  } catch (err) {
    throw new ElfError(elf.path, `.eh_frame_hdr: ${(err as Error).message}`, 'EBADELF');
  }
  const seg = elf.segmentForVaddr(ehVaddr);
  if (!seg) return [];
  const len = Math.min(seg.vaddr + seg.filesz - ehVaddr, 256 * 1024 * 1024);
  return parseEhFrame(await elf.readVaddr(ehVaddr, len), ehVaddr);
}
