import type { Provider } from '../errors';
import type { ApiKind, Conversation, ScriptedReply } from '../script';

/** `created` timestamps in response bodies: 2025-11-28T00:00:00Z, fixed so bodies are reproducible. */
export const FIXED_CREATED = 1764288000;

/** What a renderer needs besides the conversation and the reply. */
export interface RenderContext {
  /** Seed for deterministic ids (a hash of the request body). */
  seed: string;
  /** `created` timestamps, Unix seconds. */
  created: number;
  /** Characters per text delta. */
  deltaChars: number;
  /** Characters per tool-argument JSON delta. */
  argChars: number;
  /** The parsed request body (for usage counts). */
  body: any;
}

/**
 * The token counts an answer reports, in one shape for every API: what the
 * stand-in sent, so tests can check the numbers a tracer read back exactly.
 */
export interface SentUsage {
  /** prompt tokens in all, cached ones included (Anthropic reports them apart: input + cache read + cache write) */
  input: number;
  /** the API's output count (Anthropic output_tokens, OpenAI completion_tokens / output_tokens, Gemini candidatesTokenCount) */
  output: number;
  /** cached prompt tokens read, when the API reports them */
  cacheRead?: number;
  /** prompt tokens written to the cache, when the API reports them */
  cacheWrite?: number;
}

/** A request the real API would reject with 400. */
export interface ValidationError {
  status: number;
  message: string;
  param?: string;
  code?: string;
}

/** Looks up the tool call of an earlier Responses API response (previous_response_id). */
export type PreviousCallLookup = (responseId: string, callId: string) => { name: string; input: unknown } | undefined;

/** What a request path asks of an API: a call (with the model and streaming when the path carries them) or a token count. */
export interface ApiRoute {
  kind: 'call' | 'count_tokens';
  model?: string;
  stream?: boolean;
}

/** A streamed answer as it goes on the wire. */
export interface StreamedAnswer {
  contentType: string;
  /** One write per element, in order (complete SSE events, or JSON array elements). */
  writes: StreamWrite[];
  /** The write that ends the stream when it is cut short (the `midstream` knob): the API's in-stream error. */
  errorWrite(kept: number): string;
}

/** Tool calls of a response that later requests may refer to (Responses API previous_response_id). */
export interface RememberedCalls {
  responseId: string;
  calls: Map<string, { name: string; input: unknown }>;
}

/** The content type of SSE answers (Gemini's differs). */
export const SSE_CONTENT_TYPE = 'text/event-stream; charset=utf-8';

/** One emulated API: routing, request parsing and wire rendering. All pure. */
export interface ApiModule {
  api: ApiKind;
  provider: Provider;
  /** What this API makes of a request path; null when it is not one of its paths. */
  route(path: string): ApiRoute | null;
  validate(body: any): ValidationError | undefined;
  parse(body: any, model: string, lookup?: PreviousCallLookup): Conversation;
  /** Non-streaming response body. */
  json(conv: Conversation, reply: ScriptedReply, ctx: RenderContext): unknown;
  /** Streaming response as SSE: one write per element, in order (complete SSE events). */
  stream(conv: Conversation, reply: ScriptedReply, ctx: RenderContext): StreamWrite[];
  /** The streamed answer for a request with these query parameters. */
  streamed(conv: Conversation, reply: ScriptedReply, ctx: RenderContext, query: Record<string, string>): StreamedAnswer;
  /** The token counts the answer reports (null when it reports none: an OpenAI chat stream without include_usage). */
  usage(conv: Conversation, reply: ScriptedReply, ctx: RenderContext): SentUsage | null;
  /** The thinking text a non-streaming body shows (reasoning is hidden unless the API shows it). */
  visibleThinking(body: any, reply: ScriptedReply): string;
  /** What of this answer later requests may refer to. */
  remember?(conv: Conversation, reply: ScriptedReply, ctx: RenderContext): RememberedCalls | undefined;
}

/**
 * One write of a streamed response: the wire text (a complete SSE event) and
 * the reply content it carries, so that what was sent can be told exactly
 * even when a stream is cut short.
 */
export interface StreamWrite {
  data: string;
  /** Assistant text carried by this write. */
  text?: string;
  /** Thinking text carried by this write. */
  thinking?: string;
  /** Tool-call argument JSON carried by this write. */
  args?: string;
}

/** The text of a content value that is either a string or a list of parts with `text`. */
export function textOf(content: unknown, partTypes: readonly string[] = ['text', 'input_text', 'output_text']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((p) => p && typeof p === 'object' && typeof p.text === 'string' && (p.type === undefined || partTypes.includes(p.type)))
    .map((p) => p.text as string)
    .join('\n');
}

/** Does the schema's property `key` take an array (Codex's `shell` tool: `command: ["bash", "-lc", "..."]`)? */
export function commandArgIsArray(schema: unknown, key: string): boolean {
  const props = schema && typeof schema === 'object' ? (schema as { properties?: Record<string, { type?: unknown }> }).properties : undefined;
  const t = props && typeof props === 'object' ? props[key]?.type : undefined;
  return t === 'array' || (Array.isArray(t) && t[0] === 'array');
}

/** The property of a JSON schema that carries a command line. */
export function commandArgKey(schema: unknown): string {
  const props = schema && typeof schema === 'object' ? (schema as { properties?: Record<string, { type?: unknown }> }).properties : undefined;
  if (!props || typeof props !== 'object') return 'command';
  const keys = Object.keys(props);
  for (const k of ['command', 'cmd', 'commandLine', 'command_line', 'script']) if (keys.includes(k)) return k;
  return keys.find((k) => props[k]?.type === 'string') ?? 'command';
}

export const sse = (event: string | undefined, data: unknown, eol = '\n'): string =>
  (event ? `event: ${event}${eol}` : '') + `data: ${typeof data === 'string' ? data : JSON.stringify(data)}${eol}${eol}`;
