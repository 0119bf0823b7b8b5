/**
 * Chunked scans over the loaded segments of an ELF file: strings in read-only
 * data, code references to addresses, direct calls to addresses. Memory stays
 * bounded by the chunk size whatever the file size.
 */
import type { ElfFile, ProgramHeader } from '../elf';
import { PF, PT } from '../elf';

const CHUNK = 16 * 1024 * 1024;

/** Executable PT_LOAD segments. */
export function codeSegments(elf: ElfFile): ProgramHeader[] {
  return elf.programHeaders.filter((p) => p.type === PT.LOAD && (p.flags & PF.X) !== 0 && p.filesz > 0);
}

/** Read-only, non-executable PT_LOAD segments (where .rodata lives). */
export function rodataSegments(elf: ElfFile): ProgramHeader[] {
  return elf.programHeaders.filter((p) => p.type === PT.LOAD && (p.flags & (PF.X | PF.W)) === 0 && p.filesz > 0);
}

/**
 * Visit a segment's file image in chunks that overlap by `overlap` bytes.
 * `visit(buf, vaddr, scanEnd)`: buf starts at vaddr; report only matches that
 * start before scanEnd (the rest are seen again in the next chunk).
 */
export async function forEachChunk(
  elf: ElfFile,
  seg: ProgramHeader,
  overlap: number,
  visit: (buf: Buffer, vaddr: number, scanEnd: number) => void,
  chunk = CHUNK,
): Promise<void> {
  for (let rel = 0; rel < seg.filesz; rel += chunk) {
    const len = Math.min(chunk + overlap, seg.filesz - rel);
    const buf = await elf.read(seg.offset + rel, len, 'segment');
    const scanEnd = seg.vaddr + Math.min(rel + chunk, seg.filesz);
    visit(buf, seg.vaddr + rel, scanEnd);
  }
}

/** A NUL-terminated string found in read-only data. */
export interface FoundString {
  /** Address of the string's first byte. */
  vaddr: number;
  text: string;
}

/**
 * Find NUL-terminated strings that end with `suffix` (e.g. "ssl/ssl_lib.cc")
 * in read-only data; `accept` filters the whole string.
 */
export async function findStringsEndingWith(elf: ElfFile, suffix: string, accept: (s: string) => boolean = () => true): Promise<FoundString[]> {
  const needle = Buffer.from(suffix + '\0', 'latin1');
  const hits: number[] = [];
  for (const seg of rodataSegments(elf)) {
    await forEachChunk(elf, seg, needle.length, (buf, vaddr, scanEnd) => {
      for (let i = buf.indexOf(needle); i >= 0 && vaddr + i < scanEnd; i = buf.indexOf(needle, i + 1)) hits.push(vaddr + i);
    });
  }
  const out: FoundString[] = [];
  for (const h of hits) {
    // Walk back to the start of the string (at most 4 KB).
    const seg = elf.segmentForVaddr(h)!;
    const from = Math.max(seg.vaddr, h - 4096);
    const back = await elf.readVaddr(from, h - from);
    const nul = back.lastIndexOf(0);
    const start = nul < 0 ? from : from + nul + 1;
    const text = Buffer.concat([back.subarray(start - from), needle.subarray(0, needle.length - 1)]).toString('latin1');
    if (accept(text) && !out.some((o) => o.vaddr === start)) out.push({ vaddr: start, text });
  }
  return out;
}

/** True when some read-only data holds a NUL-terminated string ending with `suffix`. */
export async function hasStringEndingWith(elf: ElfFile, suffix: string): Promise<boolean> {
  const needle = Buffer.from(suffix + '\0', 'latin1');
  for (const seg of rodataSegments(elf)) {
    let found = false;
    await forEachChunk(elf, seg, needle.length, (buf) => {
      if (!found && buf.indexOf(needle) >= 0) found = true;
    });
    if (found) return true;
  }
  return false;
}

/** How code refers to an address. */
export type RefKind = 'mov-imm32' | 'lea-rip';

/** A possible code reference to one of the target addresses (an instruction start is not yet proven). */
export interface CodeRef {
  /** Address of the referring instruction's first byte. */
  ip: number;
  target: number;
  kind: RefKind;
}

/**
 * Find byte patterns in executable segments that would load one of `targets`
 * into a register: `mov r32, imm32` (B8+r, REX.B 41 B8+r), `mov r64, simm32`
 * (REX.W C7 C0+r) and `lea r64, [rip+disp32]` (REX.W 8D, mod=00 rm=101).
 * Candidates only: a later decode from a function entry proves or drops each.
 */
