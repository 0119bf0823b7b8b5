import type { Event } from '../core/event';

interface Entry {
  first: Event;
  windowEnd: number;
  repeats: number;
  last: Event;
}

export interface FileDedupStats {
  /** opens folded into a later `repeat` event */
  folded: number;
  /** aggregate events emitted */
  aggregates: number;
  /** entries flushed early because the table was full */
  evicted: number;
}

/**
 * Folds identical FILE_OPEN events (same pid, path bytes, flags and result) within
 * a window: the first is passed on at once; repeats are counted and passed on
 * as one event with `count: N, repeat: true` when the window ends, the
 * process exits, the table is full, or the stream ends. Nothing is dropped.
 */
export class FileOpenDedup {
  private readonly entries = new Map<string, Entry>();
  /** pid -> keys of its entries, so a process exit flushes only its own */
  private readonly byPid = new Map<number, Set<string>>();
  private readonly stats_: FileDedupStats = { folded: 0, aggregates: 0, evicted: 0 };

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries = 65536,
  ) {}

  get stats(): FileDedupStats {
    return { ...this.stats_ };
  }

  /** Same process, same path bytes (filepath_b64 when the path is not UTF-8: two such paths can share their text), flags and result. */
  private static key(e: Event): string {
    const d = e.data;
    const path = typeof d.filepath_b64 === 'string' ? `b:${d.filepath_b64}` : `t:${d.filepath}`;
    return `${e.pid}\0${path}\0${d.flags_raw}\0${d.fd !== undefined ? 'ok' : d.error}`;
  }

  private remove(k: string, en: Entry): void {
    this.entries.delete(k);
    const keys = this.byPid.get(en.first.pid);
    if (keys) {
      keys.delete(k);
      if (keys.size === 0) this.byPid.delete(en.first.pid);
    }
  }

  private aggregate(en: Entry): Event {
    this.stats_.aggregates++;
    return {
      ...en.last,
      data: { ...en.last.data, count: en.repeats, repeat: true, window_ms: this.windowMs, first_timestamp: en.first.timestamp },
    };
  }

  /** Feed one event; returns the events to pass on now (in order). */
  push(e: Event, out: Event[]): void {
    const now = e.mono_ns ?? e.timestamp * 1e6;
    this.expire(now, out);
    if (e.source !== 'process') {
      out.push(e);
      return;
    }
    const d = e.data;
    if (d.event === 'EXIT') {
      this.flushPid(e.pid, out);
      out.push(e);
      return;
    }
    if (d.event !== 'FILE_OPEN' || this.windowMs <= 0) {
      out.push(e);
      return;
    }
    const k = FileOpenDedup.key(e);
    const en = this.entries.get(k);
    if (en && now < en.windowEnd) {
      en.repeats++;
      en.last = e;
      this.stats_.folded++;
      return;
    }
    if (en) {
      this.remove(k, en);
      if (en.repeats) out.push(this.aggregate(en));
    }
    if (this.entries.size >= this.maxEntries) {
      const [oldKey, old] = this.entries.entries().next().value as [string, Entry];
      this.remove(oldKey, old);
      this.stats_.evicted++;
      if (old.repeats) out.push(this.aggregate(old));
    }
    this.entries.set(k, { first: e, last: e, repeats: 0, windowEnd: now + this.windowMs * 1e6 });
    const keys = this.byPid.get(e.pid);
    if (keys) keys.add(k);
    else this.byPid.set(e.pid, new Set([k]));
    out.push(e);
  }

  /** Emit aggregates whose window ended (entries are in window order). */
  expire(nowNs: number, out: Event[]): void {
    for (const [k, en] of this.entries) {
      if (en.windowEnd > nowNs) break;
      this.remove(k, en);
      if (en.repeats) out.push(this.aggregate(en));
    }
  }

  private flushPid(pid: number, out: Event[]): void {
    const keys = this.byPid.get(pid);
    if (!keys) return;
    for (const k of [...keys]) {
      const en = this.entries.get(k) as Entry;
      this.remove(k, en);
      if (en.repeats) out.push(this.aggregate(en));
    }
  }

  /** Emit every pending aggregate (end of stream). */
  flush(out: Event[]): void {
    for (const en of this.entries.values()) if (en.repeats) out.push(this.aggregate(en));
    this.entries.clear();
    this.byPid.clear();
  }
}
