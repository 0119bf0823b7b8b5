import type { Writable } from 'node:stream';
import type { Analyzer, AnalyzerContext } from '../core/analyzer';
import type { Event } from '../core/event';
import { renderEvent } from '../render/events';

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
}

/** Lines are queued and written together: at this many characters, or at the end of the event-loop turn. */
const BATCH_CHARS = 64 * 1024;

/**
 * Writes every event to a stream and passes it on. Waits for 'drain' when the
 * stream is full, so a slow terminal or pipe slows intake instead of growing
 * memory. If the reader goes away (EPIPE), output stops and events keep
 * flowing to the rest of the chain.
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
  private broken = false;
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
    this.stream.on('error', () => {
      this.broken = true;
    });
  }

  format(e: Event): string {
    return this.pretty ? renderEvent(e, { color: this.color }) : JSON.stringify(e);
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
    this.batch = [];
    this.batchChars = 0;
    return this.broken ? true : this.stream.write(text);
  }

  async *process(input: AsyncIterable<Event>, ctx: AnalyzerContext): AsyncGenerator<Event> {
    try {
      for await (const e of input) {
        if (!this.quiet && !this.broken && (!this.show || this.show(e))) {
          const ok = this.write(`${this.format(e)}\n`);
          this.written++;
          if (!ok && !this.broken) await waitDrain(this.stream, ctx.signal);
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
