/**
 * Merging of one streamed LLM answer, event by event, into a single record:
 * text, thinking, tool calls, model, stop reason, token usage.
 *
 * Understands the Anthropic Messages API, OpenAI Chat Completions, the
 * OpenAI Responses API and Gemini streamGenerateContent (alt=sse); any other
 * stream is merged generically (data concatenated, event names counted).
 */
import type { SseEvent } from './parser';

/** Which API produced the stream. */
export type SseProvider = 'anthropic' | 'openai' | 'gemini' | 'unknown';
export type SseApi = 'messages' | 'chat.completions' | 'responses' | 'generateContent' | 'generic';

/** A tool/function call reassembled from the stream. */
export interface MergedToolCall {
  /** Position of the call among the answer's blocks/items/calls. */
  index: number;
  id: string | null;
  name: string | null;
  /** Parsed arguments, or null when the JSON is incomplete or invalid (see arguments_raw). */
  arguments: unknown;
  /** The argument JSON as streamed. */
  arguments_raw: string;
  /** Why arguments could not be parsed. */
  arguments_error?: string;
}

/** Token usage; only fields the API reported are present. */
export interface MergedUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
  reasoning_tokens?: number;
  total_tokens?: number;
}

/** What a merged stream says (the provider-dependent part of an sse event). */
export interface MergedContent {
  provider: SseProvider;
  api: SseApi;
  model: string | null;
  response_id: string | null;
  text: string;
  thinking: string;
  refusal?: string;
  tool_calls: MergedToolCall[];
  stop_reason: string | null;
  usage: MergedUsage | null;
  /** Error objects the stream carried (API errors sent as events). */
  errors: unknown[];
  event_count: number;
  event_names: Record<string, number>;
  /** Generic streams only: the data fields joined with "\n". */
  data?: string;
  /** data fields that should have been JSON but were not. */
  invalid_json: number;
  /** Text fields were cut at the size limit. */
  content_truncated: boolean;
  /** A terminal event was seen (message_stop, [DONE], response.completed...). */
  terminal: boolean;
}

interface ToolAcc {
  index: number;
  id: string | null;
  name: string | null;
  pieces: string[];
  /** Complete arguments given by a *.done event or a whole object (authoritative). */
  final: string | null;
}

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * An API's usage object (Anthropic `usage`, OpenAI `usage` of chat or
 * Responses, Gemini `usageMetadata`) in the common shape: only the fields it
 * reported; null when it reported none.
 */
