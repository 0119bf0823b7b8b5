/**
 * Just enough DWARF (versions 2 to 5) to learn the layout of named structs:
 * the offset and the type name of their members, from .debug_info and
 * .debug_abbrev (also compressed: SHF_COMPRESSED with zlib or zstd, or the
 * older .zdebug_* sections). Used to read Go runtime structures whose layout
 * differs between releases.
 */
import { fzstd, zlib } from '../core/lazy';
import { u64 } from './bytes';
import { ElfError } from './errors';
import type { ElfFile } from './reader';
import { SHF } from './types';

const TAG_STRUCT = 0x13;
const TAG_MEMBER = 0x0d;
const AT_NAME = 0x03;
const AT_BYTE_SIZE = 0x0b;
const AT_TYPE = 0x49;
const AT_MEMBER_LOCATION = 0x38;
const AT_STR_OFFSETS_BASE = 0x72;
const OP_PLUS_UCONST = 0x23;

/** A member of a struct. */
export interface DwarfMember {
  name: string;
  /** Byte offset in the struct. */
  offset: number;
  /** Name of the member's type, when it has one. */
  type?: string;
}

/** A struct type. */
export interface DwarfStruct {
  name: string;
  size?: number;
  members: Map<string, DwarfMember>;
}

interface Abbrev {
  tag: number;
  children: boolean;
  attrs: [at: number, form: number, implicit: number][];
}

interface Unit {
  /** Offset of the unit header in .debug_info. */
  start: number;
  end: number;
  version: number;
  offsetSize: 4 | 8;
  addrSize: number;
  abbrevs: Map<number, Abbrev>;
  strOffsetsBase: number;
}

interface Sections {
  info: Buffer;
  abbrev: Buffer;
  str?: Buffer;
  lineStr?: Buffer;
  strOffsets?: Buffer;
}

/** Decompressed contents of a debug section (`.debug_NAME` or `.zdebug_NAME`), or undefined when absent. */
async function debugSection(elf: ElfFile, name: string): Promise<Buffer | undefined> {
  const sec = elf.section(`.debug_${name}`);
  if (sec && sec.size > 0) {
    const raw = await elf.readSection(sec);
    if ((sec.flags & SHF.COMPRESSED) === 0) return raw;
    if (raw.length < 24) throw new ElfError(elf.path, `.debug_${name}: compression header truncated`, 'EBADELF');
    const type = raw.readUInt32LE(0);
    const size = u64(raw, 8);
    const body = raw.subarray(24);
    const out = type === 1 ? zlib().inflateSync(body) : type === 2 ? Buffer.from(fzstd().decompress(body)) : undefined;
    if (!out) throw new ElfError(elf.path, `.debug_${name}: unknown compression type ${type}`, 'EBADELF');
    if (out.length !== size) throw new ElfError(elf.path, `.debug_${name}: decompressed to ${out.length} bytes, header says ${size}`, 'EBADELF');
    return out;
  }
  const z = elf.section(`.zdebug_${name}`);
  if (!z || z.size === 0) return undefined;
  const raw = await elf.readSection(z);
  if (raw.length < 12 || raw.toString('latin1', 0, 4) !== 'ZLIB') return raw;
  return zlib().inflateSync(raw.subarray(12));
}

/** A cursor over a buffer: LEB128 and fixed-size little-endian reads. */
class Cursor {
  constructor(
    readonly b: Buffer,
    public at: number,
  ) {}
  u8(): number {
    return this.b[this.at++];
  }
  u16(): number {
    const v = this.b.readUInt16LE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    const v = this.b.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  u64(): number {
    const v = u64(this.b, this.at);
    this.at += 8;
    return v;
  }
  sized(n: number): number {
    return n === 1 ? this.u8() : n === 2 ? this.u16() : n === 4 ? this.u32() : this.u64();
  }
  uleb(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      const c = this.b[this.at++];
      if (c === undefined) throw new RangeError('LEB128 past the end');
      v += (c & 0x7f) * mul;
      if ((c & 0x80) === 0) return v;
      mul *= 128;
    }
  }
  sleb(): number {
    let v = 0;
    let mul = 1;
    let c: number;
    do {
      c = this.b[this.at++];
      if (c === undefined) throw new RangeError('LEB128 past the end');
      v += (c & 0x7f) * mul;
      mul *= 128;
    } while (c & 0x80);
    return c & 0x40 ? v - mul : v;
  }
  cstr(): string {
    const end = this.b.indexOf(0, this.at);
    if (end < 0) throw new RangeError('string past the end');
    const s = this.b.toString('utf8', this.at, end);
    this.at = end + 1;
    return s;
  }
}

function parseAbbrevs(b: Buffer, off: number): Map<number, Abbrev> {
  const c = new Cursor(b, off);
  const out = new Map<number, Abbrev>();
  for (;;) {
    const code = c.uleb();
    if (code === 0) return out;
    const tag = c.uleb();
    const children = c.u8() === 1;
    const attrs: Abbrev['attrs'] = [];
    for (;;) {
      const at = c.uleb();
      const form = c.uleb();
      if (at === 0 && form === 0) break;
      attrs.push([at, form, form === 0x21 ? c.sleb() : 0]);
    }
    out.set(code, { tag, children, attrs });
  }
}

