/**
 * locateRustls(): the rustls 0.23 methods to probe in a file, cached per
 * build like locateTls() (see docs/rustls-locator.md).
 */
import { ElfError, ElfFile, EM_X86_64, ET } from '../elf';
import { cacheKey, defaultCacheDir, readCache, writeCache } from './cache';
import { analyzeRustls, hasRustlsSource } from './rustls';
import type { BinaryIdentity, LocateOptions, LocatorVerdict, RustlsLocatedFunction, RustlsVerdict, UnsupportedCode, UnsupportedVerdict } from './types';

/** Bumped whenever the rustls method changes, so cached verdicts of older methods are ignored. */
export const RUSTLS_LOCATOR_VERSION = 1;

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

/**
 * Find rustls's MessageEncrypter::encrypt / MessageDecrypter::decrypt
 * methods (TLS 1.3, ring or aws-lc-rs provider) in the file at `path`.
 * Returns `supported: true` only when the evidence is unambiguous. Never
 * throws for a bad file. Verdicts of readable ELF files are cached per
 * build-id; a cached supported verdict is used only if the entry bytes it
 * recorded are still there.
 */
export async function locateRustls(path: string, opts: LocateOptions = {}): Promise<RustlsVerdict> {
  const t0 = performance.now();
  const useCache = opts.cache !== false;
  const dir = opts.cacheDir ?? defaultCacheDir();
  const ms = () => Math.round(performance.now() - t0);
  const unsupported = (code: UnsupportedCode, reason: string, extra: Partial<UnsupportedVerdict> = {}): UnsupportedVerdict => ({
    supported: false,
    code,
    reason,
    evidence: [],
    locatorVersion: RUSTLS_LOCATOR_VERSION,
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
    const key = `${cacheKey(buildId, elf.stat)}-rustls`;
    if (useCache) {
      const hit = (await readCache(dir, key, RUSTLS_LOCATOR_VERSION)) as unknown as RustlsVerdict | undefined;
      if (hit && (await stillValid(elf, hit))) return { ...hit, binary, cached: true };
    }
    let verdict: RustlsVerdict;
    if (elf.header.machine !== EM_X86_64 || (elf.header.type !== ET.EXEC && elf.header.type !== ET.DYN)) {
      verdict = unsupported('UNSUPPORTED_ARCH', `not an x86-64 executable or shared object (e_machine ${elf.header.machine}, e_type ${elf.header.type})`, {
        buildId,
        binary,
      });
    } else {
      const r = await analyzeRustls(elf);
      if (!r.ok) verdict = unsupported(r.code, `not supported: ${r.reason}`, { buildId, binary, evidence: r.evidence });
      else {
        const functions: RustlsLocatedFunction[] = [];
        for (const m of r.methods) {
          const offset = elf.vaddrToFileOffset(m.entry);
          if (offset === undefined) return unsupported('INCONSISTENT', 'not supported: a located entry is not backed by the file', { buildId, binary });
          const b = await elf.readVaddr(m.entry, 16);
          functions.push({ kind: m.kind, provider: m.provider, vaddr: m.entry, offset, entryBytes: b.toString('hex') });
        }
        verdict = {
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
      }
    }
    verdict.analysisMs = ms();
    if (useCache) await writeCache(dir, key, RUSTLS_LOCATOR_VERSION, verdict as unknown as LocatorVerdict);
    return verdict;
  } catch (err) {
    if (err instanceof ElfError) return unsupported('BAD_FILE', err.message, { errorCode: err.code });
    return unsupported('ANALYSIS_FAILED', `analysis failed: ${(err as Error)?.message ?? err}`);
  } finally {
    await elf.close().catch(() => undefined);
  }
}

async function stillValid(elf: ElfFile, v: RustlsVerdict): Promise<boolean> {
  if (!v.supported) return true;
  if (!Array.isArray(v.functions) || v.functions.length === 0) return false;
  for (const f of v.functions) {
    const want = Buffer.from(f.entryBytes, 'hex');
    if (want.length === 0 || f.offset + want.length > elf.size) return false;
    const got = await elf.read(f.offset, want.length);
    if (!got.equals(want) || elf.vaddrToFileOffset(f.vaddr) !== f.offset) return false;
  }
  return true;
}
