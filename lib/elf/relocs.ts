/**
 * Pointers stored in the data of a position-independent ELF file, as they
 * are after the dynamic loader applied its relative relocations.
 *
 * A PIE or shared object keeps pointers to its own code and data (vtables,
 * panic locations, string slices) in .data.rel.ro. With RELR (.relr.dyn) the
 * link-time value is in the file and the loader only adds the load bias; with
 * RELA (R_X86_64_RELATIVE) the file usually holds 0 there and the value is
 * the relocation's addend. readPointers() returns the link-time values either
 * way. The relocation table is found through PT_DYNAMIC (DT_RELA/DT_RELASZ),
 * so it works without section headers.
 */
import type { ElfFile } from './reader';
import { PT } from './types';

const DT_NULL = 0;
const DT_RELA = 7;
const DT_RELASZ = 8;
const DT_RELAENT = 9;
const R_X86_64_RELATIVE = 8;
/** Guard against corrupt tables (runtime.node of Copilot has ~280k relative relocations: 6.7 MB). */
const MAX_RELA_BYTES = 256 * 1024 * 1024;

const cache = new WeakMap<ElfFile, Promise<Map<number, number>>>();

async function loadRelative(elf: ElfFile): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  const dyn = elf.programHeaders.find((p) => p.type === PT.DYNAMIC && p.filesz > 0);
  if (!dyn) return out;
  const d = await elf.read(dyn.offset, dyn.filesz, 'dynamic section');
  let rela = 0;
  let relasz = 0;
  let relaent = 24;
  for (let o = 0; o + 16 <= d.length; o += 16) {
    const tag = Number(d.readBigInt64LE(o));
    const val = Number(d.readBigUInt64LE(o + 8));
    if (tag === DT_NULL) break;
    if (tag === DT_RELA) rela = val;
    else if (tag === DT_RELASZ) relasz = val;
    else if (tag === DT_RELAENT) relaent = val;
  }
  if (!rela || !relasz || relaent !== 24 || relasz > MAX_RELA_BYTES) return out;
  const off = elf.vaddrToFileOffset(rela);
  if (off === undefined) return out;
  const b = await elf.read(off, relasz, 'relocation table');
  for (let o = 0; o + 24 <= b.length; o += 24) {
    if (Number(b.readBigUInt64LE(o + 8) & 0xffffffffn) !== R_X86_64_RELATIVE) continue;
    out.set(Number(b.readBigUInt64LE(o)), Number(b.readBigInt64LE(o + 16)));
  }
  return out;
}

/** The R_X86_64_RELATIVE relocations of the file: place (vaddr) -> link-time value. Read once per ElfFile. */
export function relativeRelocations(elf: ElfFile): Promise<Map<number, number>> {
  let p = cache.get(elf);
  if (!p) {
    p = loadRelative(elf);
    cache.set(elf, p);
  }
  return p;
}

/**
 * `count` 64-bit words at `vaddr` with relative relocations applied (link-time
 * addresses). @throws ElfError when the range is not backed by the file.
 */
export async function readPointers(elf: ElfFile, vaddr: number, count: number): Promise<number[]> {
  const [b, rel] = await Promise.all([elf.readVaddr(vaddr, count * 8), relativeRelocations(elf)]);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = vaddr + i * 8;
    out.push(rel.get(at) ?? Number(b.readBigUInt64LE(i * 8)));
  }
  return out;
}
