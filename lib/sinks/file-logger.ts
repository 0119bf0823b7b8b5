/**
 * FileLogger (`--output FILE`, `--rotate-logs`, `--max-log-size MB`): writes
 * every event as an NDJSON line and passes it on.
 *
 * The file is opened with O_NOFOLLOW (a symbolic link is refused) and mode
 * 0600, appended to, and rotated to FILE.1 ... FILE.N when it would exceed
 * the size limit. Writes respect backpressure: when the disk is slower than
 * the events, intake waits for the stream to drain, so memory stays bounded
 * by the stream's buffer. Everything is flushed when the input ends or the
 * run stops. A write error (disk full...) is reported once as a `diagnostic`
 * event and counted; events keep flowing.
 */
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import type { Analyzer, AnalyzerContext } from '../core/analyzer';
import { diagnosticEvent, type Event } from '../core/event';
import { AgentsightError, UsageError } from '../core/errors';
import type { FileOutputOptions } from '../config/options';
import { toJsonLine } from './ndjson';

/** Options of the file logger. */
export interface FileLoggerOptions {
  /** The log file. */
  path: string;
  /** Rotate when the file would exceed maxSizeMB (`--rotate-logs`). Default false. */
  rotate?: boolean;
  /** Size limit in MiB (`--max-log-size`), fractions allowed. Default 10. */
  maxSizeMB?: number;
  /** Rotated files kept (FILE.1 ... FILE.N). Default 5. */
  maxFiles?: number;
  /** Write buffer of the stream in bytes before backpressure applies. Default 64 KiB. */
  highWaterMark?: number;
}

/** Counters of the file logger. */
export interface FileLoggerStats {
  events_written: number;
  bytes_written: number;
  rotations: number;
  /** Times intake waited for the disk. */
  backpressure_waits: number;
  write_errors: number;
  /** Bytes waiting in the write stream right now. */
  buffered_bytes: number;
}

/** NDJSON file writer (pass-through analyzer). */
export class FileLogger implements Analyzer {
  readonly name = 'file_logger';
  readonly path: string;
  private readonly rotate: boolean;
  private readonly maxBytes: number;
  private readonly maxFiles: number;
  private readonly hwm: number;
  private stream: fs.WriteStream | null = null;
  private size = 0;
  private failed: Error | null = null;
  private readonly counters: Omit<FileLoggerStats, 'buffered_bytes'> = { events_written: 0, bytes_written: 0, rotations: 0, backpressure_waits: 0, write_errors: 0 };

  constructor(options: FileLoggerOptions) {
    if (!options || typeof options.path !== 'string' || options.path === '') throw new UsageError('--output: a file path is required');
    const mb = options.maxSizeMB ?? 10;
    if (!(typeof mb === 'number' && mb > 0 && Number.isFinite(mb))) throw new UsageError(`--max-log-size: expected a positive number of MB (got ${String(options.maxSizeMB)})`);
    const files = options.maxFiles ?? 5;
    if (!Number.isInteger(files) || files < 1) throw new UsageError(`file logger: maxFiles must be a positive integer (got ${String(options.maxFiles)})`);
    this.path = options.path;
    this.rotate = options.rotate ?? false;
    this.maxBytes = Math.max(1, Math.floor(mb * 1024 * 1024));
    this.maxFiles = files;
    this.hwm = options.highWaterMark ?? 64 * 1024;
  }

  /** Counters. */
  stats(): FileLoggerStats {
    return { ...this.counters, buffered_bytes: this.stream?.writableLength ?? 0 };
  }

  /**
   * Open (or create) the file now. process() does it too; call it first to
   * report a bad path before tracing starts.
   */
  async open(): Promise<void> {
    if (this.stream) return;
    this.attach(await openLog(this.path, this.hwm));
    this.size = (await fsp.stat(this.path)).size;
  }

  /** Diagnostics waiting to be yielded (write errors). */
  private readonly notices: Event[] = [];

