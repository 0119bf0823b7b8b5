/** Per-build verdict cache: one JSON file per build-id, mode 0600. */
import { promises as fsp } from 'fs';
import os from 'os';
import path from 'path';
import { createHash } from 'crypto';
import type { LocatorVerdict } from './types';

/** The default cache directory: $AGENTSIGHT_LOCATOR_CACHE, $XDG_CACHE_HOME/agentsight/locator or ~/.cache/agentsight/locator. */
export function defaultCacheDir(): string {
  if (process.env.AGENTSIGHT_LOCATOR_CACHE) return process.env.AGENTSIGHT_LOCATOR_CACHE;
  const base = process.env.XDG_CACHE_HOME && path.isAbsolute(process.env.XDG_CACHE_HOME) ? process.env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
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

interface CacheFile {
  locatorVersion: number;
  key: string;
  verdict: LocatorVerdict;
}

/** Read a cached verdict; undefined when absent, unreadable or from another locator version. */
export async function readCache(dir: string, key: string, locatorVersion: number): Promise<LocatorVerdict | undefined> {
  try {
    const text = await fsp.readFile(path.join(dir, `${key}.json`), 'utf8');
    const data = JSON.parse(text) as CacheFile;
    if (data.locatorVersion !== locatorVersion || data.key !== key || typeof data.verdict?.supported !== 'boolean') return undefined;
    return data.verdict;
  } catch {
    return undefined;
  }
}

/** Store a verdict (atomically: temp file + rename; directory 0700, file 0600). Errors are ignored: the cache is an optimisation. */
export async function writeCache(dir: string, key: string, locatorVersion: number, verdict: LocatorVerdict): Promise<boolean> {
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${key}.json`);
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    const data: CacheFile = { locatorVersion, key, verdict };
    await fsp.writeFile(tmp, JSON.stringify(data, null, 1) + '\n', { mode: 0o600 });
    await fsp.chmod(tmp, 0o600);
    await fsp.rename(tmp, file);
    return true;
  } catch {
    return false;
  }
}
