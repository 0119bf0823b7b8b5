/**
 * OpenSSL 3 linked statically into a stripped file (Codex's and Copilot
 * CLI's Rust code through rust-openssl / native-tls), from its own error
 * sites (see docs/rustls-locator.md):
 *
 * 1. OpenSSL 3 reports errors with ERR_raise(ERR_LIB_SSL, reason), which is
 *    `ERR_new(); ERR_set_debug(OPENSSL_FILE, OPENSSL_LINE, OPENSSL_FUNC);
 *    ERR_set_error(lib, reason, NULL)`: the file ("…ssl/ssl_lib.c") and the
 *    function's own name ("SSL_read") are immediate arguments.
 * 2. The one function loading "SSL_read" is SSL_read: its site must call the
 *    debug function with (file, line, "SSL_read") and the error function with
 *    ERR_LIB_SSL and SSL_R_BAD_LENGTH (the `num < 0` check). The same for
 *    SSL_write.
 * 3. SSL_read calls ssl_read_internal(s, buf, num, &readbytes) with its own
 *    first two arguments and a stack slot: that callee is probed (it serves
 *    SSL_read, SSL_read_ex and SSL_peek's siblings alike, so nothing nests), and
 *    it must itself report errors as "ssl_read_internal". SSL_write calls
 *    ssl_write_internal(s, buf, num, [flags,] &written): the stack slot's
 *    position (4th argument in 3.0/3.1, 5th from 3.2 on) is read from the call.
 */
import type { ElfFile } from '../elf';
import { FunctionTable, readEhFrame } from '../elf';
import { findCodeRefs, findDirectCallers, findStringsEndingWith } from './scan';
import { ARG_REGS, argumentFlow, decodeFunction, type DecodedFunction, GPR, type Insn, step, type RegState } from './x86';

const hex = (n: number) => '0x' + n.toString(16);

/** ERR_LIB_SSL of OpenSSL 3. */
export const OSSL_ERR_LIB_SSL = 20;
/** SSL_R_BAD_LENGTH. */
export const OSSL_SSL_R_BAD_LENGTH = 271;
export const OSSL_SOURCE = 'ssl/ssl_lib.c';

/** A located OpenSSL internal function and where its output length pointer is. */
export interface OpensslInternal {
  name: 'ssl_read_internal' | 'ssl_write_internal';
  entry: number;
  /** End of the last instruction the proof decoded. */
  end: number;
  /** 0-based argument index of the size_t * that receives the byte count. */
  lenArg: number;
}

export type OpensslResult =
  | { ok: true; read: OpensslInternal; write: OpensslInternal; evidence: string[] }
  | { ok: false; code: 'NOT_OPENSSL' | 'NO_EVIDENCE' | 'AMBIGUOUS' | 'INCONSISTENT'; reason: string; evidence: string[] };

/**
 * Addresses of the NUL-terminated string `s` in read-only data, also where the
 * linker merged it into the tail of a longer string ("dtls1_SSL_write"): code
 * that needs "SSL_write" loads the address of its first character.
 */
async function stringAddrs(elf: ElfFile, s: string): Promise<number[]> {
  return (await findStringsEndingWith(elf, s)).map((f) => f.vaddr + f.text.length - s.length);
}

/** The register a call site's instructions last set before `callIdx` in block order, if it is loaded with a stack address. */
function stackAddressArg(fn: DecodedFunction, callIdx: number, reg: number): boolean {
  for (let k = callIdx - 1; k >= 0 && k >= callIdx - 10; k--) {
    const insn = fn.insns.get(fn.order[k])!;
    if (insn.flow !== 'next') return false;
    if (!(insn.writes & (1 << reg)) && !(insn.op.t !== 'other' && 'dst' in insn.op && insn.op.dst === reg)) continue;
    if (insn.mn === 'lea' && insn.reg0 === reg && insn.mem && (insn.mem.base === GPR.rsp || insn.mem.base === GPR.rbp) && insn.mem.index < 0) return true;
    if (insn.op.t === 'movReg' && insn.op.dst === reg && insn.op.src === GPR.rsp) return true;
    return false;
  }
  return false;
}

interface Site {
  line: number;
  lib: number;
  reason: number;
}

