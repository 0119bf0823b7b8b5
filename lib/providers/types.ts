/**
 * The contract of an LLM API module. Everything agentsight knows about one
 * wire API (how to recognise it, how its requests and answers look, how its
 * stream is merged, how it reports tokens, what OpenTelemetry calls it) lives
 * in one object implementing {@link LlmProvider}; lib/providers/index.ts
 * lists them, and the llm analyzer, the stream merger and the stand-in ask
 * that registry.
 */
import type { SseEvent } from '../sse/parser';

export type Json = Record<string, unknown>;

/** Token usage in the common shape; only the fields the API reported are present. */
export interface TokenUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
  reasoning_tokens?: number;
  total_tokens?: number;
}

/** A tool call asked for by the model, or carried by a request's history. */
export interface LlmToolCall {
  id: string | null;
  name: string | null;
  arguments: unknown;
  /** the command a shell-like tool was asked to run */
  command?: string;
}

/** One message of a request, normalised. */
export interface LlmMessage {
  role: string;
  /** text content (text parts joined) */
  content: string;
  tool_calls?: LlmToolCall[];
  /** tool results carried by this message */
  tool_results?: { tool_call_id: string | null; content: string; is_error?: boolean }[];
}

/** An API error as the answer reported it. */
export interface LlmError {
  type: string | null;
  message: string | null;
}

/** The parts of a request body every API has, normalised. */
export interface LlmRequest {
  model: string | null;
  system: string | null;
  messages: LlmMessage[];
  tools: { name: string; description?: string }[];
  stream: boolean;
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  /** Responses API: the response this call continues from (the earlier turns are not in `messages` then). */
  previous_response_id?: string;
  /** Responses API `generate: false`: a warm-up that only prepares the request state, answered without output. */
  generate?: false;
}

/** A complete answer, normalised (from a JSON body or a merged stream). */
export interface LlmResponse {
  model: string | null;
  id: string | null;
  text: string;
  thinking: string;
  tool_calls: LlmToolCall[];
  finish: string | null;
  usage: TokenUsage | null;
  error?: LlmError;
}

/** An HTTP request as detection sees it. */
export interface RequestInfo {
  method: string;
  /** Request target: path and query. */
  path: string;
  /** Host header (may carry a port), null when unknown. */
  host: string | null;
  /** The body parsed as JSON (undefined when it is not JSON, or not known, as for a stream hint); parsed on the first call only. */
  json(): unknown;
}

/** What a request says beyond "it is this API" (Gemini puts the model and streaming in the path). */
export interface RequestMatch {
  model?: string;
  stream?: boolean;
}

/** The accumulator of one streamed tool call (arguments are appended through {@link MergeTarget.appendArguments}). */
export interface ToolAccumulator {
  readonly index: number;
  id: string | null;
  name: string | null;
  /** Complete arguments given by a *.done event or a whole object (authoritative over the pieces). */
  final: string | null;
}

/**
 * Where a provider's stream handler puts what an event carries: the stream
 * merger's accumulators, with its size cap. Values that are not strings
 * (absent fields) are ignored.
 */
export interface MergeTarget {
  appendText(s: unknown): void;
  appendThinking(s: unknown): void;
  appendRefusal(s: unknown): void;
  /** The accumulator of tool call `key`, created at position `index` on first use. */
  tool(key: string, index: number): ToolAccumulator;
  /** Tool calls accumulated so far. */
  readonly toolCount: number;
  appendArguments(t: ToolAccumulator, piece: unknown): void;
  setModel(v: unknown): void;
  setResponseId(v: unknown): void;
  setStopReason(v: unknown): void;
  /** Later reports of a field replace earlier ones (Anthropic: message_start, then message_delta). */
  addUsage(u: TokenUsage | null): void;
  addError(e: unknown): void;
  /** The answer is complete. */
  setTerminal(): void;
}

/** A message of a message-based transport (a WebSocket text message), as a provider reads it. */
export interface TransportMessage {
  /** Who sent it. */
  from: 'client' | 'server';
  text: string;
  /** The text parsed as JSON (undefined when it is not JSON); parsed on the first call only. */
  json(): unknown;
}

/** What a transport message is to its API. */
export type TransportMeaning =
  /** A client message that asks for an answer: its body, read by parseRequest as a request body. */
  | { kind: 'request'; body: unknown }
  /**
   * A server message that is part of the answer, merged by mergeEvent as the
   * stream event `event` (a terminal one ends the answer); `final`: it ends
   * the answer even though the stream merger would not take it as terminal.
   */
  | { kind: 'event'; event: SseEvent; final?: boolean }
  /** Anything else (session setup, keep-alives): no part of a call. */
  | null;

/**
 * An API spoken over a WebSocket: which upgrade requests open one, and what
 * its messages mean. The llm analyzer follows the calls (a request message,
 * then the events of its answer) through this alone.
 */
export interface WebSocketTransport {
  /** Does a WebSocket opened by this request (the upgrade GET) speak this API? */
  matchUpgrade(req: RequestInfo): boolean;
  message(m: TransportMessage): TransportMeaning;
}

/** One LLM wire API. */
export interface LlmProvider<Id extends string = string, Vendor extends string = string> {
  /** The API's id, as `api` of `llm` and `sse` events: `<vendor>.<api>` (e.g. `anthropic.messages`). */
  readonly id: Id;
  /** Its name in prose (e.g. `Anthropic Messages`). */
  readonly title: string;
  /** Whose API it is: `provider` of `sse` events. */
  readonly vendor: Vendor;
  /** OpenTelemetry GenAI names. */
  readonly otel: {
    /** `gen_ai.provider.name` when no known host says otherwise. */
    provider: string;
    /** `gen_ai.operation.name`. */
    operation: string;
    /**
     * Hosts that serve this API and their `gen_ai.provider.name`, matched by
     * suffix (the longest suffix over all providers wins, whatever the API).
     */
    hosts: readonly (readonly [suffix: string, name: string])[];
  };
  /** `input_tokens` of its usage excludes cache reads and writes (OpenTelemetry's input count includes them). */
  readonly inputExcludesCache: boolean;
  /** `output_tokens` of its usage excludes reasoning tokens, which are billed as output (Gemini's `thoughtsTokenCount`). */
  readonly outputExcludesReasoning: boolean;
  /** Is this request a call of this API? null when not. */
  matchRequest(req: RequestInfo): RequestMatch | null;
  /** Does this stream event show the stream is this API's? `obj` is the parsed data (undefined when it is not JSON). */
  matchStream(ev: SseEvent, obj: unknown): boolean;
  parseRequest(body: unknown): LlmRequest;
  /** A complete (non-streamed) JSON answer. */
  parseResponse(body: unknown): LlmResponse;
  /** The API's usage object in the common shape: only the fields it reported; null when none. */
  usage(raw: unknown): TokenUsage | null;
  /** Merge one stream event whose data is a JSON object. */
  mergeEvent(ev: SseEvent, obj: Json, into: MergeTarget): void;
  /** Does this stream event complete a tool call (so that it can be acted on before the answer ends)? */
  completesToolCall(ev: SseEvent): boolean;
  /** The API's WebSocket transport, when it has one. */
  readonly websocket?: WebSocketTransport;
}

/** Declare a provider, keeping its id and vendor as literal types (the registry derives the id type from them). */
export function defineProvider<const Id extends string, const Vendor extends string>(p: LlmProvider<Id, Vendor>): LlmProvider<Id, Vendor> {
  return p;
}