export async function findCodeRefs(elf: ElfFile, targets: readonly number[]): Promise<CodeRef[]> {
  const out: CodeRef[] = [];
  const set = new Set(targets);
  const small = targets.filter((t) => t >= 0 && t < 0x8000_0000);
  for (const seg of codeSegments(elf)) {
    await forEachChunk(elf, seg, 16, (buf, vaddr, scanEnd) => {
      const lim = Math.min(buf.length - 7, scanEnd - vaddr);
      // absolute 32-bit immediates (non-PIE executables)
      for (const t of small) {
        const le = Buffer.alloc(4);
        le.writeUInt32LE(t);
        for (let i = buf.indexOf(le, 1); i >= 0; i = buf.indexOf(le, i + 1)) {
          const op = buf[i - 1];
          if (op >= 0xb8 && op <= 0xbf) {
            const rex = i >= 2 && buf[i - 2] === 0x41;
            const ip = vaddr + i - (rex ? 2 : 1);
            if (ip < scanEnd) out.push({ ip, target: t, kind: 'mov-imm32' });
          } else if (i >= 3 && op >= 0xc0 && op <= 0xc7 && buf[i - 2] === 0xc7 && (buf[i - 3] === 0x48 || buf[i - 3] === 0x49)) {
            const ip = vaddr + i - 3;
            if (ip < scanEnd) out.push({ ip, target: t, kind: 'mov-imm32' });
          }
        }
      }
      // rip-relative lea (indexOf finds the opcode byte much faster than a byte loop)
      for (let j = buf.indexOf(0x8d, 1); j >= 0 && j - 1 < lim; j = buf.indexOf(0x8d, j + 1)) {
        const i = j - 1;
        if ((buf[i] & 0xfa) !== 0x48 || (buf[i + 2] & 0xc7) !== 0x05) continue;
        const t = vaddr + i + 7 + buf.readInt32LE(i + 3);
        if (set.has(t)) out.push({ ip: vaddr + i, target: t, kind: 'lea-rip' });
      }
    });
  }
  return out.sort((a, b) => a.ip - b.ip);
}

/** Direct transfers to an address. */
export interface DirectCallers {
  /** `call rel32` sites. */
  calls: number[];
  /** `jmp rel32` sites (tail calls, or branches). */
  jumps: number[];
}

/** A half-open address range [lo, hi). */
export interface Range {
  lo: number;
  hi: number;
}

/** Merge overlapping ranges; sorted by lo. */
export function mergeRanges(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a.lo - b.lo);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.lo <= last.hi) last.hi = Math.max(last.hi, r.hi);
    else out.push({ ...r });
  }
  return out;
}

/**
 * Find `call rel32` (E8) and `jmp rel32` (E9) byte patterns, over all
 * executable segments, whose target falls inside one of `ranges`. Byte
 * patterns, not proven instructions: a random match is possible, which is why
 * a call target is used only together with other evidence (alignment, a
 * prologue, a decode that proves the code).
 * @returns callers by target address.
 */
export async function findDirectCallers(elf: ElfFile, ranges: Range[]): Promise<Map<number, DirectCallers>> {
  const res = new Map<number, DirectCallers>();
  const rs = mergeRanges(ranges);
  if (rs.length === 0) return res;
  const los = Float64Array.from(rs, (r) => r.lo);
  const lo = rs[0].lo;
  const hi = rs[rs.length - 1].hi;
  const inRanges = (t: number) => {
    if (t < lo || t >= hi) return false;
    let a = 0;
    let b = los.length - 1;
    while (a < b) {
      const m = (a + b + 1) >> 1;
      if (los[m] <= t) a = m;
      else b = m - 1;
    }
    return t < rs[a].hi && t >= rs[a].lo;
  };
  for (const seg of codeSegments(elf)) {
    await forEachChunk(elf, seg, 8, (buf, vaddr, scanEnd) => {
      const lim = Math.min(buf.length - 5, scanEnd - vaddr);
      // indexOf is much faster than a byte loop: keep one cursor per opcode
      let a = buf.indexOf(0xe8);
      let b = buf.indexOf(0xe9);
      for (;;) {
        let i: number;
        if (a >= 0 && (b < 0 || a < b)) {
          i = a;
          a = buf.indexOf(0xe8, a + 1);
        } else if (b >= 0) {
          i = b;
          b = buf.indexOf(0xe9, b + 1);
        } else break;
        if (i >= lim) break;
        const t = vaddr + i + 5 + buf.readInt32LE(i + 1);
        if (!inRanges(t)) continue;
        let r = res.get(t);
        if (!r) res.set(t, (r = { calls: [], jumps: [] }));
        (buf[i] === 0xe8 ? r.calls : r.jumps).push(vaddr + i);
      }
    });
  }
  return res;
}
