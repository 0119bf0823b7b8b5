/**
 * locateRustls() and locateOpenssl(): the functions to probe in a file that
 * links rustls 0.23 or OpenSSL 3 statically without exporting symbols, cached
 * per build like locateTls() in the same verified cache, a supported verdict
 * applying only while the file still has its functions' bytes (see
 * docs/rustls-locator.md).
 */
import { ElfFile, findSymbolsIn } from '../elf';
import { analyzeOpenssl } from './openssl';
import { analyzeRustls, hasRustlsSource } from './rustls';
import { cachedBytes, cachedUnsupported, functionBytes, isByte, locateWith, RUSTLS_OPENSSL_CODES, strings, type Analysis } from './verdict-cache';
import type { BinaryIdentity, LocateOptions, OpensslLocatedFunction, OpensslVerdict, RustlsLocatedFunction, RustlsProbeLayout, RustlsVerdict } from './types';

/** Bumped whenever a method changes, so cached verdicts of older methods are ignored. */
export const RUSTLS_LOCATOR_VERSION = 1;
export const OPENSSL_LOCATOR_VERSION = 1;

/**
 * Cheap check: does the file name rustls 0.23's TLS 1.3 cipher module in
 * its read-only data? Reads only read-only segments; proves nothing.
 * @throws ElfError when the file cannot be read or is not ELF64.
 */
export async function looksLikeRustls(path: string): Promise<boolean> {
  const elf = await ElfFile.open(path);
  try {
    return await hasRustlsSource(elf);
  } finally {
    await elf.close();
  }
}

async function rustlsFromCache(elf: ElfFile, v: RustlsVerdict, buildId: string | undefined, binary: BinaryIdentity): Promise<RustlsVerdict | undefined> {
  if ((v.buildId ?? undefined) !== buildId) return undefined;
  if (v.supported !== true) return cachedUnsupported(v, RUSTLS_LOCATOR_VERSION, RUSTLS_OPENSSL_CODES, buildId, binary);
  const L = v.layout as Partial<RustlsProbeLayout> | undefined;
  if (!L || ![L.inPtr, L.inLen, L.chunks, L.typ, L.appData].every(isByte) || typeof v.version !== 'string' || !Array.isArray(v.functions)) return undefined;
  const functions: RustlsLocatedFunction[] = [];
  for (const f of v.functions) {
    if ((f?.kind !== 'encrypt' && f?.kind !== 'decrypt') || (f.provider !== 'ring' && f.provider !== 'aws_lc_rs')) return undefined;
    const b = await cachedBytes(elf, f);
    if (!b) return undefined;
    functions.push({ kind: f.kind, provider: f.provider, ...b });
  }
  if (!functions.some((f) => f.kind === 'encrypt') || !functions.some((f) => f.kind === 'decrypt')) return undefined;
  const layout: RustlsProbeLayout = { inPtr: L.inPtr!, inLen: L.inLen!, chunks: L.chunks!, typ: L.typ!, appData: L.appData! };
  const analysisMs = typeof v.analysisMs === 'number' ? v.analysisMs : 0;
  const evidence = strings(v.evidence);
  return {
    supported: true,
    library: 'rustls',
    version: v.version,
    buildId,
    binary,
    functions,
    layout,
    evidence,
    locatorVersion: RUSTLS_LOCATOR_VERSION,
    analysisMs,
    cached: true,
  };
}

async function opensslFromCache(elf: ElfFile, v: OpensslVerdict, buildId: string | undefined, binary: BinaryIdentity): Promise<OpensslVerdict | undefined> {
  if ((v.buildId ?? undefined) !== buildId) return undefined;
  if (v.supported !== true) return cachedUnsupported(v, OPENSSL_LOCATOR_VERSION, RUSTLS_OPENSSL_CODES, buildId, binary);
  const fn = async (f: OpensslLocatedFunction | undefined, name: OpensslLocatedFunction['name']): Promise<OpensslLocatedFunction | undefined> => {
    if (!f || (f.lenArg !== 3 && f.lenArg !== 4)) return undefined;
    const b = await cachedBytes(elf, f);
    return b ? { name, lenArg: f.lenArg, ...b } : undefined;
  };
  const read = await fn(v.functions?.read, 'ssl_read_internal');
  const write = await fn(v.functions?.write, 'ssl_write_internal');
  if (!read || !write || read.offset === write.offset) return undefined;
  const analysisMs = typeof v.analysisMs === 'number' ? v.analysisMs : 0;
  return {
    supported: true,
    library: 'openssl',
    buildId,
    binary,
    functions: { read, write },
    evidence: strings(v.evidence),
    locatorVersion: OPENSSL_LOCATOR_VERSION,
    analysisMs,
    cached: true,
  };
}

