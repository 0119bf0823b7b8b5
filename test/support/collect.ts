import type { Event } from '../../lib/core/event';

/**
 * Consume an event stream in the background, keeping everything, so a test
 * can wait for what it expects and then stop the source.
 */
export class Collector {
  readonly events: Event[] = [];
  readonly done: Promise<void>;
  error: unknown = null;

  constructor(stream: AsyncIterable<Event>) {
    this.done = (async () => {
      try {
        for await (const e of stream) this.events.push(e);
      } catch (err) {
        this.error = err;
      }
    })();
  }

  async waitFor(pred: (e: Event) => boolean, ms = 10_000, what = 'event'): Promise<Event> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.events.find(pred);
      if (hit) return hit;
      if (this.error) throw this.error;
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}; saw ${this.events.length} events`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  of(pred: (e: Event) => boolean): Event[] {
    return this.events.filter(pred);
  }
}
