/**
 * Secrets in a text that arrives in pieces (TLS calls, body chunks, the
 * deltas of a streamed answer): each piece is scanned with the end of the
 * previous ones (`carry` characters), so a secret cut in two is found whole,
 * and a secret still running at the end of a piece is masked as far as it
 * goes and continued in the next (lib/redact/find.ts: open secrets).
 */
import { continueOpen, findSecrets } from './find';
import type { Finding, Open, Range } from './types';

export class TextStream {
  private tail = '';
  private open: Open | null = null;

  constructor(private readonly carry = 512) {}

  /** Forget what came before (the stream lost bytes). */
  reset(): void {
    this.tail = '';
    this.open = null;
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
    const r = findSecrets(joined, true);
    for (const f of r.findings) {
      if (f.end <= shift) continue;
      const start = f.start - shift;
      const hint = f.hint !== undefined && start - f.hint >= 0 ? { hint: f.hint } : {};
      out.push({ start: Math.max(0, start), end: f.end - shift, kind: f.kind, ...hint });
    }
    this.open = r.open ?? stillOpen;
    this.tail = this.carry > 0 ? (joined.length > this.carry ? joined.slice(-this.carry) : joined) : '';
    return out;
  }
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
