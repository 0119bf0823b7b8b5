/**
 * FileLogger (`--output FILE`, `--rotate-logs`, `--max-log-size MB`): writes
 * every event as an NDJSON line and passes it on.
 *
 * The file is opened by lib/sinks/safe-file.ts (never through a symbolic
 * link, only a regular file that is ours, mode 0600), appended to, and
 * rotated to FILE.1 ... FILE.N when it would exceed the size limit (each new
 * file created fresh with O_EXCL; a rotation that fails is reported and
 * logging goes on in the current file). Writes respect backpressure: when the
 * disk is slower than the events, intake waits for the stream to drain, so
 * memory stays bounded by the stream's buffer. Everything is flushed when the
 * input ends or the run stops.
 *
 * A write error (disk full...) is reported as a `diagnostic` event, the file
 * is cut back to its last complete line, and every event not written from
 * then on is counted (stats().events_not_written, loss()); events keep
 * flowing down the chain.
 */
import * as fs from 'fs';
// fs.promises is loaded when first used (node:fs/promises is ~1 ms to require)
import { promises as fsp } from 'fs';
import type { Analyzer } from '../core/analyzer';
import { diagnosticEvent, type Event } from '../core/event';
import { UsageError } from '../core/errors';
import type { FileOutputOptions } from '../config/options';
import { toJsonLine } from './ndjson';
import { openOwnFile } from './safe-file';
import type { SinkLoss } from './output';

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
  /** Only a file this run creates: an existing one is an error (record's default file). Default false. */
  createNew?: boolean;
}

/** Counters of the file logger. */
export interface FileLoggerStats {
  /** Events written and confirmed by the file system. */
  events_written: number;
  bytes_written: number;
  /** Events that could not be written (after a write error). */
  events_not_written: number;
  rotations: number;
  /** Rotations that failed (logging went on in the current file). */
  rotation_errors: number;
  /** Times intake waited for the disk. */
  backpressure_waits: number;
  write_errors: number;
  /** Bytes of a torn last line removed after a write error. */
  torn_bytes_removed: number;
  /** Bytes waiting in the write stream right now. */
  buffered_bytes: number;
}

interface OpenLog {
  fh: fsp.FileHandle;
  ws: fs.WriteStream;
  /** File size when opened: appends start there. */
  base: number;
  /** Bytes confirmed written since. */
  committed: number;
}

/** Where FileLogger wrote an event's line. */
export interface FileLineLocation {
  /** Rotations before it was written: the file is fileOf(generation). */
  generation: number;
  offset: number;
  length: number;
}

/** NDJSON file writer (pass-through analyzer). */
export class FileLogger implements Analyzer {
  readonly name = 'file_logger';
  readonly path: string;
  private readonly rotate: boolean;
  private readonly maxBytes: number;
  private readonly maxFiles: number;
  private readonly hwm: number;
  private readonly createNew: boolean;
  private log: OpenLog | null = null;
  private size = 0;
  /** Size at which the next rotation is tried (moves on after a failed one). */
  private rotateAt = 0;
  private failed: Error | null = null;
  /** The cut-back after a write error, awaited before the file is closed. */
  private failing: Promise<void> | null = null;
  private attempted = 0;
  private readonly counters: Omit<FileLoggerStats, 'buffered_bytes' | 'events_not_written'> = {
    events_written: 0,
    bytes_written: 0,
    rotations: 0,
    rotation_errors: 0,
    backpressure_waits: 0,
    write_errors: 0,
    torn_bytes_removed: 0,
  };
  /** Diagnostics waiting to be yielded (write and rotation errors). */
  private readonly notices: Event[] = [];
  /**
   * Called with the place of each event's line as it is handed to the file
   * (for a reader that comes back to it later, as the web UI does): the file
   * generation (see fileOf()), the byte offset and the length without the LF.
   */
  onWrite: ((e: Event, at: FileLineLocation) => void) | null = null;

  constructor(options: FileLoggerOptions) {
    if (!options || typeof options.path !== 'string' || options.path === '') throw new UsageError('--output: a file path is required');
    const mb = options.maxSizeMB ?? 10;
    if (!(typeof mb === 'number' && mb > 0 && Number.isFinite(mb)))
      throw new UsageError(`--max-log-size: expected a positive number of MB (got ${String(options.maxSizeMB)})`);
    const files = options.maxFiles ?? 5;
    if (!Number.isInteger(files) || files < 1) throw new UsageError(`file logger: maxFiles must be a positive integer (got ${String(options.maxFiles)})`);
    this.path = options.path;
    this.rotate = options.rotate ?? false;
    this.maxBytes = Math.max(1, Math.floor(mb * 1024 * 1024));
    this.maxFiles = files;
    this.hwm = options.highWaterMark ?? 64 * 1024;
    this.createNew = options.createNew ?? false;
  }

  /** Counters. */
  stats(): FileLoggerStats {
    return {
      ...this.counters,
      events_not_written: this.attempted - this.counters.events_written - this.inFlight(),
      buffered_bytes: this.log?.ws.writableLength ?? 0,
    };
  }

  /** What did not reach the file, when anything did not (for the end-of-run summary). */
  loss(): SinkLoss | null {
    const s = this.stats();
    if (s.events_not_written === 0 && !this.failed) return null;
    return { sink: `file ${this.path}`, events_not_written: s.events_not_written, error: this.failed?.message ?? null };
  }

  /** The file now written has this generation (the number of rotations so far). */
  get generation(): number {
    return this.counters.rotations;
  }

