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
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/;

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

/** Parse a complete header block (`text`, `headBytes` long, blank line included). */
export function parseHead(text: string, headBytes: number): ParsedHead | HeadError {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  // The block ends with an empty line (or two): drop them.
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  const first = lines[0] ?? '';
  const fields: Array<[string, string]> = [];
  let at = first.length + 1;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length) {
      // obsolete line folding: continuation of the previous value
      fields[fields.length - 1][1] += ' ' + line.trim();
    } else {
      const m = HEADER_LINE.exec(line);
      if (!m) return { error: 'invalid header line', kind: 'invalid_header', at };
      fields.push([m[1].toLowerCase(), m[2]]);
    }
    at += line.length + 1;
  }
  const req = REQUEST_LINE.exec(first);
  if (req) return { kind: 'request', method: req[1], target: req[2], version: req[3], fields, headBytes };
  const st = STATUS_LINE.exec(first);
  if (st) return { kind: 'response', version: st[1], statusCode: Number(st[2]), statusText: st[3] ?? '', fields, headBytes };
  return { error: 'not an HTTP/1.x request or status line', kind: 'invalid_start_line', at: 0 };
}