export function usageOf(api: SseApi, u: unknown): MergedUsage | null {
  if (!isObj(u)) return null;
  let f: MergedUsage;
  switch (api) {
    case 'messages':
      f = {
        input_tokens: num(u.input_tokens),
        output_tokens: num(u.output_tokens),
        cache_read_input_tokens: num(u.cache_read_input_tokens),
        cache_creation_input_tokens: num(u.cache_creation_input_tokens),
      };
      break;
    case 'chat.completions': {
      const pd = isObj(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
      const cd = isObj(u.completion_tokens_details) ? u.completion_tokens_details : {};
      f = {
        input_tokens: num(u.prompt_tokens),
        output_tokens: num(u.completion_tokens),
        cache_read_input_tokens: num(pd.cached_tokens),
        reasoning_tokens: num(cd.reasoning_tokens),
        total_tokens: num(u.total_tokens),
      };
      break;
    }
    case 'responses': {
      const id = isObj(u.input_tokens_details) ? u.input_tokens_details : {};
      const od = isObj(u.output_tokens_details) ? u.output_tokens_details : {};
      f = {
        input_tokens: num(u.input_tokens),
        output_tokens: num(u.output_tokens),
        cache_read_input_tokens: num(id.cached_tokens),
        reasoning_tokens: num(od.reasoning_tokens),
        total_tokens: num(u.total_tokens),
      };
      break;
    }
    case 'generateContent':
      f = {
        input_tokens: num(u.promptTokenCount),
        output_tokens: num(u.candidatesTokenCount),
        cache_read_input_tokens: num(u.cachedContentTokenCount),
        reasoning_tokens: num(u.thoughtsTokenCount),
        total_tokens: num(u.totalTokenCount),
      };
      break;
    default:
      return null;
  }
  const out: MergedUsage = {};
  for (const [k, v] of Object.entries(f) as Array<[keyof MergedUsage, number | undefined]>) if (v !== undefined) out[k] = v;
  return Object.keys(out).length ? out : null;
}

/** Guess the API from the request path (a hint; the events decide). */
export function apiFromPath(path: string | null | undefined): { provider: SseProvider; api: SseApi } | null {
  if (!path) return null;
  const p = path.split('?')[0];
  if (/\/v1\/messages$/.test(p)) return { provider: 'anthropic', api: 'messages' };
  if (/\/chat\/completions$/.test(p)) return { provider: 'openai', api: 'chat.completions' };
  if (/\/responses$/.test(p)) return { provider: 'openai', api: 'responses' };
  if (/:streamGenerateContent$/.test(p)) return { provider: 'gemini', api: 'generateContent' };
  return null;
}

/** Incremental merger of one stream. */
export class StreamMerger {
  private provider: SseProvider = 'unknown';
  private api: SseApi = 'generic';
  private decided = false;
  private model: string | null = null;
  private responseId: string | null = null;
  private text: string[] = [];
  private thinking: string[] = [];
  private refusal: string[] = [];
  private generic: string[] = [];
  private size = 0;
  private truncated = false;
  private readonly tools = new Map<string, ToolAcc>();
  private stopReason: string | null = null;
  private usage: MergedUsage | null = null;
  private readonly errors: unknown[] = [];
  private count = 0;
  private readonly names: Record<string, number> = {};
  private invalidJson = 0;
  private isTerminal = false;
  private readonly hint: { provider: SseProvider; api: SseApi } | null;

  /** @param maxContentChars cap on text + thinking + generic data kept. */
  constructor(path: string | null | undefined, private readonly maxContentChars = 4 * 1024 * 1024) {
    this.hint = apiFromPath(path);
  }

  /** A terminal event was seen: the answer is complete. */
  get terminal(): boolean {
    return this.isTerminal;
  }

  /** Characters held. */
  get bufferedChars(): number {
    return this.size;
  }

  /** Add one event of the stream. */
  add(ev: SseEvent): void {
    this.count++;
    this.names[ev.event] = (this.names[ev.event] ?? 0) + 1;
    const data = ev.data;
    if (data === '[DONE]') {
      this.decide('openai', 'chat.completions');
      this.isTerminal = true;
      return;
    }
    let obj: unknown;
    const first = data.trimStart()[0];
    if (first === '{' || first === '[') {
      try {
        obj = JSON.parse(data);
      } catch {
        this.invalidJson++;
      }
    }
    if (!this.decided) this.detect(ev, obj);
    if (!isObj(obj)) {
      if (this.api !== 'generic' && obj === undefined && data.trim() !== '' && first !== '{' && first !== '[') this.invalidJson++;
      if (this.api === 'generic') this.appendGeneric(data);
      return;
    }
    switch (this.api) {
      case 'messages':
        this.anthropic(ev.event, obj);
        break;
      case 'chat.completions':
        this.openaiChat(obj);
        break;
      case 'responses':
        this.openaiResponses(ev.event, obj);
        break;
      case 'generateContent':
        this.gemini(obj);
        break;
      default:
        if (isObj(obj.error)) this.errors.push(obj.error);
        this.appendGeneric(data);
    }
  }

  /** The merged content so far. */
  result(): MergedContent {
    const out: MergedContent = {
      provider: this.provider,
      api: this.api,
      model: this.model,
      response_id: this.responseId,
      text: this.text.join(''),
      thinking: this.thinking.join(''),
      tool_calls: [...this.tools.values()].sort((a, b) => a.index - b.index).map(finishTool),
      stop_reason: this.stopReason,
      usage: this.usage,
      errors: this.errors,
      event_count: this.count,
      event_names: { ...this.names },
      invalid_json: this.invalidJson,
      content_truncated: this.truncated,
      terminal: this.isTerminal,
    };
    if (this.refusal.length) out.refusal = this.refusal.join('');
    if (this.api === 'generic') out.data = this.generic.join('\n');
    return out;
  }

  private decide(provider: SseProvider, api: SseApi): void {
    if (this.decided) return;
    this.provider = provider;
    this.api = api;
    this.decided = true;
  }

  private detect(ev: SseEvent, obj: unknown): void {
    const type = isObj(obj) ? str(obj.type) : null;
    const name = ev.event !== 'message' ? ev.event : type ?? '';
    if (/^(message_start|content_block_|message_delta|message_stop)/.test(name)) return this.decide('anthropic', 'messages');
    if (name.startsWith('response.')) return this.decide('openai', 'responses');
    if (isObj(obj)) {
      if (obj.object === 'chat.completion.chunk' || Array.isArray(obj.choices)) return this.decide('openai', 'chat.completions');
      if (Array.isArray(obj.candidates) || isObj(obj.usageMetadata)) return this.decide('gemini', 'generateContent');
    }
    // Undecided events (ping, error) are handled with the path's hint.
    if (this.hint && (name === 'ping' || name === 'error' || (isObj(obj) && 'error' in obj))) {
      this.provider = this.hint.provider;
      this.api = this.hint.api;
    }
  }

  private room(s: string): string | null {
    if (this.size + s.length <= this.maxContentChars) {
      this.size += s.length;
      return s;
    }
    this.truncated = true;
    const left = this.maxContentChars - this.size;
    if (left <= 0) return null;
    this.size = this.maxContentChars;
    return s.slice(0, left);
  }

  private appendTo(list: string[], s: unknown): void {
    if (typeof s !== 'string' || s === '') return;
    const r = this.room(s);
    if (r !== null) list.push(r);
  }

  private appendGeneric(data: string): void {
    const r = this.room(data);
    if (r !== null) this.generic.push(r);
  }

  private tool(key: string, index: number): ToolAcc {
    let t = this.tools.get(key);
    if (!t) {
      t = { index, id: null, name: null, pieces: [], final: null };
      this.tools.set(key, t);
    }
    return t;
  }

  private addArgs(t: ToolAcc, piece: unknown): void {
    if (typeof piece !== 'string' || piece === '') return;
    const r = this.room(piece);
    if (r !== null) t.pieces.push(r);
  }

  /** Later reports of a field replace earlier ones (Anthropic: message_start, then message_delta). */
  private setUsage(api: SseApi, raw: unknown): void {
    const fields = usageOf(api, raw);
    if (fields) this.usage = { ...(this.usage ?? {}), ...fields };
  }

  // ------------------------------------------------------------ Anthropic
  private anthropic(event: string, o: Json): void {
    const type = str(o.type) ?? event;
    switch (type) {
      case 'message_start': {
        const m = isObj(o.message) ? o.message : {};
        this.model = str(m.model) ?? this.model;
        this.responseId = str(m.id) ?? this.responseId;
        this.setUsage('messages', m.usage);
        break;
      }
      case 'content_block_start': {
        const b = isObj(o.content_block) ? o.content_block : {};
        const index = num(o.index) ?? 0;
        const bt = str(b.type);
        if (bt === 'text') this.appendTo(this.text, b.text);
        else if (bt === 'thinking') this.appendTo(this.thinking, b.thinking);
        else if (bt === 'tool_use' || bt === 'server_tool_use' || bt === 'mcp_tool_use') {
          const t = this.tool(`b${index}`, index);
          t.id = str(b.id);
          t.name = str(b.name);
          if (isObj(b.input) && Object.keys(b.input).length) t.final = JSON.stringify(b.input);
        }
        break;
      }
      case 'content_block_delta': {
        const d = isObj(o.delta) ? o.delta : {};
        const index = num(o.index) ?? 0;
        switch (str(d.type)) {
          case 'text_delta':
            this.appendTo(this.text, d.text);
            break;
          case 'thinking_delta':
            this.appendTo(this.thinking, d.thinking);
            break;
          case 'input_json_delta': {
            const t = this.tool(`b${index}`, index);
            t.final = null;
            this.addArgs(t, d.partial_json);
            break;
          }
        }
        break;
      }
      case 'message_delta': {
        const d = isObj(o.delta) ? o.delta : {};
        this.stopReason = str(d.stop_reason) ?? this.stopReason;
        this.setUsage('messages', o.usage);
        break;
      }
      case 'message_stop':
        this.isTerminal = true;
        break;
      case 'error':
        this.errors.push(isObj(o.error) ? o.error : o);
        this.isTerminal = true;
        break;
    }
  }

  // ------------------------------------------------------------ OpenAI chat
  private openaiChat(o: Json): void {
    if (isObj(o.error)) {
      this.errors.push(o.error);
      return;
    }
    this.model = str(o.model) ?? this.model;
    this.responseId = str(o.id) ?? this.responseId;
    if (Array.isArray(o.choices)) {
      for (const c of o.choices) {
        if (!isObj(c)) continue;
        // Only the first choice is merged (n > 1 is rare for agents); others are counted by event_count.
        if ((num(c.index) ?? 0) !== 0) continue;
        const d = isObj(c.delta) ? c.delta : {};
        this.appendTo(this.text, d.content);
        this.appendTo(this.thinking, d.reasoning_content ?? d.reasoning);
        this.appendTo(this.refusal, d.refusal);
        if (Array.isArray(d.tool_calls)) {
          for (const tc of d.tool_calls) {
            if (!isObj(tc)) continue;
            const index = num(tc.index) ?? 0;
            const t = this.tool(`c${index}`, index);
            t.id = str(tc.id) ?? t.id;
            const f = isObj(tc.function) ? tc.function : {};
            t.name = str(f.name) ?? t.name;
            this.addArgs(t, f.arguments);
          }
        }
        this.stopReason = str(c.finish_reason) ?? this.stopReason;
      }
    }
    this.setUsage('chat.completions', o.usage);
  }

  // ------------------------------------------------------------ OpenAI Responses
  private openaiResponses(event: string, o: Json): void {
    const type = str(o.type) ?? event;
    switch (type) {
      case 'response.created':
      case 'response.in_progress':
        this.responseMeta(o.response);
        break;
      case 'response.output_text.delta':
        this.appendTo(this.text, o.delta);
        break;
      case 'response.refusal.delta':
        this.appendTo(this.refusal, o.delta);
        break;
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        this.appendTo(this.thinking, o.delta);
        break;
      case 'response.output_item.added':
      case 'response.output_item.done': {
        const item = isObj(o.item) ? o.item : {};
        if (item.type !== 'function_call' && item.type !== 'custom_tool_call') break;
        const index = num(o.output_index) ?? 0;
        const t = this.tool(str(item.id) ?? `o${index}`, index);
        t.id = str(item.call_id) ?? t.id;
        t.name = str(item.name) ?? t.name;
        const args = str(item.arguments) ?? str(item.input);
        if (type === 'response.output_item.done' && args !== null) t.final = args;
        break;
      }
      case 'response.function_call_arguments.delta':
      case 'response.custom_tool_call_input.delta': {
        const index = num(o.output_index) ?? 0;
        this.addArgs(this.tool(str(o.item_id) ?? `o${index}`, index), o.delta);
        break;
      }
      case 'response.function_call_arguments.done': {
        const index = num(o.output_index) ?? 0;
        const args = str(o.arguments);
        if (args !== null) this.tool(str(o.item_id) ?? `o${index}`, index).final = args;
        break;
      }
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed': {
        const r = isObj(o.response) ? o.response : {};
        this.responseMeta(r);
        const inc = isObj(r.incomplete_details) ? str(r.incomplete_details.reason) : null;
        this.stopReason = inc ?? str(r.status) ?? type.slice('response.'.length);
        if (isObj(r.error)) this.errors.push(r.error);
        this.setUsage('responses', r.usage);
        this.isTerminal = true;
        break;
      }
      case 'error':
        this.errors.push(isObj(o.error) ? o.error : o);
        break;
    }
  }

  private responseMeta(r: unknown): void {
    if (!isObj(r)) return;
    this.model = str(r.model) ?? this.model;
    this.responseId = str(r.id) ?? this.responseId;
  }

  // ------------------------------------------------------------ Gemini
  private gemini(o: Json): void {
    if (isObj(o.error)) {
      this.errors.push(o.error);
      return;
    }
    this.model = str(o.modelVersion) ?? this.model;
    this.responseId = str(o.responseId) ?? this.responseId;
    const cands = Array.isArray(o.candidates) ? o.candidates : [];
    for (const c of cands) {
      if (!isObj(c) || (num(c.index) ?? 0) !== 0) continue;
      const content = isObj(c.content) ? c.content : {};
      const parts = Array.isArray(content.parts) ? content.parts : [];
      for (const p of parts) {
        if (!isObj(p)) continue;
        if (typeof p.text === 'string') this.appendTo(p.thought === true ? this.thinking : this.text, p.text);
        if (isObj(p.functionCall)) {
          const fc = p.functionCall;
          const index = this.tools.size;
          const t = this.tool(`g${index}`, index);
          t.id = str(fc.id);
          t.name = str(fc.name);
          t.final = JSON.stringify(fc.args ?? {});
        }
      }
      this.stopReason = str(c.finishReason) ?? this.stopReason;
    }
    this.setUsage('generateContent', o.usageMetadata);
  }
}

function finishTool(t: ToolAcc): MergedToolCall {
  const raw = t.final ?? t.pieces.join('');
  const out: MergedToolCall = { index: t.index, id: t.id, name: t.name, arguments: null, arguments_raw: raw };
  if (raw.trim() === '') {
    out.arguments = {};
    return out;
  }
  try {
    out.arguments = JSON.parse(raw);
  } catch (e) {
    out.arguments_error = (e as Error).message;
  }
  return out;
}
