/**
 * chain() runs rows of step analyzers as one generator: the events, their
 * order and the order of the analyzers' work must be those of chained
 * async generators.
 */
import { describe, expect, it } from 'vitest';
import { chain, isStepAnalyzer, mapAnalyzer, runSteps, stepProcess, type Analyzer, type Emit, type StepAnalyzer } from '../../lib/core/analyzer';
import type { Event } from '../../lib/core/event';

const ev = (n: number): Event => ({ timestamp: n, source: 'test', pid: 1, comm: 't', data: { n } });

/** Emits each event twice (tagged), and one event of its own at the end; logs what it does. */
function doubler(tag: string, log: string[]): StepAnalyzer {
  return {
    name: tag,
    step(e: Event, emit: Emit) {
      log.push(`${tag} in ${e.data.n}`);
      emit(e);
      log.push(`${tag} between ${e.data.n}`);
      emit({ ...e, data: { n: `${e.data.n}${tag}` } });
    },
    end(emit: Emit) {
      log.push(`${tag} end`);
      emit({ ...ev(0), data: { n: `end-${tag}` } });
    },
    process(input) {
      return stepProcess(this, input);
    },
  };
}

/** The same work written as a plain async generator. */
function doublerGen(tag: string, log: string[]): Analyzer {
  return {
    name: tag,
    async *process(input) {
      for await (const e of input) {
        log.push(`${tag} in ${e.data.n}`);
        yield e;
        log.push(`${tag} between ${e.data.n}`);
        yield { ...e, data: { n: `${e.data.n}${tag}` } };
      }
      log.push(`${tag} end`);
      yield { ...ev(0), data: { n: `end-${tag}` } };
    },
  };
}

async function* source(n: number): AsyncIterable<Event> {
  for (let i = 1; i <= n; i++) yield ev(i);
}

async function run(analyzers: Analyzer[], log: string[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const e of chain(source(3), analyzers, { signal: new AbortController().signal })) {
    log.push(`out ${e.data.n}`);
    out.push(e.data.n);
  }
  return out;
}

