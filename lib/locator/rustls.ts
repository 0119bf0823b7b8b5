/**
 * rustls 0.23 record protection in a stripped executable or shared object,
 * from evidence that survives releases (see docs/rustls-locator.md):
 *
 * 1. rustls's TLS 1.3 cipher code lives in `rustls-0.23.N/src/crypto/ring/tls13.rs`
 *    or `.../crypto/aws_lc_rs/tls13.rs`. Its panic sites (`unwrap()` in the
 *    constructors of the message encrypter and decrypter) leave
 *    `core::panic::Location` records {file, line, column} in read-only data
 *    that point at that path.
 * 2. Functions that load such a Location are that file's functions; the
 *    constructors also load the vtable of the `Box<dyn MessageEncrypter>` /
 *    `Box<dyn MessageDecrypter>` they return: [drop, size, align, methods...].
 *    The first method is `encrypt` / `decrypt`: called through the vtable for
 *    every TLS record, so it is always a function of its own.
 * 3. Each method is proven by decoding it: `decrypt(&mut self, msg:
 *    InboundOpaqueMessage, seq)` compares the payload length with the 16-byte
 *    AEAD tag first; `encrypt(&mut self, msg: OutboundPlainMessage, seq)`
 *    measures its payload (OutboundChunks: Single or Multiple) and turns the
 *    ContentType into its wire value through a jump table. The offsets of
 *    the fields in `msg` (Rust lays structs out as it likes) are read from
 *    those very instructions, and all methods found must agree.
 * Anything missing, contradictory or not unique: not supported.
 */
import type { ElfFile } from '../elf';
import { ET, FunctionTable, PF, PT, readEhFrame } from '../elf';
import { readPointers, relativeRelocations } from '../elf/relocs';
import { findCodeRefs, forEachChunk, rodataSegments } from './scan';
import { argumentFlow, decodeFunction, type DecodedFunction, type Insn, type RegState } from './x86';

const hex = (n: number) => '0x' + n.toString(16);

/** The crypto providers whose TLS 1.3 message protection is located. */
export const RUSTLS_PROVIDERS = ['ring', 'aws_lc_rs'] as const;
export type RustlsProvider = (typeof RUSTLS_PROVIDERS)[number];

/** TLS ContentType application_data. */
const APPLICATION_DATA = 0x17;
/** AEAD tag length of every TLS 1.3 suite. */
const TAG_LEN = 16;

/** Where rustls keeps what the probes read, as proven from the code. */
export interface RustlsLayout {
  /** InboundOpaqueMessage: offset of the payload pointer and of its length. */
  inPtr: number;
  inLen: number;
  /** OutboundPlainMessage: offset of OutboundChunks (its first word is 0 for Single, the chunk list pointer for Multiple). */
  chunks: number;
  /** OutboundPlainMessage: offset of the ContentType discriminant byte, and the discriminant of ApplicationData. */
  typ: number;
  appData: number;
}

/** A located method. */
export interface RustlsMethod {
  kind: 'encrypt' | 'decrypt';
  entry: number;
  /** End of the last instruction the proof decoded. */
  end: number;
  provider: RustlsProvider;
  /** The vtable it was found in. */
  vtable: number;
}

export type RustlsResult =
  | { ok: true; version: string; providers: RustlsProvider[]; methods: RustlsMethod[]; layout: RustlsLayout; evidence: string[] }
  | { ok: false; code: 'NOT_RUSTLS' | 'NO_EVIDENCE' | 'AMBIGUOUS' | 'INCONSISTENT'; reason: string; evidence: string[] };

const SOURCE_RE = /rustls-(0\.23\.\d+)\/src\/crypto\/(ring|aws_lc_rs)\/tls13\.rs$/;
const NEEDLES = RUSTLS_PROVIDERS.map((p) => Buffer.from(`/src/crypto/${p}/tls13.rs`, 'latin1'));

/** Ends of the provider source paths in read-only data (a path is a &str: not NUL-terminated). */
async function sourceEnds(elf: ElfFile): Promise<number[]> {
  const ends: number[] = [];
  for (const seg of rodataSegments(elf)) {
    await forEachChunk(elf, seg, 64, (buf, vaddr, scanEnd) => {
      for (const n of NEEDLES) {
        for (let i = buf.indexOf(n); i >= 0 && vaddr + i < scanEnd; i = buf.indexOf(n, i + 1)) {
          const end = i + n.length;
          const back = buf.toString('latin1', Math.max(0, i - 24), end);
          if (/rustls-0\.23\.\d+\/src\/crypto\/[a-z_]+\/tls13\.rs$/.test(back)) ends.push(vaddr + end);
        }
      }
    });
  }
  return [...new Set(ends)];
}

