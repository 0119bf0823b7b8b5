/**
 * Symbol tables (.dynsym/.symtab) with GNU symbol versioning
 * (.gnu.version, .gnu.version_d, .gnu.version_r).
 */
import { u64 } from './bytes';
import { ElfError } from './errors';
import { ElfSections, ElfSymbol, SectionHeader, SHN, SHT, SymbolBinding, SymbolType, SymbolVisibility } from './types';

const SYM_SIZE = 24;
const BINDINGS: SymbolBinding[] = ['LOCAL', 'GLOBAL', 'WEAK'];
const TYPES: SymbolType[] = ['NOTYPE', 'OBJECT', 'FUNC', 'SECTION', 'FILE', 'COMMON', 'TLS'];
const VISIBILITIES: SymbolVisibility[] = ['DEFAULT', 'INTERNAL', 'HIDDEN', 'PROTECTED'];

/** Name of an STB_* value. */
export function bindingName(b: number): SymbolBinding {
  return b < 3 ? BINDINGS[b] : b === 10 ? 'GNU_UNIQUE' : `BIND_${b}`;
}

/** Name of an STT_* value. */
export function typeName(t: number): SymbolType {
  return t < 7 ? TYPES[t] : t === 10 ? 'GNU_IFUNC' : `TYPE_${t}`;
}

function cstr(buf: Buffer, off: number): string {
  if (off >= buf.length) return '';
  const end = buf.indexOf(0, off);
  return buf.toString('latin1', off, end < 0 ? buf.length : end);
}

/**
 * Version names by version index: from .gnu.version_d (definitions) and
 * .gnu.version_r (requirements). Index 0 (local) and 1 (global) have no name.
 */
async function readVersionNames(elf: ElfSections, strtab: Buffer, dynsym: SectionHeader): Promise<Map<number, string>> {
  const names = new Map<number, string>();
  for (const sec of elf.sections) {
    if (sec.link !== dynsym.link && sec.link !== 0) continue;
    if (sec.type === SHT.GNU_VERDEF) {
      const b = await elf.readSection(sec);
      let o = 0;
      for (let n = 0; n < 0x10000 && o + 20 <= b.length; n++) {
        const flags = b.readUInt16LE(o + 2);
        const ndx = b.readUInt16LE(o + 4);
        const cnt = b.readUInt16LE(o + 6);
        const aux = b.readUInt32LE(o + 12);
        const next = b.readUInt32LE(o + 16);
        // VER_FLG_BASE names the file itself, not a version.
        if (cnt > 0 && (flags & 1) === 0 && o + aux + 8 <= b.length) names.set(ndx & 0x7fff, cstr(strtab, b.readUInt32LE(o + aux)));
        if (next === 0) break;
        o += next;
      }
    } else if (sec.type === SHT.GNU_VERNEED) {
      const b = await elf.readSection(sec);
      let o = 0;
      for (let n = 0; n < 0x10000 && o + 16 <= b.length; n++) {
        const cnt = b.readUInt16LE(o + 2);
        const auxOff = b.readUInt32LE(o + 8);
        const next = b.readUInt32LE(o + 12);
        let a = o + auxOff;
        for (let k = 0; k < cnt && a + 16 <= b.length; k++) {
          const other = b.readUInt16LE(a + 6);
          names.set(other & 0x7fff, cstr(strtab, b.readUInt32LE(a + 8)));
          const an = b.readUInt32LE(a + 12);
          if (an === 0) break;
          a += an;
        }
        if (next === 0) break;
        o += next;
      }
    }
  }
  return names;
}

/**
 * Decide from the raw name bytes whether a symbol is wanted (avoids decoding
 * every name of a 100k-entry table). `nameOff` indexes `strtab`. `head`,
 * when set, is 1 at each pair of first bytes (first | second << 8) a wanted
 * name can start with: names starting otherwise are passed over without
 * calling the filter.
 */
export type RawNameFilter = ((strtab: Buffer, nameOff: number) => boolean) & {
  head?: Uint8Array;
  /** The wanted names (bytes), when known: .dynsym is then searched through its GNU hash table. */
  names?: readonly Buffer[];
};

