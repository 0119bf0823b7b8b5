/**
 * Character-level helpers of the secret finder: where words and values
 * start and end in text that may be JSON-escaped at any depth (a key after
 * an escaped `\n`, a JSON document inside a JSON string).
 */

const BS = 0x5c; // backslash
const QUOTE = 0x22;

export function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Characters of a name: letters, digits, `_ . - %` (percent-encoded separators). */
export function isNameChar(c: number): boolean {
  return isAlnum(c) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x25;
}

/** Characters of key-shaped tokens (`sk-ant-…`, `ghp_…`). */
export function isKeyChar(c: number): boolean {
  return isAlnum(c) || c === 0x5f || c === 0x2d;
}

/** Number of backslashes directly before index i. */
export function backslashesBefore(text: string, i: number): number {
  let n = 0;
  while (i - n - 1 >= 0 && text.charCodeAt(i - n - 1) === BS) n++;
  return n;
}

/**
 * Does a token start at i, as far as the characters before it tell? True
 * at the start, after a non-token character, and after a JSON escape
 * (`\n`, `\t`, `\r`, `\b`, `\f`, `\uXXXX`), whose last character would
 * otherwise look like part of the token.
 */
export function boundaryBefore(text: string, i: number, isTokenChar: (c: number) => boolean = isKeyChar): boolean {
  if (i === 0) return true;
  const c = text.charCodeAt(i - 1);
  if (!isTokenChar(c)) return true;
  // \n \t \r \b \f: a letter after an odd number of backslashes
  if ((c === 0x6e || c === 0x74 || c === 0x72 || c === 0x62 || c === 0x66) && backslashesBefore(text, i - 1) % 2 === 1) return true;
  // \uXXXX
  if (i >= 6 && text.charCodeAt(i - 5) === 0x75 && /^[0-9a-fA-F]{4}$/.test(text.slice(i - 4, i)) && backslashesBefore(text, i - 5) % 2 === 1) return true;
  return false;
}

/**
 * End of a JSON string whose content starts at `from`, at escape depth
 * `level` (0: a string of the document; 1: inside a string holding JSON,
 * where its quotes are `\"`; 2: `\\\"`; ...): the index where its content
 * ends (the backslashes of its closing quote, or the quote at level 0), or
 * -1 when the text ends first. A quote closing a shallower string ends it
 * too, and so does a raw line end (JSON strings hold none).
 *
 * A quote preceded by b backslashes closes a string of level l when
 * b mod 2^(l+1) = 2^l - 1 (its own 2^l - 1 backslashes after escaped ones).
 */
export function jsonStringEnd(text: string, from: number, level: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0d || c === 0x0a) return i;
    if (c !== QUOTE) continue;
    const b = backslashesBefore(text, i);
    for (let l = 0; l <= level; l++) {
      const own = (1 << l) - 1;
      if (b % (1 << (l + 1)) === own) return Math.max(from, i - own);
    }
  }
  return -1;
}

/** Backslashes that escape quotes at a level: "" at 0, "\\" at 1, "\\\\\\" at 2. */
export function levelQuote(level: number): string {
  return '\\'.repeat((1 << level) - 1) + '"';
}

/** Escape depth of a quote at index q (the quote character itself): 0 for `"`, 1 for `\"`, 2 for `\\\"`, else -1. */
export function quoteLevel(text: string, q: number): number {
  const b = backslashesBefore(text, q);
  if (b === 0) return 0;
  // 2^level - 1 backslashes
  let level = 0;
  while ((1 << level) - 1 < b) level++;
  return (1 << level) - 1 === b ? level : -1;
}

/** Skip spaces, tabs and escaped whitespace (`\n`, `\t`, `\r`) from i. */
export function skipSpace(text: string, i: number, escapes = true): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09) {
      i++;
      continue;
    }
    if (escapes && c === BS) {
      const d = text.charCodeAt(i + 1);
      if (d === 0x6e || d === 0x74 || d === 0x72) {
        i += 2;
        continue;
      }
    }
    return i;
  }
}

/** Is the character at i the start of a JSON escape the value must end before (`\n`, `\"`, `\uXXXX`, ...)? */
export function isEscapeStop(text: string, i: number): boolean {
  if (text.charCodeAt(i) !== BS) return false;
  const d = text.charCodeAt(i + 1);
  return d === 0x6e || d === 0x72 || d === 0x74 || d === QUOTE || d === 0x75 || d === 0x62 || d === 0x66 || d === BS;
}

/** Is index i at the start of a line (text start, after LF, or after an escaped `\n`)? */
export function atLineStart(text: string, i: number): boolean {
  if (i === 0) return true;
  const c = text.charCodeAt(i - 1);
  if (c === 0x0a) return true;
  return c === 0x6e && i >= 2 && text.charCodeAt(i - 2) === BS && backslashesBefore(text, i - 1) % 2 === 1;
}

/**
 * End of an unquoted value starting at i: whitespace, quotes, `&`, `;`,
 * `<`, `>`, a JSON escape, or (`toLineEnd`: .env and `env` lines) only a line
 * end, a JSON escape of one, or a closing quote.
 */
export function valueEnd(text: string, i: number, toLineEnd: boolean, stopAtPercent26 = false): number {
  const n = text.length;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === QUOTE) return i;
    if (c === BS && isEscapeStop(text, i)) return i;
    if (toLineEnd) continue;
    if (c === 0x20 || c === 0x09 || c === 0x27 || c === 0x60 || c === 0x26 || c === 0x3b || c === 0x3c || c === 0x3e || c === 0x23) return i;
    if (stopAtPercent26 && c === 0x25 && text.charCodeAt(i + 1) === 0x32 && (text.charCodeAt(i + 2) | 0x20) === 0x36) return i;
  }
  return n;
}

/** End of a value in quotes `q` (one character, or `\"` style escaped quotes) starting after the opening quote. */
export function quotedEnd(text: string, from: number, q: string): number {
  if (q === '"') return jsonStringEnd(text, from, 0);
  if (q.length > 1) return jsonStringEnd(text, from, q.length === 2 ? 1 : q.length === 4 ? 2 : 3);
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0d || c === 0x0a) return i;
    if (text[i] === q && backslashesBefore(text, i) % 2 === 0) return i;
    if (c === BS && isEscapeStop(text, i) && text.charCodeAt(i + 1) !== BS && text.charCodeAt(i + 1) !== QUOTE) return i;
  }
  return -1;
}

/** A string's UTF-8 bytes as text, one character per byte (latin1): the string itself when it is ASCII (as many bytes as characters). */
export function utf8Latin1(s: string): string {
  return Buffer.byteLength(s, 'utf8') === s.length ? s : Buffer.from(s, 'utf8').toString('latin1');
}

/** The string whose UTF-8 bytes are these characters (the inverse of utf8Latin1). */
export function latin1Utf8(s: string): string {
  return Buffer.byteLength(s, 'utf8') === s.length ? s : Buffer.from(s, 'latin1').toString('utf8');
}
