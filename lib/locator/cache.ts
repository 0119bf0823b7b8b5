/**
 * Per-build verdict cache: one JSON file per build-id, mode 0600, in a
 * directory agentsight can trust.
 *
 * A verdict decides where root puts uprobes, or that a binary is not probed
 * at all, so it is read only from a directory that nobody but root and the
 * effective user can change (sinks/safe-file.ts trustedDir(), from / down),
 * only from a file of ours there (no symbolic link, one link, not writable by
 * others), and written whole (a new file renamed into place). As root the
 * cache is /var/cache/agentsight/locator, never under the HOME or
 * XDG_CACHE_HOME that `sudo -E` passes on from the invoking user.
 */
import os from 'os';
import path from 'path';
import { createHash } from 'crypto';
import { UntrustedPathError } from '../core/errors';
import { readOwnFile, trustedDir, writeOwnFileAtomic } from '../sinks/safe-file';
import type { LocatorVerdict } from './types';

/** The cache directory when running as root. */
export const ROOT_CACHE_DIR = '/var/cache/agentsight/locator';

/**
 * The default cache directory: $AGENTSIGHT_LOCATOR_CACHE when set; else, as
 * root, /var/cache/agentsight/locator; else $XDG_CACHE_HOME/agentsight/locator
 * or ~/.cache/agentsight/locator. Whichever it is, it is used only when
 * verified (readCache/writeCache).
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, euid: number = process.geteuid?.() ?? 0): string {
  if (env.AGENTSIGHT_LOCATOR_CACHE) return env.AGENTSIGHT_LOCATOR_CACHE;
  // root's HOME and XDG_CACHE_HOME may be another user's (sudo -E)
  if (euid === 0) return ROOT_CACHE_DIR;
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME && path.isAbsolute(env.HOME) ? env.HOME : os.homedir(), '.cache');
  return path.join(base, 'agentsight', 'locator');
}

/**
 * The cache key of a file: its GNU build-id, or (without one) a hash of its
 * identity (device, inode, size, mtime), which changes whenever the file does.
 */
export function cacheKey(buildId: string | undefined, id: { dev: number; ino: number; size: number; mtimeMs: number }): string {
  if (buildId && /^[0-9a-f]{2,128}$/.test(buildId)) return `build-${buildId}`;
  const h = createHash('sha256').update(`${id.dev}:${id.ino}:${id.size}:${id.mtimeMs}`).digest('hex').slice(0, 32);
  return `file-${h}`;
}

/** Version of the file layout (2: functions carry the size and SHA-256 of their bytes). Files of other layouts are ignored and replaced. */
export const CACHE_FORMAT = 2;
/** A verdict file is a few KB; anything much larger is not one. */
const MAX_FILE_BYTES = 1024 * 1024;

interface CacheFile {
  format: number;
  locatorVersion: number;
  key: string;
  verdict: LocatorVerdict;
}

/** What a cache lookup gives: a verdict (still to be re-checked against the file), and why the cache was not usable, if it was not. */
export interface CacheRead {
  verdict?: LocatorVerdict;
  /** Set when the cache directory or file was refused (not trusted) or could not be read: the reason, for a notice. */
  problem?: string;
}

function why(err: unknown): string {
  return err instanceof UntrustedPathError ? err.message : `cannot use the locator cache: ${(err as Error)?.message ?? err}`;
}

/**
 * Read a cached verdict from a verified directory. No verdict when there is
 * none, or it is from another locator version or file layout, or it is
 * malformed; `problem` says so when the directory or file is not trusted.
 */
export async function readCache(dir: string, key: string, locatorVersion: number): Promise<CacheRead> {
  let real: string | null;
  let text: string | null;
  try {
    real = await trustedDir(dir, { what: 'locator cache' });
    if (real === null) return {};
    text = await readOwnFile(path.join(real, `${key}.json`), { what: 'locator cache file', maxBytes: MAX_FILE_BYTES });
    if (text === null) return {};
  } catch (err) {
    return { problem: why(err) };
  }
  try {
    const data = JSON.parse(text) as CacheFile;
    if (data?.format !== CACHE_FORMAT || data.locatorVersion !== locatorVersion || data.key !== key || typeof data.verdict?.supported !== 'boolean') return {};
    return { verdict: data.verdict };
  } catch {
    return {}; // a torn or foreign file of ours: analysed again and replaced
  }
}

/**
 * Store a verdict: the directory is created (0700) and verified, the file
 * (0600) written whole. When the directory is not trusted nothing is written
 * and `problem` says why; other write errors (ENOSPC, EACCES...) only leave
 * `written` false: the cache is an optimisation.
 */
export async function writeCache(dir: string, key: string, locatorVersion: number, verdict: LocatorVerdict): Promise<{ written: boolean; problem?: string }> {
  let real: string | null;
  try {
    real = await trustedDir(dir, { what: 'locator cache', create: true });
  } catch (err) {
    return { written: false, problem: why(err) };
  }
  if (real === null) return { written: false };
  const data: CacheFile = { format: CACHE_FORMAT, locatorVersion, key, verdict };
  try {
    await writeOwnFileAtomic(real, `${key}.json`, JSON.stringify(data, null, 1) + '\n', { what: 'locator cache file' });
    return { written: true };
  } catch {
    return { written: false };
  }
}
