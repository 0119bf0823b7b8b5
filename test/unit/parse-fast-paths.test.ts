/**
 * The parsers read header lines, chunk-size lines and SSE lines by hand
 * instead of through regular expressions and slices; here each is checked
 * against the definition it replaces (the regular expression, or the line
 * parser as it was written before), on generated input with the characters
 * that matter (CR inside lines, blanks, tchar and non-tchar bytes, colons),
 * and split at every position.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseProcessor } from '../../lib/analyzers/sse-processor';
import type { Event } from '../../lib/core/event';
import { HEADER_LINE, parseHead } from '../../lib/http/head';
import { Http1Stream, type StreamSink } from '../../lib/http/stream';
import { SseParser, type SseEvent } from '../../lib/sse/parser';
import { StreamMerger } from '../../lib/sse/stream-merger';

/** parseHead's header fields as the regular expression reads them (null: an invalid header line, and where). */
function referenceFields(text: string): Array<[string, string]> | { at: number } {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  const fields: Array<[string, string]> = [];
  let at = (lines[0] ?? '').length + 1;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length) fields[fields.length - 1][1] += ' ' + line.trim();
    else {
      const m = HEADER_LINE.exec(line);
      if (!m) return { at };
      fields.push([m[1].toLowerCase(), m[2]]);
    }
    at += line.length + 1;
  }
  return fields;
}

const headerChars = fc.constantFrom('a', 'Z', '-', '!', '~', ':', ' ', '\t', '\r', '\x7f', '\xe9', '\xa0', '"', '(', 'x', '0', '/');

