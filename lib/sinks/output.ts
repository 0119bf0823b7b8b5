import type { Writable } from 'node:stream';
import type { Analyzer, AnalyzerContext } from '../core/analyzer';
import type { Event } from '../core/event';
import { renderEvent } from '../render/events';
import { toJsonLine } from './ndjson';

/** What a sink could not write, for the end-of-run summary. */
export interface SinkLoss {
  /** "console", "file <path>", ... */
  sink: string;
  events_not_written: number;
  /** The error that stopped it (EPIPE, ENOSPC, ...). */
  error: string | null;
  /** What was counted (default "event(s)"). */
  unit?: string;
  /** An export to a remote receiver (OTLP): said, but the session file is complete, so the exit status does not change. */
  export?: boolean;
}

export type OutputFormat = 'auto' | 'json' | 'pretty';

export interface OutputOptions {
  /** Where to write (default process.stdout). */
  stream?: Writable & { isTTY?: boolean };
  /** json: NDJSON; pretty: one readable line per event; auto: pretty on a TTY, else json. */
  format?: OutputFormat;
  /** Write nothing (events still pass through). */
  quiet?: boolean;
  /** Colour in pretty output (default: on a TTY unless NO_COLOR is set). */
  color?: boolean;
  /** Write only the events this accepts (all pass through regardless). */
  show?: (e: Event) => boolean;
  /**
   * Called once when the stream breaks (EPIPE: the reader went away, as
   * `agentsight ... | head -1` does). The CLI stops the run then.
   */
  onBroken?: (err: Error) => void;
}

/** Lines are queued and written together: at this many characters, or at the end of the event-loop turn. */
const BATCH_CHARS = 64 * 1024;

/**
 * Writes every event to a stream and passes it on. Waits for 'drain' when the
 * stream is full, so a slow terminal or pipe slows intake instead of growing
 * memory. If the reader goes away (EPIPE), output stops, onBroken is called,
 * events keep flowing to the rest of the chain and those not written are
 * counted (loss()). JSON lines are the same as FileLogger's (toJsonLine).
 *
 * Lines are written in batches (one write per 64 KiB or per event-loop turn):
 * stdout on a pipe is synchronous, and a write per event cost a system call
 * and a wake-up of the reader each, most of the CLI's CPU at high rates.
 */
export class OutputAnalyzer implements Analyzer {
  readonly name = 'output';
  private readonly stream: Writable & { isTTY?: boolean };
  private readonly pretty: boolean;
  private readonly color: boolean;
  private readonly quiet: boolean;
  private broken: Error | null = null;
  private notWritten = 0;
  private readonly onBroken: ((err: Error) => void) | null;
  private readonly show: ((e: Event) => boolean) | null;
  private batch: string[] = [];
  private batchChars = 0;
  private flushTimer: NodeJS.Immediate | null = null;
  written = 0;

  constructor(opts: OutputOptions = {}) {
    this.stream = opts.stream ?? process.stdout;
    const fmt = opts.format ?? 'auto';
    this.pretty = fmt === 'pretty' || (fmt === 'auto' && this.stream.isTTY === true);
    this.color = opts.color ?? (this.pretty && this.stream.isTTY === true && !process.env.NO_COLOR);
    this.quiet = opts.quiet ?? false;
    this.show = opts.show ?? null;
    this.onBroken = opts.onBroken ?? null;
    this.stream.on('error', (err: Error) => {
      if (this.broken) return;
      this.broken = err;
      // the lines still queued in the stream never reached the reader
      this.notWritten += this.unflushed;
      this.onBroken?.(err);
    });
  }

  /** Lines handed to the stream whose write has not completed. */
  private unflushed = 0;

  /** The event as it is written (without the newline). */
  format(e: Event): string {
    return this.pretty ? renderEvent(e, { color: this.color }) : toJsonLine(e).slice(0, -1);
  }

  /** What could not be written, when anything could not. */
  loss(): SinkLoss | null {
    if (!this.broken && this.notWritten === 0) return null;
    return { sink: 'console', events_not_written: this.notWritten, error: this.broken ? this.broken.message : null };
  }

  /** Queue a line; false when the writer should wait for 'drain'. */
  private write(line: string): boolean {
    this.batch.push(line);
    this.batchChars += line.length;
    if (this.batchChars >= BATCH_CHARS) return this.flush();
    this.flushTimer ??= setImmediate(() => {
      this.flushTimer = null;
      this.flush();
    });
    return this.stream.writableNeedDrain !== true;
  }

  /** Write the queued lines now. */
  flush(): boolean {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = null;
    if (this.batch.length === 0) return true;
    const text = this.batch.join('');
    const lines = this.batch.length;
    this.batch = [];
    this.batchChars = 0;
    if (this.broken) {
      this.notWritten += lines;
      return true;
    }
    this.unflushed += lines;
    return this.stream.write(text, (err) => {
      if (!err) this.unflushed -= lines;
    });
  }

  async *process(input: AsyncIterable<Event>, ctx: AnalyzerContext): AsyncGenerator<Event> {
    try {
      for await (const e of input) {
        if (!this.quiet && (!this.show || this.show(e))) {
          if (this.broken) this.notWritten++;
          else {
            const ok = this.write(`${this.format(e)}\n`);
            this.written++;
            if (!ok && !this.broken) await waitDrain(this.stream, ctx.signal);
          }
        }
        yield e;
      }
    } finally {
      this.flush();
    }
  }
}

/** Resolve when the stream drains, errors, closes, or the signal aborts. */
export function waitDrain(stream: Writable, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('error', done);
      stream.off('close', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
    stream.on('close', done);
    signal?.addEventListener('abort', done, { once: true });
  });
}
