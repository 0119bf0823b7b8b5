/**
 * How a secret is masked. Masking is length-preserving: each run of masked
 * characters becomes "[REDACTED]" followed by "*" (only "*" when shorter than
 * 10), so raw TLS bytes keep their Content-Length and chunk framing.
 *
 * Some characters are never replaced, so that what surrounds a secret keeps
 * its syntax: line ends (HTTP and multipart framing, lines of a PEM block),
 * double quotes, and JSON escape sequences (`\n`, `\"`, `\uXXXX`) as a whole
 * (masking half of one would make the JSON invalid).
 */
import type { Range } from './types';

/** The replacement for a secret of `length` characters. */
export function maskOf(length: number): string {
  if (length <= 0) return '';
  return length >= 10 ? '[REDACTED]' + '*'.repeat(length - 10) : '*'.repeat(length);
}

/** Merge overlapping or touching sorted ranges. */
export function mergeRanges(sorted: readonly Range[]): Range[] {
  const out: Range[] = [];
  for (const r of sorted) {
    if (r.end <= r.start) continue;
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** Ranges sorted and merged. */
export function normalize(ranges: readonly Range[]): Range[] {
  if (ranges.length <= 1) return ranges.length === 1 && ranges[0].end > ranges[0].start ? [{ start: ranges[0].start, end: ranges[0].end }] : [];
  return mergeRanges([...ranges].sort((a, b) => a.start - b.start));
}

/**
 * Length of the escape sequence at i (backslashes included), 0 when there is
 * none: a run of backslashes and the character it escapes, `u` and four hex
 * digits for a \\u escape (a run of several backslashes is an escape of a
 * JSON document inside a JSON string, kept whole too).
 */
function escapeLength(text: string, i: number): number {
  if (text.charCodeAt(i) !== 0x5c) return 0;
  let j = i;
  while (j < text.length && text.charCodeAt(j) === 0x5c) j++;
  if (j >= text.length) return j - i;
  if (text.charCodeAt(j) === 0x75 && /^[0-9a-fA-F]{4}$/.test(text.slice(j + 1, j + 5))) return j + 5 - i;
  return j + 1 - i;
}

/** Mask ranges in a string, keeping line ends, quotes and escape sequences. Returns the text itself when nothing changes. */
export function applyRanges(text: string, ranges: readonly Range[]): string {
  if (ranges.length === 0) return text;
  let out = '';
  let pos = 0;
  for (const r of normalize(ranges)) {
    const start = Math.max(r.start, pos);
    const end = Math.min(r.end, text.length);
    if (end <= start) continue;
    out += text.slice(pos, start);
    // an escape sequence begun before the range stays whole: skip past it
    let i = start;
    let b = start;
    while (b > pos && b > start - 16 && (text.charCodeAt(b - 1) === 0x5c || (b - start > -6 && isHexOrU(text.charCodeAt(b - 1))))) b--;
    for (let k = b; k < start; k++) {
      if (text.charCodeAt(k) !== 0x5c || (k > 0 && text.charCodeAt(k - 1) === 0x5c)) continue;
      const len = escapeLength(text, k);
      if (k + len > start) {
        i = Math.min(end, k + len);
        out += text.slice(start, i);
      }
      break;
    }
    let run = 0;
    while (i < end) {
      const c = text.charCodeAt(i);
      const esc = escapeLength(text, i);
      if (c === 0x0d || c === 0x0a || c === 0x22 || esc > 0) {
        out += maskOf(run);
        run = 0;
        const keep = esc > 0 ? esc : 1;
        out += text.slice(i, i + keep);
        i += keep;
        continue;
      }
      run++;
      i++;
    }
    // a run cut by the end of the range inside an escape sequence kept it whole above
    out += maskOf(run);
    pos = Math.max(i, end);
  }
  out += text.slice(pos);
  return out;
}

function isHexOrU(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 0x75;
}

/** The length-preserving mask of a whole value (every character but line ends, quotes and escapes). */
export function maskWhole(text: string): string {
  return applyRanges(text, [{ start: 0, end: text.length }]);
}