describe('header lines without the regular expression', () => {
  it('give the fields (or the error and its offset) HEADER_LINE gives', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(headerChars, { maxLength: 12 }).map((a) => a.join('')),
          { maxLength: 6 },
        ),
        (lines) => {
          const text = `HTTP/1.1 200 OK\r\n${lines.map((l) => l + '\r\n').join('')}\r\n`;
          const got = parseHead(text, text.length);
          const want = referenceFields(text);
          if (Array.isArray(want)) expect('fields' in got && got.fields).toEqual(want);
          else expect(got).toEqual({ error: 'invalid header line', kind: 'invalid_header', at: want.at });
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('cases that differ by one character', () => {
    const one = (line: string) => {
      const r = parseHead(`GET / HTTP/1.1\r\n${line}\r\n\r\n`, 0);
      return 'fields' in r ? r.fields : r.kind;
    };
    expect(one('X-A: \t b c \t ')).toEqual([['x-a', 'b c']]);
    expect(one('X-A:')).toEqual([['x-a', '']]);
    expect(one('X-A:   ')).toEqual([['x-a', '']]);
    expect(one('X-A: b\rc')).toBe('invalid_header');
    expect(one('X A: b')).toBe('invalid_header');
    expect(one(': b')).toBe('invalid_header');
    expect(one('Ä: b')).toBe('invalid_header');
    expect(one('X-A: \xa0b\xa0')).toEqual([['x-a', '\xa0b\xa0']]);
  });
});

/** What a stream makes of a chunked response whose first chunk-size line is `line`, its bytes pushed in the pieces cut at `cuts`. */
function chunkedOutcome(line: string, cuts: number[]): string[] {
  const log: string[] = [];
  const sink: StreamSink = {
    onHead: () => ({ mode: 'chunked' }),
    // pieces of one body join up: the log does not depend on the cuts
    onBody: (b) => {
      if (log.length && log[log.length - 1].startsWith('body ')) log[log.length - 1] += b.toString('latin1');
      else log.push(`body ${b.toString('latin1')}`);
    },
    onEnd: (incomplete) => log.push(`end ${incomplete}`),
    onError: (e) => log.push(`error ${e.kind} ${e.offset}`),
    onDiscard: (n) => log.push(`discard ${n}`),
    onBodyHole: () => log.push('hole'),
  };
  const s = new Http1Stream(sink, { maxHeaderBytes: 1024 });
  const bytes = Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${line}\r\nabcdefghijklmnopq\r\n0\r\n\r\n`, 'latin1');
  let from = 0;
  for (const c of [...cuts, bytes.length]) {
    s.push(bytes.subarray(from, c));
    from = c;
  }
  s.end();
  // after an error the bytes skipped while resynchronising are counted as the pieces come: up to it, nothing depends on the cuts
  const err = log.findIndex((l) => l.startsWith('error'));
  return err === -1 ? log : log.slice(0, err + 1);
}

/** The chunk-size line (up to its LF) as the regular expression read it: its size, or null when invalid. */
function referenceSize(line: string): number | null {
  const m = /^([0-9A-Fa-f]{1,15})[ \t]*(?:;.*)?$/.exec(line.replace(/\r$/, ''));
  return m ? parseInt(m[1], 16) : null;
}

describe('chunk-size lines without the regular expression', () => {
  const HEAD = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'.length;

  it('accept what the regular expression accepts, with the same size, cut anywhere', () => {
    const chars = fc.constantFrom('0', '1', 'a', 'F', 'g', ' ', '\t', ';', '\r', 'x', '=', '"');
    fc.assert(
      fc.property(
        fc.array(chars, { maxLength: 10 }).map((a) => a.join('')),
        fc.array(fc.nat(90), { maxLength: 3 }),
        (line, cuts) => {
          const size = referenceSize(line + '\r');
          const whole = chunkedOutcome(line, []);
          expect(
            chunkedOutcome(
              line,
              [...new Set(cuts)].sort((a, b) => a - b),
            ),
          ).toEqual(whole);
          // an invalid size line is reported where it starts; a valid one frames the chunk by its size
          expect(whole.includes(`error invalid_chunk ${HEAD}`)).toBe(size === null);
          expect(whole.includes('body abcdefghijklmnopq')).toBe(size === 0x11);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('the size of every line below, cut at every byte, is the one parseInt reads', () => {
    for (const line of ['11', '011', '11 ', '11\t;ext=1', '11;a\rb', '11 x', 'g', '', ';', '0000000000000011', '000000000000011']) {
      const want = referenceSize(line + '\r');
      const whole = chunkedOutcome(line, []);
      for (let c = 1; c < 60 + line.length; c++) expect(chunkedOutcome(line, [c]), `${JSON.stringify(line)} cut at ${c}`).toEqual(whole);
      expect(whole.includes('body abcdefghijklmnopq'), JSON.stringify(line)).toBe(want === 0x11);
    }
    // beyond 2^53 the size is parseInt's (the chunk never ends here)
    const big = chunkedOutcome('fffffffffffffff', []);
    expect(big).toContain('end stream ended mid-message');
  });
});

/** The SSE line parser as it was written with slices (the reference for the in-place one). */
class ReferenceSse {
  private partial = '';
  private lastWasCR = false;
  private dataLines: string[] = [];
  private hasData = false;
  private eventName = '';
  private id: string | undefined;
  private retry: number | undefined;
  readonly malformed: string[] = [];
  comments = 0;

  push(s: string): SseEvent[] {
    const out: SseEvent[] = [];
    let i = 0;
    if (this.lastWasCR && s.length > 0) {
      if (s[0] === '\n') i = 1;
      this.lastWasCR = false;
    }
    while (i < s.length) {
      let j = i;
      while (j < s.length && s[j] !== '\r' && s[j] !== '\n') j++;
      if (j === s.length) {
        this.partial += s.slice(i);
        break;
      }
      const line = this.partial + s.slice(i, j);
      this.partial = '';
      if (s[j] === '\r') {
        if (j + 1 < s.length) i = s[j + 1] === '\n' ? j + 2 : j + 1;
        else {
          this.lastWasCR = true;
          i = j + 1;
        }
      } else i = j + 1;
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.partial.length) {
      const ev = this.line(this.partial);
      if (ev) out.push(ev);
    }
    this.partial = '';
    const last = this.dispatch();
    if (last) out.push(last);
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === '') return this.dispatch();
    if (line[0] === ':') {
      this.comments++;
      return null;
    }
    const c = line.indexOf(':');
    const field = c === -1 ? line : line.slice(0, c);
    let value = c === -1 ? '' : line.slice(c + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'data') {
      this.dataLines.push(value);
      this.hasData = true;
    } else if (field === 'event') this.eventName = value;
    else if (field === 'id') {
      if (!value.includes('\0')) this.id = value;
    } else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    else this.malformed.push(line);
    return null;
  }

  private dispatch(): SseEvent | null {
    const ev: SseEvent = { event: this.eventName || 'message', data: this.dataLines.join('\n') };
    if (this.id !== undefined) ev.id = this.id;
    if (this.retry !== undefined) ev.retry = this.retry;
    const had = this.hasData;
    this.dataLines = [];
    this.hasData = false;
    this.eventName = '';
    this.retry = undefined;
    return had ? ev : null;
  }
}

describe('SSE lines read in place', () => {
  const pieces = fc.constantFrom(
    'data',
    'event',
    'id',
    'retry',
    'dat',
    'datax',
    'ev',
    ':',
    ': ',
    ' ',
    '\r',
    '\n',
    '\r\n',
    'x',
    '7',
    '\0',
    '{"a":1}',
    'é',
    '😀',
  );

  it('give the events, comments and malformed lines of the line parser written with slices, however the text is pushed', () => {
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 40 }), fc.array(fc.nat(200), { maxLength: 6 }), (parts, cuts) => {
        const text = parts.join('');
        const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...at].map((c, i, a) => text.slice(c, a[i + 1] ?? text.length));
        const ref = new ReferenceSse();
        const want = [...chunks.flatMap((c) => ref.push(c)), ...ref.end()];
        const p = new SseParser();
        const got = [...chunks.flatMap((c) => p.push(c)), ...p.end()];
        expect(got).toEqual(want);
        expect(p.stats.comments).toBe(ref.comments);
        expect(p.stats.malformed_lines).toBe(ref.malformed.length);
        expect(p.malformedSamples).toEqual(ref.malformed.slice(0, 5).map((l) => (l.length > 80 ? l.slice(0, 77) + '...' : l)));
      }),
      { numRuns: 3000 },
    );
  });

  it('an event split at every character position', () => {
    const text =
      'event: content_block_delta\r\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\\u00e9 \\"q\\" 😀"}}\r\nid: 4\r\nretry: 20\r\n\r\n';
    const whole = new SseParser().push(text);
    expect(whole).toHaveLength(1);
    for (let c = 0; c <= text.length; c++) {
      const p = new SseParser();
      expect([...p.push(text.slice(0, c)), ...p.push(text.slice(c)), ...p.end()], `cut at ${c}`).toEqual(whole);
    }
  });
});

describe('StreamMerger: the first character of data', () => {
  const merged = (data: string) => {
    const m = new StreamMerger(null);
    m.add({ event: 'message', data });
    const r = m.result();
    return { invalid: r.invalid_json, data: r.data };
  };

  it('is looked for past white space as trimStart() does (JSON.parse allows less)', () => {
    expect(merged('{"a":1}')).toEqual({ invalid: 0, data: '{"a":1}' });
    expect(merged(' \t\n{"a":1}')).toEqual({ invalid: 0, data: ' \t\n{"a":1}' });
    // U+00A0, U+FEFF and U+2028 are white space to trimStart() but not to JSON
    for (const ws of ['\u00a0', '\ufeff', '\u2028']) expect(merged(`${ws}{"a":1}`).invalid).toBe(1);
    expect(merged('[1,')).toEqual({ invalid: 1, data: '[1,' });
    expect(merged('plain')).toEqual({ invalid: 0, data: 'plain' });
  });
});

describe('SseProcessor: text chunks taken as they are', () => {
  const at = (n: number) => ({ timestamp: 1_764_000_000_000 + n, mono_ns: 5e9 + n * 1e6, pid: 7, comm: 'c' });
  const head: Event = {
    ...at(0),
    source: 'http',
    data: { type: 'response_headers', conn_id: 'k', seq: 0, status_code: 200, content_type: 'text/event-stream', request: null, headers: {} },
  };
  const chunk = (n: number, data: string, data_encoding: 'utf8' | 'base64'): Event => ({
    ...at(n),
    source: 'http',
    data: { type: 'body_chunk', conn_id: 'k', seq: 0, index: n - 1, offset: 0, size: 0, data, data_encoding },
  });
  const mergedData = (chunks: Event[]): unknown => {
    const p = new SseProcessor();
    const out = [head, ...chunks].flatMap((e) => p.handle(e)).concat(p.finish());
    return out.find((e) => e.source === 'sse')?.data.data;
  };
  const b64 = (bytes: number[] | string) => Buffer.from(bytes as never).toString('base64');

  it('and decoded as one UTF-8 stream from the first base64 chunk on', () => {
    expect(mergedData([chunk(1, 'data: é', 'utf8'), chunk(2, b64([0xe2, 0x82]), 'base64'), chunk(3, b64([0xac, 0x0a, 0x0a]), 'base64')])).toBe('é€');
    // a character cut by a base64 chunk and completed by the next chunk, given as text
    expect(mergedData([chunk(1, b64('data: a\xf0'.split('').map((c) => c.charCodeAt(0))), 'base64'), chunk(2, 'x\n\n', 'utf8')])).toBe('a\ufffdx');
  });

  it('text that is not well-formed (a lone surrogate from a replayed file) reads as its UTF-8 did', () => {
    expect(mergedData([chunk(1, 'data: a\ud800b\n\n', 'utf8')])).toBe('a\ufffdb');
    expect(mergedData([chunk(1, 'data: a', 'utf8'), chunk(2, '\udc00\n\n', 'utf8')])).toBe('a\ufffd');
  });
});
