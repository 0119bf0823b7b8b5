import type { Writable } from 'node:stream';
import type { Analyzer, AnalyzerContext } from '../analyzer';
import type { Event } from '../event';
import { renderEvent } from '../render';

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

/**
 * Writes every event to a stream and passes it on. Waits for 'drain' when the
 * stream is full, so a slow terminal or pipe slows intake instead of growing
 * memory. If the reader goes away (EPIPE), output stops and events keep
 * flowing to the rest of the chain.
 */
export class OutputAnalyzer implements Analyzer {
  readonly name = 'output';
  private readonly stream: Writable & { isTTY?: boolean };
  private readonly pretty: boolean;
  private readonly color: boolean;
  private readonly quiet: boolean;
  private broken = false;
  private readonly show: ((e: Event) => boolean) | null;
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

  async *process(input: AsyncIterable<Event>, ctx: AnalyzerContext): AsyncGenerator<Event> {
    for await (const e of input) {
      if (!this.quiet && !this.broken && (!this.show || this.show(e))) {
        const ok = this.stream.write(`${this.format(e)}\n`);
        this.written++;
        if (!ok && !this.broken) await waitDrain(this.stream, ctx.signal);
      }
      yield e;
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
