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
 *
 * It behaves as an async generator function written with for await and
 * yield (lazy start, return() and throw() close the input while it is being
 * read, a step that throws closes it too), but hands on the events of a
 * batch from a plain array: an event costs one resolved promise, not the
 * suspension and resumption of a generator.
 */
export function runSteps(input: AsyncIterable<Event>, row: readonly StepAnalyzer[]): AsyncGenerator<Event> {
  return new StepRow(input, row);
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/** The states of a StepRow: not started, reading its input, ending its analyzers, finished. */
const enum Phase {
  Start,
  Reading,
  Ending,
  Done,
}

class StepRow implements AsyncGenerator<Event> {
  /** What the last analyzer emitted for the current input event; out[read..] are still to be handed on. */
  private readonly out: Event[] = [];
  private read = 0;
  private readonly emits: Emit[];
  private it: AsyncIterator<Event> | null = null;
  private phase = Phase.Start;
  /** The next analyzer to end. */
  private ending = 0;
  /** Calls made and not yet settled: a call waits for the one before (`last`), as a generator queues them. */
  private calls = 0;
  private last: Promise<unknown> | null = null;

  constructor(
    private readonly input: AsyncIterable<Event>,
    private readonly row: readonly StepAnalyzer[],
  ) {
    const out = this.out;
    const emits = new Array<Emit>(row.length + 1);
    emits[row.length] = (e) => {
      out.push(e);
    };
    for (let k = row.length - 1; k >= 0; k--) {
      const a = row[k];
      const next = emits[k + 1];
      emits[k] = (e) => a.step(e, next);
    }
    this.emits = emits;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Event>> {
    if (this.calls === 0 && this.read < this.out.length) return Promise.resolve({ value: this.out[this.read++], done: false });
    return this.run(this.nextNow);
  }

  return(value?: unknown): Promise<IteratorResult<Event>> {
    return this.run(() => this.close(null, value));
  }

  throw(err: unknown): Promise<IteratorResult<Event>> {
    return this.run(() => this.close({ err }, undefined));
  }

  private readonly nextNow = (): Promise<IteratorResult<Event>> => {
    if (this.read < this.out.length || this.phase === Phase.Done) {
      this.calls--;
      return Promise.resolve(this.read < this.out.length ? { value: this.out[this.read++], done: false } : DONE);
    }
    return this.pull();
  };

  /** Run a call now, or after the one made before it settled; each call counts itself settled (calls--) as it ends. */
  private run(call: () => Promise<IteratorResult<Event>>): Promise<IteratorResult<Event>> {
    const p = this.calls++ === 0 ? call() : (this.last as Promise<unknown>).then(call, call);
    this.last = p;
    return p;
  }

  /** Work until the last analyzer emitted something, or everything ended. */
  private async pull(): Promise<IteratorResult<Event>> {
    const out = this.out;
    try {
      for (;;) {
        while (out.length !== 0) out.pop(); // cheaper than setting length
        this.read = 0;
        if (this.phase === Phase.Start) {
          this.it = this.input[Symbol.asyncIterator]();
          this.phase = Phase.Reading;
        }
        if (this.phase === Phase.Reading) {
          const it = this.it as AsyncIterator<Event>;
          let r: IteratorResult<Event>;
          try {
            r = await it.next();
          } catch (err) {
            this.phase = Phase.Done;
            throw err;
          }
          if (r.done) {
            this.phase = Phase.Ending;
            continue;
          }
          try {
            this.emits[0](r.value);
          } catch (err) {
            // as a for await loop left by an exception: the input is closed first, and the step's error is the one thrown
            this.phase = Phase.Done;
            out.length = 0;
            try {
              await it.return?.();
            } catch {
              /* a for await loop keeps the original error too */
            }
            throw err;
          }
        } else if (this.phase === Phase.Ending) {
          if (this.ending >= this.row.length) {
            this.phase = Phase.Done;
            return DONE;
          }
          const k = this.ending++;
          try {
            this.row[k].end(this.emits[k + 1]);
          } catch (err) {
            this.phase = Phase.Done;
            out.length = 0;
            throw err;
          }
        } else {
          return DONE;
        }
        if (out.length > 0) return { value: out[this.read++], done: false };
      }
    } finally {
      this.calls--;
    }
  }

  /** return() (fail null) or throw(): the input is closed when it is being read; then finished. */
  private async close(fail: { err: unknown } | null, value: unknown): Promise<IteratorResult<Event>> {
    try {
      const reading = this.phase === Phase.Reading;
      this.phase = Phase.Done;
      this.out.length = 0;
      this.read = 0;
      if (reading) await this.it?.return?.();
      if (fail) throw fail.err;
      return { value: value as undefined, done: true };
    } finally {
      this.calls--;
    }
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
