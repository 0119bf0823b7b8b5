/**
 * The trigger pass of the secret finder (lib/redact/find.ts): where in a text
 * a secret may begin (words of secret names, key prefixes, `://`,
 * `-----BEGIN`, a few tool names).
 *
 * One expression says what a trigger is. Run over a text as a global search
 * it tries every alternative at every position (~100-200 MB/s on JSON); most
 * positions cannot begin a trigger at all. So the first three characters of
 * every trigger are derived from the expression once (a table of case-folded
 * character triples), the text is walked with that table, and the expression
 * is tried (sticky) only where a triple of the table begins. Every trigger is
 * at least three characters long and the expression only holds ASCII (which,
 * case-insensitive without the `u` flag, matches only ASCII), so this finds
 * exactly the matches of the global search, at the same places, with the
 * same alternative chosen.
 */

import { once } from '../core/lazy';

/** Where a secret may be: words of secret names, key prefixes, `://`, `-----BEGIN`, tool names (factored by first letter). */
export const TRIGGER =
  /p(?:ass|wd|ypi-|plx-|mak-)|s(?:e(?:cret|ssion)|ig|k[-_]|shpass|hp(?:at|ss)_|bp_|ntrys_|g\.)|token|key|a(?:uth|iza|kia|sia|bia|cca|tatt|ge-secret-key-1)|c(?:ookie|red|url)|b(?:earer|asic)|%[23][0-9a-f]|rk_|r8_|g(?:h[pousr]_|ithub_pat_|l(?:pat|rt|dt|ptt)-|lsa_|sk_|ocspx-)|h(?:f_|v[sb]\.|ooks\.slack\.com\/services\/)|x(?:ox[a-z]-|ai-|app-)|ya29\.|1\/\/0|eyj|whsec_|n(?:pm_)|d(?:ckr_pat_|o[po]_v1_)|l(?:in_api_)|-----begin|:\/\/|\/api\/webhooks\/|m(?:ysql|ariadb)|redis-cli|_pat(?![a-z0-9])|ls0tls1crudjti/gi;

const STICKY = new RegExp(TRIGGER.source, 'iy');

/** Characters of a pattern: a set of case-folded character codes per position. */
type Seq = number[][];

/**
 * The beginnings (up to `k` characters) of what a pattern of this restricted
 * form matches: literals, `\x` escapes, classes with ranges, non-capturing
 * groups with alternatives, and negative lookaheads (which match nothing and
 * so add no characters). Anything else is refused, so that a change of the
 * expression into a form this does not read cannot go unnoticed.
 */
function heads(src: string, k: number): Seq[] {
  let pos = 0;
  const fold = (c: number): number => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
  const fail = (what: string): never => {
    throw new Error(`trigger expression: cannot read ${what} at ${pos}`);
  };
  const atom = (): number[] | null => {
    const c = src[pos];
    if (c === '\\') {
      const e = src[pos + 1];
      if (!/^[^A-Za-z0-9]$/.test(e)) fail(`escape \\${e}`);
      pos += 2;
      return [e.charCodeAt(0)];
    }
    if (c === '[') {
      pos++;
      if (src[pos] === '^') fail('negated class');
      const set: number[] = [];
      while (src[pos] !== ']') {
        if (pos >= src.length) fail('class');
        const a = src[pos] === '\\' ? src[++pos] : src[pos];
        pos++;
        if (src[pos] === '-' && src[pos + 1] !== ']') {
          const b = src[pos + 1];
          pos += 2;
          for (let x = a.charCodeAt(0); x <= b.charCodeAt(0); x++) set.push(fold(x));
        } else set.push(fold(a.charCodeAt(0)));
      }
      pos++;
      return [...new Set(set)];
    }
    if ('()|?*+{}.^$'.includes(c)) return null;
    pos++;
    if (c.charCodeAt(0) > 0x7f) fail('a character outside ASCII');
    return [fold(c.charCodeAt(0))];
  };
  // alternatives of a sequence, each cut to k positions
  const alternatives = (): Seq[] => {
    const out: Seq[] = [];
    let cur: Seq[] = [[]];
    for (;;) {
      const c = src[pos];
      if (c === undefined || c === ')') {
        out.push(...cur);
        return out;
      }
      if (c === '|') {
        pos++;
        out.push(...cur);
        cur = [[]];
        continue;
      }
      let next: Seq[];
      if (src.startsWith('(?:', pos)) {
        pos += 3;
        next = alternatives();
        if (src[pos] !== ')') fail('group');
        pos++;
      } else if (src.startsWith('(?!', pos)) {
        pos += 3;
        alternatives();
        if (src[pos] !== ')') fail('lookahead');
        pos++;
        continue;
      } else {
        const a = atom();
        if (a === null) return fail(`"${c}"`);
        next = [[a]];
      }
      const q = src[pos];
      if (q === '?' || q === '*' || q === '+' || q === '{') fail('a quantifier');
      const joined: Seq[] = [];
      for (const s of cur) for (const t of next) joined.push(s.length >= k ? s : [...s, ...t].slice(0, k));
      cur = joined;
    }
  };
  const all = alternatives();
  if (pos !== src.length) fail('the end');
  return all;
}

