/**
 * The events each analyzer chain makes from the recorded sessions, the
 * synthetic wire samples and large downloads, line for line against the
 * output the chains gave when the fixtures were written
 * (test/fixtures/chain-output/*.ndjson.gz; lines longer than 2,000 characters
 * are kept as their SHA-256). Any change to what a chain outputs shows here;
 * rewrite the fixtures only for a change meant to alter the output:
 * `AGENTSIGHT_WRITE_CHAIN_OUTPUT=1 npx vitest run --project unit test/unit/chain-output.test.ts`.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { chain, type Analyzer } from '../../lib/core/analyzer';
import type { Event } from '../../lib/core/event';
import { attachPayload } from '../../lib/core/payload';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { LlmAnalyzer } from '../../lib/analyzers/llm';
import { Redactor } from '../../lib/analyzers/redactor';
import { SseProcessor } from '../../lib/analyzers/sse-processor';
import { tlsAnalyzers } from '../../lib/analyzers/chains';
import { chainOptions } from '../../lib/config/options';
import { agentAnalyzers } from '../../lib/session/agent';
import { toJsonLine } from '../../lib/sinks/ndjson';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const streams = require('../../bench/lib/streams.js') as {
  recordedStream(a: typeof attachPayload, repeats: number, o?: { processEvents?: boolean }): { events: Event[] };
  syntheticStream(a: typeof attachPayload, repeats: number): { events: Event[] };
  bulkStream(a: typeof attachPayload, o: { size: number; types: string[]; block: number }): { events: Event[] };
};

const DIR = path.join(__dirname, '../fixtures/chain-output');
const WRITE = process.env.AGENTSIGHT_WRITE_CHAIN_OUTPUT === '1';

function input(): Event[] {
  const rec = streams.recordedStream(attachPayload, 2, { processEvents: true }).events;
  const syn = streams.syntheticStream(attachPayload, 1).events;
  const bulk = streams.bulkStream(attachPayload, { size: 1024 * 1024 + 5, types: ['application/octet-stream', 'application/gzip'], block: 12288 }).events;
  return [...rec, ...syn, ...bulk];
}

const CHAINS: [string, () => Analyzer[]][] = [
  ['parser-sse', () => [new HttpParser(), new SseProcessor()]],
  ['parser-small-bodies', () => [new HttpParser({ maxBodyBytes: 64 * 1024, rawData: true }), new SseProcessor()]],
  ['ssl', () => tlsAnalyzers(chainOptions({}))],
  ['ssl-http-sse', () => tlsAnalyzers(chainOptions({ httpParser: true, sseMerge: true }))],
  ['ssl-http-raw', () => tlsAnalyzers(chainOptions({ httpParser: true, sseMerge: true, rawSsl: true, httpRawData: true }))],
  ['redactor-first-llm', () => [new Redactor(), new HttpParser(), new SseProcessor(), new LlmAnalyzer()]],
  [
    'agent',
    () => {
      const a = agentAnalyzers({});
      return [...a.tls, ...a.global];
    },
  ],
];

function fixtureLine(line: string): string {
  if (line.length <= 2000) return line;
  return `#sha256 ${crypto.createHash('sha256').update(line).digest('hex')} ${line.length} ${line.slice(0, 200)}`;
}

async function run(make: () => Analyzer[]): Promise<string[]> {
  async function* source() {
    for (const e of input()) yield e;
  }
  const out: string[] = [];
  for await (const e of chain(source(), make(), { signal: new AbortController().signal })) {
    // agentsight's own events carry its pid; the summary is made at the end, now
    const own = e.comm === 'agentsight' && e.pid === process.pid ? { ...e, pid: 0, ...(e.source === 'summary' ? { timestamp: 0, mono_ns: 0 } : {}) } : e;
    out.push(fixtureLine(toJsonLine(own).slice(0, -1)));
  }
  return out;
}

describe('analyzer chains make the same events as when the fixtures were written', () => {
  for (const [name, make] of CHAINS) {
    it(name, async () => {
      const got = await run(make);
      const file = path.join(DIR, `${name}.ndjson.gz`);
      if (WRITE) fs.writeFileSync(file, zlib.gzipSync(got.join('\n') + '\n', { level: 9 }));
      const want = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8').split('\n').slice(0, -1);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) expect({ line: i + 1, got: got[i] }).toEqual({ line: i + 1, got: want[i] });
    });
  }
});
