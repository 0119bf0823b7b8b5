/**
 * LlmAnalyzer keeps what waits for an answer within bounds: by event time,
 * by process exit, per connection, per process, in number and in bytes; the
 * tool calls waiting for their exec are bounded too (with --process false no
 * EXEC ever comes). Everything forgotten is counted, in the final stats
 * event and in the session's summary lines.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { LlmAnalyzer } from '../../lib/analyzers/llm';
import { derivedEvent, type Event } from '../../lib/core/event';
import { summaryLines } from '../../lib/session/run';
import { exit, fromArray } from '../support/events';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const S = 1e9;
const who = (pid: number) => ({ pid, comm: 'agent' });

/** An Anthropic Messages request as HttpParser reports it. */
function request(pid: number, conn: string, seq: number, ns: number, content = 'hello'): Event {
  const body = JSON.stringify({ model: 'claude-x', max_tokens: 100, messages: [{ role: 'user', content }] });
  return derivedEvent('http', { timestamp: Math.floor(ns / 1e6), mono_ns: ns }, who(pid), {
    type: 'request',
    method: 'POST',
    path: '/v1/messages',
    host: 'api.anthropic.com',
    conn_id: conn,
    seq,
    role: 'client',
    headers: {},
    body,
    body_encoding: 'utf8',
  });
}

/** Its JSON answer, with a tool call asking to run `command` when given. */
function response(pid: number, conn: string, seq: number, ns: number, command?: string): Event {
  const content: unknown[] = [{ type: 'text', text: 'ok' }];
  if (command) content.push({ type: 'tool_use', id: `toolu_${seq}`, name: 'Bash', input: { command } });
  const body = JSON.stringify({ id: `msg_${seq}`, model: 'claude-x', content, stop_reason: 'end_turn', usage: { input_tokens: 3, output_tokens: 2 } });
  return derivedEvent('http', { timestamp: Math.floor(ns / 1e6), mono_ns: ns }, who(pid), {
    type: 'response',
    status_code: 200,
    content_type: 'application/json',
    conn_id: conn,
    seq,
    role: 'client',
    headers: {},
    body,
    body_encoding: 'utf8',
    latency_ms: 1,
    ttfb_ms: 1,
  });
}

function streamHead(pid: number, conn: string, seq: number, ns: number): Event {
  return derivedEvent('http', { timestamp: Math.floor(ns / 1e6), mono_ns: ns }, who(pid), {
    type: 'response_headers',
    status_code: 200,
    content_type: 'text/event-stream',
    conn_id: conn,
    seq,
    headers: {},
  });
}

/** Any event at time `ns` (moves event time on). */
const tick = (ns: number): Event => ({ timestamp: Math.floor(ns / 1e6), mono_ns: ns, source: 'ssl', pid: 1, comm: 'x', data: {} });

async function runAll(llm: LlmAnalyzer, events: Event[]): Promise<Event[]> {
  const out: Event[] = [];
  for await (const e of llm.process(fromArray(events), { signal: new AbortController().signal })) out.push(e);
  return out;
}