/** From a `lea rdx, <func name>` in `fn`, the (file, line, func) debug call then the (lib, reason) error call. */
function errorSite(fn: DecodedFunction, idx: number, files: Set<number>, func: number): Site | undefined {
  const s: RegState = new Array(16).fill(undefined);
  let calls = 0;
  let line: number | undefined;
  for (let k = idx; k < fn.order.length && k < idx + 40; k++) {
    const insn: Insn = fn.insns.get(fn.order[k])!;
    if (insn.flow === 'call') {
      const a = ARG_REGS.map((r) => s[r]);
      if (calls === 0) {
        if (a[0]?.k !== 'const' || !files.has(a[0].v) || a[1]?.k !== 'const' || a[2]?.k !== 'const' || a[2].v !== func) return undefined;
        line = a[1].v;
      } else {
        if (a[0]?.k !== 'const' || a[1]?.k !== 'const') return undefined;
        return { line: line!, lib: a[0].v, reason: a[1].v };
      }
      calls++;
      step(s, insn);
      continue;
    }
    if (insn.flow !== 'next') return undefined;
    step(s, insn);
  }
  return undefined;
}

/** For each target, the functions (FDE starts) with a direct call or jump to it (one scan of the code). */
async function callersOf(elf: ElfFile, fdes: FunctionTable, targets: number[]): Promise<Map<number, number[]>> {
  const m = await findDirectCallers(
    elf,
    targets.map((t) => ({ lo: t, hi: t + 1 })),
  );
  const out = new Map<number, number[]>();
  for (const target of targets) {
    const c = m.get(target);
    const starts = new Set<number>();
    for (const ip of [...(c?.calls ?? []), ...(c?.jumps ?? [])]) {
      const f = fdes.containing(ip);
      if (f && f.start !== target) starts.add(f.start);
    }
    out.set(target, [...starts]);
  }
  return out;
}

async function functionOf(elf: ElfFile, fdes: FunctionTable, refs: number[]): Promise<{ fn: DecodedFunction } | string> {
  const starts = new Set<number>();
  for (const ip of refs) {
    const f = fdes.containing(ip);
    if (f) starts.add(f.start);
  }
  if (starts.size !== 1) return `${starts.size} functions`;
  const start = [...starts][0];
  const f = fdes.startingAt(start)!;
  const fn = decodeFunction(await elf.readVaddr(start, f.end - start), start, start, f.end);
  if (fn.problems.length) return `not decodable: ${fn.problems[0]}`;
  return { fn };
}

/**
 * Locate OpenSSL 3's ssl_read_internal / ssl_write_internal in a file that
 * links OpenSSL statically without exporting its symbols.
 * @throws ElfError for read errors.
 */