/** The tables nextTrigger() walks a text with, derived from TRIGGER when first needed (~2 ms: not at every start-up). */
interface Tables {
  /** Class of each ASCII code (its case folded) among the characters a trigger may begin with; 0: none. */
  cls: Uint8Array;
  /** Triples of classes that begin a trigger: (a << 12) | (b << 6) | c. */
  head: Uint8Array;
  /** Pairs of classes that are the second and third (middle), or the first and second (first) characters of a trigger: (b << 6) | c. */
  middle: Uint8Array;
  first: Uint8Array;
  /** triggerReach() */
  reach: number;
}

const tables = once((): Tables => {
  const t: Tables = { cls: new Uint8Array(128), head: new Uint8Array(1 << 18), middle: new Uint8Array(1 << 12), first: new Uint8Array(1 << 12), reach: 0 };
  const seqs = heads(TRIGGER.source, 3);
  const codes = new Set<number>();
  for (const s of seqs) {
    if (s.length < 3) throw new Error('trigger expression: every trigger must be at least three characters long');
    for (const set of s) for (const c of set) codes.add(c);
  }
  let n = 0;
  for (const c of [...codes].sort((a, b) => a - b)) {
    if (++n > 63) throw new Error('trigger expression: too many distinct characters in trigger beginnings');
    t.cls[c] = n;
    if (c >= 0x61 && c <= 0x7a) t.cls[c - 0x20] = n;
  }
  for (const s of heads(TRIGGER.source, 1 << 10)) t.reach = Math.max(t.reach, s.length + 1);
  for (const [a, b, c] of seqs)
    for (const x of a)
      for (const y of b)
        for (const z of c) {
          t.head[(t.cls[x] << 12) | (t.cls[y] << 6) | t.cls[z]] = 1;
          t.middle[(t.cls[y] << 6) | t.cls[z]] = 1;
          t.first[(t.cls[x] << 6) | t.cls[y]] = 1;
        }
  return t;
});

/** The first trigger at or after `from` (as a global search of TRIGGER from there would find it), or null. */
export function nextTrigger(text: string, from: number): RegExpExecArray | null {
  const { cls, head, middle, first } = tables();
  const last = text.length - 2;
  let i = from;
  while (i < last) {
    const z = text.charCodeAt(i + 2);
    const c = z < 128 ? cls[z] : 0;
    if (c === 0) {
      i += 3;
      continue;
    }
    const y = text.charCodeAt(i + 1);
    const b = y < 128 ? cls[y] : 0;
    if (b === 0) {
      i += 2;
      continue;
    }
    const bc = (b << 6) | c;
    if (middle[bc] === 0) {
      // no trigger begins at i; at i + 1 only if these two begin one
      i += first[bc] === 0 ? 2 : 1;
      continue;
    }
    const x = text.charCodeAt(i);
    if (x < 128 && head[(cls[x] << 12) | bc] === 1) {
      STICKY.lastIndex = i;
      const m = STICKY.exec(text);
      if (m !== null) return m;
    }
    i++;
  }
  return null;
}

/**
 * Characters from its first that decide whether a trigger matches at a
 * position: its longest alternative and one of lookahead. A match found at p
 * in a text of n >= p + triggerReach() characters is the match at p in any
 * text that begins with the same n characters.
 */
export function triggerReach(): number {
  return tables().reach;
}

/**
 * Every trigger of a growing text, found once: the starts and lengths of the
 * matches of TRIGGER at every position (overlapping ones too), ascending.
 * `upTo`: every trigger starting before it is listed (and none at or after it).
 */
export interface TriggerList {
  starts: number[];
  lengths: number[];
  upTo: number;
}

/** Append every trigger of `text` starting at or after `list.upTo`; the list then covers all of it. */
export function addTriggers(text: string, list: TriggerList): void {
  let m: RegExpExecArray | null;
  let from = list.upTo;
  while ((m = nextTrigger(text, from)) !== null) {
    list.starts.push(m.index);
    list.lengths.push(m[0].length);
    from = m.index + 1;
  }
  list.upTo = text.length;
}
