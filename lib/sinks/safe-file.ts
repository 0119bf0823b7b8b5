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
 *
 * Files agentsight keeps for itself (the locator's cache) are held to more:
 * trustedDir() verifies their directory and every one above it, from / down;
 * readOwnFile() reads only a file of ours there, writeOwnFileAtomic() writes
 * one whole (a new file, then renamed into place).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
// fs.promises is loaded when first used (node:fs/promises is ~1 ms to require)
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { AgentsightError, UntrustedPathError, UsageError } from '../core/errors';

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

/** The effective user id (0 where there is none). */
function euid(): number {
  return process.geteuid?.() ?? 0;
}

/** Owners agentsight trusts: root and the effective user (just root, when running as root). */
function trusted(uid: number): boolean {
  return uid === 0 || uid === euid();
}

function owners(): string {
  return euid() === 0 ? 'root' : `root or uid ${euid()}`;
}

function writers(mode: number): string {
  return [mode & 0o020 ? 'its group' : '', mode & 0o002 ? 'every user' : ''].filter(Boolean).join(' and ');
}

const MAX_SYMLINKS = 32;
/** The sticky bit of a directory: only an entry's owner can rename or remove it. */
const S_ISVTX = 0o1000;

/**
 * Verify `dir` and every directory above it, from / down, and return its real
 * path (null when it does not exist and `create` is not set):
 *
 * - each is a directory owned by root or the effective user (only root, when
 *   running as root) that neither its group nor other users can write; above
 *   `dir` itself a sticky directory such as /tmp is allowed (nobody else can
 *   rename or remove what is ours in it), and for `dir` too with `sticky`
 *   (to make a fresh directory in it, as mkdtemp does);
 * - a symbolic link is followed only when root or the effective user made it
 *   (its target is then verified the same way); a link someone else made is
 *   refused, wherever it is;
 * - with `create`, missing directories are made (mode 0700) one by one and
 *   verified in turn; one someone else made first is refused.
 *
 * Once verified, nobody but root and the effective user can change what the
 * path leads to, so files opened under it afterwards are the ones checked.
 * @throws UntrustedPathError saying which component and why.
 */
export async function trustedDir(dir: string, opts: { what: string; create?: boolean; sticky?: boolean }): Promise<string | null> {
  const refuse = (p: string, why: string) => new UntrustedPathError(`${opts.what} ${dir}: ${p} ${why}; not trusted`, p);
  const check = (p: string, st: fs.Stats, last: boolean) => {
    if (!st.isDirectory()) throw refuse(p, 'is not a directory');
    if (!trusted(st.uid)) throw refuse(p, `belongs to uid ${st.uid}, not to ${owners()}`);
    const w = st.mode & 0o022;
    if (w && ((last && !opts.sticky) || !(st.mode & S_ISVTX)))
      throw refuse(p, `can be written by ${writers(st.mode)} (mode ${(st.mode & 0o7777).toString(8)})`);
  };
  let pending = path.resolve(dir).split('/').filter(Boolean);
  let cur = '/';
  check(cur, await fsp.lstat(cur), pending.length === 0);
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      cur = path.dirname(cur); // a directory verified on the way down
      continue;
    }
    const next = path.join(cur, name);
    let st = await fsp.lstat(next).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw refuse(next, `cannot be examined (${e.code ?? e.message})`);
    });
    if (!st) {
      if (!opts.create) return null;
      await fsp.mkdir(next, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw refuse(next, `cannot be created (${e.code ?? e.message})`);
      });
      st = await fsp.lstat(next);
    }
    if (st.isSymbolicLink()) {
      if (!trusted(st.uid)) throw refuse(next, `is a symbolic link made by uid ${st.uid}, not by ${owners()}; refusing to follow it`);
      if (++links > MAX_SYMLINKS) throw refuse(next, 'leads through too many symbolic links');
      const target = await fsp.readlink(next);
      if (target.startsWith('/')) cur = '/';
      pending = [...target.split('/').filter(Boolean), ...pending];
      continue;
    }
    check(next, st, pending.length === 0);
    cur = next;
  }
  return cur;
}

/**
 * The contents of a file of agentsight's own in a directory verified with
 * trustedDir(): never through a symbolic link, never blocking on a FIFO, a
 * regular file with one link, owned by root or the effective user, that no
 * one else can write, at most `maxBytes`. Null when there is no such file.
 * @throws UntrustedPathError when the file is there but is not one to trust.
 */
export async function readOwnFile(file: string, opts: { what: string; maxBytes: number }): Promise<string | null> {
  const refuse = (why: string) => new UntrustedPathError(`${opts.what} ${file}: ${why}; not trusted`, file);
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return null;
    if (err.code === 'ELOOP') throw refuse('is a symbolic link');
    throw refuse(`cannot be opened (${err.code ?? err.message})`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw refuse('is not a regular file');
    if (!trusted(st.uid)) throw refuse(`belongs to uid ${st.uid}, not to ${owners()}`);
    if (st.nlink !== 1) throw refuse(`has ${st.nlink} hard links`);
    if (st.mode & 0o022) throw refuse(`can be written by ${writers(st.mode)} (mode ${(st.mode & 0o7777).toString(8)})`);
    if (st.size > opts.maxBytes) throw refuse(`is larger (${st.size} bytes) than such a file can be (${opts.maxBytes})`);
    return await fh.readFile({ encoding: 'utf8' });
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * Write `text` as the file `name` in `dir` (a directory verified with
 * trustedDir()), whole or not at all: a new file (O_EXCL, openOwnFile) with
 * a name nobody can guess, renamed over `name` once written.
 */
export async function writeOwnFileAtomic(dir: string, name: string, text: string, opts: { what: string; mode?: number }): Promise<void> {
  const tmp = path.join(dir, `.${name}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`);
  const f = await openOwnFile(tmp, { what: opts.what, createNew: true, mode: opts.mode ?? 0o600 });
  try {
    try {
      await f.fh.writeFile(text, 'utf8');
    } finally {
      await f.fh.close();
    }
    await fsp.rename(tmp, path.join(dir, name));
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
