import { describe, expect, it } from 'vitest';
import { forEachLimit } from '../../lib/core/concurrency';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('forEachLimit', () => {
  it('runs every item, at most `limit` at once, starting them in order', async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    await forEachLimit([5, 1, 4, 2, 3, 1, 2], 3, async (ms) => {
      started.push(ms);
      running++;
      most = Math.max(most, running);
      await tick(ms);
      running--;
    });
    expect(started).toEqual([5, 1, 4, 2, 3, 1, 2]);
    expect(most).toBe(3);
    expect(running).toBe(0);
  });

  it('rejects with the first error once the running ones settle, and starts no more', async () => {
    const done: number[] = [];
    const p = forEachLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
      await tick(n === 2 ? 1 : 10);
      if (n === 2) throw new Error('two');
      done.push(n);
    });
    await expect(p).rejects.toThrow('two');
    expect(done).toEqual([1]);
  });

  it('an empty list and a limit below one', async () => {
    await forEachLimit([], 4, async () => {
      throw new Error('never');
    });
    const seen: number[] = [];
    await forEachLimit([1, 2], 0, async (n) => void seen.push(n));
    expect(seen).toEqual([1, 2]);
  });
});
