/**
 * Span attributes from agentsight's events, after the GenAI semantic
 * conventions: an llm event becomes a `chat {model}` span's attributes, an
 * EXEC a process span's, a tool call an `execute_tool {tool}` span's.
 */
import * as path from 'node:path';
import type { Attributes } from '@opentelemetry/api';
import type { LlmCallData } from '../analyzers/llm';
import { boundedJson, inputMessages, outputMessages, systemInstructions } from './content';
import { AS, ATTR, GEN_AI } from './semconv';

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Set only the attributes that have a value. */
export function put(a: Attributes, k: string, v: unknown): void {
  if (typeof v === 'number' ? Number.isFinite(v) : typeof v === 'string' ? v !== '' : typeof v === 'boolean' || Array.isArray(v))
    a[k] = v as Attributes[string];
}

/** What the metrics of a call are keyed by (the conventions' attributes for gen_ai.client.* metrics). */
export function chatMetricAttributes(d: LlmCallData): Attributes {
  const a: Attributes = {};
  put(a, GEN_AI.OPERATION, d['gen_ai.operation.name']);
  put(a, GEN_AI.PROVIDER, d['gen_ai.provider.name']);
  put(a, GEN_AI.REQUEST_MODEL, d['gen_ai.request.model'] ?? undefined);
  put(a, GEN_AI.RESPONSE_MODEL, d['gen_ai.response.model'] ?? undefined);
  put(a, ATTR.SERVER_ADDRESS, d['server.address'] ?? undefined);
  put(a, ATTR.SERVER_PORT, d['server.port']);
  put(a, ATTR.ERROR_TYPE, d['error.type']);
  return a;
}

/** The attributes of a `chat` span. requestMs: how long sending the request took (for the time to first chunk, measured from its start). */
export function chatAttributes(d: LlmCallData, requestMs: number): Attributes {
  const a = chatMetricAttributes(d);
  put(a, GEN_AI.RESPONSE_ID, d['gen_ai.response.id'] ?? undefined);
  const finish = d['gen_ai.response.finish_reasons'];
  if (Array.isArray(finish) && finish.length) a[GEN_AI.RESPONSE_FINISH_REASONS] = finish.map(String);
  if (d.streaming) a[GEN_AI.REQUEST_STREAM] = true;
  put(a, GEN_AI.REQUEST_MAX_TOKENS, d['gen_ai.request.max_tokens']);
  put(a, GEN_AI.REQUEST_TEMPERATURE, d['gen_ai.request.temperature']);
  put(a, GEN_AI.REQUEST_TOP_P, d['gen_ai.request.top_p']);
  put(a, GEN_AI.USAGE_INPUT, d['gen_ai.usage.input_tokens']);
  put(a, GEN_AI.USAGE_OUTPUT, d['gen_ai.usage.output_tokens']);
  put(a, GEN_AI.USAGE_CACHE_READ, d['gen_ai.usage.cache_read.input_tokens']);
  // the llm event's cache_creation is the conventions' cache_write
  put(a, GEN_AI.USAGE_CACHE_WRITE, d['gen_ai.usage.cache_creation.input_tokens']);
  put(a, GEN_AI.USAGE_CACHE_CREATION, d['gen_ai.usage.cache_creation.input_tokens']);
  put(a, GEN_AI.USAGE_REASONING, num(d.usage?.reasoning_tokens));
  const ttfc = num(d.time_to_first_chunk_ms);
  if (d.streaming && ttfc !== undefined) a[GEN_AI.RESPONSE_TIME_TO_FIRST_CHUNK] = (ttfc + requestMs) / 1000;
  put(a, ATTR.HTTP_STATUS, d['http.response.status_code'] ?? undefined);
  put(a, AS.COST_USD, num((d as Record<string, unknown>).cost_usd));
  put(a, AS.LLM_CALL_ID, d.call_id);
  put(a, AS.API, d.api);
  if (d.incomplete) a[AS.INCOMPLETE] = d.incomplete;
  return a;
}

/** The content attributes of a `chat` span (--otlp-content). */
export function chatContent(d: LlmCallData, maxChars: number): Attributes {
  const a: Attributes = {};
  let truncated = false;
  const set = (k: string, v: unknown[] | null) => {
    if (!v || v.length === 0) return;
    const b = boundedJson(v, maxChars);
    a[k] = b.json;
    truncated ||= b.truncated;
  };
  set(GEN_AI.SYSTEM_INSTRUCTIONS, systemInstructions(d.request?.system ?? null));
  set(GEN_AI.INPUT_MESSAGES, inputMessages(d.request?.messages ?? []));
  set(GEN_AI.OUTPUT_MESSAGES, outputMessages(d.response ?? { text: '', thinking: '', tool_calls: [] }, d['gen_ai.response.finish_reasons']?.[0]));
  if (truncated) a[AS.CONTENT_TRUNCATED] = true;
  return a;
}

/** What identifies a process: from its EXEC event. */
export interface ExecInfo {
  pid: number;
  ppid: number;
  uid: number | null;
  comm: string;
  filename: string | null;
  argv: string[];
  commandLine: string;
  container: string | null;
  pod: string | null;
  /** epoch ms */
  at: number;
}

const INTERPRETERS = /^(python[\d.]*|pypy[\d.]*|node(js)?|bun|deno|ruby[\d.]*|perl[\d.]*|php[\d.]*|sh|bash|dash|zsh|env)$/;

/** An agent's name: its executable's, or the script an interpreter runs (python3 agent.py: agent.py). */
export function agentName(info: Pick<ExecInfo, 'filename' | 'argv' | 'comm'>): string {
  const exe = path.basename(info.filename || info.argv[0] || info.comm || 'agent');
  if (INTERPRETERS.test(exe)) {
    const args = info.argv.slice(1);
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a === '-m' || a === '-c' || a === '-e') return i + 1 < args.length && a === '-m' ? args[i + 1] : exe;
      if (!a.startsWith('-') && !a.includes('=')) return path.basename(a);
    }
  }
  return exe;
}

/** The attributes of a process span (and of the agent on its root span). */
export function processAttributes(info: ExecInfo): Attributes {
  const a: Attributes = { [ATTR.PROCESS_PID]: info.pid, [ATTR.PROCESS_PARENT_PID]: info.ppid };
  if (info.filename) {
    a[ATTR.PROCESS_EXE_PATH] = info.filename;
    a[ATTR.PROCESS_EXE_NAME] = path.basename(info.filename);
  } else put(a, ATTR.PROCESS_EXE_NAME, info.comm);
  put(a, ATTR.PROCESS_COMMAND_LINE, info.commandLine);
  return a;
}

/** The exit of a process: its attributes and status. */
export function exitAttributes(d: Record<string, unknown>): { attrs: Attributes; error: string | null } {
  const a: Attributes = {};
  const code = num(d.exit_code);
  put(a, ATTR.PROCESS_EXIT_CODE, code);
  put(a, AS.SIGNAL, str(d.signal));
  const error = str(d.signal) ? `killed by ${d.signal}` : code ? `exit status ${code}` : null;
  return { attrs: a, error };
}
