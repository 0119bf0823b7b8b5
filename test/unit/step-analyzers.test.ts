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
});
