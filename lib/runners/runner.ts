import { EventEmitter } from 'eventemitter3';
import { chain, type Analyzer } from '../core/analyzer';
import type { Event } from '../core/event';
import { Timeline } from '../core/timeline';

/** What a runner announces once its probes are attached. */
export interface ReadyInfo {
  runner: string;
  /** eBPF programs attached, links created */
  programs: number;
  links: number;
  /** one line for people */
  detail: string;
}

export interface RunnerEvents {
  /** Probes are attached: from now on nothing in scope is missed. */
  ready: [info: ReadyInfo];
  /** Something the user should know that is not an event (e.g. no TLS library found in a process). */
  notice: [message: string];
}

export interface RunOptions {
  /** Stops the run: tracers drain what the kernel already captured, analyzers flush, the iteration ends. */
  signal?: AbortSignal;
}

/**
 * A runner owns one event source (a tracer) and a chain of analyzers:
 * run() opens the source, pipes it through the analyzers and yields the
 * result; the source is closed when the iteration ends for any reason.
 */
export abstract class Runner extends EventEmitter<RunnerEvents> {
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

  /** Add several analyzers, in order. */
  withAnalyzers(list: readonly Analyzer[]): this {
    this.analyzers.push(...list);
    return this;
  }

  /**
   * Options with the timeline `--verbose` writes to (made here when none is given), for
   * followTimeline() before the tracer starts: lines said while it starts are not only replayed.
   */
  protected withTimeline<T extends { verbose?: boolean; timeline?: Timeline }>(o: T): T {
    return o.verbose && !o.timeline ? { ...o, timeline: new Timeline() } : o;
  }

  /** Pass a tracer's --verbose lines on as notices (what came before too); returns how to stop. */
  protected followTimeline(tl: Timeline | null): () => void {
    return tl ? tl.follow((line) => this.emit('notice', line)) : () => undefined;
  }

  /**
   * Start a tracer with its timeline followed from before the start (a timeline keeps only so many
   * lines for a listener that comes late); the tracer and how to stop following, which a failed
   * start has done already.
   */
  protected async startFollowed<O extends { verbose?: boolean; timeline?: Timeline }, T>(
    options: O,
    start: (o: O) => Promise<T>,
  ): Promise<{ tracer: T; unfollow: () => void }> {
    const o = this.withTimeline(options);
    const unfollow = this.followTimeline(o.timeline ?? null);
    try {
      return { tracer: await start(o), unfollow };
    } catch (err) {
      unfollow();
      throw err;
    }
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