export async function analyzeOpenssl(elf: ElfFile): Promise<OpensslResult> {
  const evidence: string[] = [];
  const fail = (code: 'NOT_OPENSSL' | 'NO_EVIDENCE' | 'AMBIGUOUS' | 'INCONSISTENT', reason: string): OpensslResult => ({ ok: false, code, reason, evidence });
  const files = await findStringsEndingWith(elf, OSSL_SOURCE, (t) => t === OSSL_SOURCE || t.endsWith('/' + OSSL_SOURCE));
  if (files.length === 0) return fail('NOT_OPENSSL', `no "${OSSL_SOURCE}" source path in read-only data`);
  for (const f of files) evidence.push(`OpenSSL source path "${f.text}" at ${hex(f.vaddr)}`);
  const fileSet = new Set(files.map((f) => f.vaddr));
  const names = ['SSL_read', 'SSL_write', 'ssl_read_internal', 'ssl_write_internal'] as const;
  const addr: Record<string, number> = {};
  for (const n of names) {
    const a = await stringAddrs(elf, n);
    if (a.length !== 1) return fail(a.length ? 'AMBIGUOUS' : 'NO_EVIDENCE', `${a.length} "${n}" function-name strings`);
    addr[n] = a[0];
  }
  const list = await readEhFrame(elf).catch(() => []);
  if (list.length === 0) return fail('NO_EVIDENCE', 'no .eh_frame FDEs: function entries cannot be proven');
  const fdes = new FunctionTable(list);
  const refs = await findCodeRefs(
    elf,
    names.map((n) => addr[n]),
  );
  const refsTo = (n: string) => refs.filter((r) => r.target === addr[n]).map((r) => r.ip);

  const out: Partial<Record<'read' | 'write', OpensslInternal>> = {};
  const pairs = [
    ['SSL_read', 'ssl_read_internal', 'read'],
    ['SSL_write', 'ssl_write_internal', 'write'],
  ] as const;
  // the internal functions name themselves in their error sites; each must be one function
  const owns: DecodedFunction[] = [];
  for (const [, internal] of pairs) {
    const own = await functionOf(elf, fdes, refsTo(internal));
    if (typeof own === 'string') return fail('NO_EVIDENCE', `"${internal}" is loaded by ${own}`);
    owns.push(own.fn);
  }
  const callers = await callersOf(
    elf,
    fdes,
    owns.map((f) => f.entry),
  );
  for (const [n, [pub, internal, key]] of pairs.entries()) {
    const own = { fn: owns[n] };
    const target = own.fn.entry;
    let sites = 0;
    own.fn.order.forEach((ip, k) => {
      const op = own.fn.insns.get(ip)!.op;
      if (op.t !== 'leaRip' || op.value !== addr[internal]) return;
      for (let j = k; j >= 0 && j > k - 8; j--) {
        const site = errorSite(own.fn, j, fileSet, addr[internal]);
        if (site) {
          if (site.lib === OSSL_ERR_LIB_SSL) sites++;
          break;
        }
      }
    });
    if (sites === 0) return fail('INCONSISTENT', `${internal} at ${hex(target)}: no ERR_raise(ERR_LIB_SSL, ...) site naming it in ssl_lib.c`);
    evidence.push(`${internal} ${hex(target)}: ${sites} ERR_raise(ERR_LIB_SSL, ...) sites naming it in ssl_lib.c`);
    // its callers (SSL_read/SSL_read_ex, SSL_write/SSL_write_ex2) say where the length pointer goes
    const lenArgs = new Set<number>();
    for (const callerStart of callers.get(target) ?? []) {
      const f = fdes.startingAt(callerStart)!;
      const fn = decodeFunction(await elf.readVaddr(callerStart, f.end - callerStart), callerStart, callerStart, f.end);
      if (fn.problems.length) continue;
      const flow = argumentFlow(fn);
      fn.order.forEach((ip, k) => {
        const insn = fn.insns.get(ip)!;
        if ((insn.flow !== 'call' && insn.flow !== 'jmp') || insn.target !== target) return;
        const st = flow.get(ip);
        const a = ARG_REGS.map((r) => st?.[r]);
        if (a[0]?.k !== 'arg' || a[0].i !== 0 || a[1]?.k !== 'arg' || a[1].i !== 1) return;
        const pointerAt = (i: number) => stackAddressArg(fn, k, ARG_REGS[i]) || (a[i]?.k === 'arg' && a[i]!.width === 64 && a[i]!.i === i);
        const isArg = (v: (typeof a)[number], i: number) => v?.k === 'arg' && v.width === 64 && v.i === i;
        const flagsZero = a[3]?.k === 'const' && a[3].v === 0;
        if (key === 'write' && isArg(a[4], 4) && (isArg(a[3], 3) || flagsZero))
          lenArgs.add(4); // SSL_write_ex2(s, buf, num, flags, written)
        else if (key === 'write' && flagsZero && (stackAddressArg(fn, k, ARG_REGS[4]) || isArg(a[4], 3)))
          lenArgs.add(4); // SSL_write, SSL_write_ex
        else if (pointerAt(3)) lenArgs.add(3);
      });
    }
    if (lenArgs.size !== 1)
      return fail(
        lenArgs.size ? 'INCONSISTENT' : 'NO_EVIDENCE',
        `callers of ${internal} pass its length pointer as argument ${[...lenArgs].map((x) => x + 1).join(' and ') || '(none found)'}`,
      );
    const lenArg = [...lenArgs][0];
    evidence.push(`${internal}: its callers hand on (ssl, buf, num${lenArg === 4 ? ', flags = 0' : ''}, &length): byte count through argument ${lenArg + 1}`);
    // SSL_read/SSL_write themselves, when linked in: their num < 0 check
    const pubRefs = refsTo(pub);
    if (pubRefs.length > 0) {
      const f = await functionOf(elf, fdes, pubRefs);
      if (typeof f !== 'string') {
        const idx = f.fn.order.findIndex((ip) => {
          const op = f.fn.insns.get(ip)!.op;
          return op.t === 'leaRip' && op.value === addr[pub];
        });
        let site: Site | undefined;
        for (let k = idx; k >= 0 && k > idx - 8 && !site; k--) site = errorSite(f.fn, k, fileSet, addr[pub]);
        if (site && (site.lib !== OSSL_ERR_LIB_SSL || site.reason !== OSSL_SSL_R_BAD_LENGTH))
          return fail('INCONSISTENT', `${pub} at ${hex(f.fn.entry)}: error site reports library ${site.lib}, reason ${site.reason}`);
        if (site) evidence.push(`${pub} ${hex(f.fn.entry)}: ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH) at ssl_lib.c:${site.line}`);
      }
    }
    let end = target;
    for (const i of own.fn.insns.values()) end = Math.max(end, i.ip + i.len);
    out[key] = { name: internal, entry: target, end, lenArg };
  }
  return { ok: true, read: out.read!, write: out.write!, evidence };
}
