/**
 * A text stream (lib/redact/stream.ts) searches each character for triggers
 * once and takes the triggers of its carry from the previous piece: what it
 * finds must be exactly what a search of the carry and the piece joined
 * finds, and the triggers it records for a whole body must let a search of
 * that body find exactly what a search of its own finds.
 */
import fs from 'fs';
import path from 'path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { continueOpen, findSecrets, type Finding, type Open } from '../../lib/redact/find';
import { bodyRanges } from '../../lib/redact/rules';
import { TextStream } from '../../lib/redact/stream';

const FIXTURES = path.join(__dirname, '..', 'fixtures');

/** The stream as a search of carry + piece, the carry being the last `carry` characters of what was searched. */
class JoinedSearch {
  private tail = '';
  private open: Open | null = null;
  constructor(private readonly carry: number) {}
  push(text: string): Finding[] {
    const out: Finding[] = [];
    let stillOpen: Open | null = null;
    if (this.open) {
      const c = continueOpen(text, this.open);
      if (c.end > 0) out.push({ start: 0, end: c.end, kind: this.open.kind });
      if (c.open) stillOpen = c.end > 0 ? { ...this.open, fresh: undefined, ...(this.open.until === 'json' ? { quoteFirst: undefined } : {}) } : this.open;
    }
    const shift = this.tail.length;
    const joined = this.tail + text;
    const r = findSecrets(joined, true);
    for (const f of r.findings) {
      if (f.end <= shift) continue;
      const start = f.start - shift;
      const hint = f.hint !== undefined && start - f.hint >= 0 ? { hint: f.hint } : {};
      out.push({ start: Math.max(0, start), end: f.end - shift, kind: f.kind, ...hint });
    }
    this.open = r.open ?? stillOpen;
    this.tail = this.carry > 0 ? joined.slice(-this.carry) : '';
    return out;
  }
}

const recorded = fs
  .readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.ndjson'))
  .sort()
  .map((f) => fs.readFileSync(path.join(FIXTURES, f), 'latin1'));
const SECRETS =
  'Authorization: Bearer sk-ant-api03-Zq8xY2wV4uT6sR0pO9nM1lK3jH5gF7dS\r\n{"api_key":"sk-proj-AbCdEfGhIjKlMnOpQrStUvWx12345678"} ' +
  'password=Hunter2Hunter2x& https://user:S3cretPw9@example.com/ eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2ln ' +
  'ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 --token abcdEFGH1234ijkl q=Bearer%20sk-abcdefghijklmnop1234 -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n';

/** A text of the recorded sessions and the secrets, cut at `cuts` (fractions of its length). */
function pieces(text: string, cuts: number[]): string[] {
  const at = [...new Set(cuts.map((c) => Math.floor(c * text.length)))].sort((a, b) => a - b);
  const out: string[] = [];
  let pos = 0;
  for (const c of at) {
    out.push(text.slice(pos, c));
    pos = c;
  }
  out.push(text.slice(pos));
  return out;
}

describe('text stream', () => {
  it('finds what a search of its carry and each piece joined finds, however the text is cut', () => {
    fc.assert(
      fc.property(
        fc.nat(recorded.length - 1),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 200, max: 6000 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(SECRETS.length), { maxLength: 12 }),
        fc.constantFrom(512, 128, 30, 8, 0),
        (file, where, size, cuts, inSecrets, carry) => {
          const all = recorded[file];
          const from = Math.floor(where * Math.max(0, all.length - size));
          // the secrets somewhere inside the recorded text, cut anywhere and also inside them
          const head = all.slice(from, from + size);
          const text = head + SECRETS + all.slice(from + size, from + 2 * size);
          const at = [...cuts, ...inSecrets.map((k) => (head.length + k) / text.length)];
          const a = new TextStream(carry);
          const b = new JoinedSearch(carry);
          for (const p of pieces(text, at)) expect(a.push(p)).toEqual(b.push(p));
        },
      ),
      { numRuns: 300, endOnFailure: true },
    );
  });

  it('records the triggers of a whole body so that a search of the body finds what it finds alone', () => {
    fc.assert(
      fc.property(
        fc.nat(recorded.length - 1),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.nat(SECRETS.length), { maxLength: 12 }),
        fc.integer({ min: 0, max: 40 }),
        (file, cuts, inSecrets, shorter) => {
          const head = recorded[file].slice(0, 20000);
          const text = head + SECRETS + head.slice(0, 300);
          cuts.push(...inSecrets.map((k) => (head.length + k) / text.length));
          const s = new TextStream(512);
          s.recordTriggers();
          for (const p of pieces(text, cuts)) s.push(p);
          const triggers = s.recordedTriggers();
          expect(triggers).not.toBeNull();
          // also a body that ends before its chunks did (cut at its size limit)
          const body = text.slice(0, text.length - 300 - shorter);
          for (const cut of [false, true])
            expect(bodyRanges(body, false, { ranges: [], triggers }, cut)).toEqual(bodyRanges(body, false, { ranges: [], triggers: null }, cut));
        },
      ),
      { numRuns: 100, endOnFailure: true },
    );
  });

  it('records nothing once it lost bytes', () => {
    const s = new TextStream(512);
    s.recordTriggers();
    s.push('{"token": "abc');
    expect(s.recordedTriggers()).not.toBeNull();
    s.reset();
    expect(s.recordedTriggers()).toBeNull();
  });
});
