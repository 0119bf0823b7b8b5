/**
 * TLS plaintext function locator: where to put uprobes on SSL_read/SSL_write
 * in binaries that do not export them (stripped static executables with
 * BoringSSL, such as Bun-compiled Claude Code). See docs/boringssl-locator.md.
 */
import { ElfError, ElfFile, findSymbolsIn, EM_X86_64, ET } from '../elf';
import { analyzeBoringSsl, SSL_LIB_SOURCE } from './boringssl';
import { cacheKey, defaultCacheDir, readCache, writeCache } from './cache';
import { hasStringEndingWith } from './scan';
import type { BinaryIdentity, LocatedFunction, LocateOptions, LocatorVerdict, TlsConvention, UnsupportedCode, UnsupportedVerdict } from './types';

export * from './types';
export { defaultCacheDir } from './cache';
export { analyzeBoringSsl, ERR_LIB_SSL, REASON, SSL_LIB_SOURCE } from './boringssl';
export type { BoringSslResult, Candidate, ErrorSite, CallInfo } from './boringssl';

/** Bumped whenever the method changes, so cached verdicts of older methods are ignored. */
export const LOCATOR_VERSION = 1;

const READ_CONVENTION: TlsConvention = {
  prototype: 'int SSL_read(SSL *ssl, void *buf, int num)',
  ssl: 'rdi',
  buf: 'rsi',
  num: 'edx',
  result: 'eax',
  plaintextAt: 'return',
};
const WRITE_CONVENTION: TlsConvention = {
  prototype: 'int SSL_write(SSL *ssl, const void *buf, int num)',
  ssl: 'rdi',
  buf: 'rsi',
  num: 'edx',
  result: 'eax',
  plaintextAt: 'entry',
};

const SSL_SYMBOLS = ['SSL_read', 'SSL_write'];

/**
 * Does the ELF file define OpenSSL-style `SSL_read` and `SSL_write` symbols
 * (in .dynsym or .symtab)? Then a uprobe can attach by symbol and the locator
 * is not needed.
 * @throws ElfError when the file cannot be read or is not ELF64.
 */
export async function hasTlsSymbols(path: string): Promise<boolean> {
  const elf = await ElfFile.open(path);
  try {
    const found = await findSymbolsIn(elf, SSL_SYMBOLS);
    return found.length === SSL_SYMBOLS.length && found.every((f) => f.type === 'FUNC' || f.type === 'GNU_IFUNC');
  } finally {
    await elf.close();
  }
}

/**
 * Cheap check: does the file's read-only data hold BoringSSL's source path
 * "…ssl/ssl_lib.cc" (OpenSSL's is ssl_lib.c)? Reads only read-only segments
 * (tens of MB for Claude Code, ~50 ms warm). Says whether running the locator
 * is worthwhile; it proves nothing about where the functions are.
 * @throws ElfError when the file cannot be read or is not ELF64.
 */
export async function looksLikeBoringSsl(path: string): Promise<boolean> {
  const elf = await ElfFile.open(path);
  try {
    return await hasStringEndingWith(elf, '/' + SSL_LIB_SOURCE);
  } finally {
    await elf.close();
  }
}

function located(elf: ElfFile, name: string, vaddr: number, convention: TlsConvention, entryBytes: Buffer): LocatedFunction | undefined {
  const offset = elf.vaddrToFileOffset(vaddr);
  if (offset === undefined) return undefined;
  return { name, vaddr, offset, convention, entryBytes: entryBytes.toString('hex') };
}

/**
 * Find where to probe TLS plaintext in the executable at `path`.
 *
 * Returns `supported: true` with the file offsets of BoringSSL's SSL_read and
 * SSL_write only when the evidence is unambiguous; otherwise `supported:
 * false` with the reason (files that export SSL_* symbols, files without
 * BoringSSL, ambiguous or inconsistent evidence, unreadable/non-ELF/truncated
 * files). Never throws for a bad file. Verdicts of readable ELF files are
 * cached per build-id (see LocateOptions.cacheDir); a cached supported verdict
 * is re-checked against the entry bytes of the file before use.
 */