  /** The file that holds a generation's lines now (FILE, then FILE.1 ... as rotations move it), or null once it was removed. */
  fileOf(generation: number): string | null {
    const back = this.counters.rotations - generation;
    if (back < 0 || back > this.maxFiles) return null;
    return back === 0 ? this.path : `${this.path}.${back}`;
  }

  private pendingEvents = 0;
  private inFlight(): number {
    return this.failed ? 0 : this.pendingEvents;
  }

  /**
   * Open (or create) the file now. process() does it too; call it first to
   * report a bad path before tracing starts.
   */
  async open(): Promise<void> {
    if (this.log || this.failed) return;
    this.attach(await this.openFile(this.createNew));
  }

  private async openFile(createNew: boolean): Promise<OpenLog> {
    const f = await openOwnFile(this.path, { what: '--output', createNew });
    // The stream writes to the descriptor but does not own it: the handle stays open until
    // close(), after the stream ended, so a torn line can still be cut back through it.
    const ws = fs.createWriteStream('', { fd: f.fh.fd, highWaterMark: this.hwm, encoding: 'utf8', autoClose: false });
    return { fh: f.fh, ws, base: f.size, committed: 0 };
  }

  private attach(log: OpenLog): void {
    // Asynchronous write errors (disk full, I/O error) must not crash the run.
    log.ws.on('error', (e: Error) => {
      this.failing = this.fail(e, log);
    });
    this.log = log;
    this.size = log.base;
    this.rotateAt = this.maxBytes;
  }

  private notice(type: string, message: string, extra: Record<string, unknown>): void {
    this.notices.push(diagnosticEvent({ type, level: 'error', message, path: this.path, ...extra }));
  }

  private async fail(err: Error, log: OpenLog): Promise<void> {
    this.counters.write_errors++;
    if (this.failed) return;
    this.failed = err;
    this.notice('file_logger_error', `cannot write ${this.path}: ${err.message}; no more events are written to this file`, {
      error: err.message,
      note: 'no more events are written to this file',
    });
    // Cut a torn last line back: the file ends with the last event the file system took whole.
    try {
      const keep = log.base + log.committed;
      const st = await log.fh.stat();
      if (st.size > keep) {
        await log.fh.truncate(keep);
        this.counters.torn_bytes_removed += st.size - keep;
      }
    } catch {
      /* the file is gone or the disk refuses even that: the diagnostic says what happened */
    }
  }

  async *process(input: AsyncIterable<Event>): AsyncIterable<Event> {
    await this.open();
    const pending = this.notices;
    try {
      for await (const e of input) {
        this.attempted++;
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
    if (this.rotate && this.size > 0 && this.size + n > this.rotateAt) await this.rotateFiles();
    const log = this.log as OpenLog;
    this.onWrite?.(e, { generation: this.counters.rotations, offset: this.size, length: n - 1 });
    this.pendingEvents++;
    const ok = log.ws.write(line, (err) => {
      this.pendingEvents--;
      if (err) return;
      log.committed += n;
      this.counters.events_written++;
      this.counters.bytes_written += n;
    });
    this.size += n;
    if (!ok) {
      this.counters.backpressure_waits++;
      await waitDrain(log.ws);
    }
  }

  private async rotateFiles(): Promise<void> {
    const p = this.path;
    // Shift the old files first; the stream keeps writing to its file under its new name (FILE.1).
    try {
      await fsp.rm(`${p}.${this.maxFiles}`, { force: true });
      for (let i = this.maxFiles - 1; i >= 1; i--) {
        await fsp.rename(`${p}.${i}`, `${p}.${i + 1}`).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
      }
      await fsp.rename(p, `${p}.1`);
    } catch (err) {
      return this.rotationFailed(err as Error);
    }
    let next: OpenLog;
    try {
      next = await this.openFile(true);
    } catch (err) {
      return this.rotationFailed(err as Error);
    }
    const old = this.log;
    this.attach(next);
    this.counters.rotations++;
    if (old) await this.closeLog(old);
  }

  private rotationFailed(err: Error): void {
    this.counters.rotation_errors++;
    // go on in the current file; try again once it has grown by another limit
    this.rotateAt = this.size + this.maxBytes;
    if (this.counters.rotation_errors === 1)
      this.notice('file_logger_rotation_error', `cannot rotate ${this.path}: ${err.message}; logging goes on in the current file`, { error: err.message });
  }

  private async closeLog(log: OpenLog): Promise<void> {
    if (!log.ws.destroyed)
      await new Promise<void>((resolve) => {
        log.ws.once('error', () => resolve());
        log.ws.end(() => resolve());
      });
    // a write error met while ending is cut back before the handle goes
    await this.failing;
    await log.fh.close().catch(() => undefined);
  }

  /** Flush and close the file (safe to call twice). */
  async close(): Promise<void> {
    await this.failing;
    const log = this.log;
    this.log = null;
    if (log) await this.closeLog(log);
  }
}

/**
 * The FileLogger of `--output` (with `--rotate-logs`/`--max-log-size`), opened
 * now so that a bad path fails before tracing starts; null without a file.
 */
export async function openFileLogger(o: FileOutputOptions & { createNew?: boolean }): Promise<FileLogger | null> {
  if (o.output === undefined) return null;
  const logger = new FileLogger({
    path: o.output,
    rotate: o.rotateLogs ?? false,
    createNew: o.createNew,
    ...(o.maxLogSizeMB !== undefined ? { maxSizeMB: o.maxLogSizeMB } : {}),
  });
  await logger.open();
  return logger;
}

function waitDrain(ws: fs.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      ws.off('drain', done);
      ws.off('error', done);
      ws.off('close', done);
      resolve();
    };
    ws.once('drain', done);
    ws.once('error', done);
    ws.once('close', done);
  });
}