/**
 * Cheap check: does read-only data name rustls 0.23's ring or aws-lc-rs TLS
 * 1.3 module (`rustls-0.23.N/src/crypto/{ring,aws_lc_rs}/tls13.rs`)? Says
 * whether the locator is worth running; proves nothing.
 */
export async function hasRustlsSource(elf: ElfFile): Promise<boolean> {
  return (await sourceEnds(elf)).length > 0;
}

/** A core::panic::Location: {file: &str, line: u32, col: u32}. */
interface PanicLocation {
  vaddr: number;
  file: string;
  line: number;
  col: number;
}

/**
 * Data segments that can hold Locations (they hold pointers): in a
 * position-independent file only writable ones (RELRO included: the loader
 * relocates them); in a fixed-address executable read-only data too.
 */
function dataSegments(elf: ElfFile) {
  const pic = elf.header.type === ET.DYN;
  return elf.programHeaders.filter((p) => p.type === PT.LOAD && (p.flags & PF.X) === 0 && p.filesz > 0 && (!pic || (p.flags & PF.W) !== 0));
}

/** Locations whose file is one of the paths ending at `ends` (found as {ptr, len} with ptr + len = end). */
async function findLocations(elf: ElfFile, ends: number[]): Promise<PanicLocation[]> {
  const want = new Set(ends);
  const rel = await relativeRelocations(elf);
  const out: PanicLocation[] = [];
  for (const seg of dataSegments(elf)) {
    await forEachChunk(elf, seg, 24, (buf, vaddr, scanEnd) => {
      const first = (8 - (vaddr % 8)) % 8;
      for (let o = first; o + 24 <= buf.length && vaddr + o < scanEnd; o += 8) {
        const at = vaddr + o;
        const len = buf.readUInt32LE(o + 8);
        if (len === 0 || len > 4096 || buf.readUInt32LE(o + 12) !== 0) continue;
        const ptr = rel.get(at) ?? buf.readUInt32LE(o) + buf.readUInt32LE(o + 4) * 0x1_0000_0000;
        if (!want.has(ptr + len)) continue;
        const line = buf.readUInt32LE(o + 16);
        const col = buf.readUInt32LE(o + 20);
        if (line === 0 || line > 100000 || col > 1000) continue;
        out.push({ vaddr: at, file: '', line, col, ...{ ptr, len } } as PanicLocation & { ptr: number; len: number });
      }
    });
  }
  for (const l of out as (PanicLocation & { ptr: number; len: number })[]) {
    l.file = (await elf.readVaddr(l.ptr, l.len)).toString('latin1');
  }
  return out.filter((l) => SOURCE_RE.test(l.file));
}

/** Does register `r` hold entry argument `i` (64-bit) before the instruction at `ip`? */
function holdsArg(flow: Map<number, RegState>, ip: number, r: number, i: number): boolean {
  const v = flow.get(ip)?.[r];
  return v?.k === 'arg' && v.i === i && v.width === 64;
}

/** Instructions in address order from `ip` while control falls through (stops after a branch, call or return). */
function straightLine(fn: DecodedFunction, ip: number, max = 24): Insn[] {
  const out: Insn[] = [];
  let at: number | undefined = ip;
  while (at !== undefined && out.length < max) {
    const insn = fn.insns.get(at);
    if (!insn) break;
    out.push(insn);
    if (insn.flow !== 'next') break;
    at = insn.ip + insn.len;
  }
  return out;
}

/** Memory reads of entry argument 2 (`msg`, after the sret pointer and self): [{ip, insn, disp}]. */
function msgAccesses(fn: DecodedFunction, flow: ReturnType<typeof argumentFlow>) {
  const out: { insn: Insn; disp: number }[] = [];
  for (const ip of fn.order) {
    const insn = fn.insns.get(ip)!;
    const m = insn.mem;
    if (!m || m.base < 0 || m.index >= 0 || insn.mn === 'lea') continue;
    if (holdsArg(flow, ip, m.base, 2)) out.push({ insn, disp: m.disp });
  }
  return out;
}

