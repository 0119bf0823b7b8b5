/**
 * Merging of one streamed LLM answer, event by event, into a single record:
 * text, thinking, tool calls, model, stop reason, token usage.
 *
 * Which API a stream is comes from its events (lib/providers: detectStream;
 * the request path is only a hint for events that do not tell, such as ping
 * and error); that API's provider merges each event into the accumulators
 * here, which hold the size cap. Any other stream is merged generically
 * (data concatenated, event names counted).
 */
import { detectStream, detectRequest, type ApiId, type Provider, type Vendor } from '../providers';
import type { MergeTarget, TokenUsage, ToolAccumulator } from '../providers/types';
import { isObj } from '../providers/util';
import type { SseEvent } from './parser';

/** Whose API produced the stream (`unknown` for a generic stream). */
export type SseProvider = Vendor | 'unknown';
/** Which API produced the stream: its provider id, or `generic` for a stream no provider recognised. */
export type SseApi = ApiId | 'generic';

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
export type MergedUsage = TokenUsage;

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

interface ToolAcc extends ToolAccumulator {
  pieces: string[];
}

/** Cap on the content of a merged stream unless told otherwise (characters). */
export const DEFAULT_MAX_CONTENT_CHARS = 4 * 1024 * 1024;

/** Incremental merger of one stream. */
export class StreamMerger {
  private current: Provider | null = null;
  private decided = false;
  private readonly acc: Accumulator;
  private count = 0;
  private readonly names: Record<string, number> = {};
  private invalidJson = 0;
  private readonly hint: Provider | null;

  /**
   * @param path the request's path (a hint: the request is taken for a POST)
   * @param maxContentChars cap on text + thinking + arguments + generic data kept.
   */
  constructor(path: string | null | undefined, maxContentChars = DEFAULT_MAX_CONTENT_CHARS) {
    this.hint = path ? (detectRequest({ method: 'POST', path, host: null, json: () => undefined })?.provider ?? null) : null;
    this.acc = new Accumulator(maxContentChars);
  }

  /** The API the events showed, null while they have not (or for a generic stream). */
  get provider(): Provider | null {
    return this.decided ? this.current : null;
  }

  /** A terminal event was seen: the answer is complete. */
  get terminal(): boolean {
    return this.acc.terminal;
  }

  /** Characters held. */
  get bufferedChars(): number {
    return this.acc.size;
  }

  /** Add one event of the stream. */
  add(ev: SseEvent): void {
    this.count++;
    this.names[ev.event] = (this.names[ev.event] ?? 0) + 1;
    const data = ev.data;
    if (data === '[DONE]') {
      // the end-of-stream sentinel of OpenAI-style streams; it ends any stream
      if (!this.decided) this.detect(ev, undefined);
      this.acc.setTerminal();
      return;
    }
    let obj: unknown;
    // the first character that is not white space (most data begins with its brace: no trimmed copy then)
    const c0 = data.charCodeAt(0);
    const first = c0 === 0x7b ? '{' : c0 === 0x5b ? '[' : data.trimStart()[0];
    if (first === '{' || first === '[') {
      try {
        obj = JSON.parse(data);
      } catch {
        this.invalidJson++;
      }
    }
    if (!this.decided) this.detect(ev, obj);
    if (!isObj(obj)) {
      if (this.current && obj === undefined && data.trim() !== '' && first !== '{' && first !== '[') this.invalidJson++;
      if (!this.current) this.acc.appendGeneric(data);
      return;
    }
    if (this.current) this.current.mergeEvent(ev, obj, this.acc);
    else {
      if (isObj(obj.error)) this.acc.addError(obj.error);
      this.acc.appendGeneric(data);
    }
  }

  /** The merged content so far. */
  result(): MergedContent {
    const a = this.acc;
    const out: MergedContent = {
      provider: this.current?.vendor ?? 'unknown',
      api: this.current?.id ?? 'generic',
      model: a.model,
      response_id: a.responseId,
      text: a.text.join(''),
      thinking: a.thinking.join(''),
      tool_calls: [...a.tools.values()].sort((x, y) => x.index - y.index).map(finishTool),
      stop_reason: a.stopReason,
      usage: a.usage,
      errors: a.errors,
      event_count: this.count,
      event_names: { ...this.names },
      invalid_json: this.invalidJson,
      content_truncated: a.truncated,
      terminal: a.terminal,
    };
    if (a.refusal.length) out.refusal = a.refusal.join('');
    if (!this.current) out.data = a.generic.join('\n');
    return out;
  }

  private detect(ev: SseEvent, obj: unknown): void {
    const p = detectStream(ev, obj);
    if (p) {
      this.current = p;
      this.decided = true;
      return;
    }
    // Events that do not tell (ping, error) are handled by the path's API, undecided.
    const type = isObj(obj) && typeof obj.type === 'string' ? obj.type : '';
    const name = ev.event !== 'message' ? ev.event : type;
    if (this.hint && (name === 'ping' || name === 'error' || (isObj(obj) && 'error' in obj))) this.current = this.hint;
  }
}

/** The accumulators of one stream, within the size cap: what providers merge into. */
class Accumulator implements MergeTarget {
  model: string | null = null;
  responseId: string | null = null;
  readonly text: string[] = [];
  readonly thinking: string[] = [];
  readonly refusal: string[] = [];
  readonly generic: string[] = [];
  readonly tools = new Map<string, ToolAcc>();
  stopReason: string | null = null;
  usage: MergedUsage | null = null;
  readonly errors: unknown[] = [];
  size = 0;
  truncated = false;
  terminal = false;

  constructor(private readonly maxContentChars: number) {}

  get toolCount(): number {
    return this.tools.size;
  }

  appendText(s: unknown): void {
    this.append(this.text, s);
  }

  appendThinking(s: unknown): void {
    this.append(this.thinking, s);
  }

  appendRefusal(s: unknown): void {
    this.append(this.refusal, s);
  }

  appendGeneric(data: string): void {
    const r = this.room(data);
    if (r !== null) this.generic.push(r);
  }

  tool(key: string, index: number): ToolAcc {
    let t = this.tools.get(key);
    if (!t) {
      t = { index, id: null, name: null, pieces: [], final: null };
      this.tools.set(key, t);
    }
    return t;
  }

  appendArguments(t: ToolAccumulator, piece: unknown): void {
    this.append((t as ToolAcc).pieces, piece);
  }

  setModel(v: unknown): void {
    if (typeof v === 'string') this.model = v;
  }

  setResponseId(v: unknown): void {
    if (typeof v === 'string') this.responseId = v;
  }

  setStopReason(v: unknown): void {
    if (typeof v === 'string') this.stopReason = v;
  }

  addUsage(u: MergedUsage | null): void {
    if (u) this.usage = { ...(this.usage ?? {}), ...u };
  }

  addError(e: unknown): void {
    this.errors.push(e);
  }

  setTerminal(): void {
    this.terminal = true;
  }

  private append(list: string[], s: unknown): void {
    if (typeof s !== 'string' || s === '') return;
    const r = this.room(s);
    if (r !== null) list.push(r);
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