describe('LlmAnalyzer bounds', () => {
  it('200 unanswered 1 MiB requests: the memory held stays under its bound, the rest is counted', async () => {
    const llm = new LlmAnalyzer();
    const n = 200;
    const big = 'x'.repeat(1 << 20);
    let heapAfter = 0;
    let statsThen = llm.stats;
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const input = (async function* () {
      // each body is its own string, as bodies read from the wire are
      for (let i = 0; i < n; i++) yield request(1000 + (i % 50), `c${i}`, 0, (i + 1) * 1e6, `${i}:${big}`);
      gc();
      heapAfter = process.memoryUsage().heapUsed;
      statsThen = llm.stats;
      yield tick(1e9);
    })();
    for await (const e of llm.process(input, { signal: new AbortController().signal })) void e;
    const grownMiB = (heapAfter - heapBefore) / 2 ** 20;
    // the default byte bound is 32 MiB of request bodies (their parsed form is about as large); 200 were kept whole before (+400 MiB)
    expect(grownMiB).toBeLessThan(80);
    expect(statsThen.pending_bytes).toBeLessThanOrEqual(32 * 2 ** 20);
    expect(statsThen.pending + statsThen.requests_evicted).toBe(n);
    expect(statsThen.requests_evicted).toBeGreaterThan(150);
    expect(llm.stats.requests_unanswered_at_end).toBe(statsThen.pending);
    expect(llm.stats.unanswered).toBe(n);
  });

  it('forgets an exchange with no event for requestTimeoutMs of event time', async () => {
    const llm = new LlmAnalyzer();
    const out = await runAll(llm, [request(7, 'a', 0, 1 * S), tick(200 * S), request(7, 'b', 0, 250 * S), tick(302 * S), response(7, 'a', 0, 303 * S)]);
    expect(llm.stats).toMatchObject({ requests_expired: 1, requests_unanswered_at_end: 1, unanswered: 2, calls: 0 });
    expect(out.filter((e) => e.source === 'llm')).toEqual([]);
  });

  it('forgets what its process never got an answer to, after the exit grace; an answer within it still pairs', async () => {
    const llm = new LlmAnalyzer();
    const out = await runAll(llm, [
      request(7, 'a', 0, 1 * S),
      request(8, 'b', 0, 1 * S),
      exit({ pid: 7, mono: 2 * S }),
      exit({ pid: 8, mono: 2 * S }),
      response(8, 'b', 0, 2.5 * S), // flushed by the HTTP parser about the exit: still paired
      tick(5 * S),
      response(7, 'a', 0, 6 * S),
    ]);
    expect(out.filter((e) => e.source === 'llm').map((e) => e.pid)).toEqual([8]);
    expect(llm.stats).toMatchObject({ requests_process_exited: 1, pending: 0, calls: 1 });
  });

  it('keeps a streamed answer under way past its process exit (the merged stream ends it)', async () => {
    const llm = new LlmAnalyzer();
    const merged = derivedEvent('sse', { timestamp: 9000, mono_ns: 9 * S }, who(7), {
      type: 'merged',
      conn_id: 'a',
      seq: 0,
      end_reason: 'incomplete',
      text: 'partial',
      tool_calls: [],
      usage: null,
      status_code: 200,
    });
    const out = await runAll(llm, [request(7, 'a', 0, 1 * S), streamHead(7, 'a', 0, 1.5 * S), exit({ pid: 7, mono: 2 * S }), tick(8 * S), merged]);
    const calls = out.filter((e) => e.source === 'llm');
    expect(calls).toHaveLength(1);
    expect(calls[0].data).toMatchObject({ incomplete: 'incomplete', response: { text: 'partial' } });
    expect(llm.stats.requests_process_exited).toBe(0);
  });

  it('caps what waits per connection and per process, oldest first', async () => {
    const perConn = new LlmAnalyzer();
    await runAll(
      perConn,
      Array.from({ length: 20 }, (_, i) => request(7, 'one', i, (i + 1) * 1e6)),
    );
    expect(perConn.stats).toMatchObject({ requests_evicted: 12, requests_unanswered_at_end: 8 });
    const perPid = new LlmAnalyzer({ pending: { maxPerProcess: 5 } });
    const events = Array.from({ length: 9 }, (_, i) => request(7, `c${i}`, 0, (i + 1) * 1e6));
    events.push(response(7, 'c0', 0, 20e6), response(7, 'c8', 0, 21e6));
    const out = await runAll(perPid, events);
    expect(out.filter((e) => e.source === 'llm').map((e) => e.data.conn_id)).toEqual(['c8']);
    expect(perPid.stats).toMatchObject({ requests_evicted: 4, requests_unanswered_at_end: 4, calls: 1 });
  });

  it('with no process events, tool calls waiting for an exec stay bounded by the window and by number', async () => {
    const llm = new LlmAnalyzer();
    const events: Event[] = [];
    for (let i = 0; i < 5000; i++) events.push(request(7, 'c', i, (i + 1) * 1e6), response(7, 'c', i, (i + 1) * 1e6 + 1000, `echo ${i}`));
    await runAll(llm, events);
    expect(llm.stats).toMatchObject({ calls: 5000, tool_calls_expected: 5000, tool_calls_waiting: 4096, tool_calls_dropped: 904 });
    // spaced beyond the link window (10 min), each one ends the wait of the one before
    const spaced = new LlmAnalyzer();
    const ev2: Event[] = [];
    for (let i = 0; i < 50; i++) ev2.push(request(7, 'c', i, i * 700 * S + 1), response(7, 'c', i, i * 700 * S + 2, `echo ${i}`));
    await runAll(spaced, ev2);
    expect(spaced.stats).toMatchObject({ tool_calls_waiting: 1, tool_calls_expired: 49, tool_calls_dropped: 0 });
  });

  it('reports its counters in a final stats event, and the session summary says what was left out', async () => {
    const llm = new LlmAnalyzer();
    const out = await runAll(llm, [request(7, 'a', 0, 1 * S), tick(400 * S), request(7, 'b', 0, 401 * S)]);
    const stats = out.filter((e) => e.source === 'stats');
    expect(stats).toHaveLength(1);
    expect(stats[0].data).toMatchObject({
      event: 'ANALYZER',
      analyzer: 'llm',
      requests_expired: 1,
      lost: { requests_expired: 1, requests_unanswered_at_end: 1 },
    });
    const lines = summaryLines({ events: out.length, finals: [], analyzerStats: stats, losses: [] });
    expect(lines.join('\n')).toMatch(/analyzers left out: llm\.requests_expired=1, llm\.requests_unanswered_at_end=1/);
    expect(lines.at(-1)).not.toMatch(/nothing lost/);
    expect(new LlmAnalyzer({ emitStats: false }).stats.calls).toBe(0);
  });

  it('rejects bounds that are not positive numbers', () => {
    expect(() => new LlmAnalyzer({ pending: { maxPending: 0 } })).toThrow(/maxPending must be a positive number/);
    expect(() => new LlmAnalyzer({ pending: { timeoutMs: Number.NaN } })).toThrow(/requestTimeoutMs/);
  });
});
