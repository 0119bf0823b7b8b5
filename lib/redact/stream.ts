/**
 * Secrets in a text that arrives in pieces (TLS calls, body chunks, the
 * deltas of a streamed answer): each piece is scanned with the end of the
 * previous ones (`carry` characters), so a secret cut in two is found whole,
 * and a secret still running at the end of a piece is masked as far as it
 * goes and continued in the next (lib/redact/find.ts: open secrets).
 */
import { continueOpen, findSecrets, type FindResult } from './find';
import { prefixTail } from './shapes';
import { addTriggers, triggerReach, type TriggerList } from './trigger';
import type { Finding, Open, Range } from './types';

/** Triggers a stream remembers for a later search of the whole text (TextStream.record), at most. */
const MAX_RECORDED = 1 << 16;

/**
 * Each character is searched for triggers once: the triggers of the carry
 * were found in the previous piece (those whose match the piece's end could
 * not change), and only the rest is searched now; the finder then judges
 * every trigger of the carry and the piece, as a search of the two joined
 * would.
 */
export class TextStream {
  private tail = '';
  private open: Open | null = null;
  /** Triggers of the tail (positions in it), every one starting before `upTo`. */
  private readonly triggers: TriggerList = { starts: [], lengths: [], upTo: 0 };
  /** Characters pushed before the tail's first. */
  private base = 0;
  /**
   * Every trigger of the stream so far in stream positions, when asked for
   * (recordTriggers) and while nothing was lost, up to a bound: a search of
   * the whole text afterwards (a response's body) need not look for them again.
   */
  private recorded: TriggerList | null = null;

  constructor(private readonly carry = 512) {}

  /** Remember every trigger from here on (only from the stream's start, and with a carry that holds a trigger). */
  recordTriggers(): void {
    this.recorded = this.base === 0 && this.tail === '' && this.carry >= triggerReach() ? { starts: [], lengths: [], upTo: 0 } : null;
  }

  /** The triggers of the stream's text so far (stream positions), or null when they were not all kept. */
  recordedTriggers(): TriggerList | null {
    return this.recorded;
  }

  /** Forget what came before (the stream lost bytes). */
  reset(): void {
    this.base += this.tail.length;
    this.tail = '';
    this.open = null;
    this.triggers.starts.length = 0;
    this.triggers.lengths.length = 0;
    this.triggers.upTo = 0;
    this.recorded = null;
  }

  /** The secrets of this piece, in its coordinates (a secret begun in earlier pieces starts at 0). */
  push(text: string): Finding[] {
    const out: Finding[] = [];
    let stillOpen: Open | null = null;
    if (this.open) {
      const c = continueOpen(text, this.open);
      if (c.end > 0) out.push({ start: 0, end: c.end, kind: this.open.kind });
      if (c.open) stillOpen = c.end > 0 ? { ...this.open, fresh: undefined, ...(this.open.until === 'json' ? { quoteFirst: undefined } : {}) } : this.open;
    }
    const shift = this.tail.length;
    const joined = shift ? this.tail + text : text;
    const t = this.triggers;
    const found = t.starts.length;
    addTriggers(joined, t);
    // no trigger: nothing but a key prefix cut by the end can be found (as findSecrets would)
    const r = t.starts.length ? findSecrets(joined, true, t) : noTrigger(joined);
    for (const f of r.findings) {
      if (f.end <= shift) continue;
      const start = f.start - shift;
      const hint = f.hint !== undefined && start - f.hint >= 0 ? { hint: f.hint } : {};
      out.push({ start: Math.max(0, start), end: f.end - shift, kind: f.kind, ...hint });
    }
    this.open = r.open ?? stillOpen;
    const keep = this.carry > 0 ? Math.min(joined.length, this.carry) : 0;
    const cut = joined.length - keep;
    // a trigger starting this close to the end may still change with what follows: searched again then
    const settled = joined.length - triggerReach() + 1;
    const rec = this.recorded;
    if (rec) {
      const from = rec.upTo - this.base;
      for (let k = found; k < t.starts.length; k++) {
        const p = t.starts[k];
        if (p >= settled) break;
        if (p >= from) {
          rec.starts.push(this.base + p);
          rec.lengths.push(t.lengths[k]);
        }
      }
      rec.upTo = Math.max(rec.upTo, this.base + settled);
      if (rec.starts.length > MAX_RECORDED) this.recorded = null;
    }
    this.tail = keep ? (cut > 0 ? joined.slice(cut) : joined) : '';
    this.base += cut;
    shiftTriggers(t, cut, settled);
    return out;
  }
}

const NONE: Finding[] = [];

/** What findSecrets(text, true) finds in a text without a trigger. */
function noTrigger(text: string): FindResult {
  const t = prefixTail(text);
  return { findings: t ? [t] : NONE, open: null };
}

/** Keep the triggers starting in [from, before), moved `from` back; the list then covers its text up to `before`. */
function shiftTriggers(t: TriggerList, from: number, before: number): void {
  let n = 0;
  for (let k = 0; k < t.starts.length; k++) {
    const p = t.starts[k];
    if (p < from) continue;
    if (p >= before) break;
    t.starts[n] = p - from;
    t.lengths[n] = t.lengths[k];
    n++;
  }
  t.starts.length = n;
  t.lengths.length = n;
  t.upTo = Math.max(0, before - from);
}

/** Ranges of a view (a text made of pieces of another) mapped back to the other's positions. */
export interface ViewMap {
  /** Start of each piece in the view, ascending. */
  viewStarts: number[];
  /** Where each piece starts in the original. */
  origStarts: number[];
  lengths: number[];
}

/** Map view ranges to original ranges (split where the view joined separate pieces). */
export function mapRanges(ranges: readonly Range[], map: ViewMap): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    for (let k = 0; k < map.viewStarts.length; k++) {
      const vs = map.viewStarts[k];
      const ve = vs + map.lengths[k];
      if (ve <= r.start) continue;
      if (vs >= r.end) break;
      const a = Math.max(vs, r.start);
      const b = Math.min(ve, r.end);
      out.push({ start: map.origStarts[k] + (a - vs), end: map.origStarts[k] + (b - vs) });
    }
  }
  return out;
}
