import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from '../../lib/sse/parser';

const parseAll = (pieces: string[]): SseEvent[] => {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const s of pieces) out.push(...p.push(s));
  out.push(...p.end());
  return out;
};

describe('SseParser', () => {
  it('a 3.4 MiB push of LF-only lines parses in one pass (one event per blank line)', () => {
    const line = `data: ${'x'.repeat(60)}\n`;
    const block = line.repeat(4) + '\n';
    const n = Math.ceil((3.4 * 1024 * 1024) / block.length);
    const events = parseAll([block.repeat(n)]);
    expect(events).toHaveLength(n);
    expect(events[0].data.split('\n')).toHaveLength(4);
  });

  it('CR-only and CRLF line ends in one big push too', () => {
    for (const eol of ['\r', '\r\n']) {
      const text = `event: e\rdata: 1${eol}${eol}`.replace(/\r(?!\n)/g, eol).repeat(20_000);
      const events = parseAll([text]);
      expect(events).toHaveLength(20_000);
      expect(events[19_999]).toEqual({ event: 'e', data: '1' });
    }
  });

  it('any split of the text into pushes gives the same events', () => {
    const text = 'event: a\ndata: 1\r\ndata: 2\r\r: c\n\nid: 7\ndata: é€\n\nretry: 10\rdata: x\r\n\r\n';
    const whole = parseAll([text]);
    expect(whole.map((e) => e.data)).toEqual(['1\n2', 'é€', 'x']);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 12 }), (cuts) => {
        const at = [...new Set(cuts)].sort((a, b) => a - b);
        const pieces = [0, ...at].map((c, i, a) => text.slice(c, a[i + 1] ?? text.length));
        expect(parseAll(pieces)).toEqual(whole);
      }),
    );
  });
});
