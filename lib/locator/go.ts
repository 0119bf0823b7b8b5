/**
 * Go crypto/tls in a Go executable: where to probe (*tls.Conn).Read, Write
 * and Close, and what is known of the Conn's layout. See docs/architecture.md (Go crypto/tls).
 *
 * Functions come from .symtab when the file has one, else from Go's own
 * function table (.gopclntab, kept by `-ldflags=-s -w`). Each function is
 * decoded whole (a linear sweep: Go puts no data in its text) for its RET
 * instructions, the return probes' sites, and must check its stack against
 * the goroutine in r14 (`cmp rsp,[r14+10h]`): the register ABI of Go 1.17+
 * on amd64, where b []byte arrives in rbx/rcx and n returns in rax. Nothing
 * is guessed: a file that does not show all of this is not probed.
 *
 * The socket fd path (Conn.conn -> *net.TCPConn -> netFD -> poll.FD.Sysfd)
 * needs the struct layouts, read from DWARF, and the hash of the
 * *net.TCPConn itab, read from the itab .symtab names; without them (a
 * stripped file) the tracer takes the socket from the I/O inside the calls.
 */
import { ElfError, ElfFile, EM_X86_64, findSymbolsIn, parseGoVersion, readDwarfStructs, readGoBuildInfo, readGoFuncTable, isGoBinary } from '../elf';
import { decodeRange } from './x86';

export const GO_TLS_FUNCTIONS = {
  read: 'crypto/tls.(*Conn).Read',
  write: 'crypto/tls.(*Conn).Write',
  close: 'crypto/tls.(*Conn).Close',
} as const;
export type GoTlsRole = keyof typeof GO_TLS_FUNCTIONS;

/** One function to probe. */
export interface GoTlsFunction {
  role: GoTlsRole;
  name: string;
  /** Link-time virtual address of the entry. */
  vaddr: number;
  /** File offset of the entry (the entry probe). */
  offset: number;
  /** File offsets of its RET instructions (the return probes; none needed for close). */
  returns: number[];
}

/** Offsets of the fields from a *tls.Conn to its socket fd, and the itab hash that says its conn is a *net.TCPConn. */
export interface GoConnLayout {
  connConn: number;
  tcpconnFd: number;
  netfdPfd: number;
  fdSysfd: number;
  itabHash: number;
}

export type GoTlsAnalysis =
  | { go: false }
  /** A Go executable without crypto/tls's Conn methods: it does no TLS that way. */
  | { go: true; tls: false; version?: string }
  /** It has them but cannot be probed. */
  | { go: true; tls: true; supported: false; version?: string; reason: string }
  | {
      go: true;
      tls: true;
      supported: true;
      version?: string;
      /** Where the functions were found. */
      source: 'symtab' | 'gopclntab';
      functions: GoTlsFunction[];
      /** Set when the socket fd can be read from the Conn. */
      layout?: GoConnLayout;
      /** Why not, when layout is absent. */
      layoutMissing?: string;
      evidence: string[];
    };

/** Upper bound on a function's size worth decoding (Read and Write are a few KB). */
const MAX_FUNC_BYTES = 1 << 20;

/** The register ABI's stack check through g in r14 among the first instructions. */
function checksStackThroughR14(texts: string[]): boolean {
  return texts.slice(0, 4).some((t) => /^cmp (rsp|r12),\[r14\+10h\]$/.test(t));
}

/** Analyse one executable. @throws ElfError when it cannot be read. */
export async function analyzeGoTls(path: string): Promise<GoTlsAnalysis> {
  const elf = await ElfFile.open(path);
  try {
    return await analyze(elf);
  } finally {
    await elf.close().catch(() => undefined);
  }
}

