/**
 * BoringSSL SSL_read/SSL_write in a stripped executable, from evidence that
 * survives releases (see docs/boringssl-locator.md):
 *
 * 1. BoringSSL reports errors with OPENSSL_PUT_ERROR(SSL, reason), which
 *    compiles to a call of the error function with the library (ERR_LIB_SSL =
 *    16), the reason code, `__FILE__` (a string ending in "ssl/ssl_lib.cc")
 *    and `__LINE__` as immediate arguments.
 * 2. Code that loads that string is found by byte patterns, then proven by
 *    decoding the enclosing function from its entry (FDE start, or an aligned
 *    prologue after int3 padding) along its control flow.
 * 3. Each function's error sites give (reason, line) pairs. SSL_write is the
 *    one function reporting SHOULD_NOT_HAVE_BEEN_CALLED, UNINITIALIZED,
 *    SSL_HANDSHAKE_FAILURE and BAD_LENGTH in that source order; SSL_read is the
 *    one function whose only error is SHOULD_NOT_HAVE_BEEN_CALLED at a line
 *    between ssl_read_impl's and SSL_write's, and which calls ssl_read_impl
 *    (UNINITIALIZED then SSL_HANDSHAKE_FAILURE) with its own first argument.
 * 4. Cross-checks: one error function for all sites, argument flow (the
 *    buffer and length arguments reach callees), sane entries, direct callers.
 * Anything missing or not unique gives a verdict of "not supported".
 */
import type { ElfFile } from '../elf';
import { FunctionTable, readEhFrame } from '../elf';
import { codeSegments, DirectCallers, findCodeRefs, findDirectCallers, findStringsEndingWith, FoundString } from './scan';
import { argumentFlow, ARG_REGS, DecodedFunction, decodeFunction, gprName, Insn, reachableFrom, RegState, step, usesFramePointer, Value } from './x86';

/** ERR_LIB_SSL. */
export const ERR_LIB_SSL = 16;
/** Reason codes used as evidence (public, stable values of BoringSSL's err.h/ssl.h). */
export const REASON = {
  SHOULD_NOT_HAVE_BEEN_CALLED: 66, // ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED = 2 | ERR_R_FATAL
  BAD_LENGTH: 111, // SSL_R_BAD_LENGTH
  SSL_HANDSHAKE_FAILURE: 215, // SSL_R_SSL_HANDSHAKE_FAILURE
  UNINITIALIZED: 226, // SSL_R_UNINITIALIZED
} as const;
const REASON_NAME: Record<number, string> = {
  66: 'ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED',
  111: 'SSL_R_BAD_LENGTH',
  215: 'SSL_R_SSL_HANDSHAKE_FAILURE',
  226: 'SSL_R_UNINITIALIZED',
};
/** The source file whose error sites identify the functions. */
export const SSL_LIB_SOURCE = 'ssl/ssl_lib.cc';

const hex = (n: number) => '0x' + n.toString(16);
const reasonName = (r: number) => REASON_NAME[r] ?? `reason ${r}`;

/** One OPENSSL_PUT_ERROR(SSL, reason) call site. */
export interface ErrorSite {
  /** Address of the instruction loading the file name. */
  ip: number;
  /** The error function called. */
  callee: number;
  /** Address of the call instruction. */
  callIp: number;
  lib: number;
  reason: number;
  line: number;
  /** Argument index (0-based) of the file name. */
  fileArg: number;
}

/** A call made by a function, with what its argument registers hold. */
export interface CallInfo {
  ip: number;
  /** Direct target; undefined for indirect calls. */
  target?: number;
  args: (Value | undefined)[];
}

/** A function proven to contain error sites of ssl_lib.cc. */
export interface Candidate {
  entry: number;
  limit: number;
  /** How the entry was found: an FDE start, an aligned prologue after int3 padding, or an aligned prologue that direct calls reach. */
  source: 'fde' | 'padding' | 'called';
  fn: DecodedFunction;
  sites: ErrorSite[];
  calls: CallInfo[];
  /** The first instruction, as text. */
  entryText: string;
  /** int3 padding right before the entry. */
  paddedBefore: boolean;
}

