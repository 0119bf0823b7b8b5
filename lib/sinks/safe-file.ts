/**
 * Opening a file to write as root without being led astray: agentsight may
 * run in a directory others can write to, so a file it writes must be one it
 * created or one that is plainly its own.
 *
 * - never through a symbolic link (O_NOFOLLOW), never blocking on a FIFO
 *   (O_NONBLOCK), only a regular file on a real file system (not /proc, /sys...);
 * - an existing file must be owned by the effective user and have one link
 *   (not someone else's file, nor a hard link to a file elsewhere);
 * - mode 0600, also for an existing file;
 * - createNew: only a file this call creates (O_EXCL).
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { AgentsightError, UsageError } from '../core/errors';

export interface SafeOpenOptions {
  /** Name for messages, e.g. "--output". */
  what: string;
  /** Only create (O_EXCL): an existing file is an error (EEXIST). */
  createNew?: boolean;
  /** Mode of a created file, and the most an existing one keeps (default 0600). */
  mode?: number;
}

export interface SafeFile {
  fh: fsp.FileHandle;
  /** This open created the file. */
  created: boolean;
  /** Size when opened (appends start there). */
  size: number;
}

/** statfs magic numbers of pseudo file systems: writing there is never a log. */
const PSEUDO_FS = new Map<number, string>([
  [0x9fa0, 'procfs'],
  [0x62656572, 'sysfs'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpffs'],
  [0x1cd1, 'devpts'],
  [0x62656570, 'configfs'],
  [0x6165676c, 'pstore'],
  [0xde5e81e4, 'efivarfs'],
]);

const BASE = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/** Open `path` for appending under the rules above; UsageError says what is wrong and what to do. */
export async function openOwnFile(path: string, opts: SafeOpenOptions): Promise<SafeFile> {
  const mode = opts.mode ?? 0o600;
  let fh: fsp.FileHandle;
  let created = false;
  try {
    fh = await fsp.open(path, BASE | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
    created = true;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== 'EEXIST' || opts.createNew) throw openError(path, opts.what, err);
    try {
      fh = await fsp.open(path, BASE);
    } catch (e2) {
      throw openError(path, opts.what, e2 as NodeJS.ErrnoException);
    }
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new UsageError(`${opts.what} ${path}: not a regular file`);
    const fsType = await fsp.statfs(`/proc/self/fd/${fh.fd}`).then(
      (s) => PSEUDO_FS.get(Number(s.type)),
      () => undefined,
    );
    if (fsType) throw new UsageError(`${opts.what} ${path}: is on ${fsType}, not a file system that keeps what is written`);
    if (!created) {
      const euid = process.geteuid?.() ?? st.uid;
      if (st.uid !== euid)
        throw new UsageError(
          `${opts.what} ${path}: the file exists and belongs to uid ${st.uid}, not to agentsight (uid ${euid}); ` +
            'refusing to write to a file someone else created (remove it or choose another name)',
        );
      if (st.nlink !== 1)
        throw new UsageError(`${opts.what} ${path}: the file has ${st.nlink} hard links; refusing to write through a link to a file elsewhere`);
    }
    // An existing file keeps its contents but not looser permissions.
    if ((st.mode & 0o777 & ~mode) !== 0) await fh.chmod(st.mode & 0o777 & mode);
    return { fh, created, size: st.size };
  } catch (err) {
    await fh.close().catch(() => undefined);
    if (created) await fsp.rm(path, { force: true }).catch(() => undefined);
    throw err;
  }
}

function openError(path: string, what: string, err: NodeJS.ErrnoException): Error {
  if (err.code === 'ELOOP') return new UsageError(`${what} ${path}: is a symbolic link; refusing to follow it (give the real path)`);
  if (err.code === 'EISDIR') return new UsageError(`${what} ${path}: is a directory`);
  if (err.code === 'ENXIO') return new UsageError(`${what} ${path}: is a FIFO or socket with no reader; not a regular file`);
  if (err.code === 'EEXIST') return new UsageError(`${what} ${path}: already exists`);
  return new AgentsightError(`${what} ${path}: cannot open: ${err.message}`, {
    op: 'open',
    code: err.code ?? 'EIO',
    errno: typeof err.errno === 'number' ? -err.errno : 0,
    cause: err,
  });
}