async function analyze(elf: ElfFile): Promise<GoTlsAnalysis> {
  if (!isGoBinary(elf)) return { go: false };
  const { version } = await readGoBuildInfo(elf);
  const v = version ? { version } : {};
  const names = Object.values(GO_TLS_FUNCTIONS);
  const wanted = new Set<string>(names);
  const fromSymtab = (await elf.symbols('symtab')).filter((s) => wanted.has(s.name) && s.defined && s.type === 'FUNC' && s.size > 0);
  let source: 'symtab' | 'gopclntab' = 'symtab';
  let found = fromSymtab.map((s) => ({ name: s.name, entry: s.value, end: s.value + s.size }));
  if (found.length === 0) {
    source = 'gopclntab';
    try {
      found = (await readGoFuncTable(elf)).find(names);
    } catch (err) {
      if (!(err instanceof ElfError) || err.code !== 'EBADELF') throw err;
      return { go: true, tls: true, supported: false, ...v, reason: err.message.slice(elf.path.length + 2) };
    }
  }
  const twice = found.find((f, i) => found.findIndex((g) => g.name === f.name) !== i);
  if (twice) return { go: true, tls: true, supported: false, ...v, reason: `${source} has more than one ${twice.name}` };
  const byName = new Map(found.map((f) => [f.name, f]));
  if (!byName.has(GO_TLS_FUNCTIONS.read) || !byName.has(GO_TLS_FUNCTIONS.write)) return { go: true, tls: false, ...v };
  const unsupported = (reason: string): GoTlsAnalysis => ({ go: true, tls: true, supported: false, ...v, reason });
  if (elf.header.machine !== EM_X86_64) return unsupported(`machine ${elf.header.machine} (only x86-64 is probed)`);
  const gv = parseGoVersion(version);
  if (gv && (gv[0] < 1 || (gv[0] === 1 && gv[1] < 17))) return unsupported(`${version} passes arguments on the stack (the register ABI is Go 1.17 and later)`);

  const evidence: string[] = [`${version ?? 'Go (version not recorded)'}; functions from ${source}`];
  const functions: GoTlsFunction[] = [];
  for (const [role, name] of Object.entries(GO_TLS_FUNCTIONS) as [GoTlsRole, string][]) {
    const f = byName.get(name);
    if (!f) continue; // Close is optional: without it sockets are forgotten when they are reused
    const offset = elf.vaddrToFileOffset(f.entry);
    const size = f.end - f.entry;
    if (offset === undefined || !elf.isExecutableVaddr(f.entry)) return unsupported(`${name} at 0x${f.entry.toString(16)} is not in an executable segment`);
    if (size <= 0 || size > MAX_FUNC_BYTES) return unsupported(`${name} has an implausible size (${size} bytes)`);
    const code = await elf.readVaddr(f.entry, size);
    const { insns, problems } = decodeRange(code, f.entry, f.entry, f.end);
    // padding after the last instruction (int3) is part of the range: only real instructions count
    if (problems.length) return unsupported(`${name}: ${problems[0]}`);
    if (!checksStackThroughR14(insns.map((i) => i.text)))
      return unsupported(`${name} does not check its stack through r14 (not Go's register ABI: Go 1.17 or later on amd64 is needed)`);
    const rets = insns.filter((i) => i.flow === 'ret' && i.text === 'ret').map((i) => i.ip);
    if (role !== 'close' && rets.length === 0) return unsupported(`${name} has no RET instruction to probe`);
    const retOffsets = rets.map((ip) => elf.vaddrToFileOffset(ip)!);
    functions.push({ role, name, vaddr: f.entry, offset, returns: role === 'close' ? [] : retOffsets });
    evidence.push(`${name} at 0x${f.entry.toString(16)} (${size} bytes, stack check through r14), ${rets.length} RET instruction(s)`);
  }
  const { layout, missing } = await connLayout(elf);
  evidence.push(
    layout
      ? `socket fd from the Conn (DWARF layout, *net.TCPConn itab hash 0x${layout.itabHash.toString(16)})`
      : `socket from the I/O inside the calls (${missing})`,
  );
  return { go: true, tls: true, supported: true, ...v, source, functions, ...(layout ? { layout } : { layoutMissing: missing }), evidence };
}

const ITAB_NAMES = ['go:itab.*net.TCPConn,net.Conn', 'go.itab.*net.TCPConn,net.Conn'];

/** The Conn-to-fd layout from DWARF and the itab symbol, or why it is not known. */
async function connLayout(elf: ElfFile): Promise<{ layout?: GoConnLayout; missing?: string }> {
  const want: [struct: string, member: string, type: string][] = [
    ['crypto/tls.Conn', 'conn', 'net.Conn'],
    ['net.TCPConn', 'conn', 'net.conn'],
    ['net.conn', 'fd', '*net.netFD'],
    ['net.netFD', 'pfd', 'internal/poll.FD'],
    ['internal/poll.FD', 'Sysfd', 'int'],
  ];
  let structs;
  try {
    structs = await readDwarfStructs(
      elf,
      want.map((w) => w[0]),
    );
  } catch (err) {
    return { missing: (err as Error).message };
  }
  if (structs.size === 0) return { missing: 'no DWARF' };
  const off: number[] = [];
  for (const [s, m, t] of want) {
    const mem = structs.get(s)?.members.get(m);
    if (!mem) return { missing: `DWARF has no ${s}.${m}` };
    if (mem.type !== t) return { missing: `DWARF gives ${s}.${m} the type ${mem.type ?? '(none)'}, not ${t}` };
    off.push(mem.offset);
  }
  const itab = (await findSymbolsIn(elf, ITAB_NAMES)).find((s) => s.table === 'symtab' && s.size >= 24);
  if (!itab) return { missing: 'no *net.TCPConn itab symbol' };
  const it = await elf.readVaddr(itab.vaddr, 24);
  const itabHash = it.readUInt32LE(16);
  // the itab copies its type's hash (both at offset 16): check it where the file holds the type pointer
  const typ = it.readUInt32LE(8) + it.readUInt32LE(12) * 0x1_0000_0000;
  if (typ !== 0) {
    try {
      const th = (await elf.readVaddr(typ, 24)).readUInt32LE(16);
      if (th !== itabHash) return { missing: `the itab's hash 0x${itabHash.toString(16)} is not its type's (0x${th.toString(16)})` };
    } catch {
      return { missing: `the itab's type pointer 0x${typ.toString(16)} is not in the file` };
    }
  }
  return { layout: { connConn: off[0], tcpconnFd: off[1] + off[2], netfdPfd: off[3], fdSysfd: off[4], itabHash } };
}