/** Result of the BoringSSL analysis. */
export type BoringSslResult =
  | {
      ok: true;
      read: Candidate;
      write: Candidate;
      readImpl: Candidate;
      errorFunction: number;
      evidence: string[];
    }
  | { ok: false; code: 'NOT_BORINGSSL' | 'AMBIGUOUS' | 'NO_EVIDENCE' | 'INCONSISTENT'; reason: string; evidence: string[] };

/** A prologue-like first instruction: push reg, endbr64, sub rsp. */
function prologueAt(b: Buffer, i: number): boolean {
  const x = b[i];
  if (x === 0x55 || x === 0x53) return true; // push rbp / push rbx
  if (x === 0x41 && b[i + 1] >= 0x54 && b[i + 1] <= 0x57) return true; // push r12..r15
  if (x === 0xf3 && b[i + 1] === 0x0f && b[i + 2] === 0x1e && b[i + 3] === 0xfa) return true; // endbr64
  if (x === 0x48 && (b[i + 1] === 0x83 || b[i + 1] === 0x81) && b[i + 2] === 0xec) return true; // sub rsp, imm
  return false;
}

const SANE_ENTRY = /^(push (rbp|rbx|r1[2-5])|endbr64|sub rsp,)/;

/** How far from a reference the enclosing function's entry is looked for. */
const ENTRY_WINDOW = 256 * 1024;

/**
 * Function entries known from the code itself: an address aligned to 16 that
 * starts with a prologue and is either right after int3 (0xCC) padding or the
 * target of a direct call.
 */
class EntryFinder {
  constructor(
    private readonly elf: ElfFile,
    private readonly callers: Map<number, DirectCallers>,
  ) {}

  /** Why `a` (with bytes b[i..]) counts as an entry, or undefined. */
  private why(b: Buffer, i: number, a: number): 'padding' | 'called' | undefined {
    if (a % 16 !== 0 || !prologueAt(b, i)) return undefined;
    if (i > 0 && b[i - 1] === 0xcc) return 'padding';
    if ((this.callers.get(a)?.calls.length ?? 0) > 0) return 'called';
    return undefined;
  }

  /** The nearest entry at or before `ip` (within ENTRY_WINDOW). */
  async before(ip: number): Promise<{ entry: number; how: 'padding' | 'called' } | undefined> {
    const seg = this.elf.segmentForVaddr(ip);
    if (!seg) return undefined;
    const from = Math.max(seg.vaddr, ip - ENTRY_WINDOW);
    const buf = await this.elf.readVaddr(from, Math.min(ip + 8, seg.vaddr + seg.filesz) - from);
    for (let a = ip - (ip % 16); a > from; a -= 16) {
      const how = this.why(buf, a - from, a);
      if (how) return { entry: a, how };
    }
    return undefined;
  }

  /** The next entry after `entry` (bounds its function), or entry + ENTRY_WINDOW. */
  async after(entry: number): Promise<number> {
    const seg = this.elf.segmentForVaddr(entry)!;
    const end = Math.min(seg.vaddr + seg.filesz, entry + ENTRY_WINDOW);
    const buf = await this.elf.readVaddr(entry, end - entry);
    for (let a = entry + 16 - (entry % 16); a + 4 <= end; a += 16) {
      if (this.why(buf, a - entry, a)) return a;
    }
    return end;
  }
}

/**
 * Resolve the arguments of the error call reached from a file-name load: walk
 * from the start of its basic block, through unconditional jumps, to the first
 * call, tracking constants. Undefined when the path branches or leaves.
 */
