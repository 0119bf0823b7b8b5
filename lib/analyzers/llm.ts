/**
 * LlmAnalyzer: one `llm` event per LLM API call, built from the HTTP request
 * (HTTPParser), and the merged stream (SSEProcessor) or the JSON response.
 * Understands the Anthropic Messages API, OpenAI Chat Completions and
 * Responses (and OpenAI-compatible servers), and Gemini generateContent /
 * streamGenerateContent. Attribute names follow the OpenTelemetry GenAI
 * semantic conventions where one exists.
 *
 * It also relates what the model asked for to what happened: when a process
 * of the calling agent's tree execs a command that a tool call of an earlier
 * response asked to run, the EXEC event is annotated with that call.
 *
 * Place it after HTTPParser and SSEProcessor, on a stream that also carries
 * the process events (AgentRunner's global analyzers).
 */
import type { Analyzer, AnalyzerContext } from '../core/analyzer';
import { derivedEvent, type Event } from '../core/event';
import { StreamMerger, usageOf, type MergedUsage, type SseApi } from '../sse/stream-merger';
import { SseParser, type SseEvent } from '../sse/parser';

export type LlmApi = 'anthropic.messages' | 'openai.chat_completions' | 'openai.responses' | 'gemini.generate_content';

export interface LlmToolCall {
  id: string | null;
  name: string | null;
  arguments: unknown;
  /** the command a shell-like tool was asked to run */
  command?: string;
}

/** Token usage; only fields the API reported are present. */
export type LlmUsage = MergedUsage;

export interface LlmMessage {
  role: string;
  /** text content (text parts joined) */
  content: string;
  tool_calls?: LlmToolCall[];
  /** tool results carried by this message */
  tool_results?: { tool_call_id: string | null; content: string; is_error?: boolean }[];
}

export interface LlmCallData extends Record<string, unknown> {
  event: 'LLM_CALL';
  call_id: string;
  api: LlmApi;
  'gen_ai.provider.name': string;
  'gen_ai.operation.name': string;
  'gen_ai.request.model': string | null;
  'gen_ai.response.model'?: string | null;
  'gen_ai.response.id'?: string | null;
  'gen_ai.response.finish_reasons': string[];
  'gen_ai.usage.input_tokens'?: number;
  'gen_ai.usage.output_tokens'?: number;
  'gen_ai.usage.cache_read.input_tokens'?: number;
  'gen_ai.usage.cache_creation.input_tokens'?: number;
  'gen_ai.request.max_tokens'?: number;
  'gen_ai.request.temperature'?: number;
  'gen_ai.request.top_p'?: number;
  'server.address': string | null;
  'server.port'?: number;
  'http.response.status_code': number | null;
  'error.type'?: string;
  streaming: boolean;
  endpoint: { method: string; host: string | null; path: string };
  request: { system: string | null; messages: LlmMessage[]; tools: { name: string; description?: string }[] };
  response: { text: string; thinking: string; tool_calls: LlmToolCall[] };
  /** usage as the API reported it (input_tokens excludes cache tokens for Anthropic) */
  usage: LlmUsage | null;
  error?: { type: string | null; message: string | null };
  latency_ms: number | null;
  time_to_first_chunk_ms: number | null;
  conn_id: string;
  http_seq: number;
  /** the stream ended without its terminal event (idle timeout, connection closed, ...) */
  incomplete?: string;
}

