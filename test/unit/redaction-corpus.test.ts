/**
 * The redaction corpus (test/fixtures/redaction-corpus.js): every kind of
 * secret in every place, driven through the chains exactly as the CLI
 * builds them (tlsAnalyzers, agentAnalyzers) with the console sinks (json
 * and pretty), the file sink and the summary; events are made by the
 * tracers' own decoders. No 8 characters in a row of a secret may appear in
 * anything written. And the converse: recorded SDK traffic and near-misses
 * come out unchanged but for their credentials.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { tlsAnalyzers } from '../../lib/analyzers/chains';
import { summaryText } from '../../lib/analyzers/summary';
import { chainOptions } from '../../lib/config/options';
import { chain } from '../../lib/core/analyzer';
import type { Event } from '../../lib/core/event';
import { encodePayload, sslPayload } from '../../lib/core/payload';
import { redactText } from '../../lib/redact/rules';
import { agentAnalyzers } from '../../lib/session/agent';
import { FileLogger } from '../../lib/sinks/file-logger';
import { OutputAnalyzer } from '../../lib/sinks/output';
import { zstdCompress } from '../../lib/standin/encoding';
import { TEST_API_KEYS } from '../../lib/standin/keys';
import { exec, fileOpen, ssl } from '../support/events';

/* eslint-disable @typescript-eslint/no-require-imports */
const C = require('../fixtures/redaction-corpus.js');
const W = require('../fixtures/wire-samples.js');
/* eslint-enable @typescript-eslint/no-require-imports */

const lib = { tlsAnalyzers, chainOptions, agentAnalyzers, chain, OutputAnalyzer, FileLogger, summaryText, sslPayload, encodePayload };
const F = { ssl, exec, fileOpen };
const KNOWN = [...TEST_API_KEYS, W.ANTHROPIC_KEY, W.OPENAI_KEY, W.GOOGLE_KEY];

interface Case {
  secret: { kind: string; value: string };
  position: string;
  scenario: { exchanges?: Buffer[][]; execs?: string[][]; opens?: string[] };
}
interface ChainSpec {
  name: string;
  kind: 'ssl' | 'agent';
  opts: Record<string, unknown>;
}

let cases: Case[] = [];
const chains: ChainSpec[] = C.CHAINS;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-corpus-'));

beforeAll(async () => {
  await C.prepare(zstdCompress);
  cases = C.cases();
});

/** Run a case through a chain split at `cuts`; the 8-character pieces of the secret found in what it wrote. */
async function leaked(c: Case, ch: ChainSpec, cuts: (b: Buffer) => number[], file: string | null = null): Promise<string[]> {
  const events = C.scenarioEvents(c.scenario, F, cuts);
  if (file) fs.rmSync(file, { force: true });
  const out = await C.runChain(lib, ch, events, file);
  return C.leaks(c.secret.value, out.texts);
}

const applies = (c: Case, ch: ChainSpec) => ch.kind === 'agent' || (c.scenario.exchanges?.length ?? 0) > 0;