/**
 * Find rustls's MessageEncrypter::encrypt / MessageDecrypter::decrypt
 * methods (TLS 1.3, ring or aws-lc-rs provider) in the file at `path`.
 * `supported: true` only when the evidence is unambiguous.
 */
export function locateRustls(path: string, opts: LocateOptions = {}): Promise<RustlsVerdict> {
  return locateWith<RustlsVerdict>(path, opts, 'rustls', RUSTLS_LOCATOR_VERSION, rustlsAnalysis, rustlsFromCache);
}

const rustlsAnalysis: Analysis<RustlsVerdict> = async (elf, binary, buildId, unsupported) => {
  const r = await analyzeRustls(elf);
  if (!r.ok) return unsupported(r.code, `not supported: ${r.reason}`, { buildId, binary, evidence: r.evidence });
  const functions: RustlsLocatedFunction[] = [];
  for (const m of r.methods) {
    const e = await functionBytes(elf, m.entry, m.end);
    if (!e) return unsupported('INCONSISTENT', 'not supported: a located function is not backed by the file', { buildId, binary, evidence: r.evidence });
    functions.push({ kind: m.kind, provider: m.provider, vaddr: m.entry, ...e });
  }
  return {
    supported: true,
    library: 'rustls',
    version: r.version,
    buildId,
    binary,
    functions,
    layout: r.layout,
    evidence: r.evidence,
    locatorVersion: RUSTLS_LOCATOR_VERSION,
    analysisMs: 0,
    cached: false,
  };
};

/**
 * Find OpenSSL 3's ssl_read_internal / ssl_write_internal in a file that links
 * OpenSSL statically and exports no SSL_read/SSL_write (`EXPORTS_SSL_SYMBOLS`
 * otherwise: attach by symbol).
 */
export function locateOpenssl(path: string, opts: LocateOptions = {}): Promise<OpensslVerdict> {
  return locateWith<OpensslVerdict>(path, opts, 'openssl', OPENSSL_LOCATOR_VERSION, opensslAnalysis, opensslFromCache);
}

const opensslAnalysis: Analysis<OpensslVerdict> = async (elf, binary, buildId, unsupported) => {
  const syms = await findSymbolsIn(elf, ['SSL_read', 'SSL_write']);
  if (syms.length === 2) return unsupported('EXPORTS_SSL_SYMBOLS', 'the file defines SSL_read and SSL_write: attach uprobes by symbol', { buildId, binary });
  const r = await analyzeOpenssl(elf);
  if (!r.ok) return unsupported(r.code, `not supported: ${r.reason}`, { buildId, binary, evidence: r.evidence });
  const [re, we] = await Promise.all([functionBytes(elf, r.read.entry, r.read.end), functionBytes(elf, r.write.entry, r.write.end)]);
  if (!re || !we) return unsupported('INCONSISTENT', 'not supported: a located entry is not backed by the file', { buildId, binary, evidence: r.evidence });
  return {
    supported: true,
    library: 'openssl',
    buildId,
    binary,
    functions: {
      read: { name: 'ssl_read_internal', vaddr: r.read.entry, lenArg: r.read.lenArg, ...re },
      write: { name: 'ssl_write_internal', vaddr: r.write.entry, lenArg: r.write.lenArg, ...we },
    },
    evidence: r.evidence,
    locatorVersion: OPENSSL_LOCATOR_VERSION,
    analysisMs: 0,
    cached: false,
  };
};
