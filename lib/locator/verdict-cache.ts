/**
 * What the TLS locators share (locateTls, locateRustls, locateOpenssl): the
 * flow of a located file (open, the verified cache, the architecture check,
 * the analysis, storing its verdict) and the proof that a cached verdict
 * still applies (a function's bytes by size and SHA-256; unsupported
 * verdicts only with a code analysis gives).
 */
import { createHash } from 'crypto';
import { ElfError, ElfFile, EM_X86_64, ET } from '../elf';
import { cacheKey, defaultCacheDir, readCache, writeCache } from './cache';
import type { BinaryIdentity, LocateOptions, LocatorVerdict, OpensslVerdict, RustlsVerdict, UnsupportedCode, UnsupportedVerdict } from './types';

/** Any locator's verdict. */
type Verdict = LocatorVerdict | RustlsVerdict | OpensslVerdict;
export type Unsupported = (code: UnsupportedCode, reason: string, extra?: Partial<UnsupportedVerdict>) => UnsupportedVerdict;
export type Analysis<V extends Verdict> = (elf: ElfFile, binary: BinaryIdentity, buildId: string | undefined, unsupported: Unsupported) => Promise<V>;
/** A cached verdict rebuilt from checked fields, or undefined when it does not apply to this file. */
export type FromCache<V extends Verdict> = (elf: ElfFile, v: V, buildId: string | undefined, binary: BinaryIdentity) => Promise<V | undefined>;

/** Open, look in the verified cache (key suffix per locator; none for BoringSSL's), analyse, store. Never throws for a bad file. */
export async function locateWith<V extends Verdict>(
  path: string,
  opts: LocateOptions,
  suffix: string | null,
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
    const key = suffix === null ? cacheKey(buildId, elf.stat) : `${cacheKey(buildId, elf.stat)}-${suffix}`;
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
export const isByte = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 255;
export const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
/** Codes of unsupported rustls and OpenSSL verdicts analysis gives (and so may be cached). */
export const RUSTLS_OPENSSL_CODES: ReadonlySet<string> = new Set<string>([
  'EXPORTS_SSL_SYMBOLS',
  'NOT_RUSTLS',
  'NOT_OPENSSL',
  'AMBIGUOUS',
  'NO_EVIDENCE',
  'INCONSISTENT',
  'UNSUPPORTED_ARCH',
]);

type Bytes = { offset: number; entryBytes: string; size: number; sha256: string };

/** Where a located function is and its bytes (entry to the end of the last decoded instruction), by size and SHA-256. */
export async function functionBytes(elf: ElfFile, entry: number, end: number): Promise<Bytes | undefined> {
  const offset = elf.vaddrToFileOffset(entry);
  const size = end - entry;
  if (offset === undefined || size < ENTRY_BYTES || size > MAX_FUNCTION_BYTES || offset + size > elf.size) return undefined;
  const bytes = await elf.read(offset, size);
  return { offset, entryBytes: bytes.subarray(0, ENTRY_BYTES).toString('hex'), size, sha256: sha256(bytes) };
}

/** A cached function's place, if the file still has its bytes there (checked fields only). */
export async function cachedBytes(
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
export function cachedUnsupported(
  v: UnsupportedVerdict,
  version: number,
  codes: ReadonlySet<string>,
  buildId: string | undefined,
  binary: BinaryIdentity,
): UnsupportedVerdict | undefined {
  if (!codes.has(v.code) || typeof v.reason !== 'string') return undefined;
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
