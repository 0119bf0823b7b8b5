import type { Event } from './event';

/** What an analyzer gets besides its input. */
export interface AnalyzerContext {
  /** Aborted when the run stops (Ctrl-C, close(), consumer gone). */
  signal: AbortSignal;
}

/**
 * An analyzer is an async-iterator transform: it consumes a stream of events
 * and yields a stream of events (the same ones, fewer, more, or new ones).
 * Implementations are usually async generators. They must:
 *  - stop promptly when ctx.signal is aborted (the input ends too);
 *  - flush whatever they hold when the input ends (merged streams, counters);
 *  - never throw for bad data: turn it into an event that says what was wrong.
 */
export interface Analyzer {
  readonly name: string;
  process(input: AsyncIterable<Event>, ctx: AnalyzerContext): AsyncIterable<Event>;
}

/** Compose analyzers left to right over a source. */
export function chain(source: AsyncIterable<Event>, analyzers: readonly Analyzer[], ctx: AnalyzerContext): AsyncIterable<Event> {
  let stream = source;
  for (const a of analyzers) stream = a.process(stream, ctx);
  return stream;
}

/** An analyzer from a function over single events (return null/undefined to drop). */
export function mapAnalyzer(name: string, fn: (e: Event) => Event | null | undefined | Event[]): Analyzer {
  return {
    name,
    async *process(input) {
      for await (const e of input) {
        const r = fn(e);
        if (r == null) continue;
        if (Array.isArray(r)) yield* r;
        else yield r;
      }
    },
  };
}
