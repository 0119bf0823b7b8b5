/**
 * Whole events for the web UI, in bounded memory: the most recent ones in a
 * ring (bounded by count and by size), older ones read back from the
 * session file on demand. Each event is numbered (seq) as it arrives; the
 * place of every event the UI may ask for by itself (LLM calls and their
 * HTTP exchange) is kept, and for the rest a checkpoint every few hundred
 * events, from which the file is read forward.
 */
import * as fsp from 'node:fs/promises';
import type { Event } from '../core/event';
import { parseEventLine, readLines } from '../sinks/ndjson';

/** Where an event's line is: which file (an index the FileSet resolves), its offset and length. */
export interface EventLocation {
  file: number;
  offset: number;
  length: number;
}

/** The files events were read from or written to, by index (FileLogger generations, or the files given to `ui`). */
export interface FileSet {
  pathOf(file: number): string | null;
}

export interface DetailOptions {
  /** Events kept whole in memory (default 2000). */
  ringEvents?: number;
  /** Bytes (estimated) kept whole in memory (default 64 MiB). */
  ringBytes?: number;
  /** Places kept for events asked for by number (default 200000). */
  maxPinned?: number;
  /** Events between checkpoints (default 256). */
  checkpointEvery?: number;
  /** What is done to an event read back from a file before it is shown (saved sessions: masking). */
  readBack?: (e: Event) => Event;
}

interface Checkpoint {
  seq: number;
  loc: EventLocation;
}

/** A rough size of an event in memory: its JSON length for the sources that carry bodies, a constant for the rest. */
function sizeOf(e: Event): number {
  if (e.source === 'http' || e.source === 'llm' || e.source === 'sse' || e.source === 'ssl') {
    try {
      return JSON.stringify(e.data).length * 2 + 200;
    } catch {
      return 4096;
    }
  }
  return 600;
}

export class EventDetail {
  private readonly files: FileSet | null;
  private readonly ringEvents: number;
  private readonly ringBytes: number;
  private readonly maxPinned: number;
  private readonly every: number;
  private readonly ring = new Map<number, { e: Event; size: number }>();
  private bytes = 0;
  private readonly pinned = new Map<number, EventLocation>();
  private readonly checkpoints: Checkpoint[] = [];
  /** Events that have no line (not written): no reading forward across them. */
  private readonly gaps: number[] = [];
  private lastFile = -1;
  private lastSeq = -1;
  private needCheckpoint = true;

  constructor(files: FileSet | null, opts: DetailOptions = {}) {
    this.files = files;
    this.ringEvents = opts.ringEvents ?? 2000;
    this.ringBytes = opts.ringBytes ?? 64 * 1024 * 1024;
    this.maxPinned = opts.maxPinned ?? 200_000;
    this.every = opts.checkpointEvery ?? 256;
    this.readBack = opts.readBack ?? ((e) => e);
  }

  private readonly readBack: (e: Event) => Event;

  /** Whether events that left the ring can be read back. */
  get fromFile(): boolean {
    return this.files !== null;
  }

  /** Memory held by the ring (estimated bytes) and how many events are in it. */
  usage(): { ring_events: number; ring_bytes: number; pinned: number; checkpoints: number } {
    return { ring_events: this.ring.size, ring_bytes: this.bytes, pinned: this.pinned.size, checkpoints: this.checkpoints.length };
  }

  /** Keep event `seq` (with the place of its line, when it has one); `pin` keeps its place for later. */
  add(seq: number, e: Event, loc: EventLocation | undefined, pin: boolean): void {
    this.lastSeq = seq;
    const size = sizeOf(e);
    this.ring.set(seq, { e, size });
    this.bytes += size;
    while (this.ring.size > this.ringEvents || (this.bytes > this.ringBytes && this.ring.size > 1)) {
      const [old, v] = this.ring.entries().next().value as [number, { size: number }];
      this.ring.delete(old);
      this.bytes -= v.size;
    }
    if (!this.files) return;
    if (!loc) {
      this.gaps.push(seq);
      this.needCheckpoint = true;
      return;
    }
    if (this.needCheckpoint || loc.file !== this.lastFile || seq % this.every === 0) {
      this.checkpoints.push({ seq, loc });
      this.needCheckpoint = false;
      this.lastFile = loc.file;
    }
    if (pin) {
      if (this.pinned.size >= this.maxPinned) this.pinned.delete(this.pinned.keys().next().value as number);
      this.pinned.set(seq, loc);
    }
  }

