/**
 * Errors of the ELF reader. Every failure to read or understand a file is an
 * ElfError with a code that says which kind, and a message naming the file.
 */
import { AgentsightError } from '../core/errors';

/**
 * Codes:
 * - `ENOENT`, `EACCES`, `EISDIR`, ...: the file could not be opened or read (the system errno).
 * - `ENOTELF`: not an ELF file (bad magic or too short for an ELF header).
 * - `EELFCLASS`: an ELF file this reader does not handle (32-bit, big-endian).
 * - `ETRUNCATED`: a header or table points past the end of the file (a truncated or corrupt copy).
 * - `EBADELF`: an inconsistent header or table (corrupt file).
 */
export type ElfErrorCode = 'ENOTELF' | 'EELFCLASS' | 'ETRUNCATED' | 'EBADELF' | string;

/** An ELF file could not be opened, read or understood. */
export class ElfError extends AgentsightError {
  /** The file concerned. */
  path: string;
  constructor(path: string, message: string, code: ElfErrorCode, opts: { errno?: number; cause?: unknown } = {}) {
    super(`${path}: ${message}`, { op: 'elf', code, errno: opts.errno, cause: opts.cause });
    this.path = path;
  }
}

/** Wrap a filesystem error (ENOENT, EACCES, ...) as an ElfError naming the file. */
export function fsError(path: string, what: string, err: unknown): ElfError {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : 'EIO';
  const errno = typeof e?.errno === 'number' ? Math.abs(e.errno) : 0;
  return new ElfError(path, `cannot ${what}: ${e?.message ?? String(err)}`, code, { errno, cause: err });
}