export function resolveSite(fn: DecodedFunction, idx: number, fileAddrs: Set<number>): ErrorSite | undefined {
  const ip = fn.order[idx];
  // back to the block leader
  let k = idx;
  while (k > 0) {
    const prev = fn.insns.get(fn.order[k - 1])!;
    const cur = fn.order[k];
    if (prev.ip + prev.len !== cur || prev.flow !== 'next' || fn.branchTargets.has(cur)) break;
    k--;
  }
  const s: RegState = new Array(16).fill(undefined);
  let at: number | undefined = fn.order[k];
  let jumps = 0;
  for (let n = 0; n < 64 && at !== undefined; n++) {
    const insn: Insn | undefined = fn.insns.get(at);
    if (!insn) return undefined;
    if (insn.flow === 'call') {
      const args = ARG_REGS.map((r) => s[r]);
      const fileArg = args.findIndex((v) => v?.k === 'const' && fileAddrs.has(v.v));
      if (fileArg < 2 || fileArg + 1 >= args.length) return undefined;
      const lib = args[0];
      const reason = args[fileArg - 1];
      const line = args[fileArg + 1];
      if (lib?.k !== 'const' || reason?.k !== 'const' || line?.k !== 'const') return undefined;
      return { ip, callee: insn.target!, callIp: insn.ip, lib: lib.v, reason: reason.v, line: line.v, fileArg };
    }
    if (insn.flow === 'jmp') {
      if (++jumps > 4) return undefined;
      at = insn.target;
      continue;
    }
    if (insn.flow !== 'next') return undefined;
    step(s, insn);
    at = insn.ip + insn.len;
  }
  return undefined;
}

function callsOf(fn: DecodedFunction, flow: Map<number, RegState>): CallInfo[] {
  const out: CallInfo[] = [];
  for (const ip of fn.order) {
    const insn = fn.insns.get(ip)!;
    if (insn.flow !== 'call' && insn.flow !== 'call-indirect') continue;
    const st = flow.get(ip);
    const args = ARG_REGS.map((r) => st?.[r]);
    out.push(insn.flow === 'call' ? { ip, target: insn.target, args } : { ip, args });
  }
  return out;
}

const isArg = (v: Value | undefined, i: number, width?: number) => v?.k === 'arg' && v.i === i && (width === undefined || v.width === width);

function firstLine(c: Candidate, reason: number): number | undefined {
  let best: number | undefined;
  for (const s of c.sites) if (s.reason === reason && (best === undefined || s.line < best)) best = s.line;
  return best;
}

function describeSites(c: Candidate): string {
  return [...c.sites]
    .sort((a, b) => a.line - b.line)
    .map((s) => `${reasonName(s.reason)}@${s.line}`)
    .join(', ');
}

/**
 * Does the function store to non-stack memory after a call that receives its
 * buf (entry rsi) in another argument register (the copy out of the record
 * buffer)? SSL_read does (it advances the pending data); SSL_peek does not.
 */
function consumesAfterCopy(c: Candidate): boolean {
  const fp = usesFramePointer(c.fn);
  const isStack = (base: number) => base === 4 || (fp && base === 5);
  for (const k of c.calls) {
    if (!k.args.some((v, pos) => pos !== 1 && isArg(v, 1, 64))) continue;
    const call = c.fn.insns.get(k.ip)!;
    for (const ip of reachableFrom(c.fn, call.ip + call.len)) {
      const base = c.fn.insns.get(ip)!.memWriteBase;
      if (base !== undefined && base >= 0 && !isStack(base)) return true;
    }
  }
  return false;
}

/**
 * Locate BoringSSL's SSL_read and SSL_write in `elf` (x86-64). Pure analysis:
 * never throws for a well-formed file without BoringSSL, returns ok:false.
 * @throws ElfError for read errors (truncated file, ...).
 */
