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
import { findCodeRefs, findStringsEndingWith } from './scan';
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
  /** 0-based argument index of the size_t * that receives the byte count. */
  lenArg: number;
}

export type OpensslResult =
  | { ok: true; read: OpensslInternal; write: OpensslInternal; evidence: string[] }
  | { ok: false; code: 'NOT_OPENSSL' | 'NO_EVIDENCE' | 'AMBIGUOUS' | 'INCONSISTENT'; reason: string; evidence: string[] };

async function exactString(elf: ElfFile, s: string): Promise<number[]> {
  return (await findStringsEndingWith(elf, s, (t) => t === s)).map((f) => f.vaddr);
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
    const a = await exactString(elf, n);
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
  for (const [pub, internal, key] of [
    ['SSL_read', 'ssl_read_internal', 'read'],
    ['SSL_write', 'ssl_write_internal', 'write'],
  ] as const) {
    const f = await functionOf(elf, fdes, refsTo(pub));
    if (typeof f === 'string') return fail('NO_EVIDENCE', `"${pub}" is loaded by ${f}`);
    const fn = f.fn;
    // its error site: ERR_set_debug(file, line, "SSL_read"); ERR_set_error(ERR_LIB_SSL, SSL_R_BAD_LENGTH, ...)
    const idx = fn.order.findIndex((ip) => {
      const op = fn.insns.get(ip)!.op;
      return op.t === 'leaRip' && op.value === addr[pub];
    });
    let site: Site | undefined;
    for (let k = idx; k >= 0 && k > idx - 8 && !site; k--) site = errorSite(fn, k, fileSet, addr[pub]);
    if (!site) return fail('INCONSISTENT', `${pub} at ${hex(fn.entry)}: no ERR_set_debug(ssl_lib.c, line, "${pub}") site`);
    if (site.lib !== OSSL_ERR_LIB_SSL || site.reason !== OSSL_SSL_R_BAD_LENGTH)
      return fail('INCONSISTENT', `${pub} at ${hex(fn.entry)}: error site reports library ${site.lib}, reason ${site.reason}`);
    evidence.push(`${pub} ${hex(fn.entry)}: ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH) at ssl_lib.c:${site.line}`);
    // the internal callee with (arg0, arg1, ..., &len)
    const flow = argumentFlow(fn);
    const callees: OpensslInternal[] = [];
    fn.order.forEach((ip, k) => {
      const insn = fn.insns.get(ip)!;
      if (insn.flow !== 'call' || insn.target === undefined) return;
      const st = flow.get(ip);
      const a0 = st?.[ARG_REGS[0]];
      const a1 = st?.[ARG_REGS[1]];
      if (a0?.k !== 'arg' || a0.i !== 0 || a1?.k !== 'arg' || a1.i !== 1) return;
      const rcxStack = stackAddressArg(fn, k, ARG_REGS[3]);
      const r8Stack = stackAddressArg(fn, k, ARG_REGS[4]);
      const rcx = st?.[ARG_REGS[3]];
      if (rcxStack) callees.push({ name: internal, entry: insn.target, lenArg: 3 });
      else if (key === 'write' && r8Stack && rcx?.k === 'const' && rcx.v === 0) callees.push({ name: internal, entry: insn.target, lenArg: 4 });
    });
    const targets = new Set(callees.map((c) => `${c.entry}/${c.lenArg}`));
    if (targets.size !== 1) return fail(targets.size ? 'AMBIGUOUS' : 'NO_EVIDENCE', `${pub} makes ${targets.size} calls that hand on (ssl, buf, ..., &length)`);
    const callee = callees[0];
    if (!fdes.startingAt(callee.entry)) return fail('INCONSISTENT', `${internal} at ${hex(callee.entry)} is not a function entry`);
    const own = await functionOf(elf, fdes, refsTo(internal));
    if (typeof own === 'string' || own.fn.entry !== callee.entry)
      return fail('INCONSISTENT', `the callee ${hex(callee.entry)} of ${pub} is not the one function naming "${internal}"`);
    evidence.push(`${internal} ${hex(callee.entry)}: called by ${pub} with its SSL* and buffer; byte count through argument ${callee.lenArg + 1}`);
    out[key] = callee;
  }
  return { ok: true, read: out.read!, write: out.write!, evidence };
}
