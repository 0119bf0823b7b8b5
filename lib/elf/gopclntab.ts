/**
 * Go executables: the function table (.gopclntab, runtime.pclntab) and the
 * build information (.go.buildinfo). The function table survives stripping
 * (`-ldflags=-s -w` removes .symtab and DWARF, never this table, which the
 * runtime needs for stack traces and garbage collection), so it gives the
 * entry and end of every Go function of a stripped Go binary.
 *
 * Layouts read (Go's runtime/symtab.go, runtime/runtime2.go):
 *  - Go 1.18 and 1.19 (magic 0xfffffff0), Go 1.20 and later (0xfffffff1):
 *    header {magic u32, pad u8 x2, minLC u8, ptrSize u8, nfunc, nfiles,
 *    textStart, funcnameOffset, cuOffset, filetabOffset, pctabOffset,
 *    pclnOffset (all pointer-sized)}; functab = nfunc+1 {entryOff u32 (from
 *    textStart), funcOff u32 (from the functab)}; _func starts {entryOff u32,
 *    nameOff i32 (into funcnametab)}.
 *  - Go 1.16 and 1.17 (0xfffffffa): the same header without textStart;
 *    functab = nfunc+1 {entry, funcOff} pointer-sized; _func starts {entry
 *    (pointer), nameOff i32}.
 * Older tables (0xfffffffb, Go 1.2 to 1.15) are recognised and refused.
 */
import { u64 } from './bytes';
import { ElfError } from './errors';
import type { ElfFile } from './reader';
import type { SectionHeader } from './types';

/** Function-table format, by the Go releases that write it. */
export type GoPclnFormat = 'go1.2' | 'go1.16' | 'go1.18' | 'go1.20';

const MAGIC: Record<number, GoPclnFormat> = { 0xfffffffb: 'go1.2', 0xfffffffa: 'go1.16', 0xfffffff0: 'go1.18', 0xfffffff1: 'go1.20' };

/** One function of the table. */
export interface GoFunc {
  name: string;
  /** Virtual address of its first instruction. */
  entry: number;
  /** Virtual address just past it (the next function's entry, or the end of the text). */
  end: number;
}

/** A parsed function table. */
export interface GoFuncTable {
  format: GoPclnFormat;
  ptrSize: number;
  /** Number of functions. */
  count: number;
  /** The functions with these names, in table order (absent names are left out; a name the table has twice comes twice). */
  find(names: readonly string[]): GoFunc[];
}

/** The section holding runtime.pclntab: `.gopclntab`, or `.data.rel.ro.gopclntab` in position-independent builds. */
export function goPclntabSection(elf: ElfFile): SectionHeader | undefined {
  return elf.sections.find((s) => s.name === '.gopclntab' && s.size > 0) ?? elf.sections.find((s) => s.name.endsWith('.gopclntab') && s.size > 0);
}

/** Is this a Go executable (it has Go's function table or build information)? */
export function isGoBinary(elf: ElfFile): boolean {
  return goPclntabSection(elf) !== undefined || elf.section('.go.buildinfo') !== undefined;
}

function cstr(b: Buffer, off: number): string {
  const end = b.indexOf(0, off);
  return b.toString('latin1', off, end < 0 ? b.length : end);
}

/**
 * Parse the function table of a Go executable.
 * @throws ElfError EBADELF when there is none, it is damaged, or it is of a format not read here (go1.2 is
 *   recognised but refused: those releases predate the register ABI).
 */
