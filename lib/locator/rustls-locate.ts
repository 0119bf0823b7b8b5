/**
 * locateRustls() and locateOpenssl(): the functions to probe in a file that
 * links rustls 0.23 or OpenSSL 3 statically without exporting symbols, cached
 * per build like locateTls() (see docs/rustls-locator.md).
 */
import { ElfError, ElfFile, EM_X86_64, ET, findSymbolsIn } from '../elf';
import { cacheKey, defaultCacheDir, readCache, writeCache } from './cache';
import { analyzeOpenssl } from './openssl';
import { analyzeRustls, hasRustlsSource } from './rustls';
import type {
  BinaryIdentity,
  LocateOptions,
  LocatorVerdict,
  OpensslVerdict,
  RustlsLocatedFunction,
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

/** Open, look in the cache (key suffix per locator), analyse, store. Never throws for a bad file. */
async function located<V extends Verdict>(
  path: string,
  opts: LocateOptions,
  suffix: string,
  version: number,
  analysis: Analysis<V>,
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
    if (useCache) {
      const hit = (await readCache(dir, key, version)) as unknown as V | undefined;
      if (hit && (await stillValid(elf, hit))) return { ...hit, binary, cached: true };
    }
    let verdict: V | UnsupportedVerdict;
    if (elf.header.machine !== EM_X86_64 || (elf.header.type !== ET.EXEC && elf.header.type !== ET.DYN)) {
      verdict = unsupported('UNSUPPORTED_ARCH', `not an x86-64 executable or shared object (e_machine ${elf.header.machine}, e_type ${elf.header.type})`, {
        buildId,
        binary,
      });
    } else verdict = await analysis(elf, binary, buildId, unsupported);
    verdict.analysisMs = ms();
    if (useCache) await writeCache(dir, key, version, verdict as unknown as LocatorVerdict);
    return verdict;
  } catch (err) {
    if (err instanceof ElfError) return unsupported('BAD_FILE', err.message, { errorCode: err.code });
    return unsupported('ANALYSIS_FAILED', `analysis failed: ${(err as Error)?.message ?? err}`);
  } finally {
    await elf.close().catch(() => undefined);
  }
}

/** A cached supported verdict applies only if the entry bytes it recorded are still at its offsets. */
async function stillValid(elf: ElfFile, v: Verdict): Promise<boolean> {
  if (!v.supported) return true;
  const fns: { vaddr: number; offset: number; entryBytes: string }[] = Array.isArray(v.functions) ? v.functions : [v.functions.read, v.functions.write];
  if (fns.length === 0) return false;
  for (const f of fns) {
    const want = Buffer.from(f.entryBytes ?? '', 'hex');
    if (want.length === 0 || f.offset + want.length > elf.size) return false;
    const got = await elf.read(f.offset, want.length);
    if (!got.equals(want) || elf.vaddrToFileOffset(f.vaddr) !== f.offset) return false;
  }
  return true;
}

async function entry(elf: ElfFile, vaddr: number): Promise<{ offset: number; entryBytes: string } | undefined> {
  const offset = elf.vaddrToFileOffset(vaddr);
  if (offset === undefined) return undefined;
  return { offset, entryBytes: (await elf.readVaddr(vaddr, 16)).toString('hex') };
}

/**
 * Find rustls's MessageEncrypter::encrypt / MessageDecrypter::decrypt
 * methods (TLS 1.3, ring or aws-lc-rs provider) in the file at `path`.
 * `supported: true` only when the evidence is unambiguous.
 */
export function locateRustls(path: string, opts: LocateOptions = {}): Promise<RustlsVerdict> {
  return located<RustlsVerdict>(path, opts, 'rustls', RUSTLS_LOCATOR_VERSION, async (elf, binary, buildId, unsupported) => {
    const r = await analyzeRustls(elf);
    if (!r.ok) return unsupported(r.code, `not supported: ${r.reason}`, { buildId, binary, evidence: r.evidence });
    const functions: RustlsLocatedFunction[] = [];
    for (const m of r.methods) {
      const e = await entry(elf, m.entry);
      if (!e) return unsupported('INCONSISTENT', 'not supported: a located entry is not backed by the file', { buildId, binary, evidence: r.evidence });
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
  });
}

/**
 * Find OpenSSL 3's ssl_read_internal / ssl_write_internal in a file that links
 * OpenSSL statically and exports no SSL_read/SSL_write (`EXPORTS_SSL_SYMBOLS`
 * otherwise: attach by symbol).
 */
export function locateOpenssl(path: string, opts: LocateOptions = {}): Promise<OpensslVerdict> {
  return located<OpensslVerdict>(path, opts, 'openssl', OPENSSL_LOCATOR_VERSION, async (elf, binary, buildId, unsupported) => {
    const syms = await findSymbolsIn(elf, ['SSL_read', 'SSL_write']);
    if (syms.length === 2) return unsupported('EXPORTS_SSL_SYMBOLS', 'the file defines SSL_read and SSL_write: attach uprobes by symbol', { buildId, binary });
    const r = await analyzeOpenssl(elf);
    if (!r.ok) return unsupported(r.code, `not supported: ${r.reason}`, { buildId, binary, evidence: r.evidence });
    const [re, we] = await Promise.all([entry(elf, r.read.entry), entry(elf, r.write.entry)]);
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
  });
}
