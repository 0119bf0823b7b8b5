/**
 * Real sessions recorded by the tracer (scripts/record-fixtures.js: curl,
 * python urllib, the openai and @anthropic-ai/sdk npm clients against the
 * local stand-in) replayed through the analyzer chain without root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chain, mapAnalyzer, type Analyzer } from '../../lib/core/analyzer';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { LlmAnalyzer } from '../../lib/analyzers/llm';
import { parsedChunk, SseProcessor } from '../../lib/analyzers/sse-processor';
import { SessionSummary } from '../../lib/analyzers/summary';
import type { Event } from '../../lib/core/event';
import { readNdjson } from '../../lib/sinks/ndjson';
import type { SentUsage } from '../../lib/standin';
import { expectSentUsage } from '../support/usage';

const dir = path.join(__dirname, '../fixtures');
const sessions = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.expected.json'))
  .map((f) => f.replace(/\.expected\.json$/, ''));

interface Expected {
  pid: number;
  requests: {
    method: string;
    path: string;
    model: string | null;
    stream: boolean;
    status: number;
    encoding: string | null;
    text: string;
    thinking: string;
    tool_call: { name: string; arguments: string } | null;
    /** what the stand-in reported (scripts/record-fixtures.js records it) */
    usage: SentUsage;
  }[];
}

async function replay(name: string) {
  const llm = new LlmAnalyzer();
  const summary = new SessionSummary();
  const out: Event[] = [];
  const ctrl = new AbortController();
  for await (const e of chain(readNdjson(path.join(dir, `${name}.ndjson`)), [new HttpParser(), new SseProcessor(), llm, summary], { signal: ctrl.signal }))
    out.push(e);
  return { out, llm, summary };
}

describe('recorded sessions replayed through HttpParser, SseProcessor and LlmAnalyzer', () => {
  expect(sessions.length).toBeGreaterThanOrEqual(8);
  for (const name of sessions) {
    it(name, async () => {
      const exp = JSON.parse(fs.readFileSync(path.join(dir, `${name}.expected.json`), 'utf8')) as Expected;
      const { out, llm, summary } = await replay(name);
      const calls = out.filter((e) => e.source === 'llm');
      expect(calls.length).toBe(exp.requests.length);
      exp.requests.forEach((r, i) => {
        const d = calls[i].data;
        expect(calls[i].pid).toBe(exp.pid);
        expect(d.endpoint.path.split('?')[0]).toBe(r.path);
        expect(d['http.response.status_code']).toBe(r.status);
        expect(d.response.text).toBe(r.text);
        expect(d.response.thinking).toBe(r.thinking);
        expect(d.streaming).toBe(r.stream);
        expect(d['gen_ai.request.model']).toBe(r.model ?? r.path.match(/models\/([^:]+)/)?.[1]);
        expectSentUsage(d, r.usage, `${name} request ${i + 1}`);
        if (r.tool_call) {
          expect(d.response.tool_calls).toHaveLength(1);
          expect(d.response.tool_calls[0].name).toBe(r.tool_call.name);
          expect(d.response.tool_calls[0].arguments).toEqual(JSON.parse(r.tool_call.arguments));
        } else expect(d.response.tool_calls).toEqual([]);
        expect(d['gen_ai.response.finish_reasons'].length).toBe(1);
      });
      // a tool call's command shows up as a linked exec in the agent's tree
      const toolCalls = calls.flatMap((c) => c.data.response.tool_calls.map((t: { id: string; command?: string }) => ({ call: c.data.call_id, ...t })));
      for (const t of toolCalls) {
        const execs = out.filter((e) => e.source === 'process' && e.data.event === 'EXEC' && e.data.llm_call_id === t.call);
        expect(execs.length).toBeGreaterThan(0);
        // the shell that runs it (and, unless it is a builtin like pwd, the program itself)
        expect(execs.some((e) => String(e.data.full_command).includes(String(t.command)))).toBe(true);
        expect(execs.every((e) => e.data.tool_call_id === t.id)).toBe(true);
      }
      // nothing else is linked
      const linked = out.filter((e) => e.source === 'process' && e.data.llm_call_id);
      expect(linked.every((e) => toolCalls.some((t) => t.call === e.data.llm_call_id))).toBe(true);
      expect(llm.stats.unanswered).toBe(0);
      expect(summary.result?.llm_calls).toBe(exp.requests.length);
      expect(summary.result?.tool_calls_linked).toBe(toolCalls.length);
      // no parse errors on real traffic
      expect(out.filter((e) => e.source === 'http' && e.data.type === 'parse_error')).toEqual([]);
    });
  }
});

describe('LlmAnalyzer after SseProcessor', () => {
  // a copy of each event between them: LlmAnalyzer cannot see what SseProcessor made of it, so it parses and merges the stream itself
  const copy = mapAnalyzer('copy', (e) => ({ ...e, data: { ...e.data } }) as Event);
  async function run(name: string, between: Analyzer[]) {
    const out: string[] = [];
    let shared = 0;
    // tool calls registered for linking before each answer's end reaches LlmAnalyzer (the early ones)
    const early: number[] = [];
    const ctrl = new AbortController();
    const llm = new LlmAnalyzer();
    const spy = mapAnalyzer('spy', (e) => {
      if (parsedChunk(e)) shared++;
      if (e.source === 'sse') early.push(llm.stats.tool_calls_expected);
      return e;
    });
    const analyzers = [new HttpParser(), new SseProcessor(), ...between, spy, llm, new SessionSummary()];
    for await (const e of chain(readNdjson(path.join(dir, `${name}.ndjson`)), analyzers, { signal: ctrl.signal })) {
      // the summary and stats are stamped with the time they are made
      out.push(JSON.stringify(e.source === 'summary' || e.source === 'stats' ? { ...e, timestamp: 0, mono_ns: 0 } : e));
    }
    return { out, shared, early };
  }

  it('follows its merger of a streamed answer, with the same events (and tool links) as when it merges the stream itself', async () => {
    let sharedChunks = 0;
    let earlyCalls = 0;
    for (const name of sessions) {
      const own = await run(name, [copy]);
      const followed = await run(name, []);
      expect(own.shared).toBe(0);
      expect(followed.out).toEqual(own.out);
      expect(followed.early).toEqual(own.early);
      sharedChunks += followed.shared;
      earlyCalls += followed.early.at(-1) ?? 0;
    }
    expect(sharedChunks).toBeGreaterThan(20);
    expect(earlyCalls).toBeGreaterThan(0);
  });
});