/** A value read for an attribute: a number (constants, references made absolute, offsets), a string, a block, or nothing. */
type AttrValue = number | string | Buffer | undefined;

function readForm(c: Cursor, form: number, u: Unit, s: Sections, implicit: number): AttrValue {
  const off = () => c.sized(u.offsetSize);
  const str = (tab: Buffer | undefined, o: number) => {
    if (!tab || o >= tab.length) return undefined;
    const end = tab.indexOf(0, o);
    return tab.toString('utf8', o, end < 0 ? tab.length : end);
  };
  const strx = (i: number) => (s.strOffsets ? str(s.str, new Cursor(s.strOffsets, u.strOffsetsBase + i * u.offsetSize).sized(u.offsetSize)) : undefined);
  const block = (n: number) => {
    const v = c.b.subarray(c.at, c.at + n);
    c.at += n;
    return v;
  };
  switch (form) {
    case 0x01: // addr
      return c.sized(u.addrSize);
    case 0x03:
      return block(c.u16());
    case 0x04:
      return block(c.u32());
    case 0x05:
      return c.u16();
    case 0x06:
      return c.u32();
    case 0x07:
      return c.u64();
    case 0x08:
      return c.cstr();
    case 0x09:
    case 0x18: // exprloc
      return block(c.uleb());
    case 0x0a:
      return block(c.u8());
    case 0x0b:
      return c.u8();
    case 0x0c:
      return c.u8();
    case 0x0d:
      return c.sleb();
    case 0x0e:
      return str(s.str, off());
    case 0x0f:
      return c.uleb();
    case 0x10: // ref_addr: from the start of .debug_info (address-sized in DWARF 2)
      return u.version <= 2 ? c.sized(u.addrSize) : off();
    case 0x11:
      return u.start + c.u8();
    case 0x12:
      return u.start + c.u16();
    case 0x13:
      return u.start + c.u32();
    case 0x14:
      return u.start + c.u64();
    case 0x15:
      return u.start + c.uleb();
    case 0x16: {
      const real = c.uleb();
      return readForm(c, real, u, s, implicit);
    }
    case 0x17: // sec_offset
    case 0x1d: // strp_sup
      return off();
    case 0x19: // flag_present
      return 1;
    case 0x1a:
      return strx(c.uleb());
    case 0x1b: // addrx
    case 0x22: // loclistx
    case 0x23: // rnglistx
      return c.uleb();
    case 0x1c: // ref_sup4
      return c.u32();
    case 0x1e: // data16
      return block(16);
    case 0x1f:
      return str(s.lineStr, off());
    case 0x20: // ref_sig8
    case 0x24: // ref_sup8
      c.at += 8;
      return undefined;
    case 0x21:
      return implicit;
    case 0x25:
      return strx(c.u8());
    case 0x26:
      return strx(c.u16());
    case 0x27:
      return strx(c.u16() + c.u8() * 0x10000);
    case 0x28:
      return strx(c.u32());
    case 0x29:
      return c.u8();
    case 0x2a:
      return c.u16();
    case 0x2b:
      return c.u16() + c.u8() * 0x10000;
    case 0x2c:
      return c.u32();
    default:
      throw new RangeError(`unknown DWARF form 0x${form.toString(16)}`);
  }
}

/** The member offset of DW_AT_data_member_location: a constant, or DW_OP_plus_uconst N. */
function memberOffset(v: AttrValue): number | undefined {
  if (typeof v === 'number') return v;
  if (Buffer.isBuffer(v) && v.length >= 2 && v[0] === OP_PLUS_UCONST) return new Cursor(v, 1).uleb();
  return undefined;
}

interface Die {
  offset: number;
  tag: number;
  children: boolean;
  attrs: Map<number, AttrValue>;
}

function readDie(c: Cursor, u: Unit, s: Sections): Die | null {
  const offset = c.at;
  const code = c.uleb();
  if (code === 0) return null;
  const ab = u.abbrevs.get(code);
  if (!ab) throw new RangeError(`DIE at 0x${offset.toString(16)}: unknown abbreviation ${code}`);
  const attrs = new Map<number, AttrValue>();
  for (const [at, form, implicit] of ab.attrs) attrs.set(at, readForm(c, form, u, s, implicit));
  return { offset, tag: ab.tag, children: ab.children, attrs };
}

