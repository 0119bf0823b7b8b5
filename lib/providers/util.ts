/**
 * Helpers the API modules share: reading untyped JSON, tool calls, usage
 * fields, error objects.
 */
import type { SseEvent } from '../sse/parser';
import type { Json, LlmError, LlmRequest, LlmResponse, LlmToolCall, TokenUsage } from './types';

export const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The path of a request target without its query. */
export const pathOnly = (target: string): string => target.split('?')[0];

/** A stream event's name: the SSE `event:` field, else the data's `type`. */
export function eventName(ev: SseEvent, obj: unknown): string {
  return ev.event !== 'message' ? ev.event : ((isObj(obj) ? str(obj.type) : null) ?? '');
}

/** Text of a content value: a string, or parts with `text` (or nested `content`), joined with "\n". */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return arr(content)
    .map((p) => (isObj(p) ? (str(p.text) ?? str(p.content) ?? (typeof p.content === 'object' ? textOf(p.content) : '')) : ''))
    .filter((s) => s)
    .join('\n');
}

/** A tool's name and description as a request offers it. */
export function toolInfo(name: unknown, description: unknown): { name: string; description?: string } {
  const d = str(description);
  return { name: str(name) ?? '?', ...(d ? { description: d } : {}) };
}

/** The command a shell-like tool call asks to run, if any. */
export function toolCommand(args: unknown): string | undefined {
  if (typeof args === 'string') {
    try {
      return toolCommand(JSON.parse(args));
    } catch {
      return undefined;
    }
  }
  if (!isObj(args)) return undefined;
  for (const k of ['command', 'cmd', 'script', 'shell_command', 'commandLine']) {
    const v = args[k];
    if (typeof v === 'string' && v.trim()) return v;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string') && v.length) return (v as string[]).join(' ');
  }
  return undefined;
}

/** A tool call from its id, name and arguments (a JSON string is parsed when it can be). */
export function toolCall(id: unknown, name: unknown, args: unknown): LlmToolCall {
  let parsed = args;
  if (typeof args === 'string') {
    try {
      parsed = JSON.parse(args);
    } catch {
      parsed = args;
    }
  }
  const c: LlmToolCall = { id: str(id), name: str(name), arguments: parsed };
  const cmd = toolCommand(parsed);
  if (cmd) c.command = cmd;
  return c;
}

/** The fields of a usage mapping that the API reported; null when none. */
export function reported(f: TokenUsage): TokenUsage | null {
  const out: TokenUsage = {};
  for (const [k, v] of Object.entries(f) as Array<[keyof TokenUsage, number | undefined]>) if (v !== undefined) out[k] = v;
  return Object.keys(out).length ? out : null;
}

/** The `error` object of an answer (Anthropic, OpenAI and Google shapes). */
export function errorOf(body: unknown): LlmError | undefined {
  if (!isObj(body)) return undefined;
  const e = isObj(body.error) ? body.error : null;
  if (!e) return undefined;
  return { type: str(e.type) ?? str(e.status) ?? str(e.code) ?? (num(e.code) !== undefined ? String(e.code) : null), message: str(e.message) };
}

/** An empty answer carrying the body's error, if any: what every parseResponse starts from. */
export function emptyResponse(body: unknown): LlmResponse {
  const out: LlmResponse = { model: null, id: null, text: '', thinking: '', tool_calls: [], finish: null, usage: null };
  const err = errorOf(body);
  if (err) out.error = err;
  return out;
}

/** A request body as an object, and the normalised request's common start (model, stream flag). */
export function requestBase(body: unknown): { b: Json; out: LlmRequest } {
  const b = isObj(body) ? body : {};
  return { b, out: { model: str(b.model), system: null, messages: [], tools: [], stream: b.stream === true } };
}