  /** The event numbered `seq`, from memory or its file; null when it is no longer to be had. */
  async get(seq: number): Promise<Event | null> {
    const hit = this.ring.get(seq);
    if (hit) return hit.e;
    const loc = this.pinned.get(seq);
    if (loc) return this.readAt(loc);
    const [e] = await this.range(seq, 1);
    return e?.seq === seq ? e.event : null;
  }

  /** Up to `count` events from `from` on, in order, each with its number; those no longer to be had are left out. */
  async range(from: number, count: number): Promise<{ seq: number; event: Event }[]> {
    const out: { seq: number; event: Event }[] = [];
    const last = Math.min(this.lastSeq, from + count - 1);
    let seq = Math.max(0, from);
    while (seq <= last) {
      const hit = this.ring.get(seq);
      if (hit) {
        out.push({ seq, event: hit.e });
        seq++;
        continue;
      }
      // read forward from the checkpoint at or before seq, up to the next event in memory
      const cp = this.checkpointFor(seq);
      if (!cp) {
        seq++;
        continue;
      }
      let stop = last;
      for (let s = seq; s <= last; s++)
        if (this.ring.has(s)) {
          stop = s - 1;
          break;
        }
      // not past the end of the checkpoint's file, nor into a gap
      const next = this.checkpoints.find((c) => c.seq > cp.seq && c.loc.file !== cp.loc.file);
      if (next) stop = Math.min(stop, next.seq - 1);
      const gap = this.gaps.find((g) => g > seq);
      if (gap !== undefined) stop = Math.min(stop, gap - 1);
      const read = await this.readForward(cp, seq, stop);
      out.push(...read);
      // what could not be read (a file gone) is skipped
      seq = stop + 1;
    }
    return out;
  }

  /** The last checkpoint at or before seq with no gap between them. */
  private checkpointFor(seq: number): Checkpoint | null {
    let lo = 0;
    let hi = this.checkpoints.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.checkpoints[mid].seq <= seq) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return null;
    const cp = this.checkpoints[found];
    if (this.gaps.some((g) => g > cp.seq && g <= seq)) return null;
    return cp;
  }

  private async readForward(cp: Checkpoint, from: number, to: number): Promise<{ seq: number; event: Event }[]> {
    const path = this.files?.pathOf(cp.loc.file);
    if (!path) return [];
    const out: { seq: number; event: Event }[] = [];
    let seq = cp.seq;
    try {
      for await (const { text } of readLines(path, cp.loc.offset)) {
        if (text.trim() === '') continue;
        if (seq >= from) {
          const r = parseEventLine(text);
          out.push({ seq, event: this.readBack('event' in r ? r.event : damaged(r.error, text)) });
        }
        if (++seq > to) break;
      }
    } catch {
      /* the file went away (rotated out, removed): what was read stands */
    }
    return out;
  }

  private async readAt(loc: EventLocation): Promise<Event | null> {
    const path = this.files?.pathOf(loc.file);
    if (!path) return null;
    let fh: fsp.FileHandle | null = null;
    try {
      fh = await fsp.open(path, 'r');
      const buf = Buffer.alloc(loc.length);
      const { bytesRead } = await fh.read(buf, 0, loc.length, loc.offset);
      const r = parseEventLine(buf.toString('utf8', 0, bytesRead));
      return 'event' in r ? this.readBack(r.event) : null;
    } catch {
      return null;
    } finally {
      await fh?.close();
    }
  }
}

/** A line that is not an event, as the UI shows it. */
function damaged(error: string, text: string): Event {
  return {
    timestamp: 0,
    source: 'diagnostic',
    pid: 0,
    comm: '',
    data: { type: 'ndjson_error', level: 'warning', message: `not an event: ${error}`, excerpt: text.slice(0, 80) },
  };
}