export async function analyzeBoringSsl(elf: ElfFile): Promise<BoringSslResult> {
  const evidence: string[] = [];
  const fail = (code: 'NOT_BORINGSSL' | 'AMBIGUOUS' | 'NO_EVIDENCE' | 'INCONSISTENT', reason: string): BoringSslResult => ({
    ok: false,
    code,
    reason,
    evidence,
  });

  // 1. the source-path string
  const files: FoundString[] = await findStringsEndingWith(elf, SSL_LIB_SOURCE, (s) => s === SSL_LIB_SOURCE || s.endsWith('/' + SSL_LIB_SOURCE));
  if (files.length === 0) return fail('NOT_BORINGSSL', `no "${SSL_LIB_SOURCE}" source path in read-only data: no BoringSSL`);
  for (const f of files) evidence.push(`BoringSSL source path "${f.text}" at ${hex(f.vaddr)}`);
  const fileAddrs = new Set(files.map((f) => f.vaddr));

  // 2. candidate references, grouped by enclosing function
  const refs = await findCodeRefs(elf, [...fileAddrs]);
  evidence.push(`${refs.length} candidate code references to it (mov imm32 / lea rip)`);
  if (refs.length === 0) return fail('NO_EVIDENCE', `no code refers to "${files[0].text}"`);

  let fdes: FunctionTable | undefined;
  try {
    const list = await readEhFrame(elf);
    if (list.length > 0) fdes = new FunctionTable(list);
  } catch {
    fdes = undefined; // unreadable unwind tables: padding evidence only
  }
  evidence.push(`${fdes?.size ?? 0} FDEs in .eh_frame`);

  // direct calls into the neighbourhood of the references: entry evidence
  const callers = await findDirectCallers(
    elf,
    refs.map((r) => ({ lo: r.ip - ENTRY_WINDOW, hi: r.ip + ENTRY_WINDOW })),
  );
  const entries = new EntryFinder(elf, callers);

  const candidates = new Map<number, Candidate>();
  const rejected = new Map<number, string>();
  let proven = 0;
  for (const ref of refs) {
    if ([...candidates.values()].some((c) => c.fn.insns.has(ref.ip))) {
      proven++;
      continue;
    }
    const fde = fdes?.containing(ref.ip);
    let entry: number;
    let limit: number;
    let source: Candidate['source'];
    if (fde) {
      entry = fde.start;
      limit = fde.end;
      source = 'fde';
    } else {
      const found = await entries.before(ref.ip);
      if (!found) continue;
      entry = found.entry;
      limit = await entries.after(entry);
      source = found.how;
    }
    if (ref.ip >= limit || candidates.has(entry) || rejected.has(entry)) continue;
    const bytes = await elf.readVaddr(entry, limit - entry);
    const fn = decodeFunction(bytes, entry, entry, limit);
    if (fn.problems.length > 0) {
      rejected.set(entry, fn.problems[0]);
      continue;
    }
    if (!fn.insns.has(ref.ip)) continue;
    proven++;
    const flow = argumentFlow(fn);
    const sites: ErrorSite[] = [];
    fn.order.forEach((ip, idx) => {
      const op = fn.insns.get(ip)!.op;
      if ((op.t === 'movImm' || op.t === 'leaRip') && fileAddrs.has(op.value)) {
        const site = resolveSite(fn, idx, fileAddrs);
        if (site) sites.push(site);
      }
    });
    const pre = await elf.readVaddr(entry - 1, 1);
    candidates.set(entry, {
      entry,
      limit,
      source,
      fn,
      sites,
      calls: callsOf(fn, flow),
      entryText: fn.insns.get(entry)?.text ?? '',
      paddedBefore: pre[0] === 0xcc,
    });
  }
  evidence.push(`${proven} references proven by decoding, in ${candidates.size} functions`);
  for (const [e, why] of rejected) evidence.push(`function at ${hex(e)} not decodable: ${why}`);

  // 3. one error function, ERR_LIB_SSL everywhere
  const all = [...candidates.values()];
  const sslSites = all.flatMap((c) => c.sites);
  if (sslSites.length === 0) return fail('NO_EVIDENCE', 'no OPENSSL_PUT_ERROR call site of ssl_lib.cc could be resolved');
  const callees = new Map<number, number>();
  for (const s of sslSites) callees.set(s.callee, (callees.get(s.callee) ?? 0) + 1);
  const [errorFunction] = [...callees.entries()].sort((a, b) => b[1] - a[1])[0];
  const fileArgIdx = sslSites.find((s) => s.callee === errorFunction)!.fileArg;
  evidence.push(
    `error function ${hex(errorFunction)} takes (library=${gprName(ARG_REGS[0])}, reason=${gprName(ARG_REGS[fileArgIdx - 1])}, ` +
      `file=${gprName(ARG_REGS[fileArgIdx])}, line=${gprName(ARG_REGS[fileArgIdx + 1])}) at ${callees.get(errorFunction)} of ${sslSites.length} sites`,
  );

  // 4. identify the functions
  const has = (c: Candidate, ...rs: number[]) => rs.every((r) => c.sites.some((s) => s.reason === r));
  const R = REASON;
  const writes = all.filter((c) => {
    if (!has(c, R.SHOULD_NOT_HAVE_BEEN_CALLED, R.UNINITIALIZED, R.SSL_HANDSHAKE_FAILURE)) return false;
    const l66 = firstLine(c, R.SHOULD_NOT_HAVE_BEEN_CALLED)!;
    const lU = firstLine(c, R.UNINITIALIZED)!;
    const lH = firstLine(c, R.SSL_HANDSHAKE_FAILURE)!;
    const lB = firstLine(c, R.BAD_LENGTH); // newer BoringSSL also rejects num < 0
    return l66 < lU && lU < lH && lH - l66 < 120 && (lB === undefined || (lH < lB && lB - l66 < 120));
  });
  if (writes.length === 0) {
    return fail('NO_EVIDENCE', "no function reports SHOULD_NOT_HAVE_BEEN_CALLED, UNINITIALIZED, SSL_HANDSHAKE_FAILURE (BAD_LENGTH) in SSL_write's order");
  }
  if (writes.length > 1) {
    return fail('AMBIGUOUS', `${writes.length} functions look like SSL_write: ${writes.map((c) => hex(c.entry)).join(', ')}`);
  }
  const write = writes[0];
  const writeLine = firstLine(write, R.SHOULD_NOT_HAVE_BEEN_CALLED)!;
  evidence.push(`SSL_write candidate ${hex(write.entry)} (the only one): error sites ${describeSites(write)}`);

  const impls = all.filter((c) => {
    if (c === write || !has(c, R.UNINITIALIZED, R.SSL_HANDSHAKE_FAILURE)) return false;
    const lU = firstLine(c, R.UNINITIALIZED)!;
    const lH = firstLine(c, R.SSL_HANDSHAKE_FAILURE)!;
    return lU < lH && lH < writeLine;
  });
  const implEntries = new Set(impls.map((c) => c.entry));
  const reads = all.filter((c) => {
    if (c === write || c.sites.length !== 1 || c.sites[0].reason !== R.SHOULD_NOT_HAVE_BEEN_CALLED) return false;
    const l = c.sites[0].line;
    if (l >= writeLine) return false;
    return c.calls.some(
      (k) =>
        k.target !== undefined && implEntries.has(k.target) && isArg(k.args[0], 0, 64) && l > firstLine(candidates.get(k.target)!, R.SSL_HANDSHAKE_FAILURE)!,
    );
  });
  if (impls.length === 0) return fail('NO_EVIDENCE', 'no function looks like ssl_read_impl (UNINITIALIZED then SSL_HANDSHAKE_FAILURE before SSL_write)');
  if (reads.length === 0) {
    return fail('NO_EVIDENCE', 'no function looks like SSL_read (only SHOULD_NOT_HAVE_BEEN_CALLED, calling ssl_read_impl with its SSL*)');
  }
  // SSL_peek shares SSL_read's error site (SSL_read calls or inlines it). SSL_read
  // consumes what it copied: it stores to the SSL state after the copy to buf.
  const consuming = reads.filter((c) => consumesAfterCopy(c));
  evidence.push(
    `SSL_read/SSL_peek-like functions: ${reads.map((c) => hex(c.entry)).join(', ')}; consuming after the copy to buf: ${consuming.map((c) => hex(c.entry)).join(', ') || 'none'}`,
  );
  if (consuming.length === 0) {
    return fail('NO_EVIDENCE', `no SSL_read-like function consumes the data it copies (only SSL_peek-like ones: ${reads.map((c) => hex(c.entry)).join(', ')})`);
  }
  if (consuming.length > 1) {
    return fail('AMBIGUOUS', `${consuming.length} functions look like SSL_read: ${consuming.map((c) => hex(c.entry)).join(', ')}`);
  }
  const read = consuming[0];
  const implCall = read.calls.find((k) => k.target !== undefined && implEntries.has(k.target) && isArg(k.args[0], 0, 64))!;
  const readImpl = candidates.get(implCall.target!)!;
  evidence.push(
    `SSL_read candidate ${hex(read.entry)} (the only one): error site ${describeSites(read)}; calls ssl_read_impl ${hex(readImpl.entry)} (${describeSites(readImpl)}) with its SSL* at ${hex(implCall.ip)}`,
  );

  // 5. cross-checks
  for (const [name, c] of [
    ['SSL_write', write],
    ['SSL_read', read],
    ['ssl_read_impl', readImpl],
  ] as const) {
    const bad = c.sites.filter((s) => s.callee !== errorFunction || s.lib !== ERR_LIB_SSL);
    if (bad.length > 0)
      return fail('INCONSISTENT', `${name} ${hex(c.entry)}: error site at ${hex(bad[0].ip)} calls ${hex(bad[0].callee)} with library ${bad[0].lib}`);
    if (!SANE_ENTRY.test(c.entryText)) return fail('INCONSISTENT', `${name} ${hex(c.entry)} does not start like a function ("${c.entryText}")`);

    const fde = fdes?.containing(c.entry);
    if (fde && fde.start !== c.entry) return fail('INCONSISTENT', `${name} ${hex(c.entry)} lies inside the FDE ${hex(fde.start)}..${hex(fde.end)}`);
  }
  // The buffer (entry rsi) and length (entry edx) must be handed on by the
  // function itself, moved into other argument registers: SSL_write gives both
  // to the record layer, SSL_read gives buf to the copy out of the record
  // buffer. (A call that merely finds them still in rsi/rdx proves nothing.)
  const moved = (k: CallInfo, argIdx: number, width?: number) => k.args.some((v, pos) => pos !== argIdx && isArg(v, argIdx, width));
  const writeBufCalls = write.calls.filter((k) => moved(k, 1, 64) && moved(k, 2));
  if (writeBufCalls.length === 0) {
    return fail('INCONSISTENT', `SSL_write ${hex(write.entry)} never hands its buf (rsi) and num (edx) on to a callee`);
  }
  const at = (k: CallInfo) => {
    const where = (i: number) =>
      k.args
        .map((v, pos) => (pos !== i && isArg(v, i) ? gprName(ARG_REGS[pos]) : ''))
        .filter(Boolean)
        .join('/');
    return `${hex(k.ip)} (buf in ${where(1)}${where(2) ? `, num in ${where(2)}` : ''})`;
  };
  evidence.push(`SSL_write hands buf and num to the record layer: call at ${writeBufCalls.map(at).join(', ')}`);
  const readBufCalls = read.calls.filter((k) => moved(k, 1, 64));
  if (readBufCalls.length === 0) return fail('INCONSISTENT', `SSL_read ${hex(read.entry)} never hands its buf (rsi) on to a callee`);
  evidence.push(`SSL_read hands buf to the copy out of the record buffer: call at ${readBufCalls.map(at).join(', ')}`);

  for (const [name, c] of [
    ['SSL_write', write],
    ['SSL_read', read],
  ] as const) {
    const n = callers.get(c.entry) ?? { calls: [], jumps: [] };
    const fromFde = c.source === 'fde';
    if (n.calls.length === 0 && !fromFde) {
      return fail('INCONSISTENT', `${name} ${hex(c.entry)}: no direct call reaches this entry and no FDE starts there`);
    }
    evidence.push(
      `${name} entry ${hex(c.entry)}: "${c.entryText}", ${fromFde ? 'FDE start' : c.paddedBefore ? 'aligned after int3 padding' : 'aligned, no padding before'}, ` +
        (n.calls.length === 0
          ? 'no direct calls (reached through its FDE-proven entry only)'
          : `${n.calls.length} direct call(s) from ${n.calls.slice(0, 4).map(hex).join(', ')}${n.calls.length > 4 ? ', ...' : ''}`),
    );
  }
  const implCallers = callers.get(readImpl.entry)?.calls ?? [];
  if (!implCallers.includes(implCall.ip)) {
    return fail('INCONSISTENT', `the byte scan does not see SSL_read's call to ssl_read_impl at ${hex(implCall.ip)}`);
  }
  const segs = codeSegments(elf);
  if (!segs.some((s) => write.entry >= s.vaddr && write.entry < s.vaddr + s.filesz)) {
    return fail('INCONSISTENT', 'SSL_write is not in an executable segment');
  }
  return { ok: true, read, write, readImpl, errorFunction, evidence };
}
