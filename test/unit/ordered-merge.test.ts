/**
 * mergeOrdered: kernel-time order across sources, nothing dropped, and
 * backpressure: a consumer slower than its sources makes them wait instead
 * of piling events up in the merge (a storm of execs grew it by hundreds of
 * MB while the analyzers fell behind).
 */
import { describe, expect, it } from 'vitest';
import type { Event } from '../../lib/core/event';
import { mergeOrdered } from '../../lib/core/ordered-merge';

const ev = (mono: number, source = 'process'): Event => ({ timestamp: Math.floor(mono / 1e6), mono_ns: mono, source, pid: 1, comm: 'x', data: { n: mono } });

/** A source of `n` events (mono = start + i * step) that counts how many were taken from it. */
function source(n: number, start: number, step: number, taken: { n: number }): AsyncIterable<Event> {
  return (async function* () {
    for (let i = 0; i < n; i++) {
      taken.n++;
      yield ev(start + i * step);
    }
  })();
}

describe('mergeOrdered', () => {
  it('orders two sources by kernel time and delivers everything', async () => {
    const a = { n: 0 };
    const b = { n: 0 };
    const out: number[] = [];
    for await (const e of mergeOrdered([source(500, 0, 2, a), source(500, 1, 2, b)], { windowMs: 5 })) out.push(e.mono_ns as number);
    expect(out).toHaveLength(1000);
    expect(out).toEqual([...out].sort((x, y) => x - y));
  });

  it('holds at most maxHeld events when the consumer is slow: the sources wait', async () => {
    const a = { n: 0 };
    const b = { n: 0 };
    const maxHeld = 64;
    let yielded = 0;
    let worst = 0;
    for await (const e of mergeOrdered([source(3000, 0, 2, a), source(3000, 1, 2, b)], { windowMs: 1000, maxHeld })) {
      void e;
      yielded++;
      // taken from the sources but not handed on yet (the generator's own current item aside)
      worst = Math.max(worst, a.n + b.n - yielded);
      if (yielded % 100 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    expect(yielded).toBe(6000);
    expect(worst).toBeLessThanOrEqual(maxHeld + 2);
  });

  it('a full merge releases the oldest at once instead of waiting out the window (an hour here: waiting would time the test out)', async () => {
    const taken = { n: 0 };
    let n = 0;
    for await (const e of mergeOrdered([source(2000, 0, 1, taken)], { windowMs: 3_600_000, maxHeld: 16 })) {
      expect(e.mono_ns).toBe(n);
      if (++n === 1000) break;
    }
    expect(n).toBe(1000);
    expect(taken.n).toBeLessThanOrEqual(1000 + 16 + 1);
  });
});
