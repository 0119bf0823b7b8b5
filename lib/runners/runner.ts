import { chain, type Analyzer } from '../analyzer';
import type { Event } from '../event';

export interface RunOptions {
  /** Stops the run: tracers drain what the kernel already captured, analyzers flush, the iteration ends. */
  signal?: AbortSignal;
}

/**
 * A runner owns one event source (a tracer) and a chain of analyzers:
 * run() opens the source, pipes it through the analyzers and yields the
 * result; the source is closed when the iteration ends for any reason.
 */
export abstract class Runner {
  protected readonly analyzers: Analyzer[] = [];
  protected readonly args: string[] = [];

  abstract readonly name: string;

  /** Options in command-line form, as after `--` (e.g. ['--comm', 'python', '--pid', '1234']). */
  withArgs(args: readonly string[]): this {
    this.args.push(...args);
    return this;
  }

  addAnalyzer(a: Analyzer): this {
    this.analyzers.push(a);
    return this;
  }

  /** Validate options without starting anything (throws UsageError). */
  abstract validate(): void;

  /** The raw source of events; must stop when signal aborts. */
  protected abstract source(signal: AbortSignal): AsyncIterable<Event>;

  async *run(opts: RunOptions = {}): AsyncGenerator<Event> {
    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort(opts.signal?.reason);
    if (opts.signal?.aborted) ctrl.abort(opts.signal.reason);
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      yield* chain(this.source(ctrl.signal), this.analyzers, { signal: ctrl.signal });
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      ctrl.abort();
    }
  }
}
