/**
 * FileLogger: every event as one NDJSON line in a file.
 *
 * - created 0600 (and kept 0600), opened without following symlinks: an
 *   existing symlink at the path is refused with a clear error;
 * - appends to an existing regular file (never destroys what is there);
 * - optional rotation by size: file -> file.1 -> ... -> file.N (N kept);
 * - waits for 'drain' when the disk is slower than the events, so memory
 *   stays bounded and the slowness reaches the producer (then the kernel ring
 *   buffers, where losses are counted);
 * - flushed and closed when the stream ends (also on Ctrl-C).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Analyzer, AnalyzerContext } from '../analyzer';
import { UsageError } from '../errors';
import type { Event } from '../event';

export interface FileLoggerOptions {
  /** Rotate when the file reaches maxSizeMb (default false). */
  rotate?: boolean;
  /** Size that triggers rotation, in MB (default 100). */
  maxSizeMb?: number;
  /** Rotated files kept (default 5). */
  maxFiles?: number;
}

export interface FileLoggerStats {
  written: number;
  bytes: number;
  rotations: number;
  drain_waits: number;
}

const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

/** Open for appending, 0600, refusing symlinks and non-regular files. */
function openPrivate(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND | O_NOFOLLOW, 0o600);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ELOOP') throw new UsageError(`--output ${file}: is a symbolic link; refusing to write through it`);
    throw new UsageError(`--output ${file}: ${e.message}`);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new UsageError(`--output ${file}: not a regular file`);
  }
  // an existing file may have been more open: events can carry secrets
  if ((st.mode & 0o077) !== 0) fs.fchmodSync(fd, 0o600);
  return fd;
}

export class FileLogger implements Analyzer {
  readonly name = 'file_logger';
  readonly file: string;
  private readonly rotate: boolean;
  private readonly maxBytes: number;
  private readonly maxFiles: number;
  private stream: fs.WriteStream | null = null;
  private size = 0;
  readonly stats: FileLoggerStats = { written: 0, bytes: 0, rotations: 0, drain_waits: 0 };

  constructor(file: string, opts: FileLoggerOptions = {}) {
    this.file = path.resolve(file);
    this.rotate = opts.rotate ?? false;
    const mb = opts.maxSizeMb ?? 100;
    if (!(mb > 0)) throw new UsageError(`--max-log-size must be a positive number of MB (got ${mb})`);
    this.maxBytes = mb * 1024 * 1024;
    this.maxFiles = opts.maxFiles ?? 5;
    if (!Number.isInteger(this.maxFiles) || this.maxFiles < 1) throw new UsageError(`the number of rotated logs kept must be >= 1 (got ${this.maxFiles})`);
    // Open now: a bad path fails before tracing starts.
    this.open();
  }

  private open(): void {
    const fd = openPrivate(this.file);
    this.size = fs.fstatSync(fd).size;
    this.stream = fs.createWriteStream(this.file, { fd, highWaterMark: 1 << 20 });
    this.stream.on('error', () => undefined);
  }

  private async closeStream(): Promise<void> {
    const s = this.stream;
    this.stream = null;
    if (!s) return;
    await new Promise<void>((resolve) => s.end(() => resolve()));
  }

  private async doRotate(): Promise<void> {
    await this.closeStream();
    for (let i = this.maxFiles - 1; i >= 1; i--) {
      const from = `${this.file}.${i}`;
      if (fs.existsSync(from)) fs.renameSync(from, `${this.file}.${i + 1}`);
    }
    const last = `${this.file}.${this.maxFiles + 1}`;
    if (fs.existsSync(last)) fs.rmSync(last);
    fs.renameSync(this.file, `${this.file}.1`);
    this.stats.rotations++;
    this.open();
  }

  private async write(line: string, signal: AbortSignal): Promise<void> {
    if (!this.stream) return;
    const n = Buffer.byteLength(line);
    if (this.rotate && this.size > 0 && this.size + n > this.maxBytes) await this.doRotate();
    const s = this.stream as fs.WriteStream;
    const ok = s.write(line);
    this.size += n;
    this.stats.bytes += n;
    this.stats.written++;
    if (!ok && !signal.aborted) {
      this.stats.drain_waits++;
      await new Promise<void>((resolve) => {
        const done = () => {
          s.off('drain', done);
          s.off('error', done);
          s.off('close', done);
          resolve();
        };
        s.on('drain', done);
        s.on('error', done);
        s.on('close', done);
      });
    }
  }

  async *process(input: AsyncIterable<Event>, ctx: AnalyzerContext): AsyncGenerator<Event> {
    try {
      for await (const e of input) {
        await this.write(`${JSON.stringify(e)}\n`, ctx.signal);
        yield e;
      }
    } finally {
      await this.closeStream();
    }
  }
}