export async function locateTls(path: string, opts: LocateOptions = {}): Promise<LocatorVerdict> {
  const t0 = performance.now();
  const useCache = opts.cache !== false;
  const dir = opts.cacheDir ?? defaultCacheDir();
  const ms = () => Math.round(performance.now() - t0);
  const unsupported = (code: UnsupportedCode, reason: string, extra: Partial<UnsupportedVerdict> = {}): UnsupportedVerdict => ({
    supported: false,
    code,
    reason,
    evidence: [],
    locatorVersion: LOCATOR_VERSION,
    analysisMs: ms(),
    cached: false,
    ...extra,
  });

  let elf: ElfFile;
  try {
    elf = await ElfFile.open(path);
  } catch (err) {
    const e = err as ElfError;
    return unsupported('BAD_FILE', e instanceof ElfError ? e.message : String(err), { errorCode: e?.code });
  }
  try {
    const binary: BinaryIdentity = { path, size: elf.stat.size, mtimeMs: elf.stat.mtimeMs, inode: elf.stat.ino };
    const buildId = await elf.buildId();
    const key = cacheKey(buildId, elf.stat);
    if (useCache) {
      const hit = await readCache(dir, key, LOCATOR_VERSION);
      if (hit && (await stillValid(elf, hit))) return { ...hit, binary, cached: true } as LocatorVerdict;
    }
    const verdict = await analyze(elf, binary, buildId, unsupported);
    verdict.analysisMs = ms();
    if (useCache) await writeCache(dir, key, LOCATOR_VERSION, verdict);
    return verdict;
  } catch (err) {
    if (err instanceof ElfError) return unsupported('BAD_FILE', err.message, { errorCode: err.code });
    return unsupported('ANALYSIS_FAILED', `analysis failed: ${(err as Error)?.message ?? err}`);
  } finally {
    await elf.close().catch(() => undefined);
  }
}

/** A cached verdict applies if the entry bytes it recorded are still at its offsets. */
async function stillValid(elf: ElfFile, v: LocatorVerdict): Promise<boolean> {
  if (!v.supported) return true;
  for (const f of [v.functions.read, v.functions.write]) {
    const want = Buffer.from(f.entryBytes, 'hex');
    if (want.length === 0 || f.offset + want.length > elf.size) return false;
    const got = await elf.read(f.offset, want.length);
    if (!got.equals(want) || elf.vaddrToFileOffset(f.vaddr) !== f.offset) return false;
  }
  return true;
}

type Unsupported = (code: UnsupportedCode, reason: string, extra?: Partial<UnsupportedVerdict>) => UnsupportedVerdict;

async function analyze(
  elf: ElfFile,
  binary: BinaryIdentity,
  buildId: string | undefined,
  unsupported: Unsupported,
): Promise<LocatorVerdict & { code?: UnsupportedCode }> {
  const base = { buildId, binary };
  if (elf.header.machine !== EM_X86_64 || (elf.header.type !== ET.EXEC && elf.header.type !== ET.DYN)) {
    return unsupported('UNSUPPORTED_ARCH', `not an x86-64 executable or shared object (e_machine ${elf.header.machine}, e_type ${elf.header.type})`, base);
  }
  const syms = await findSymbolsIn(elf, SSL_SYMBOLS);
  if (syms.length === SSL_SYMBOLS.length) {
    return unsupported(
      'EXPORTS_SSL_SYMBOLS',
      `the file defines ${syms.map((s) => `${s.name}${s.version ? '@' + s.version : ''} (${s.table})`).join(' and ')}: attach uprobes by symbol, no locator needed`,
      { ...base, evidence: syms.map((s) => `${s.name} at 0x${s.vaddr.toString(16)}, file offset 0x${(s.offset ?? 0).toString(16)}`) },
    );
  }
  const r = await analyzeBoringSsl(elf);
  if (!r.ok) return unsupported(r.code, `not supported: ${r.reason}`, { ...base, evidence: r.evidence });
  const [rb, wb] = await Promise.all([elf.readVaddr(r.read.entry, 16), elf.readVaddr(r.write.entry, 16)]);
  const read = located(elf, 'SSL_read', r.read.entry, READ_CONVENTION, rb);
  const write = located(elf, 'SSL_write', r.write.entry, WRITE_CONVENTION, wb);
  if (!read || !write) return unsupported('INCONSISTENT', 'not supported: a located entry is not backed by the file', { ...base, evidence: r.evidence });
  return {
    supported: true,
    library: 'boringssl',
    buildId,
    binary,
    functions: { read, write },
    evidence: r.evidence,
    locatorVersion: LOCATOR_VERSION,
    analysisMs: 0,
    cached: false,
  };
}

export { locateOpenssl, locateRustls, looksLikeRustls, OPENSSL_LOCATOR_VERSION, RUSTLS_LOCATOR_VERSION } from './rustls-locate';
export { analyzeOpenssl, OSSL_ERR_LIB_SSL, OSSL_SOURCE, OSSL_SSL_R_BAD_LENGTH } from './openssl';
export type { OpensslInternal, OpensslResult } from './openssl';
export { analyzeRustls, hasRustlsSource, RUSTLS_PROVIDERS } from './rustls';
export type { RustlsLayout, RustlsMethod, RustlsProvider, RustlsResult } from './rustls';
