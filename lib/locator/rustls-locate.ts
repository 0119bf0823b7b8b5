/**
 * locateRustls() and locateOpenssl(): the functions to probe in a file that
 * links rustls 0.23 or OpenSSL 3 statically without exporting symbols, cached
 * per build like locateTls() in the same verified cache, a supported verdict
 * applying only while the file still has its functions' bytes (see
 * docs/rustls-locator.md).
 */
import { createHash } from 'crypto';
import { ElfError, ElfFile, EM_X86_64, ET, findSymbolsIn } from '../elf';
import { cacheKey, defaultCacheDir, readCache, writeCache } from './cache';
import { analyzeOpenssl } from './openssl';
import { analyzeRustls, hasRustlsSource } from './rustls';
import type {
  BinaryIdentity,
  LocateOptions,
  LocatorVerdict,
  OpensslLocatedFunction,
  OpensslVerdict,
  RustlsLocatedFunction,
  RustlsProbeLayout,
  RustlsVerdict,
  UnsupportedCode,
  UnsupportedVerdict,
} from './types';

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

type Verdict = RustlsVerdict | OpensslVerdict;
type Unsupported = (code: UnsupportedCode, reason: string, extra?: Partial<UnsupportedVerdict>) => UnsupportedVerdict;
type Analysis<V extends Verdict> = (elf: ElfFile, binary: BinaryIdentity, buildId: string | undefined, unsupported: Unsupported) => Promise<V>;
/** A cached verdict rebuilt from checked fields, or undefined when it does not apply to this file. */
type FromCache<V extends Verdict> = (elf: ElfFile, v: V, buildId: string | undefined, binary: BinaryIdentity) => Promise<V | undefined>;

/** Open, look in the verified cache (key suffix per locator), analyse, store. Never throws for a bad file. */
async function located<V extends Verdict>(
  path: string,
  opts: LocateOptions,
  suffix: string,
  version: number,
  analysis: Analysis<V>,
  fromCache: FromCache<V>,
): Promise<V | UnsupportedVerdict> {
  const t0 = performance.now();
  const useCache = opts.cache !== false;
  const dir = opts.cacheDir ?? defaultCacheDir();
  const ms = () => Math.round(performance.now() - t0);
  const unsupported: Unsupported = (code, reason, extra = {}) => ({
    supported: false,
    code,
    reason,
    evidence: [],
    locatorVersion: version,
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
    const key = `${cacheKey(buildId, elf.stat)}-${suffix}`;
    let cacheProblem: string | undefined;
    if (useCache) {
      const hit = await readCache(dir, key, version);
      cacheProblem = hit.problem;
      const valid = hit.verdict && (await fromCache(elf, hit.verdict as unknown as V, buildId, binary));
      if (valid) return valid;
    }
    let verdict: V | UnsupportedVerdict;
    if (elf.header.machine !== EM_X86_64 || (elf.header.type !== ET.EXEC && elf.header.type !== ET.DYN)) {
      verdict = unsupported('UNSUPPORTED_ARCH', `not an x86-64 executable or shared object (e_machine ${elf.header.machine}, e_type ${elf.header.type})`, {
        buildId,
        binary,
      });
    } else verdict = await analysis(elf, binary, buildId, unsupported);
    verdict.analysisMs = ms();
    if (useCache) {
      // stored as analysed, without this run's cache problem
      const w = await writeCache(dir, key, version, verdict as unknown as LocatorVerdict);
      cacheProblem ??= w.problem;
    }
    if (cacheProblem) verdict.cacheProblem = cacheProblem;
    return verdict;
  } catch (err) {
    if (err instanceof ElfError) return unsupported('BAD_FILE', err.message, { errorCode: err.code });
    return unsupported('ANALYSIS_FAILED', `analysis failed: ${(err as Error)?.message ?? err}`);
  } finally {
    await elf.close().catch(() => undefined);
  }
}

/** The most bytes of a function a verdict hashes (the decoded methods are a few KB). */
const MAX_FUNCTION_BYTES = 1024 * 1024;
const ENTRY_BYTES = 16;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const isOffset = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const isByte = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 255;
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const CACHEABLE_CODES = new Set<string>(['EXPORTS_SSL_SYMBOLS', 'NOT_RUSTLS', 'NOT_OPENSSL', 'AMBIGUOUS', 'NO_EVIDENCE', 'INCONSISTENT', 'UNSUPPORTED_ARCH']);

type Bytes = { offset: number; entryBytes: string; size: number; sha256: string };

/** Where a located function is and its bytes (entry to the end of the last decoded instruction), by size and SHA-256. */
async function functionBytes(elf: ElfFile, entry: number, end: number): Promise<Bytes | undefined> {
  const offset = elf.vaddrToFileOffset(entry);
  const size = end - entry;
  if (offset === undefined || size < ENTRY_BYTES || size > MAX_FUNCTION_BYTES || offset + size > elf.size) return undefined;
  const bytes = await elf.read(offset, size);
  return { offset, entryBytes: bytes.subarray(0, ENTRY_BYTES).toString('hex'), size, sha256: sha256(bytes) };
}

/** A cached function's place, if the file still has its bytes there (checked fields only). */
async function cachedBytes(
  elf: ElfFile,
  f: Partial<Record<'vaddr' | 'offset' | 'size' | 'sha256' | 'entryBytes', unknown>> | undefined,
): Promise<(Bytes & { vaddr: number }) | undefined> {
  if (!f || !isOffset(f.vaddr) || !isOffset(f.offset) || !isOffset(f.size) || typeof f.sha256 !== 'string') return undefined;
  if (f.size < ENTRY_BYTES || f.size > MAX_FUNCTION_BYTES || f.offset + f.size > elf.size || elf.vaddrToFileOffset(f.vaddr) !== f.offset) return undefined;
  const bytes = await elf.read(f.offset, f.size);
  const entryBytes = bytes.subarray(0, ENTRY_BYTES).toString('hex');
  if (f.entryBytes !== entryBytes || sha256(bytes) !== f.sha256) return undefined;
  return { vaddr: f.vaddr, offset: f.offset, entryBytes, size: f.size, sha256: f.sha256 };
}

/** An unsupported cached verdict with a code analysis gives, rebuilt. */
function cachedUnsupported(v: UnsupportedVerdict, version: number, buildId: string | undefined, binary: BinaryIdentity): UnsupportedVerdict | undefined {
  if (!CACHEABLE_CODES.has(v.code) || typeof v.reason !== 'string') return undefined;
  const analysisMs = typeof v.analysisMs === 'number' ? v.analysisMs : 0;
  return {
    supported: false,
    code: v.code,
    reason: v.reason,
    buildId,
    binary,
    evidence: strings(v.evidence),
    locatorVersion: version,
    analysisMs,
    cached: true,
  };
}

async function rustlsFromCache(elf: ElfFile, v: RustlsVerdict, buildId: string | undefined, binary: BinaryIdentity): Promise<RustlsVerdict | undefined> {
  if ((v.buildId ?? undefined) !== buildId) return undefined;
  if (v.supported !== true) return cachedUnsupported(v, RUSTLS_LOCATOR_VERSION, buildId, binary);
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
  if (v.supported !== true) return cachedUnsupported(v, OPENSSL_LOCATOR_VERSION, buildId, binary);
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
  return located<RustlsVerdict>(path, opts, 'rustls', RUSTLS_LOCATOR_VERSION, rustlsAnalysis, rustlsFromCache);
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
  return located<OpensslVerdict>(path, opts, 'openssl', OPENSSL_LOCATOR_VERSION, opensslAnalysis, opensslFromCache);
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
