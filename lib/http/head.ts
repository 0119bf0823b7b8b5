/**
 * HTTP/1.x start lines and header blocks (RFC 9112 sections 3, 4 and 5):
 * recognising them, finding where a header block ends, and parsing it.
 */

/** A parsed start line + header block. */
export interface ParsedHead {
  kind: 'request' | 'response';
  /** "1.1" or "1.0". */
  version: string;
  method?: string;
  target?: string;
  statusCode?: number;
  statusText?: string;
  /** Header fields in order, names lower-cased, values trimmed. */
  fields: Array<[string, string]>;
  /** Size of the start line + headers + blank line, in bytes. */
  headBytes: number;
}

/** Why a header block could not be parsed, and where (offset in the block). */
export interface HeadError {
  error: string;
  kind: 'invalid_start_line' | 'invalid_header';
  at: number;
}

const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/(1\.[01])$/;
const STATUS_LINE = /^HTTP\/(1\.[01]) (\d{3})(?: (.*))?$/;
/** A header field line (headerField reads it without a regex; kept as its definition, for the tests). */
export const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/;

/** Is this line (without its line end) a request line or a status line? */
export function isStartLine(line: string): boolean {
  return REQUEST_LINE.test(line) || STATUS_LINE.test(line);
}

/** Could this (newline-less) text be the beginning of a request or status line? */
export function plausibleStartPrefix(line: string): boolean {
  if ('HTTP/1.'.startsWith(line)) return true;
  if (/^HTTP\/1\.[01]( \d{0,3}( [\x20-\x7e\x80-\xff]*)?)?\r?$/.test(line)) return true;
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}(?: \S*(?: (?:H|HT|HTT|HTTP|HTTP\/|HTTP\/1|HTTP\/1\.|HTTP\/1\.[01])?)?)?$/.test(line);
}

/** Index (from `from`) just past the blank line ending a header block that starts at `from`, or -1. */
export function findHeadEnd(buf: Buffer, from = 0): number {
  const crlf = buf.indexOf('\r\n\r\n', from, 'latin1');
  const lf = buf.indexOf('\n\n', from, 'latin1');
  if (crlf === -1 && lf === -1) return -1;
  if (crlf === -1) return lf + 2 - from;
  if (lf === -1) return crlf + 4 - from;
  return Math.min(crlf + 4, lf + 2) - from;
}

/** tchar (RFC 9110 section 5.6.2), by character code below 128. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

/**
 * A header line as HEADER_LINE reads it (name, colon, value without the
 * blanks around it; no CR in it), without the regex: null when it is not one.
 */
function headerField(line: string): [string, string] | null {
  const n = line.length;
  let i = 0;
  for (; i < n; i++) {
    const c = line.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) break;
  }
  if (i === 0 || i === n || line.charCodeAt(i) !== 0x3a) return null;
  if (line.indexOf('\r', i + 1) !== -1) return null;
  let s = i + 1;
  let c = line.charCodeAt(s);
  while (s < n && (c === 0x20 || c === 0x09)) c = line.charCodeAt(++s);
  let e = n;
  c = line.charCodeAt(e - 1);
  while (e > s && (c === 0x20 || c === 0x09)) c = line.charCodeAt(--e - 1);
  return [line.slice(0, i).toLowerCase(), line.slice(s, e)];
}

/** Parse a complete header block (`text`, `headBytes` long, blank line included). */
export function parseHead(text: string, headBytes: number): ParsedHead | HeadError {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.charCodeAt(l.length - 1) === 0x0d) lines[i] = l.slice(0, -1);
  }
  // The block ends with an empty line (or two): drop them.
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  const first = lines[0] ?? '';
  const fields: Array<[string, string]> = [];
  let at = first.length + 1;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const c0 = line.charCodeAt(0);
    if ((c0 === 0x20 || c0 === 0x09) && fields.length) {
      // obsolete line folding: continuation of the previous value
      fields[fields.length - 1][1] += ' ' + line.trim();
    } else {
      const f = headerField(line);
      if (!f) return { error: 'invalid header line', kind: 'invalid_header', at };
      fields.push(f);
    }
    at += line.length + 1;
  }
  const req = REQUEST_LINE.exec(first);
  if (req) return { kind: 'request', method: req[1], target: req[2], version: req[3], fields, headBytes };
  const st = STATUS_LINE.exec(first);
  if (st) return { kind: 'response', version: st[1], statusCode: Number(st[2]), statusText: st[3] ?? '', fields, headBytes };
  return { error: 'not an HTTP/1.x request or status line', kind: 'invalid_start_line', at: 0 };
}