/** decrypt: `mov rX, [msg+L]; ...; cmp rX, 16; jcc` before anything else is done with the payload. */
export function decryptShape(fn: DecodedFunction): { inPtr: number; inLen: number } | string {
  const flow = argumentFlow(fn);
  const acc = msgAccesses(fn, flow);
  let inLen: number | undefined;
  for (const { insn, disp } of acc) {
    if (insn.mn !== 'mov' || insn.mem!.size !== 8 || insn.reg0 === undefined) continue;
    const run = straightLine(fn, insn.ip + insn.len, 8);
    const cmp = run.find((x) => x.mn === 'cmp' && x.reg0 === insn.reg0 && x.imm === TAG_LEN && !x.mem);
    if (!cmp) continue;
    const between = run.slice(0, run.indexOf(cmp));
    if (between.some((x) => x.writes & (1 << insn.reg0!))) continue;
    const next = run[run.indexOf(cmp) + 1];
    if (next?.flow !== 'jcc') continue;
    if (inLen !== undefined && inLen !== disp) return `two payload-length checks (msg+${disp} and msg+${inLen})`;
    inLen = disp;
  }
  if (inLen === undefined) return 'no comparison of a msg field with the 16-byte tag length';
  const inPtr = inLen - 8; // &mut [u8]: pointer then length
  if (!acc.some(({ insn, disp }) => disp === inPtr && insn.mem!.size === 8 && insn.mn === 'mov')) return `the payload pointer (msg+${inPtr}) is never read`;
  return { inPtr, inLen };
}

/**
 * encrypt: the payload length `Single ? [c+16] : [c+24] - [c+16]` after
 * `cmp qword [c], 0`, and the ContentType byte dispatched through a jump
 * table whose ApplicationData arm loads 0x17.
 */
export async function encryptShape(elf: ElfFile, fn: DecodedFunction): Promise<{ chunks: number; typ: number; appData: number } | string> {
  const flow = argumentFlow(fn, 'may');
  const acc = msgAccesses(fn, flow);
  const zeroTests = acc.filter(({ insn }) => insn.mn === 'cmp' && insn.mem!.size === 8 && insn.imm === 0);
  const chunksSet = new Set(zeroTests.map((a) => a.disp));
  if (chunksSet.size !== 1) return `${chunksSet.size} candidate OutboundChunks discriminants`;
  const chunks = [...chunksSet][0];
  const reads8 = new Set(acc.filter(({ insn }) => insn.mem!.size === 8 && insn.mn !== 'cmp').map((a) => a.disp));
  if (!reads8.has(chunks + 16) || !reads8.has(chunks + 24)) return `no reads of the chunk range (msg+${chunks + 16}, msg+${chunks + 24})`;
  // the ContentType: movzx r32, byte [msg+T], then a jump table on it
  const typs: { typ: number; appData: number }[] = [];
  for (const { insn, disp } of acc) {
    if (insn.mn !== 'movzx' || insn.mem!.size !== 1 || insn.reg0 === undefined) continue;
    const run = straightLine(fn, insn.ip + insn.len, 6);
    const lea = run.find((x) => x.op.t === 'leaRip');
    const load = run.find((x) => x.mn === 'movsxd' && x.mem && x.mem.scale === 4 && x.mem.index === insn.reg0);
    const jmp = run[run.length - 1];
    if (!lea || !load || jmp?.flow !== 'jmp-indirect' || lea.op.t !== 'leaRip') continue;
    const table = lea.op.value;
    const arms = await jumpTableArms(elf, table, fn);
    const hits = arms.filter((a) => a.wire === APPLICATION_DATA);
    if (hits.length !== 1) continue;
    typs.push({ typ: disp, appData: hits[0].index });
  }
  const distinct = new Set(typs.map((t) => `${t.typ}:${t.appData}`));
  if (distinct.size !== 1) return `${distinct.size} ContentType dispatches with an ApplicationData arm`;
  return { chunks, ...typs[0] };
}