export interface LlmAnalyzerOptions {
  /** How long after a response its tool calls can be linked to execs (ms, default 10 min). */
  linkWindowMs?: number;
  /** Characters kept per message / text field (default 1 MiB). */
  maxTextChars?: number;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Which LLM API an HTTP request is, from its method and path. */
export function detectApi(method: string, path: string): { api: LlmApi; model?: string; streaming?: boolean } | null {
  if (method !== 'POST') return null;
  const p = path.split('?')[0];
  if (/\/messages$/.test(p) && !/\/count_tokens$/.test(p)) return { api: 'anthropic.messages' };
  if (/\/chat\/completions$/.test(p)) return { api: 'openai.chat_completions' };
  if (/\/responses$/.test(p)) return { api: 'openai.responses' };
  const g = /\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(p);
  if (g) return { api: 'gemini.generate_content', model: decodeURIComponent(g[1]), streaming: g[2] === 'streamGenerateContent' };
  return null;
}

/** OpenTelemetry provider name from the host, else from the API shape. */
export function providerName(api: LlmApi, host: string | null): string {
  const h = (host ?? '').toLowerCase().split(':')[0];
  if (h.endsWith('anthropic.com')) return 'anthropic';
  if (h.endsWith('openai.azure.com')) return 'azure.ai.openai';
  if (h.endsWith('openai.com')) return 'openai';
  if (h.endsWith('googleapis.com')) return h.includes('aiplatform') ? 'gcp.vertex_ai' : 'gcp.gemini';
  if (h.endsWith('x.ai')) return 'x_ai';
  if (h.endsWith('deepseek.com')) return 'deepseek';
  if (h.endsWith('mistral.ai')) return 'mistral_ai';
  if (h.endsWith('groq.com')) return 'groq';
  return { 'anthropic.messages': 'anthropic', 'openai.chat_completions': 'openai', 'openai.responses': 'openai', 'gemini.generate_content': 'gcp.gemini' }[api];
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

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return arr(content)
    .map((p) => (isObj(p) ? (str(p.text) ?? str(p.content) ?? (typeof p.content === 'object' ? textOf(p.content) : '')) : ''))
    .filter((s) => s)
    .join('\n');
}

function call(id: unknown, name: unknown, args: unknown): LlmToolCall {
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

interface ParsedRequest {
  model: string | null;
  system: string | null;
  messages: LlmMessage[];
  tools: { name: string; description?: string }[];
  stream: boolean;
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
}

/** The parts of a request body every API has, normalised. */
export function parseRequest(api: LlmApi, body: unknown): ParsedRequest {
  const b = isObj(body) ? body : {};
  const out: ParsedRequest = { model: str(b.model), system: null, messages: [], tools: [], stream: b.stream === true };
  switch (api) {
    case 'anthropic.messages': {
      out.system = typeof b.system === 'string' ? b.system : b.system ? textOf(b.system) : null;
      for (const m of arr(b.messages)) {
        if (!isObj(m)) continue;
        const msg: LlmMessage = { role: str(m.role) ?? '?', content: textOf(arr(m.content).filter((p) => isObj(p) && p.type === 'text')) };
        if (typeof m.content === 'string') msg.content = m.content;
        const uses = arr(m.content).filter((p) => isObj(p) && p.type === 'tool_use') as Json[];
        if (uses.length) msg.tool_calls = uses.map((u) => call(u.id, u.name, u.input));
        const results = arr(m.content).filter((p) => isObj(p) && p.type === 'tool_result') as Json[];
        if (results.length)
          msg.tool_results = results.map((r) => ({ tool_call_id: str(r.tool_use_id), content: textOf(r.content), ...(r.is_error === true ? { is_error: true } : {}) }));
        out.messages.push(msg);
      }
      out.tools = arr(b.tools).filter(isObj).map((t) => ({ name: str(t.name) ?? '?', ...(str(t.description) ? { description: str(t.description) as string } : {}) }));
      out.max_tokens = num(b.max_tokens);
      break;
    }
    case 'openai.chat_completions': {
      const sys: string[] = [];
      for (const m of arr(b.messages)) {
        if (!isObj(m)) continue;
        const role = str(m.role) ?? '?';
        if (role === 'system' || role === 'developer') {
          sys.push(textOf(m.content));
          continue;
        }
        const msg: LlmMessage = { role, content: textOf(m.content) };
        const tcs = arr(m.tool_calls).filter(isObj);
        if (tcs.length) msg.tool_calls = tcs.map((t) => call(t.id, isObj(t.function) ? t.function.name : null, isObj(t.function) ? t.function.arguments : null));
        if (role === 'tool') msg.tool_results = [{ tool_call_id: str(m.tool_call_id), content: textOf(m.content) }];
        out.messages.push(msg);
      }
      out.system = sys.length ? sys.join('\n') : null;
      out.tools = arr(b.tools)
        .filter(isObj)
        .map((t) => (isObj(t.function) ? t.function : t))
        .map((f) => ({ name: str(f.name) ?? '?', ...(str(f.description) ? { description: str(f.description) as string } : {}) }));
      out.max_tokens = num(b.max_completion_tokens) ?? num(b.max_tokens);
      break;
    }
    case 'openai.responses': {
      out.system = str(b.instructions);
      if (typeof b.input === 'string') out.messages.push({ role: 'user', content: b.input });
      for (const it of arr(b.input)) {
        if (!isObj(it)) continue;
        if (it.type === 'function_call') out.messages.push({ role: 'assistant', content: '', tool_calls: [call(it.call_id, it.name, it.arguments)] });
        else if (it.type === 'function_call_output')
          out.messages.push({ role: 'tool', content: '', tool_results: [{ tool_call_id: str(it.call_id), content: typeof it.output === 'string' ? it.output : JSON.stringify(it.output) }] });
        else {
          const role = str(it.role) ?? 'user';
          if (role === 'system' || role === 'developer') out.system = [out.system, textOf(it.content)].filter(Boolean).join('\n');
          else out.messages.push({ role, content: textOf(it.content) });
        }
      }
      out.tools = arr(b.tools)
        .filter(isObj)
        .map((t) => ({ name: str(t.name) ?? str(t.type) ?? '?', ...(str(t.description) ? { description: str(t.description) as string } : {}) }));
      out.max_tokens = num(b.max_output_tokens);
      break;
    }
    case 'gemini.generate_content': {
      out.system = isObj(b.systemInstruction) ? textOf(b.systemInstruction.parts) : null;
      for (const c of arr(b.contents)) {
        if (!isObj(c)) continue;
        const parts = arr(c.parts).filter(isObj);
        const msg: LlmMessage = { role: str(c.role) ?? 'user', content: parts.map((p) => str(p.text) ?? '').filter(Boolean).join('\n') };
        const fcs = parts.filter((p) => isObj(p.functionCall)).map((p) => p.functionCall as Json);
        if (fcs.length) msg.tool_calls = fcs.map((f) => call(f.id ?? null, f.name, f.args));
        const frs = parts.filter((p) => isObj(p.functionResponse)).map((p) => p.functionResponse as Json);
        if (frs.length) msg.tool_results = frs.map((f) => ({ tool_call_id: str(f.id) ?? str(f.name), content: JSON.stringify(f.response ?? null) }));
        out.messages.push(msg);
      }
      for (const t of arr(b.tools).filter(isObj))
        for (const f of arr(t.functionDeclarations).filter(isObj))
          out.tools.push({ name: str(f.name) ?? '?', ...(str(f.description) ? { description: str(f.description) as string } : {}) });
      const gc = isObj(b.generationConfig) ? b.generationConfig : {};
      out.max_tokens = num(gc.maxOutputTokens);
      out.temperature = num(gc.temperature);
      out.top_p = num(gc.topP);
      return out;
    }
  }
  out.temperature = num(b.temperature);
  out.top_p = num(b.top_p);
  return out;
}

interface ParsedResponse {
  model: string | null;
  id: string | null;
  text: string;
  thinking: string;
  tool_calls: LlmToolCall[];
  finish: string | null;
  usage: LlmUsage | null;
  error?: { type: string | null; message: string | null };
}

/** The usage mapping of each API is the stream merger's (one definition for JSON and SSE answers). */
const SSE_API: Record<LlmApi, SseApi> = {
  'anthropic.messages': 'messages',
  'openai.chat_completions': 'chat.completions',
  'openai.responses': 'responses',
  'gemini.generate_content': 'generateContent',
};

function usageFrom(api: LlmApi, u: unknown): LlmUsage | null {
  return usageOf(SSE_API[api], u);
}

function errorFrom(body: unknown): { type: string | null; message: string | null } | undefined {
  if (!isObj(body)) return undefined;
  const e = isObj(body.error) ? body.error : null;
  if (!e) return undefined;
  return { type: str(e.type) ?? str(e.status) ?? str(e.code) ?? (num(e.code) !== undefined ? String(e.code) : null), message: str(e.message) };
}

/** A complete (non-streamed) JSON response, normalised. */
export function parseResponse(api: LlmApi, body: unknown): ParsedResponse {
  const out: ParsedResponse = { model: null, id: null, text: '', thinking: '', tool_calls: [], finish: null, usage: null };
  const err = errorFrom(body);
  if (err) out.error = err;
  // Gemini without alt=sse streams a JSON array of partial responses
  if (api === 'gemini.generate_content' && Array.isArray(body)) {
    for (const part of body) {
      const p = parseResponse(api, part);
      out.model = p.model ?? out.model;
      out.id = p.id ?? out.id;
      out.text += p.text;
      out.thinking += p.thinking;
      out.tool_calls.push(...p.tool_calls);
      out.finish = p.finish ?? out.finish;
      out.usage = p.usage ?? out.usage;
      out.error = p.error ?? out.error;
    }
    return out;
  }
  if (!isObj(body)) return out;
  switch (api) {
    case 'anthropic.messages':
      out.model = str(body.model);
      out.id = str(body.id);
      for (const b of arr(body.content).filter(isObj)) {
        if (b.type === 'text') out.text += str(b.text) ?? '';
        else if (b.type === 'thinking') out.thinking += str(b.thinking) ?? '';
        else if (b.type === 'tool_use') out.tool_calls.push(call(b.id, b.name, b.input));
      }
      out.finish = str(body.stop_reason);
      out.usage = usageFrom(api, body.usage);
      break;
    case 'openai.chat_completions': {
      out.model = str(body.model);
      out.id = str(body.id);
      const ch = arr(body.choices).filter(isObj)[0];
      const m = ch && isObj(ch.message) ? ch.message : {};
      out.text = textOf(m.content);
      out.thinking = str(m.reasoning_content) ?? str(m.reasoning) ?? '';
      out.tool_calls = arr(m.tool_calls)
        .filter(isObj)
        .map((t) => call(t.id, isObj(t.function) ? t.function.name : null, isObj(t.function) ? t.function.arguments : null));
      out.finish = ch ? str(ch.finish_reason) : null;
      out.usage = usageFrom(api, body.usage);
      break;
    }
    case 'openai.responses':
      out.model = str(body.model);
      out.id = str(body.id);
      for (const it of arr(body.output).filter(isObj)) {
        if (it.type === 'message') out.text += arr(it.content).filter(isObj).map((c) => str(c.text) ?? '').join('');
        else if (it.type === 'reasoning') out.thinking += arr(it.summary).filter(isObj).map((c) => str(c.text) ?? '').join('\n');
        else if (it.type === 'function_call') out.tool_calls.push(call(it.call_id, it.name, it.arguments));
      }
      out.finish = str(body.status);
      out.usage = usageFrom(api, body.usage);
      break;
    case 'gemini.generate_content': {
      out.model = str(body.modelVersion);
      out.id = str(body.responseId);
      const c = arr(body.candidates).filter(isObj)[0];
      const parts = c && isObj(c.content) ? arr(c.content.parts).filter(isObj) : [];
      for (const p of parts) {
        if (isObj(p.functionCall)) out.tool_calls.push(call(p.functionCall.id ?? null, p.functionCall.name, p.functionCall.args));
        else if (p.thought === true) out.thinking += str(p.text) ?? '';
        else out.text += str(p.text) ?? '';
      }
      out.finish = c ? str(c.finishReason) : null;
      out.usage = usageFrom(api, body.usageMetadata);
      break;
    }
  }
  return out;
}

function parseBody(d: Record<string, unknown>): unknown {
  if (typeof d.body !== 'string' || d.body === '') return undefined;
  const text = d.body_encoding === 'base64' ? Buffer.from(d.body, 'base64').toString('utf8') : d.body;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface Pending {
  /** assigned when the request is seen, so tool calls can be linked while the answer still streams */
  callId: string;
  req: Event;
  api: LlmApi;
  /** Incremental view of a streamed answer: tool calls become known as soon as they are complete. */
  early?: { parser: SseParser; merger: StreamMerger; registered: Set<string> };
  parsed: ParsedRequest;
  host: string | null;
  path: string;
  method: string;
  streamedResponse: boolean;
}

interface ToolWait {
  callId: string;
  tool: LlmToolCall;
  agentPid: number;
  monoNs: number;
}

const MAX_PENDING = 1024;
const MAX_TREE = 200_000;

export class LlmAnalyzer implements Analyzer {
  readonly name = 'llm';
  private readonly pending = new Map<string, Pending>();
  private readonly tools: ToolWait[] = [];
  /** pid -> parent pid, from EXEC/FORK events */
  private readonly parents = new Map<number, number>();
  /** pid -> the tool call its exec (or an ancestor's) was linked to */
  private readonly linked = new Map<number, { llm_call_id: string; tool_call_id: string | null; tool_name: string | null }>();
  private calls = 0;
  private readonly linkWindowNs: number;
  private readonly maxText: number;
  /** Counters: calls, tool links, requests never answered */
  readonly stats = { calls: 0, linked_execs: 0, unanswered: 0, unparsed_bodies: 0 };

  constructor(opts: LlmAnalyzerOptions = {}) {
    this.linkWindowNs = (opts.linkWindowMs ?? 600_000) * 1e6;
    this.maxText = opts.maxTextChars ?? 1 << 20;
  }

  async *process(input: AsyncIterable<Event>, _ctx: AnalyzerContext): AsyncGenerator<Event> {
    for await (const e of input) {
      if (e.source === 'process') {
        this.onProcess(e);
        yield e;
        continue;
      }
      yield e;
      const llm = this.onEvent(e);
      if (llm) yield llm;
    }
    this.stats.unanswered += this.pending.size;
  }

  private clip(s: string): string {
    return s.length > this.maxText ? `${s.slice(0, this.maxText)}…[${s.length - this.maxText} more characters]` : s;
  }

  private onEvent(e: Event): Event | null {
    const d = e.data as Record<string, unknown>;
    if (e.source === 'http' && d.type === 'request' && d.role !== 'server') {
      const method = String(d.method ?? '');
      const path = String(d.path ?? '');
      const det = detectApi(method, path);
      if (!det) return null;
      const body = parseBody(d);
      if (body === undefined) this.stats.unparsed_bodies++;
      const parsed = parseRequest(det.api, body);
      if (det.model && !parsed.model) parsed.model = det.model;
      if (det.streaming !== undefined) parsed.stream = det.streaming;
      if (this.pending.size >= MAX_PENDING) {
        const first = this.pending.keys().next().value as string;
        this.pending.delete(first);
        this.stats.unanswered++;
      }
      this.calls++;
      this.pending.set(`${d.conn_id}#${d.seq}`, {
        callId: `llm-${e.pid}-${this.calls}`,
        req: e,
        api: det.api,
        parsed,
        host: (d.host as string | null) ?? null,
        path,
        method,
        streamedResponse: false,
      });
      return null;
    }
    if (e.source === 'http' && d.type === 'response_headers') {
      const p = this.pending.get(`${d.conn_id}#${d.seq}`);
      if (p && String(d.content_type ?? '').includes('text/event-stream')) {
        p.streamedResponse = true;
        p.early = { parser: new SseParser(), merger: new StreamMerger(p.path), registered: new Set() };
      }
      return null;
    }
    if (e.source === 'http' && d.type === 'body_chunk') {
      const p = this.pending.get(`${d.conn_id}#${d.seq}`);
      if (p?.early) this.feedEarly(p, e, d.data_encoding === 'base64' ? Buffer.from(String(d.data), 'base64').toString('utf8') : String(d.data ?? ''));
      return null;
    }
    if (e.source === 'http' && d.type === 'response') {
      const key = `${d.conn_id}#${d.seq}`;
      const p = this.pending.get(key);
      if (!p) return null;
      if (String(d.content_type ?? '').includes('text/event-stream')) {
        // the merged stream (sse event) carries the answer; keep the status for an error without a stream
        p.streamedResponse = true;
        if (typeof d.status_code === 'number' && d.status_code >= 400) {
          this.pending.delete(key);
          return this.build(e, p, parseResponse(p.api, parseBody(d)), d.status_code, d.latency_ms as number | null, d.ttfb_ms as number | null);
        }
        return null;
      }
      this.pending.delete(key);
      const body = parseBody(d);
      const r = parseResponse(p.api, body);
      return this.build(e, p, r, (d.status_code as number) ?? null, (d.latency_ms as number) ?? null, (d.ttfb_ms as number) ?? null, d.incomplete ? String(d.incomplete_reason ?? 'incomplete') : undefined);
    }
    if (e.source === 'sse' && d.type === 'merged') {
      const key = `${d.conn_id}#${d.seq}`;
      const p = this.pending.get(key);
      if (!p) return null;
      this.pending.delete(key);
      const tool_calls = (Array.isArray(d.tool_calls) ? d.tool_calls : []).filter(isObj).map((t) => call(t.id, t.name, t.arguments ?? t.arguments_raw));
      const errors = Array.isArray(d.errors) ? d.errors : [];
      const r: ParsedResponse = {
        model: str(d.model),
        id: str(d.response_id),
        text: str(d.text) ?? '',
        thinking: str(d.thinking) ?? '',
        tool_calls,
        finish: str(d.stop_reason),
        usage: isObj(d.usage) ? (d.usage as LlmUsage) : null,
      };
      if (errors.length) r.error = errorFrom(isObj(errors[0]) && isObj(errors[0].error) ? errors[0] : { error: errors[0] }) ?? { type: null, message: JSON.stringify(errors[0]) };
      const incomplete = d.end_reason !== 'terminal' && d.end_reason !== 'end_of_body' ? String(d.end_reason) : undefined;
      return this.build(e, p, r, (d.status_code as number) ?? null, (d.duration_ms as number) ?? null, (d.time_to_first_event_ms as number) ?? null, incomplete);
    }
    return null;
  }

  private build(
    at: Event,
    p: Pending,
    r: ParsedResponse,
    status: number | null,
    latency: number | null,
    ttfc: number | null,
    incomplete?: string,
  ): Event {
    this.stats.calls++;
    const req = p.req;
    const callId = p.callId;
    const u = r.usage;
    const hostPort = (p.host ?? '').split(':');
    const data: LlmCallData = {
      event: 'LLM_CALL',
      call_id: callId,
      api: p.api,
      'gen_ai.provider.name': providerName(p.api, p.host),
      'gen_ai.operation.name': p.api === 'gemini.generate_content' ? 'generate_content' : 'chat',
      'gen_ai.request.model': p.parsed.model,
      'gen_ai.response.model': r.model,
      'gen_ai.response.id': r.id,
      'gen_ai.response.finish_reasons': r.finish ? [r.finish] : [],
      'server.address': hostPort[0] || null,
      'http.response.status_code': status,
      streaming: p.streamedResponse || p.parsed.stream,
      endpoint: { method: p.method, host: p.host, path: p.path },
      request: {
        system: p.parsed.system === null ? null : this.clip(p.parsed.system),
        messages: p.parsed.messages.map((m) => ({ ...m, content: this.clip(m.content) })),
        tools: p.parsed.tools,
      },
      response: { text: this.clip(r.text), thinking: this.clip(r.thinking), tool_calls: r.tool_calls },
      usage: u,
      latency_ms: latency,
      time_to_first_chunk_ms: ttfc,
      conn_id: String(req.data.conn_id),
      http_seq: Number(req.data.seq),
    };
    if (hostPort[1]) data['server.port'] = Number(hostPort[1]);
    if (u) {
      // OpenTelemetry: input_tokens includes cached tokens (Anthropic reports them apart)
      const cached = p.api === 'anthropic.messages' ? (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0) : 0;
      if (u.input_tokens !== undefined) data['gen_ai.usage.input_tokens'] = u.input_tokens + cached;
      if (u.output_tokens !== undefined) data['gen_ai.usage.output_tokens'] = u.output_tokens;
      if (u.cache_read_input_tokens !== undefined) data['gen_ai.usage.cache_read.input_tokens'] = u.cache_read_input_tokens;
      if (u.cache_creation_input_tokens !== undefined) data['gen_ai.usage.cache_creation.input_tokens'] = u.cache_creation_input_tokens;
    }
    if (p.parsed.max_tokens !== undefined) data['gen_ai.request.max_tokens'] = p.parsed.max_tokens;
    if (p.parsed.temperature !== undefined) data['gen_ai.request.temperature'] = p.parsed.temperature;
    if (p.parsed.top_p !== undefined) data['gen_ai.request.top_p'] = p.parsed.top_p;
    if (r.error || (status !== null && status >= 400)) {
      data.error = r.error ?? { type: null, message: null };
      data['error.type'] = r.error?.type ?? String(status);
    }
    if (incomplete) data.incomplete = incomplete;
    const monoNs = at.mono_ns ?? 0;
    r.tool_calls.forEach((t, i) => {
      if (!p.early?.registered.has(t.id ?? `#${i}`)) this.tools.push({ callId, tool: t, agentPid: req.pid, monoNs });
    });
    return derivedEvent('llm', at, req, data);
  }

  /**
   * Follow a streamed answer as it arrives: a tool call is registered for
   * linking as soon as its block is complete, because agents (Claude Code
   * among them) start running a tool before the rest of the answer arrives.
   */
  private feedEarly(p: Pending, e: Event, text: string): void {
    const early = p.early as NonNullable<Pending['early']>;
    let events: SseEvent[];
    try {
      events = early.parser.push(text);
    } catch {
      return;
    }
    for (const ev of events) {
      early.merger.add(ev);
      if (!toolCallsComplete(ev)) continue;
      early.merger.result().tool_calls.forEach((t, i) => {
        const key = t.id ?? `#${i}`;
        if (early.registered.has(key) || t.arguments === null || t.name === null) return;
        early.registered.add(key);
        this.tools.push({ callId: p.callId, tool: call(t.id, t.name, t.arguments), agentPid: p.req.pid, monoNs: e.mono_ns ?? 0 });
      });
    }
  }

  private descends(pid: number, ancestor: number): boolean {
    let p: number | undefined = pid;
    for (let i = 0; i < 64 && p !== undefined && p > 1; i++) {
      if (p === ancestor) return true;
      p = this.parents.get(p);
    }
    return false;
  }

  private onProcess(e: Event): void {
    const d = e.data as Record<string, unknown>;
    if (d.event === 'FORK' || d.event === 'EXEC') {
      if (typeof d.ppid === 'number') {
        if (this.parents.size >= MAX_TREE) this.parents.delete(this.parents.keys().next().value as number);
        this.parents.set(e.pid, d.ppid);
      }
    }
    if (d.event === 'FORK') {
      const l = this.linked.get(d.ppid as number);
      if (l) this.linked.set(e.pid, l);
      return;
    }
    if (d.event === 'EXIT') {
      this.linked.delete(e.pid);
      return;
    }
    if (d.event !== 'EXEC') return;
    const now = e.mono_ns ?? 0;
    while (this.tools.length && now - this.tools[0].monoNs > this.linkWindowNs) this.tools.shift();
    // a process forked by an already linked one belongs to the same tool call
    const inherited = this.linked.get(e.pid) ?? this.linked.get(d.ppid as number);
    let link = inherited ?? null;
    if (!link) {
      const cmdline = normalise(String(d.full_command ?? ''));
      for (let i = this.tools.length - 1; i >= 0; i--) {
        const t = this.tools[i];
        if (!t.tool.command || !this.descends(e.pid, t.agentPid) || e.pid === t.agentPid) continue;
        if (commandMatches(cmdline, normalise(t.tool.command))) {
          link = { llm_call_id: t.callId, tool_call_id: t.tool.id, tool_name: t.tool.name };
          break;
        }
      }
    }
    if (link) {
      this.linked.set(e.pid, link);
      this.stats.linked_execs++;
      Object.assign(e.data, link);
    }
  }
}

/** Does this stream event complete a tool call (per API)? */
function toolCallsComplete(ev: SseEvent): boolean {
  return (
    ev.event === 'content_block_stop' || // Anthropic: a content block (tool_use) ended
    ev.event === 'response.output_item.done' || // OpenAI Responses
    ev.event === 'response.function_call_arguments.done' ||
    ev.data === '[DONE]' || // OpenAI chat: the end
    /"finish_reason"\s*:\s*"/.test(ev.data) || // OpenAI chat: a non-null finish reason
    /"functionCall"\s*:/.test(ev.data) // Gemini: function calls come whole
  );
}

function normalise(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * Does an exec's command line belong to a requested command? Either contains
 * the other (a shell running the command string, or one program of it), with
 * word boundaries, ignoring one level of quoting.
 */
export function commandMatches(cmdline: string, command: string): boolean {
  if (!cmdline || !command) return false;
  const strip = (s: string) => s.replace(/["']/g, '');
  const a = strip(cmdline);
  const b = strip(command);
  const within = (hay: string, needle: string) => {
    if (needle.length < 2) return false;
    let i = hay.indexOf(needle);
    while (i >= 0) {
      const before = i === 0 ? ' ' : hay[i - 1];
      const after = i + needle.length >= hay.length ? ' ' : hay[i + needle.length];
      if (/[\s;&|()]/.test(before) && /[\s;&|()]/.test(after)) return true;
      i = hay.indexOf(needle, i + 1);
    }
    return false;
  };
  return within(a, b) || within(b, a);
}