/**
 * Read a symbol table of `elf` and decode the entries whose name passes
 * `filter` (all when omitted). Empty when the table is absent.
 */
export async function readSymbolTable(elf: ElfSections, table: 'dynsym' | 'symtab', filter?: RawNameFilter): Promise<ElfSymbol[]> {
  const sec = elf.sectionByType(table === 'dynsym' ? SHT.DYNSYM : SHT.SYMTAB);
  if (!sec || sec.size === 0) return [];
  if (sec.link >= elf.sections.length) throw new ElfError(elf.path, `${sec.name}: bad string table link ${sec.link}`, 'EBADELF');
  const entsize = sec.entsize >= SYM_SIZE ? sec.entsize : SYM_SIZE;
  const [syms, strtab] = await Promise.all([elf.readSection(sec), elf.readSection(elf.sections[sec.link])]);

  const count = Math.floor(syms.length / entsize);
  // the entries from `hashed` on are found through the GNU hash table, when there is one for these names
  const hash = table === 'dynsym' && filter?.names ? elf.sections.find((s) => s.type === SHT.GNU_HASH && s.link === sec.index) : undefined;
  const found = hash && filter?.names ? gnuHashLookup(await elf.readSection(hash), syms, entsize, count, strtab, filter.names, filter) : null;
  const picked = walkSymbols(syms, entsize, found ? found.hashed : count, strtab, filter);
  if (found) picked.push(...found.indices);

  let versym: Buffer | undefined;
  let versionNames: Map<number, string> | undefined;
  if (table === 'dynsym' && picked.length > 0) {
    const vs = elf.sections.find((s) => s.type === SHT.GNU_VERSYM && s.link === sec.index);
    if (vs) {
      versym = await elf.readSection(vs);
      versionNames = await readVersionNames(elf, strtab, sec);
    }
  }

  const out: ElfSymbol[] = new Array(picked.length);
  for (let k = 0; k < picked.length; k++) {
    const i = picked[k];
    const o = i * entsize;
    const info = syms[o + 4];
    const shndx = syms.readUInt16LE(o + 6);
    let name = cstr(strtab, syms.readUInt32LE(o));
    let version: string | undefined;
    let versionHidden: boolean | undefined;
    if (versym && versionNames && i * 2 + 2 <= versym.length) {
      const v = versym.readUInt16LE(i * 2);
      const vn = versionNames.get(v & 0x7fff);
      // An SHN_ABS symbol named after its version is the version node itself, not a versioned symbol.
      if (vn !== undefined && !(syms.readUInt16LE(o + 6) === SHN.ABS && vn === cstr(strtab, syms.readUInt32LE(o)))) {
        version = vn;
        versionHidden = (v & 0x8000) !== 0;
      }
    }
    const at = name.indexOf('@');
    if (at > 0) {
      // .symtab spelling of versioned symbols: name@VER (hidden) or name@@VER (default).
      const dbl = name[at + 1] === '@';
      version = name.slice(at + (dbl ? 2 : 1));
      versionHidden = !dbl;
      name = name.slice(0, at);
    }
    const sym: ElfSymbol = {
      name,
      value: u64(syms, o + 8),
      size: u64(syms, o + 16),
      binding: bindingName(info >> 4),
      type: typeName(info & 0xf),
      visibility: VISIBILITIES[syms[o + 5] & 3],
      shndx,
      defined: shndx !== SHN.UNDEF && shndx !== SHN.COMMON,
      table,
      index: i,
    };
    if (version !== undefined) {
      sym.version = version;
      sym.versionHidden = versionHidden;
    }
    out[k] = sym;
  }
  return out;
}

/** Indices 1..end-1 of a symbol table whose names pass `filter` (all without one), in order. */
function walkSymbols(syms: Buffer, entsize: number, end: number, strtab: Buffer, filter?: RawNameFilter): number[] {
  const picked: number[] = [];
  // Entry 0 is the reserved null symbol. The table is walked once per inspection, mostly before
  // the JIT has compiled this loop: names are read as bytes, and most are passed over on their first two.
  const head = filter?.head;
  const strLen = strtab.length;
  for (let i = 1, o = entsize; i < end; i++, o += entsize) {
    const off = syms[o] | (syms[o + 1] << 8) | (syms[o + 2] << 16) | (syms[o + 3] << 24);
    if (head && (off < 0 || off >= strLen || head[strtab[off] | ((off + 1 < strLen ? strtab[off + 1] : 0) << 8)] === 0)) continue;
    if (!filter || filter(strtab, off >>> 0)) picked.push(i);
  }
  return picked;
}

