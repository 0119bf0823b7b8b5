/** /proc/PID/maps parsing. */
import { promises as fsp } from 'fs';
import { ElfError, fsError } from './errors';

/** One mapping of /proc/PID/maps. */
export interface MapEntry {
  start: number;
  end: number;
  /** e.g. "r-xp". */
  perms: string;
  /** File offset of `start`. */
  offset: number;
  /** "major:minor" of the device holding the file. */
  dev: string;
  inode: number;
  /** The mapped file's path, a pseudo-name ("[heap]", "[stack]", "[vdso]") or "" for anonymous memory. */
  path: string;
  /** The file was deleted after being mapped (the kernel appended " (deleted)", removed from `path`). */
  deleted: boolean;
}

const LINE = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+:[0-9a-f]+)\s+(\d+)(?: +(.*))?$/;
const DELETED = ' (deleted)';

function hex(s: string): number {
  // Page-aligned addresses are exact as doubles, even near 2^64 (vsyscall).
  return s.length <= 13 ? parseInt(s, 16) : Number(BigInt('0x' + s));
}

/**
 * Parse the text of a /proc/PID/maps file. The path is everything after the
 * inode column, so paths with spaces survive; a trailing " (deleted)" is
 * removed and reported as `deleted`. Lines that do not parse are skipped.
 */
export function parseMaps(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = LINE.exec(line);
    if (!m) continue;
    let path = m[7] ?? '';
    let deleted = false;
    if (path.endsWith(DELETED) && path.startsWith('/')) {
      path = path.slice(0, -DELETED.length);
      deleted = true;
    }
    out.push({
      start: hex(m[1]),
      end: hex(m[2]),
      perms: m[3],
      offset: hex(m[4]),
      dev: m[5],
      inode: Number(m[6]),
      path,
      deleted,
    });
  }
  return out;
}

/**
 * Read and parse /proc/PID/maps (`pid` may be "self").
 * @throws ElfError with the system code (ENOENT when the process is gone, EACCES without permission).
 */
export async function readMaps(pid: number | 'self'): Promise<MapEntry[]> {
  if (pid !== 'self' && (!Number.isInteger(pid) || pid <= 0)) {
    throw new ElfError(`/proc/${pid}/maps`, 'bad pid', 'EINVAL');
  }
  const file = `/proc/${pid}/maps`;
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw fsError(file, 'read', err);
  }
  return parseMaps(text);
}