describe('step analyzers', () => {
  it('a row gives the events and the order of work of chained generators', async () => {
    const logA: string[] = [];
    const logB: string[] = [];
    const outA = await run([doubler('a', logA), doubler('b', logA), mapAnalyzer('drop-1', (e) => (e.data.n === 1 ? null : e))], logA);
    const outB = await run([doublerGen('a', logB), doublerGen('b', logB)], logB);
    // the generator chain without the map: compare the analyzers' work, then the output less what the map drops
    expect(logA.filter((l) => !l.startsWith('out'))).toEqual(logB.filter((l) => !l.startsWith('out')));
    expect(outA).toEqual(outB.filter((n) => n !== 1));
    expect(outA).toEqual(['1b', '1a', '1ab', 2, '2b', '2a', '2ab', 3, '3b', '3a', '3ab', 'end-a', 'end-ab', 'end-b']);
  });

  it('rows and generators mix, and a step analyzer alone is its own generator', async () => {
    const log: string[] = [];
    const out = await run([doubler('a', log), doubler('b', log), doublerGen('g', log), doubler('c', log)], log);
    const genLog: string[] = [];
    const gen = await run([doublerGen('a', genLog), doublerGen('b', genLog), doublerGen('g', genLog), doublerGen('c', genLog)], genLog);
    expect(out).toEqual(gen);
    expect(out).toHaveLength(3 * 16 + 8 + 4 + 2 + 1);
    // (the work of a row for one input event is done before a generator after it pulls the first of its output)
    const alone: unknown[] = [];
    for await (const e of doubler('s', []).process(source(2), { signal: new AbortController().signal })) alone.push(e.data.n);
    expect(alone).toEqual([1, '1s', 2, '2s', 'end-s']);
  });

  it('reads its input to the end after the signal aborted', async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    const out: unknown[] = [];
    for await (const e of runSteps(source(5), [doubler('a', [])])) out.push(e.data.n);
    expect(out).toHaveLength(11);
    expect(isStepAnalyzer(doubler('a', []))).toBe(true);
    expect(isStepAnalyzer(doublerGen('a', []))).toBe(false);
  });

  /** The input as a logged async iterator (next and return calls), ending after n events or throwing at `failAt`. */
  function loggedInput(n: number, log: string[], failAt = -1): AsyncIterable<Event> {
    let i = 0;
    return {
      [Symbol.asyncIterator]() {
        log.push('open');
        return {
          async next() {
            i++;
            if (i === failAt) throw new Error('input failed');
            return i <= n ? { value: ev(i), done: false } : { value: undefined, done: true };
          },
          async return() {
            log.push('return');
            return { value: undefined, done: true };
          },
        };
      },
    };
  }

  /** The same row written as an async generator: the contract runSteps keeps. */
  async function* reference(input: AsyncIterable<Event>, row: StepAnalyzer[]): AsyncGenerator<Event> {
    let out: Event[] = [];
    const emits: Emit[] = [(e) => out.push(e)];
    for (let k = row.length - 1; k >= 0; k--) {
      const next = emits[0];
      const a = row[k];
      emits.unshift((e) => a.step(e, next));
    }
    for await (const e of input) {
      emits[0](e);
      const batch = out;
      out = [];
      yield* batch;
    }
    for (let k = 0; k < row.length; k++) {
      row[k].end(emits[k + 1]);
      const batch = out;
      out = [];
      yield* batch;
    }
  }

  type Script = Array<'next' | 'return' | 'throw'>;

  /** Drive a row by a script of calls; what each call gave and what the input saw. */
  async function drive(make: (input: AsyncIterable<Event>) => AsyncGenerator<Event>, script: Script, failAt = -1): Promise<string[]> {
    const log: string[] = [];
    const gen = make(loggedInput(3, log, failAt));
    for (const call of script) {
      try {
        const r = call === 'next' ? await gen.next() : call === 'return' ? await gen.return(undefined) : await gen.throw(new Error('thrown in'));
        log.push(`${call}: ${r.done ? 'done' : String(r.value.data.n)}`);
      } catch (err) {
        log.push(`${call} rejected: ${(err as Error).message}`);
      }
    }
    return log;
  }

  it('next, return and throw behave as in an async generator (lazy start, the input closed while it is read)', async () => {
    const failing = (at: number): StepAnalyzer => ({
      name: 'f',
      step(e, emit) {
        if (e.data.n === at) throw new Error('step failed');
        emit(e);
      },
      end() {},
      process(input) {
        return stepProcess(this, input);
      },
    });
    const rows: Array<() => StepAnalyzer[]> = [
      () => [doubler('a', [])],
      () => [doubler('a', []), doubler('b', [])],
      () => [failing(2)],
      () => [doubler('a', []), failing(3)],
    ];
    const scripts: Script[] = [
      ['return', 'next'],
      ['throw', 'next'],
      ['next', 'return', 'next'],
      ['next', 'next', 'throw', 'next'],
      ['next', 'next', 'next', 'next', 'next', 'next', 'next', 'next', 'next', 'next', 'next', 'return'],
      ['next', 'next', 'next', 'next', 'next', 'next', 'next', 'next', 'next', 'throw', 'next'],
    ];
    for (const row of rows)
      for (const script of scripts)
        for (const failAt of [-1, 2]) {
          const got = await drive((input) => runSteps(input, row()), script, failAt);
          const want = await drive((input) => reference(input, row()), script, failAt);
          expect(got, `${script.join(',')} failAt ${failAt}`).toEqual(want);
        }
  });

  it('calls made before the previous one settled are answered in order', async () => {
    const gen = runSteps(source(3), [doubler('a', [])]);
    const all = await Promise.all(Array.from({ length: 9 }, () => gen.next()));
    expect(all.map((r) => (r.done ? 'done' : r.value.data.n))).toEqual([1, '1a', 2, '2a', 3, '3a', 'end-a', 'done', 'done']);
  });
});

describe('runSteps when closing its input fails too', () => {
  it("a step's error is the one thrown, as a for await loop keeps it, and the input is closed", async () => {
    let closed = 0;
    const input: AsyncIterable<Event> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => ({ value: ev(1), done: false }),
        return: async () => {
          closed++;
          throw new Error('close failed');
        },
      }),
    };
    const failing: StepAnalyzer = {
      name: 'f',
      step() {
        throw new Error('step failed');
      },
      end() {},
      process(i) {
        return stepProcess(this, i);
      },
    };
    const it = runSteps(input, [failing])[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow('step failed');
    expect(closed).toBe(1);
    // the reference: a for await loop over the same input
    closed = 0;
    const loop = async () => {
      for await (const _ of input) throw new Error('step failed');
    };
    await expect(loop()).rejects.toThrow('step failed');
    expect(closed).toBe(1);
  });
});