export async function readGoFuncTable(elf: ElfFile): Promise<GoFuncTable> {
  const sec = goPclntabSection(elf);
  if (!sec) throw new ElfError(elf.path, 'no Go function table (.gopclntab)', 'EBADELF');
  const b = await elf.readSection(sec);
  const bad = (what: string) => new ElfError(elf.path, `damaged Go function table: ${what}`, 'EBADELF');
  if (b.length < 64) throw bad('shorter than its header');
  const format = MAGIC[b.readUInt32LE(0)];
  if (!format) throw bad(`unknown magic 0x${b.readUInt32LE(0).toString(16)}`);
  if (format === 'go1.2') throw new ElfError(elf.path, 'Go function table of Go 1.2 to 1.15 (not read: these releases pass arguments on the stack)', 'EBADELF');
  const ptrSize = b[7];
  if (b[4] !== 0 || b[5] !== 0 || ptrSize !== 8) throw bad(`header pad ${b[4]},${b[5]}, pointer size ${ptrSize}`);
  const word = (i: number) => u64(b, 8 + i * 8);
  const nfunc = word(0);
  const modern = format === 'go1.18' || format === 'go1.20';
  let textStart = modern ? word(2) : 0;
  const [funcnameOff, , , , pclnOff] = modern ? [word(3), word(4), word(5), word(6), word(7)] : [word(2), word(3), word(4), word(5), word(6)];
  const entSize = modern ? 8 : 16;
  if (nfunc <= 0 || pclnOff >= b.length || pclnOff + (nfunc + 1) * entSize > b.length || funcnameOff >= b.length) {
    throw bad(`${nfunc} functions, functab at ${pclnOff}, names at ${funcnameOff}, ${b.length} bytes`);
  }
  if (modern && textStart === 0) {
    // a position-independent file may leave textStart to a dynamic relocation: runtime.text is where .text starts
    const text = elf.section('.text');
    if (!text) throw bad('textStart is 0 and there is no .text section');
    textStart = text.addr;
  }
  const entryAt = (i: number) => (modern ? textStart + b.readUInt32LE(pclnOff + i * 8) : u64(b, pclnOff + i * 16));
  const funcOffAt = (i: number) => (modern ? b.readUInt32LE(pclnOff + i * 8 + 4) : u64(b, pclnOff + i * 16 + 8));
  const nameOffOf = (fo: number) => {
    const at = pclnOff + fo + (modern ? 4 : 8);
    if (at + 4 > b.length) throw bad(`function record at ${pclnOff + fo} is past the end`);
    return b.readInt32LE(at);
  };
  return {
    format,
    ptrSize,
    count: nfunc,
    find(names) {
      const want = new Set(names);
      const out: GoFunc[] = [];
      for (let i = 0; i < nfunc; i++) {
        const no = nameOffOf(funcOffAt(i));
        const at = funcnameOff + no;
        if (no < 0 || at >= b.length) throw bad(`name offset ${no} of function ${i}`);
        const name = cstr(b, at);
        if (!want.has(name)) continue;
        const entry = entryAt(i);
        const end = entryAt(i + 1);
        if (end <= entry) throw bad(`function ${name} ends (0x${end.toString(16)}) before it starts (0x${entry.toString(16)})`);
        out.push({ name, entry, end });
      }
      return out;
    },
  };
}

/** What .go.buildinfo says: the Go release that built the file. */
export interface GoBuildInfo {
  /** e.g. "go1.19.8"; undefined when the section does not say. */
  version?: string;
}

const BUILDINFO_MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');

function uvarint(b: Buffer, off: number): [value: number, next: number] {
  let v = 0;
  let mul = 1;
  for (let i = off; i < b.length && i < off + 9; i++) {
    v += (b[i] & 0x7f) * mul;
    if ((b[i] & 0x80) === 0) return [v, i + 1];
    mul *= 128;
  }
  return [-1, off];
}

/**
 * The Go version recorded in .go.buildinfo: inline in Go 1.18 and later
 * (flags bit 1: varint-prefixed strings after the 32-byte header), through a
 * pointer to a string header before (a non-relocated file only).
 * Undefined fields when there is no such section or it does not say.
 */
export async function readGoBuildInfo(elf: ElfFile): Promise<GoBuildInfo> {
  const sec = elf.section('.go.buildinfo');
  if (!sec || sec.size < 32) return {};
  const b = await elf.read(sec.offset, Math.min(sec.size, 4096), '.go.buildinfo');
  if (!b.subarray(0, BUILDINFO_MAGIC.length).equals(BUILDINFO_MAGIC)) return {};
  const ptrSize = b[14];
  const flags = b[15];
  if ((flags & 1) !== 0 || ptrSize !== 8) return {}; // big-endian or 32-bit: not an amd64 build
  if (flags & 2) {
    const [len, at] = uvarint(b, 32);
    if (len <= 0 || at + len > b.length) return {};
    return { version: b.toString('utf8', at, at + len) };
  }
  const hdr = u64(b, 16);
  if (hdr === 0) return {};
  try {
    const sh = await elf.readVaddr(hdr, 16);
    const ptr = u64(sh, 0);
    const len = u64(sh, 8);
    if (ptr === 0 || len <= 0 || len > 64) return {};
    return { version: (await elf.readVaddr(ptr, len)).toString('utf8') };
  } catch {
    return {};
  }
}

/** [major, minor] of a version such as "go1.19.8" or "go1.22rc1"; undefined for anything else (e.g. "devel +abc"). */
export function parseGoVersion(v: string | undefined): [number, number] | undefined {
  const m = v ? /^go(\d+)\.(\d+)/.exec(v) : null;
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}
