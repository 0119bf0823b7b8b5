/**
 * TLS plaintext function locator: where to put uprobes on SSL_read/SSL_write
 * in binaries that do not export them (stripped static executables with
 * BoringSSL, such as Bun-compiled Claude Code). See docs/boringssl-locator.md.
 */
import { ElfFile, findSymbolsIn } from '../elf';
import { analyzeBoringSsl, SSL_LIB_SOURCE, type Candidate } from './boringssl';
import { hasStringEndingWith } from './scan';
import { cachedBytes, cachedUnsupported, functionBytes, locateWith, strings, type Unsupported } from './verdict-cache';
import type { BinaryIdentity, LocatedFunction, LocateOptions, LocatorVerdict, TlsConvention } from './types';

export * from './types';
export { defaultCacheDir, ROOT_CACHE_DIR } from './cache';
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

/** A located function: where it is, and its bytes (entry to the end of the last decoded instruction) by size and SHA-256. */
async function located(elf: ElfFile, name: string, c: Candidate, convention: TlsConvention): Promise<LocatedFunction | undefined> {
  let end = c.entry;
  for (const i of c.fn.insns.values()) end = Math.max(end, i.ip + i.len);
  const b = await functionBytes(elf, c.entry, end);
  return b && { name, vaddr: c.entry, offset: b.offset, convention, entryBytes: b.entryBytes, size: b.size, sha256: b.sha256 };
}

/**
 * Find where to probe TLS plaintext in the executable at `path`.
 *
 * Returns `supported: true` with the file offsets of BoringSSL's SSL_read and
 * SSL_write only when the evidence is unambiguous; otherwise `supported:
 * false` with the reason (files that export SSL_* symbols, files without
 * BoringSSL, ambiguous or inconsistent evidence, unreadable/non-ELF/truncated
 * files). Never throws for a bad file. Verdicts of readable ELF files are
 * cached per build-id in a verified directory (see LocateOptions.cacheDir); a
 * cached verdict applies only to a file with the same build-id, and a cached
 * supported verdict only if the file still has, at both offsets, the bytes
 * whose SHA-256 it recorded.
 */
export function locateTls(path: string, opts: LocateOptions = {}): Promise<LocatorVerdict> {
  return locateWith<LocatorVerdict>(path, opts, null, LOCATOR_VERSION, analyze, fromCache);
}

/** Codes of unsupported verdicts analysis gives (and so may be cached). */
const CACHEABLE_CODES = new Set<string>(['EXPORTS_SSL_SYMBOLS', 'NOT_BORINGSSL', 'AMBIGUOUS', 'NO_EVIDENCE', 'INCONSISTENT', 'UNSUPPORTED_ARCH']);

/**
 * A cached function, if the file still has its bytes: the offset is where its
 * vaddr is in this file, and the `size` bytes there start with its entry
 * bytes and hash to its SHA-256.
 * Rebuilt from checked fields only (name and convention are ours).
 */
async function cachedFunction(elf: ElfFile, f: LocatedFunction | undefined, name: string, convention: TlsConvention): Promise<LocatedFunction | undefined> {
  const b = await cachedBytes(elf, f);
  return b && { name, vaddr: b.vaddr, offset: b.offset, convention, entryBytes: b.entryBytes, size: b.size, sha256: b.sha256 };
}

/**
 * A cached verdict, checked against the file it is now for, or undefined: it
 * must name the same build-id; a supported one must have both functions'
 * bytes (cachedFunction); an unsupported one a code analysis gives.
 */
async function fromCache(elf: ElfFile, v: LocatorVerdict, buildId: string | undefined, binary: BinaryIdentity): Promise<LocatorVerdict | undefined> {
  if ((v.buildId ?? undefined) !== buildId) return undefined;
  if (v.supported !== true) return cachedUnsupported(v, LOCATOR_VERSION, CACHEABLE_CODES, buildId, binary);
  const analysisMs = typeof v.analysisMs === 'number' ? v.analysisMs : 0;
  const read = await cachedFunction(elf, v.functions?.read, 'SSL_read', READ_CONVENTION);
  const write = await cachedFunction(elf, v.functions?.write, 'SSL_write', WRITE_CONVENTION);
  if (!read || !write || read.offset === write.offset) return undefined;
  return {
    supported: true,
    library: 'boringssl',
    buildId,
    binary,
    functions: { read, write },
    evidence: strings(v.evidence),
    locatorVersion: LOCATOR_VERSION,
    analysisMs,
    cached: true,
  };
}

async function analyze(elf: ElfFile, binary: BinaryIdentity, buildId: string | undefined, unsupported: Unsupported): Promise<LocatorVerdict> {
  const base = { buildId, binary };
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
  const read = await located(elf, 'SSL_read', r.read, READ_CONVENTION);
  const write = await located(elf, 'SSL_write', r.write, WRITE_CONVENTION);
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
