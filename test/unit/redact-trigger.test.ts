/**
 * The trigger pass (lib/redact/trigger.ts) walks a text with a table of the
 * triggers' first three characters and tries the expression only there: it
 * must find exactly what a global search of the expression finds.
 */
import fs from 'fs';
import path from 'path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextTrigger, TRIGGER } from '../../lib/redact/trigger';

const FIXTURES = path.join(__dirname, '..', 'fixtures');

function viaGlobal(text: string): string[] {
  const re = new RegExp(TRIGGER.source, 'gi');
  const out: string[] = [];
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    out.push(`${m.index}:${m[0]}`);
    // the finder goes on from the next character (or further, past what a trigger's judge read)
    re.lastIndex = m.index + 1;
  }
  return out;
}

function viaTable(text: string): string[] {
  const out: string[] = [];
  let m: RegExpExecArray | null;
  let from = 0;
  while ((m = nextTrigger(text, from)) !== null) {
    out.push(`${m.index}:${m[0]}`);
    from = m.index + 1;
  }
  return out;
}

describe('trigger pass', () => {
  it('finds what the global search finds in the recorded sessions', () => {
    const text = fs
      .readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.ndjson') || f.endsWith('.js'))
      .map((f) => fs.readFileSync(path.join(FIXTURES, f), 'latin1'))
      .join('\n');
    const found = viaTable(text);
    expect(found.length).toBeGreaterThan(1000);
    expect(found).toEqual(viaGlobal(text));
  });

  it('finds every trigger word in any case, and from any start', () => {
    const words = [
      'pass',
      'pwd',
      'token',
      'KEY',
      'Authorization',
      'sk-ant',
      'AIzaSy',
      'eyJhbGci',
      'https://u:p@h',
      '-----BEGIN',
      'ya29.',
      '1//0',
      '_pat',
      '_path',
      'redis-cli',
      '%3D',
      '%2f',
      'xoxb-',
      'ghp_',
      'hooks.slack.com/services/',
    ];
    for (const w of words) {
      for (const t of [w, `x${w}`, `  ${w}y`, w.toUpperCase(), w.toLowerCase()]) {
        expect(viaTable(t)).toEqual(viaGlobal(t));
        for (let from = 0; from <= t.length; from++) {
          const re = new RegExp(TRIGGER.source, 'gi');
          re.lastIndex = from;
          expect(nextTrigger(t, from)?.[0] ?? null).toEqual(re.exec(t)?.[0] ?? null);
        }
      }
    }
  });

  it('agrees with the global search on random text made of trigger characters', () => {
    // ASCII letters of the triggers in both cases, digits, punctuation, and letters outside ASCII whose case maps to ASCII (ſ, ı, K, İ)
    const alphabet = 'pasWDkeyKEYtokn-_%23fFAIZAsecrt:/.bhoxjJ1029ZzlLmMrRgGnNuUv \u017f\u0131\u212a\u0130é"{}=';
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 60 }), (chars) => {
        const t = chars.join('');
        expect(viaTable(t)).toEqual(viaGlobal(t));
      }),
      { numRuns: 20000 },
    );
  });

  it('matches no character outside ASCII in place of a trigger letter', () => {
    for (let c = 0x80; c < 0x10000; c++) {
      const ch = String.fromCharCode(c);
      for (const t of [`${ch}ey`, `k${ch}y`, `to${ch}en`, `%2${ch}`, `${ch}//`]) expect(viaTable(t)).toEqual(viaGlobal(t));
    }
  });
});
