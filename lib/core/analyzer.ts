import type { Event } from './event';

/** What an analyzer gets besides its input. */
export interface AnalyzerContext {
  /**
   * Aborted when the run is stopping (Ctrl-C, stop()). The sources then drain
   * what the kernel already captured and end their output, so an analyzer
   * keeps consuming its input to the end (nothing is lost on Ctrl-C); it only
   * stops waiting on anything else (a timer, a slow disk).
   */
  signal: AbortSignal;
}

/**
 * An analyzer is an async-iterator transform: it consumes a stream of events
 * and yields a stream of events (the same ones, fewer, more, or new ones).
 * Implementations are usually async generators. They must:
 *  - consume their input to its end, also after ctx.signal aborted (the input
 *    then ends by itself once the sources are drained);
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
