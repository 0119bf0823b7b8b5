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

/** Where a step analyzer passes its output: the next analyzer of the row, or the row's output. */
export type Emit = (e: Event) => void;

/**
 * An analyzer that handles each event synchronously, and says so by also
 * offering its work one event at a time. Its process() is stepProcess()
 * (the same async generator contract); chain() runs a row of such analyzers
 * in one async generator, each event handed from one to the next by a call,
 * so an event costs one async-iterator step for the row instead of one per
 * analyzer.
 */
export interface StepAnalyzer extends Analyzer {
  /** One input event: emit what process() yields for it, in order (emit hands it on at once). */
  step(e: Event, emit: Emit): void;
  /** The input ended: emit what process() yields at its end. */
  end(emit: Emit): void;
}

export function isStepAnalyzer(a: Analyzer): a is StepAnalyzer {
  const s = a as Partial<StepAnalyzer>;
  return typeof s.step === 'function' && typeof s.end === 'function';
}

/**
 * Run step analyzers in a row as one async generator. Each event goes
 * through the row depth first, as it would through chained generators: what
 * an analyzer emits reaches the next one before it goes on. The row consumes
 * its input to the end (ctx.signal does not stop it) and yields, after each
 * input event, what came out of the last analyzer; at the end, each
 * analyzer in turn ends, its last events going through the ones after it.
 */
export async function* runSteps(input: AsyncIterable<Event>, row: readonly StepAnalyzer[]): AsyncGenerator<Event> {
  let out: Event[] = [];
  const emits: Emit[] = new Array<Emit>(row.length + 1);
  emits[row.length] = (e) => {
    out.push(e);
  };
  for (let k = row.length - 1; k >= 0; k--) {
    const a = row[k];
    const next = emits[k + 1];
    emits[k] = (e) => a.step(e, next);
  }
  const first = emits[0];
  for await (const e of input) {
    first(e);
    if (out.length === 0) continue;
    const batch = out;
    out = [];
    for (let i = 0; i < batch.length; i++) yield batch[i];
  }
  for (let k = 0; k < row.length; k++) {
    row[k].end(emits[k + 1]);
    const batch = out;
    out = [];
    for (let i = 0; i < batch.length; i++) yield batch[i];
  }
}

/** The process() of a step analyzer on its own. */
export function stepProcess(a: StepAnalyzer, input: AsyncIterable<Event>): AsyncGenerator<Event> {
  return runSteps(input, [a]);
}

/** Compose analyzers left to right over a source; consecutive step analyzers run as one row (runSteps). */
export function chain(source: AsyncIterable<Event>, analyzers: readonly Analyzer[], ctx: AnalyzerContext): AsyncIterable<Event> {
  let stream = source;
  for (let i = 0; i < analyzers.length;) {
    const a = analyzers[i];
    if (!isStepAnalyzer(a)) {
      stream = a.process(stream, ctx);
      i++;
      continue;
    }
    const row: StepAnalyzer[] = [];
    for (; i < analyzers.length; i++) {
      const s = analyzers[i];
      if (!isStepAnalyzer(s)) break;
      row.push(s);
    }
    stream = runSteps(stream, row);
  }
  return stream;
}

/** An analyzer from a function over single events (return null/undefined to drop). */
export function mapAnalyzer(name: string, fn: (e: Event) => Event | null | undefined | Event[]): StepAnalyzer {
  return {
    name,
    step(e, emit) {
      const r = fn(e);
      if (r == null) return;
      if (Array.isArray(r)) for (const x of r) emit(x);
      else emit(r);
    },
    end() {},
    process(input) {
      return stepProcess(this, input);
    },
  };
}
