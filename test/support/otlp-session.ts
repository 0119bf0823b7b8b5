/**
 * What a session exported as OTLP must look like (docs/otel.md): one trace,
 * the invoke_agent root, a chat span per llm event with its exact usage, an
 * execute_tool span per tool call, the commands a tool call caused below its
 * span, parents that exist, times inside the session.
 */
import { expect } from 'vitest';
import type { Event } from '../../lib/core/event';
import { redactText } from '../../lib/redact/rules';
import type { ReceivedSpan } from './otlp-receiver';

const INTERNAL = 1;
const CLIENT = 3;

export interface SessionTree {
  root: ReceivedSpan;
  chats: ReceivedSpan[];
  tools: ReceivedSpan[];
  execs: ReceivedSpan[];
  byId: Map<string, ReceivedSpan>;
}

/** The span tree of one session, checked against the events it came from. */
export function expectSessionTrace(spans: readonly ReceivedSpan[], events: readonly Event[], opts: { content?: boolean } = {}): SessionTree {
  expect(spans.length).toBeGreaterThan(0);
  const traces = new Set(spans.map((s) => s.traceId));
  expect(traces.size, 'one trace per session').toBe(1);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  expect(byId.size, 'span ids are unique').toBe(spans.length);
  const roots = spans.filter((s) => !s.parentSpanId);
  expect(roots.map((r) => r.name)).toHaveLength(1);
  const root = roots[0];
  expect(root.name).toMatch(/^invoke_agent /);
  expect(root.kind).toBe(INTERNAL);
  expect(root.attributes['gen_ai.operation.name']).toBe('invoke_agent');
  for (const s of spans) {
    if (s !== root) expect(byId.has(s.parentSpanId), `parent of ${s.name}`).toBe(true);
    expect(s.endNs >= s.startNs, `${s.name} ends after it starts`).toBe(true);
    // inside the session, and inside its parent
    expect(s.startNs >= root.startNs && s.endNs <= root.endNs, `${s.name} within the session`).toBe(true);
    const p = byId.get(s.parentSpanId);
    if (p) expect(s.startNs >= p.startNs && s.endNs <= p.endNs, `${s.name} within ${p.name}`).toBe(true);
    expect(s.attributes['session.id']).toBe(root.attributes['session.id']);
    expect(s.resource['session.id']).toBe(root.attributes['session.id']);
    expect(s.resource['service.name']).toBeTruthy();
    expect(s.resource['host.name']).toBeTruthy();
    const content = [
      'gen_ai.input.messages',
      'gen_ai.output.messages',
      'gen_ai.system_instructions',
      'gen_ai.tool.call.arguments',
      'gen_ai.tool.call.result',
    ].filter((k) => k in s.attributes);
    if (!opts.content) expect(content, `no content on ${s.name} without --otlp-content`).toEqual([]);
  }
  const llm = events.filter((e) => e.source === 'llm');
  const chats = spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat' || s.attributes['gen_ai.operation.name'] === 'generate_content');
  expect(chats.length, 'a chat span per LLM call').toBe(llm.length);
  for (const e of llm) {
    const d = e.data;
    const c = chats.find((s) => s.attributes['agentsight.llm.call_id'] === d.call_id);
    expect(c, `chat span of ${d.call_id}`).toBeDefined();
    if (!c) continue;
    expect(c.kind).toBe(CLIENT);
    expect(c.parentSpanId).toBe(root.spanId);
    expect(c.name).toBe(`${d['gen_ai.operation.name']} ${d['gen_ai.request.model'] ?? d['gen_ai.response.model']}`);
    for (const k of [
      'gen_ai.provider.name',
      'gen_ai.request.model',
      'gen_ai.response.model',
      'gen_ai.response.id',
      'gen_ai.usage.input_tokens',
      'gen_ai.usage.output_tokens',
      'gen_ai.usage.cache_read.input_tokens',
      'gen_ai.usage.cache_creation.input_tokens',
      'http.response.status_code',
      'server.address',
      'server.port',
    ])
      if (d[k] !== undefined && d[k] !== null) expect(c.attributes[k], k).toEqual(d[k]);
    expect(c.attributes['gen_ai.response.finish_reasons']).toEqual(d['gen_ai.response.finish_reasons']);
    // the event's cache_creation is the conventions' cache_write
    if (d['gen_ai.usage.cache_creation.input_tokens'] !== undefined)
      expect(c.attributes['gen_ai.usage.cache_write.input_tokens']).toBe(d['gen_ai.usage.cache_creation.input_tokens']);
    if (d.streaming) expect(c.attributes['gen_ai.request.stream']).toBe(true);
    // the span lasts at least what the answer took
    const ms = Number(c.endNs - c.startNs) / 1e6;
    expect(ms + 1).toBeGreaterThanOrEqual(Number(d.latency_ms ?? 0));
    // and ends when the llm event happened (kernel time, to the millisecond of its timestamp)
    expect(Math.abs(Number(c.endNs / 1_000_000n) - e.timestamp)).toBeLessThanOrEqual(1);
  }
  const tools = spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'execute_tool');
  const calls = llm.flatMap((e) => (e.data.response.tool_calls as { id: string; name: string }[]).map((t) => ({ ...t, call: e.data.call_id })));
  expect(tools.length, 'an execute_tool span per tool call').toBe(calls.length);
  for (const t of calls) {
    const s = tools.find((x) => x.attributes['gen_ai.tool.call.id'] === t.id);
    expect(s, `execute_tool span of ${t.id}`).toBeDefined();
    expect(s?.name).toBe(`execute_tool ${t.name}`);
    expect(s?.attributes['gen_ai.tool.name']).toBe(t.name);
    expect(s?.parentSpanId).toBe(root.spanId);
  }
  const execs = spans.filter((s) => s.name.startsWith('exec '));
  for (const e of events.filter((x) => x.source === 'process' && x.data.event === 'EXEC' && x.data.llm_call_id)) {
    const s = execs.find((x) => x.attributes['process.pid'] === e.pid);
    expect(s, `span of linked exec ${e.data.full_command}`).toBeDefined();
    if (!s) continue;
    // masked on the way out, whatever the chain did
    expect(s.attributes['process.command_line']).toBe(redactText(e.data.full_command));
    // below the tool call that asked for it
    let p = byId.get(s.parentSpanId);
    while (p && p.attributes['gen_ai.operation.name'] !== 'execute_tool') p = byId.get(p.parentSpanId);
    expect(p?.attributes['gen_ai.tool.call.id'], `${e.data.full_command} under its tool call`).toBe(e.data.tool_call_id);
    const exit = events.find((x) => x.source === 'process' && x.data.event === 'EXIT' && x.pid === e.pid);
    if (exit) expect(s.attributes['process.exit.code']).toBe(exit.data.exit_code);
  }
  // the root adds up the calls
  const sum = (k: string) => llm.reduce((a, e) => a + Number(e.data[k] ?? 0), 0);
  if (llm.length) {
    expect(root.attributes['gen_ai.usage.input_tokens']).toBe(sum('gen_ai.usage.input_tokens'));
    expect(root.attributes['gen_ai.usage.output_tokens']).toBe(sum('gen_ai.usage.output_tokens'));
    expect(root.attributes['gen_ai.provider.name']).toBe(llm[0].data['gen_ai.provider.name']);
  }
  return { root, chats, tools, execs, byId };
}