  private attach(ws: fs.WriteStream): void {
    // Asynchronous write errors (disk full, I/O error) must not crash the run.
    ws.on('error', (e: Error) => this.fail(e));
    this.stream = ws;
  }

  private fail(err: Error): void {
    this.counters.write_errors++;
    if (this.failed) return;
    this.failed = err;
    this.notices.push(
      diagnosticEvent({
        type: 'file_logger_error',
        level: 'error',
        message: `cannot write ${this.path}: ${err.message}; no more events are written to this file`,
        path: this.path,
        error: err.message,
        note: 'no more events are written to this file',
      }),
    );
  }

  async *process(input: AsyncIterable<Event>, ctx: AnalyzerContext): AsyncIterable<Event> {
    await this.open();
    const pending = this.notices;
    try {
      for await (const e of input) {
        if (!this.failed) await this.write(e);
        yield e;
        while (pending.length) yield pending.shift() as Event;
      }
    } finally {
      await this.close();
    }
    while (pending.length) yield pending.shift() as Event;
  }

  private async write(e: Event): Promise<void> {
    const line = toJsonLine(e);
    const n = Buffer.byteLength(line);
    try {
      if (this.rotate && this.size > 0 && this.size + n > this.maxBytes) await this.rotateFiles();
      const ws = this.stream as fs.WriteStream;
      const ok = ws.write(line);
      this.size += n;
      this.counters.bytes_written += n;
      this.counters.events_written++;
      if (!ok) {
        this.counters.backpressure_waits++;
        await waitDrain(ws);
      }
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private async rotateFiles(): Promise<void> {
    await this.close();
    const p = this.path;
    await fsp.rm(`${p}.${this.maxFiles}`, { force: true });
    for (let i = this.maxFiles - 1; i >= 1; i--) {
      await fsp.rename(`${p}.${i}`, `${p}.${i + 1}`).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
    await fsp.rename(p, `${p}.1`);
    this.attach(await openLog(p, this.hwm));
    this.size = 0;
    this.counters.rotations++;
  }

  /** Flush and close the file (safe to call twice). */
  async close(): Promise<void> {
    const ws = this.stream;
    this.stream = null;
    if (!ws || ws.destroyed) return;
    await new Promise<void>((resolve) => {
      ws.once('error', () => resolve());
      ws.end(() => resolve());
    });
  }
}

async function openLog(path: string, highWaterMark: number): Promise<fs.WriteStream> {
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW;
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, flags, 0o600);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ELOOP') throw new UsageError(`--output ${path}: is a symbolic link; refusing to follow it (give the real path)`);
    if (err.code === 'EISDIR') throw new UsageError(`--output ${path}: is a directory`);
    throw new AgentsightError(`--output ${path}: cannot open: ${err.message}`, { op: 'open', code: err.code ?? 'EIO', errno: typeof err.errno === 'number' ? -err.errno : 0, cause: e });
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new UsageError(`--output ${path}: not a regular file`);
  }
  // An existing file keeps its contents but not looser permissions.
  await fh.chmod(0o600).catch(() => undefined);
  return fh.createWriteStream({ highWaterMark, encoding: 'utf8' }) as unknown as fs.WriteStream;
}

function waitDrain(ws: fs.WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      ws.off('drain', done);
      ws.off('error', fail);
      ws.off('close', done);
      resolve();
    };
    const fail = (e: Error) => {
      ws.off('drain', done);
      ws.off('close', done);
      reject(e);
    };
    ws.once('drain', done);
    ws.once('error', fail);
    ws.once('close', done);
  });
}

/**
 * The FileLogger of `--output` (with `--rotate-logs`/`--max-log-size`), opened
 * now so that a bad path fails before tracing starts; null without a file.
 */
export async function openFileLogger(o: FileOutputOptions): Promise<FileLogger | null> {
  if (!o.output) return null;
  const logger = new FileLogger({ path: o.output, rotate: o.rotateLogs ?? false, ...(o.maxLogSizeMB !== undefined ? { maxSizeMB: o.maxLogSizeMB } : {}) });
  await logger.open();
  return logger;
}