/** The arms of a jump table (int32 entries relative to its base): which wire ContentType each loads first. */
async function jumpTableArms(elf: ElfFile, table: number, fn: DecodedFunction): Promise<{ index: number; wire: number | undefined }[]> {
  const out: { index: number; wire: number | undefined }[] = [];
  let b: Buffer;
  try {
    b = await elf.readVaddr(table, 4 * 8);
  } catch {
    return out;
  }
  for (let i = 0; i < 8; i++) {
    const target = table + b.readInt32LE(4 * i);
    if (target < fn.entry || target >= fn.limit) break;
    const code = await elf.readVaddr(target, 16);
    const d = decodeFunction(code, target, target, target + 16);
    const first = d.insns.get(target);
    const wire = first && first.mn === 'mov' && first.imm !== undefined && first.reg0 !== undefined && !first.mem ? first.imm & 0xff : undefined;
    out.push({ index: i, wire });
  }
  return out;
}

/** A vtable-shaped object: [drop (0 or code), size, align, first method (code)]. */
async function vtableAt(elf: ElfFile, vaddr: number, fdes: FunctionTable): Promise<{ m0: number; size: number } | undefined> {
  if (vaddr % 8 !== 0 || !elf.segmentForVaddr(vaddr + 31)) return undefined;
  const [drop, size, align, m0] = await readPointers(elf, vaddr, 4);
  if (drop !== 0 && !fdes.startingAt(drop)) return undefined;
  if (size === 0 || size > 1 << 20 || ![1, 2, 4, 8, 16, 32, 64].includes(align)) return undefined;
  if (!elf.isExecutableVaddr(m0) || !fdes.startingAt(m0)) return undefined;
  return { m0, size };
}

/**
 * Locate rustls 0.23's TLS 1.3 encrypt/decrypt methods in `elf` (x86-64).
 * Pure analysis: returns ok:false for files without it.
 * @throws ElfError for read errors.
 */
