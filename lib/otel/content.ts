/**
 * What a call said, in the structured form of the GenAI conventions
 * (gen_ai.input.messages, gen_ai.output.messages, gen_ai.system_instructions:
 * messages of typed parts, as JSON strings), built from an llm event that
 * has already been masked. Exported only with --otlp-content.
 *
 * Agents resend the whole conversation with every call, so an attribute is
 * bounded: the oldest messages go first, then long parts are cut; the span
 * then says agentsight.content.truncated.
 */
import type { LlmMessage, LlmToolCall } from '../providers/types';

type Part =
  | { type: 'text'; content: string }
  | { type: 'reasoning'; content: string }
  | { type: 'tool_call'; id: string | null; name: string; arguments: unknown }
  | { type: 'tool_call_response'; id: string | null; response: unknown };

interface Message {
  role: string;
  parts: Part[];
  finish_reason?: string;
}

/** The conventions' finish reasons for the APIs' own. */
const FINISH: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  stop: 'stop',
  STOP: 'stop',
  completed: 'stop',
  tool_use: 'tool_call',
  tool_calls: 'tool_call',
  function_call: 'tool_call',
  max_tokens: 'length',
  length: 'length',
  MAX_TOKENS: 'length',
  content_filter: 'content_filter',
  SAFETY: 'content_filter',
  refusal: 'content_filter',
};

export function finishReason(raw: string | undefined): string {
  if (!raw) return 'stop';
  return FINISH[raw] ?? raw;
}

function toolCallPart(t: LlmToolCall): Part {
  return { type: 'tool_call', id: t.id, name: t.name ?? '', arguments: t.arguments ?? null };
}

export function inputMessages(messages: readonly LlmMessage[]): Message[] {
  return messages.map((m) => {
    const parts: Part[] = [];
    if (m.content) parts.push({ type: 'text', content: m.content });
    for (const t of m.tool_calls ?? []) parts.push(toolCallPart(t));
    for (const r of m.tool_results ?? []) parts.push({ type: 'tool_call_response', id: r.tool_call_id, response: r.content });
    return { role: m.role, parts };
  });
}

export function outputMessages(r: { text: string; thinking: string; tool_calls: readonly LlmToolCall[] }, finish: string | undefined): Message[] {
  const parts: Part[] = [];
  if (r.thinking) parts.push({ type: 'reasoning', content: r.thinking });
  if (r.text) parts.push({ type: 'text', content: r.text });
  for (const t of r.tool_calls) parts.push(toolCallPart(t));
  return [{ role: 'assistant', parts, finish_reason: finishReason(finish) }];
}

export function systemInstructions(system: string | null): Part[] | null {
  return system ? [{ type: 'text', content: system }] : null;
}

function clipPart(p: Part, max: number): Part {
  const cut = (s: string) => (s.length > max ? `${s.slice(0, max)}…[${s.length - max} more characters]` : s);
  if (p.type === 'text' || p.type === 'reasoning') return { ...p, content: cut(p.content) };
  if (p.type === 'tool_call_response' && typeof p.response === 'string') return { ...p, response: cut(p.response) };
  if (p.type === 'tool_call') {
    const a = JSON.stringify(p.arguments ?? null);
    return a.length > max ? { ...p, arguments: cut(a) } : p;
  }
  return p;
}

/**
 * A JSON attribute of at most maxChars: whole when it fits; else the latest
 * messages that fit (at least the last one), their long parts cut.
 */
export function boundedJson(value: unknown[], maxChars: number): { json: string; truncated: boolean } {
  let json = JSON.stringify(value);
  if (json.length <= maxChars) return { json, truncated: false };
  let items = [...value];
  while (items.length > 1 && JSON.stringify(items).length > maxChars) items = items.slice(1);
  json = JSON.stringify(items);
  for (let max = Math.floor(maxChars / 2); json.length > maxChars && max >= 16; max = Math.floor(max / 2)) {
    items = items.map((m) => {
      const msg = m as Message | Part;
      return 'parts' in msg ? { ...msg, parts: msg.parts.map((p) => clipPart(p, max)) } : clipPart(msg as Part, max);
    });
    json = JSON.stringify(items);
  }
  return { json: json.length > maxChars ? json.slice(0, maxChars) : json, truncated: true };
}

/** A value (tool arguments or result) as an attribute: strings as they are, anything else as JSON, bounded. */
export function boundedValue(v: unknown, maxChars: number): { text: string; truncated: boolean } {
  const s = typeof v === 'string' ? v : JSON.stringify(v ?? null);
  return s.length > maxChars ? { text: `${s.slice(0, maxChars)}…[${s.length - maxChars} more characters]`, truncated: true } : { text: s, truncated: false };
}