describe('redaction corpus: no secret reaches any output', () => {
  it('covers every kind of secret and every place', () => {
    const kinds = new Set(cases.map((c) => c.secret.kind));
    const places = new Set(cases.map((c) => c.position));
    expect(kinds.size).toBe(C.SECRETS.length);
    expect(places.size).toBe(Object.keys(C.POSITIONS).length);
    expect(cases.length).toBeGreaterThan(900);
  });

  it('every secret in every place, through every chain and sink (TLS calls cut at a third and a half)', async () => {
    const misses: string[] = [];
    let n = 0;
    for (const c of cases) {
      for (const ch of chains) {
        if (!applies(c, ch)) continue;
        const file = n++ % 25 === 0 ? path.join(dir, 'out.ndjson') : null;
        const found = await leaked(c, ch, (b) => [Math.floor(b.length / 3), Math.floor(b.length / 2) + 1], file);
        if (found.length) misses.push(`${c.secret.kind} in ${c.position} via ${ch.name}: ${found[0]}`);
      }
    }
    expect(misses).toEqual([]);
  }, 300_000);

  it('however the bytes are cut into TLS calls (property: random case, chain and cuts)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: cases.length - 1 }),
        fc.nat({ max: chains.length - 1 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }),
        async (ci, hi, fractions) => {
          const c = cases[ci];
          const ch = chains[hi];
          if (!applies(c, ch)) return;
          const found = await leaked(c, ch, (b) => fractions.map((f) => Math.floor(f * b.length)));
          expect(found, `${c.secret.kind} in ${c.position} via ${ch.name}`).toEqual([]);
        },
      ),
      { numRuns: 400 },
    );
  }, 300_000);

  it('a key cut by chunk framing and by TLS calls at once, in a streamed answer and a JSON body (property)', async () => {
    const secrets: Array<{ kind: string; value: string }> = C.SECRETS.filter((s: { value: string }) => !s.value.includes('\n'));
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: secrets.length - 1 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        fc.boolean(),
        async (si, chunks, fractions, sse) => {
          const s = secrets[si];
          const text = C.freeText(s);
          const response = sse
            ? C.sseResponse(W.anthropicEvents({ text: C.deltas(`key ${text} end`, 6, si + 1) }), chunks)
            : Buffer.concat([
                W.resHead(200, 'OK', ['Content-Type: application/json', 'Transfer-Encoding: chunked']),
                W.chunkedBody(splitBy(Buffer.from(JSON.stringify({ note: text, api_key: s.value })), chunks)),
              ]);
          const c: Case = {
            secret: s,
            position: 'chunks',
            scenario: { exchanges: [[C.anthropicCall({ stream: sse, messages: [{ role: 'user', content: 'x' }] }), response]] },
          };
          for (const ch of chains) {
            const found = await leaked(c, ch, (b) => fractions.map((f) => Math.floor(f * b.length)));
            expect(found, `${s.kind} via ${ch.name}`).toEqual([]);
          }
        },
      ),
      { numRuns: 60 },
    );
  }, 300_000);
});

function splitBy(buf: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < buf.length; k++) {
    const n = sizes[k % sizes.length];
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

const withRedaction = (c: ChainSpec, on: boolean): ChainSpec => ({ ...c, opts: { ...c.opts, redact: on } });

describe('redaction corpus: nothing but credentials changes', () => {
  const fixtures = fs.readdirSync(path.join(__dirname, '../fixtures')).filter((f) => f.endsWith('.ndjson'));

  it.each(fixtures)(
    'recorded session %s: every chain changes only its credentials',
    async (f) => {
      const events: Event[] = fs
        .readFileSync(path.join(__dirname, '../fixtures', f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      for (const ch of chains) {
        const clear = await C.runChain(lib, withRedaction(ch, false), structuredClone(events), null);
        const masked = await C.runChain(lib, withRedaction(ch, true), structuredClone(events), null);
        expect(C.unexplainedChanges(lib, clear.events, masked.events, KNOWN).changes, ch.name).toEqual([]);
        // and the credentials themselves are gone (24-character pieces: the samples' keys repeat "FAKEfake", which other headers hold too)
        for (const k of KNOWN) expect(C.leaks(k, masked.texts, 24), `${f} via ${ch.name}`).toEqual([]);
      }
    },
    120_000,
  );

  it('near-misses are left alone as text, in prompts, streamed answers, URLs and command lines', async () => {
    for (const t of [...C.NEAR_MISSES, C.base64Image()]) expect(redactText(t)).toBe(t);
    for (const nm of C.nearMissScenarios()) {
      for (const ch of chains) {
        const events = C.scenarioEvents(nm.scenario, F, (b: Buffer) => [Math.floor(b.length / 2)]);
        const clear = await C.runChain(lib, withRedaction(ch, false), events, null);
        const masked = await C.runChain(lib, withRedaction(ch, true), events, null);
        expect(C.unexplainedChanges(lib, clear.events, masked.events, KNOWN).changes, `${nm.name} via ${ch.name}`).toEqual([]);
      }
    }
  }, 120_000);

  it('near-misses streamed in deltas cut anywhere are left alone (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: C.NEAR_MISSES.length - 1 }),
        fc.integer({ min: 1, max: 9 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        async (ni, size, fractions) => {
          const t: string = C.NEAR_MISSES[ni];
          const sc = {
            exchanges: [
              [C.anthropicCall({ stream: true, messages: [{ role: 'user', content: t }] }), C.sseResponse(W.anthropicEvents({ text: C.deltas(t, size, ni) }))],
            ],
          };
          const ch = chains[2];
          const events = C.scenarioEvents(sc, F, (b: Buffer) => fractions.map((f) => Math.floor(f * b.length)));
          const clear = await C.runChain(lib, withRedaction(ch, false), events, null);
          const masked = await C.runChain(lib, withRedaction(ch, true), events, null);
          expect(C.unexplainedChanges(lib, clear.events, masked.events, KNOWN).changes).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);
});