/** The unit headers of .debug_info (their DIEs follow each header). */
function units(s: Sections, abbrevCache: Map<number, Map<number, Abbrev>>): { unit: Unit; first: number }[] {
  const out: { unit: Unit; first: number }[] = [];
  const b = s.info;
  let at = 0;
  while (at + 11 <= b.length) {
    const c = new Cursor(b, at);
    let len = c.u32();
    let offsetSize: 4 | 8 = 4;
    if (len === 0xffffffff) {
      len = c.u64();
      offsetSize = 8;
    }
    const end = c.at + len;
    if (len === 0 || end > b.length) throw new RangeError(`unit at 0x${at.toString(16)} has length ${len}`);
    const version = c.u16();
    if (version < 2 || version > 5) throw new RangeError(`unit at 0x${at.toString(16)}: DWARF version ${version}`);
    let abbrevOff: number;
    let addrSize: number;
    if (version >= 5) {
      const type = c.u8();
      addrSize = c.u8();
      abbrevOff = c.sized(offsetSize);
      if (type === 2 || type === 6)
        c.at += 8 + offsetSize; // type units: signature, type offset
      else if (type === 4 || type === 5) c.at += 8; // skeleton / split: dwo id
    } else {
      abbrevOff = c.sized(offsetSize);
      addrSize = c.u8();
    }
    let abbrevs = abbrevCache.get(abbrevOff);
    if (!abbrevs) {
      abbrevs = parseAbbrevs(s.abbrev, abbrevOff);
      abbrevCache.set(abbrevOff, abbrevs);
    }
    out.push({ unit: { start: at, end, version, offsetSize, addrSize, abbrevs, strOffsetsBase: 0 }, first: c.at });
    at = end;
  }
  return out;
}

/**
 * The units worth walking for DIEs named `names`: those whose bytes hold a
 * name inline (DW_FORM_string, as Go writes names), unless some name is not
 * inline anywhere and could be in a string table: then every unit.
 */
function unitsNaming<T extends { unit: Unit }>(all: T[], s: Sections, names: Set<string>): T[] {
  const hit = new Set<T>();
  let allInline = true;
  for (const n of names) {
    const needle = Buffer.from(n + '\0', 'utf8');
    let found = false;
    for (let at = s.info.indexOf(needle); at >= 0; at = s.info.indexOf(needle, at + 1)) {
      const u = all.find((x) => at >= x.unit.start && at < x.unit.end);
      if (u) hit.add(u);
      found = true;
    }
    if (!found) allInline = false;
  }
  if (!allInline && (s.str || s.lineStr || s.strOffsets)) return all;
  return all.filter((u) => hit.has(u));
}

/**
 * The structs with these names (DW_TAG_structure_type by DW_AT_name) and
 * their members. A name that has no struct in the file is absent from the
 * result; a file without DWARF gives an empty map.
 * @throws ElfError EBADELF when the DWARF is damaged.
 */
export async function readDwarfStructs(elf: ElfFile, names: readonly string[]): Promise<Map<string, DwarfStruct>> {
  const [info, abbrev, str, lineStr, strOffsets] = await Promise.all(['info', 'abbrev', 'str', 'line_str', 'str_offsets'].map((n) => debugSection(elf, n)));
  const out = new Map<string, DwarfStruct>();
  if (!info || !abbrev) return out;
  const s: Sections = { info, abbrev, str, lineStr, strOffsets };
  const wanted = new Set(names);
  const typeRefs: [DwarfMember, number][] = [];
  try {
    const all = units(s, new Map());
    for (const { unit, first } of unitsNaming(all, s, wanted)) {
      const c = new Cursor(info, first);
      let depth = 0;
      let current: DwarfStruct | null = null;
      let currentDepth = -1;
      while (c.at < unit.end) {
        const die = readDie(c, unit, s);
        if (!die) {
          depth--;
          if (depth <= currentDepth) current = null;
          if (depth < 0) break;
          continue;
        }
        if (depth === 0 && die.attrs.has(AT_STR_OFFSETS_BASE)) unit.strOffsetsBase = Number(die.attrs.get(AT_STR_OFFSETS_BASE));
        const name = die.attrs.get(AT_NAME);
        if (current && die.tag === TAG_MEMBER && depth === currentDepth + 1 && typeof name === 'string') {
          const offset = memberOffset(die.attrs.get(AT_MEMBER_LOCATION));
          if (offset !== undefined) {
            const m: DwarfMember = { name, offset };
            current.members.set(name, m);
            const t = die.attrs.get(AT_TYPE);
            if (typeof t === 'number') typeRefs.push([m, t]);
          }
        }
        if (die.tag === TAG_STRUCT && typeof name === 'string' && wanted.has(name) && !out.has(name) && die.children) {
          const size = die.attrs.get(AT_BYTE_SIZE);
          current = { name, members: new Map(), ...(typeof size === 'number' ? { size } : {}) };
          currentDepth = depth;
          out.set(name, current);
        }
        if (die.children) depth++;
      }
    }
    // the member types' names, read at their offsets
    for (const [m, ref] of typeRefs) {
      const owner = all.find((x) => ref >= x.unit.start && ref < x.unit.end);
      if (!owner) continue;
      const t = readDie(new Cursor(info, ref), owner.unit, s);
      const tn = t?.attrs.get(AT_NAME);
      if (typeof tn === 'string') m.type = tn;
    }
  } catch (err) {
    if (err instanceof ElfError) throw err;
    throw new ElfError(elf.path, `damaged DWARF: ${(err as Error).message}`, 'EBADELF', { cause: err });
  }
  return out;
}