export async function analyzeRustls(elf: ElfFile): Promise<RustlsResult> {
  const evidence: string[] = [];
  const fail = (code: 'NOT_RUSTLS' | 'NO_EVIDENCE' | 'AMBIGUOUS' | 'INCONSISTENT', reason: string): RustlsResult => ({ ok: false, code, reason, evidence });

  const ends = await sourceEnds(elf);
  if (ends.length === 0) return fail('NOT_RUSTLS', 'no rustls-0.23 crypto/{ring,aws_lc_rs}/tls13.rs source path in read-only data');
  const locs = await findLocations(elf, ends);
  const files = [...new Set(locs.map((l) => l.file.match(SOURCE_RE)![0]))];
  for (const f of files) evidence.push(`source path …${f} (${locs.filter((l) => l.file.endsWith(f)).length} panic locations)`);
  if (locs.length === 0) return fail('NO_EVIDENCE', 'no panic location refers to the rustls TLS 1.3 cipher module');
  const versions = new Set(locs.map((l) => l.file.match(SOURCE_RE)![1]));
  if (versions.size !== 1) return fail('AMBIGUOUS', `several rustls versions: ${[...versions].join(', ')}`);
  const version = [...versions][0];

  const list = await readEhFrame(elf).catch(() => []);
  if (list.length === 0) return fail('NO_EVIDENCE', 'no .eh_frame FDEs: function entries cannot be proven');
  const fdes = new FunctionTable(list);
  evidence.push(`${fdes.size} FDEs in .eh_frame`);

  const byLoc = new Map(locs.map((l) => [l.vaddr, l]));
  const refs = await findCodeRefs(elf, [...byLoc.keys()]);
  const owners = new Map<number, { end: number; provider: RustlsProvider; lines: string[] }>();
  for (const r of refs) {
    const f = fdes.containing(r.ip);
    if (!f) continue;
    const l = byLoc.get(r.target)!;
    const provider = l.file.match(SOURCE_RE)![2] as RustlsProvider;
    const o = owners.get(f.start) ?? { end: f.end, provider, lines: [] };
    o.lines.push(`${l.line}:${l.col}`);
    owners.set(f.start, o);
  }
  evidence.push(`${owners.size} functions load those panic locations`);

  // vtables loaded by those functions -> candidate methods
  const methods = new Map<number, { provider: RustlsProvider; vtable: number; from: number; size: number }>();
  for (const [start, o] of owners) {
    const bytes = await elf.readVaddr(start, o.end - start);
    const fn = decodeFunction(bytes, start, start, o.end);
    if (fn.problems.length) continue;
    for (const ip of fn.order) {
      const insn = fn.insns.get(ip)!;
      if (insn.op.t !== 'leaRip') continue;
      const seg = elf.segmentForVaddr(insn.op.value);
      if (!seg || (seg.flags & PF.X) !== 0) continue;
      const vt = await vtableAt(elf, insn.op.value, fdes).catch(() => undefined);
      if (vt && !methods.has(vt.m0)) methods.set(vt.m0, { provider: o.provider, vtable: insn.op.value, from: start, size: vt.size });
    }
  }
  evidence.push(`${methods.size} vtable-shaped objects loaded there (first methods: ${[...methods.keys()].map(hex).join(', ')})`);

  const found: RustlsMethod[] = [];
  const dec: { inPtr: number; inLen: number }[] = [];
  const enc: { chunks: number; typ: number; appData: number }[] = [];
  for (const [entry, m] of methods) {
    const f = fdes.startingAt(entry)!;
    const fn = decodeFunction(await elf.readVaddr(entry, f.end - entry), entry, entry, f.end);
    if (fn.problems.length) {
      evidence.push(`method ${hex(entry)} not decodable: ${fn.problems[0]}`);
      continue;
    }
    let end = entry;
    for (const i of fn.insns.values()) end = Math.max(end, i.ip + i.len);
    const d = decryptShape(fn);
    const e = await encryptShape(elf, fn);
    if (typeof d !== 'string' && typeof e !== 'string') return fail('AMBIGUOUS', `method ${hex(entry)} looks like both encrypt and decrypt`);
    if (typeof d !== 'string') {
      found.push({ kind: 'decrypt', entry, end, provider: m.provider, vtable: m.vtable });
      dec.push(d);
      evidence.push(
        `decrypt ${hex(entry)} (${m.provider}, vtable ${hex(m.vtable)}): payload at msg+${d.inPtr}, length at msg+${d.inLen} compared with the 16-byte tag`,
      );
    } else if (typeof e !== 'string') {
      found.push({ kind: 'encrypt', entry, end, provider: m.provider, vtable: m.vtable });
      enc.push(e);
      evidence.push(
        `encrypt ${hex(entry)} (${m.provider}, vtable ${hex(m.vtable)}): OutboundChunks at msg+${e.chunks}, ContentType byte at msg+${e.typ}, ApplicationData = ${e.appData}`,
      );
    }
  }
  if (!found.some((m) => m.kind === 'decrypt')) return fail('NO_EVIDENCE', 'no MessageDecrypter::decrypt method proven');
  if (!found.some((m) => m.kind === 'encrypt')) return fail('NO_EVIDENCE', 'no MessageEncrypter::encrypt method proven');
  // every cipher suite has an encrypter and a decrypter of the same shape ({key, iv}): one of a pair
  // that cannot be proven (changed code, a new rustls) would leave a direction of its connections unseen
  const sizes = (k: RustlsMethod['kind']) =>
    found
      .filter((m) => m.kind === k)
      .map((m) => `${m.provider}:${methods.get(m.entry)!.size}`)
      .sort()
      .join(' ');
  if (sizes('encrypt') !== sizes('decrypt'))
    return fail('INCONSISTENT', `encrypters (${sizes('encrypt')}) and decrypters (${sizes('decrypt')}) do not pair up by provider and object size`);
  evidence.push(`encrypters and decrypters pair up by provider and object size: ${sizes('encrypt')}`);
  const dk = new Set(dec.map((d) => `${d.inPtr}/${d.inLen}`));
  const ek = new Set(enc.map((e) => `${e.chunks}/${e.typ}/${e.appData}`));
  if (dk.size !== 1) return fail('INCONSISTENT', `decrypt methods disagree on the InboundOpaqueMessage layout: ${[...dk].join(' ')}`);
  if (ek.size !== 1) return fail('INCONSISTENT', `encrypt methods disagree on the OutboundPlainMessage layout: ${[...ek].join(' ')}`);
  for (const m of found) {
    const b = await elf.readVaddr(m.entry, 4);
    if (!(
      b[0] === 0x55 ||
      b[0] === 0x53 ||
      (b[0] === 0x41 && b[1] >= 0x54 && b[1] <= 0x57) ||
      (b[0] === 0xf3 && b[1] === 0x0f) ||
      (b[0] === 0x48 && b[2] === 0xec)
    ))
      return fail('INCONSISTENT', `method ${hex(m.entry)} does not start with a prologue`);
  }
  const providers = [...new Set(found.map((m) => m.provider))];
  return { ok: true, version, providers, methods: found, layout: { ...dec[0], ...enc[0] }, evidence };
}
