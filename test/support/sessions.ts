/**
 * Session files as `record` writes them, made from the recorded fixtures
 * (raw ssl and process events) by the analyzers `record` runs: HTTP parsing,
 * SSE merging, LLM calls, their cost, the summary; raw ssl events dropped.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chain, mapAnalyzer } from '../../lib/core/analyzer';
import { CostAnalyzer } from '../../lib/analyzers/cost';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { LlmAnalyzer } from '../../lib/analyzers/llm';
import { SessionSummary } from '../../lib/analyzers/summary';
import { SseProcessor } from '../../lib/analyzers/sse-processor';
import type { Event } from '../../lib/core/event';
import { readNdjson, toJsonLine } from '../../lib/sinks/ndjson';

export const FIXTURES = path.join(__dirname, '../fixtures');

/** The fixtures that are whole recorded sessions (with an .expected.json). */
export function fixtureNames(): string[] {
  return fs
    .readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.expected.json'))
    .map((f) => f.replace(/\.expected\.json$/, ''))
    .sort();
}

/** The events `record` would have written for a fixture. */
export async function sessionEvents(name: string): Promise<Event[]> {
  const out: Event[] = [];
  const analyzers = [
    new HttpParser(),
    new SseProcessor(),
    mapAnalyzer('drop_raw_ssl', (e) => (e.source === 'ssl' ? null : e)),
    new LlmAnalyzer(),
    new CostAnalyzer(),
    new SessionSummary(),
  ];
  for await (const e of chain(readNdjson(path.join(FIXTURES, `${name}.ndjson`)), analyzers, { signal: new AbortController().signal })) out.push(e);
  return out;
}

/** A temporary directory removed by the returned function. */
export function tempDir(prefix = 'agentsight-test-'): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Write events as a session file. */
export function writeSession(file: string, events: readonly Event[]): string {
  fs.writeFileSync(file, events.map(toJsonLine).join(''), { mode: 0o600 });
  return file;
}