/**
 * The entries of .dynsym from the GNU hash table's first hashed one (`hashed`) on whose names pass
 * `filter`, found by hashing `names` instead of walking the table (all versions of a name share its
 * chain: .dynsym names carry no '@VERSION', their versions are in .gnu.version); null when the
 * table does not hold together, and the whole table is then walked.
 */
function gnuHashLookup(
  h: Buffer,
  syms: Buffer,
  entsize: number,
  count: number,
  strtab: Buffer,
  names: readonly Buffer[],
  filter: RawNameFilter,
): { hashed: number; indices: number[] } | null {
  if (h.length < 16) return null;
  const nbuckets = h.readUInt32LE(0);
  const symoffset = h.readUInt32LE(4);
  const bloomWords = h.readUInt32LE(8);
  const buckets = 16 + bloomWords * 8;
  const chains = buckets + nbuckets * 4;
  if (nbuckets === 0 || symoffset < 1 || symoffset > count || chains > h.length) return null;
  const indices = new Set<number>();
  for (const name of names) {
    let hv = 5381;
    for (let k = 0; k < name.length; k++) hv = (Math.imul(hv, 33) + name[k]) >>> 0;
    let i = h.readUInt32LE(buckets + (hv % nbuckets) * 4);
    if (i === 0) continue;
    if (i < symoffset) return null;
    for (; i < count; i++) {
      const c = chains + (i - symoffset) * 4;
      if (c + 4 > h.length) return null;
      const ch = h.readUInt32LE(c);
      if ((ch | 1) === (hv | 1) && filter(strtab, syms.readUInt32LE(i * entsize))) indices.add(i);
      if (ch & 1) break;
    }
  }
  return { hashed: symoffset, indices: [...indices].sort((a, b) => a - b) };
}

/**
 * A RawNameFilter accepting symbols whose base name (the bytes before a NUL
 * or '@') is one of `names`. Checks a 4-byte prefix key first, then the bytes.
 */
export function nameSetFilter(names: Iterable<string>): RawNameFilter {
  const byKey = new Map<number, Buffer[]>();
  for (const n of new Set(names)) {
    const b = Buffer.from(n, 'latin1');
    const k = prefixKey(b, 0, b.length);
    const l = byKey.get(k);
    if (l) l.push(b);
    else byKey.set(k, [b]);
  }
  const filter: RawNameFilter = (strtab, off) => {
    if (off >= strtab.length) return false;
    const cands = byKey.get(prefixKey(strtab, off, strtab.length));
    if (!cands) return false;
    for (const b of cands) {
      const end = off + b.length;
      if (end > strtab.length) continue;
      const term = end === strtab.length ? 0 : strtab[end];
      if ((term === 0 || term === 0x40) && strtab.compare(b, 0, b.length, off, end) === 0) return true;
    }
    return false;
  };
  // the first two bytes of each name (a one-byte name ends at its NUL or '@')
  const head = new Uint8Array(65536);
  for (const list of byKey.values())
    for (const b of list) {
      if (b.length >= 2) head[b[0] | (b[1] << 8)] = 1;
      else {
        head[b.length ? b[0] : 0] = 1;
        head[(b.length ? b[0] : 0) | (0x40 << 8)] = 1;
      }
    }
  filter.head = head;
  filter.names = [...byKey.values()].flat();
  return filter;
}

/** Up to the first 4 bytes of the name at buf[off..limit), stopping at NUL or '@', as a number. */
function prefixKey(buf: Buffer, off: number, limit: number): number {
  let k = 0;
  for (let j = 0; j < 4; j++) {
    const p = off + j;
    const c = p < limit ? buf[p] : 0;
    if (c === 0 || c === 0x40) break;
    k |= c << (8 * j);
  }
  return k >>> 0;
}
