import type { Event } from './event';
import { compareEvents } from './event';

export interface MergeOptions {
  /**
   * How long (ms) an event is held so that a slower source can deliver older
   * ones first. Sources drain their kernel rings at least every 20 ms, so
   * the default of 150 ms orders them exactly in practice.
   */
  windowMs?: number;
  /**
   * Events held at most (default 8192). When the consumer is slower than the
   * sources, the oldest held event is released without waiting for its
   * window and the sources are not read further until there is room: they
   * fall behind in their own bounded queues (a RingSource pauses reading and
   * the kernel counts what it cannot write) instead of piling up here.
   */
  maxHeld?: number;
  signal?: AbortSignal;
}

/** Min-heap of events by kernel time (ties keep arrival order). */
class Heap {
  private readonly a: { e: Event; seq: number; at: number }[] = [];
  get size(): number {
    return this.a.length;
  }
  peek() {
    return this.a[0];
  }
  private less(i: number, j: number): boolean {
    const c = compareEvents(this.a[i].e, this.a[j].e);
    return c < 0 || (c === 0 && this.a[i].seq < this.a[j].seq);
  }
  push(x: { e: Event; seq: number; at: number }): void {
    const a = this.a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop() {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(l, m)) m = l;
        if (r < a.length && this.less(r, m)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Merge event streams into one in kernel-time order. Every event is held for
 * up to windowMs after it arrives, then released in order; when every source
 * has ended, the rest is released at once. Nothing is dropped: an event that
 * arrives later than the window is still delivered (slightly out of order).
 * At most maxHeld events are held: sources are read only as fast as the
 * consumer takes events (backpressure).
 */
export async function* mergeOrdered(sources: AsyncIterable<Event>[], opts: MergeOptions = {}): AsyncGenerator<Event> {
  const windowMs = opts.windowMs ?? 150;
  const maxHeld = Math.max(1, opts.maxHeld ?? 8192);
  const heap = new Heap();
  let seq = 0;
  let live = sources.length;
  let wake: (() => void) | null = null;
  let failure: unknown = null;
  let stopping = false;
  /** pumps waiting for room in the heap */
  let room: (() => void)[] = [];
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const makeRoom = () => {
    const waiting = room;
    room = [];
    for (const r of waiting) r();
  };
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pumps = iterators.map(async (it) => {
    try {
      for (;;) {
        while (heap.size >= maxHeld && !stopping) await new Promise<void>((resolve) => room.push(resolve));
        if (stopping) break;
        const r = await it.next();
        if (r.done) break;
        heap.push({ e: r.value, seq: seq++, at: Date.now() });
        notify();
      }
    } catch (err) {
      failure ??= err;
    } finally {
      live--;
      notify();
    }
  });
  try {
    for (;;) {
      if (failure) throw failure;
      let now = Date.now();
      while (heap.size && (live === 0 || heap.size >= maxHeld || now - heap.peek().at >= windowMs)) {
        yield heap.pop().e;
        if (heap.size < maxHeld) makeRoom();
        now = Date.now();
      }
      if (live === 0 && heap.size === 0) break;
      const wait = heap.size ? Math.max(1, windowMs - (now - heap.peek().at)) : 1000;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    if (failure) throw failure;
  } finally {
    // stop sources still running (the consumer went away)
    stopping = true;
    makeRoom();
    await Promise.all(iterators.map((it) => it.return?.()).filter(Boolean));
    await Promise.allSettled(pumps);
  }
}
