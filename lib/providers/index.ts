/**
 * The registry of LLM APIs. Each module of this directory describes one API
 * (see ./types for the contract); the list below is the only place that
 * names them. Detection asks them in this order and the first that
 * recognises a request or a stream event wins.
 *
 * Adding an API: a module implementing LlmProvider (made with
 * defineProvider) and one line in PROVIDERS.
 */
import type { SseEvent } from '../sse/parser';
import { anthropicMessages } from './anthropic-messages';
import { gemini } from './gemini';
import { openaiChat } from './openai-chat';
import { openaiResponses } from './openai-responses';
import type { LlmProvider, RequestInfo, RequestMatch } from './types';

export const PROVIDERS = [
  anthropicMessages, //
  openaiChat,
  openaiResponses,
  gemini,
] as const;

/** The id of an API: `api` of `llm` and `sse` events (`anthropic.messages`, `openai.chat_completions`, ...). */
export type ApiId = (typeof PROVIDERS)[number]['id'];
/** Whose API it is: `provider` of `sse` events (`anthropic`, `openai`, `gemini`). */
export type Vendor = (typeof PROVIDERS)[number]['vendor'];
/** A registered provider. */
export type Provider = LlmProvider<ApiId, Vendor>;

/** Every API id, in registry order. */
export const API_IDS: readonly ApiId[] = PROVIDERS.map((p) => p.id);

const byId = new Map<string, Provider>(PROVIDERS.map((p) => [p.id, p]));

/** The provider of an API id; null for an id no provider has. */
export function getProvider(id: ApiId): Provider;
export function getProvider(id: string): Provider | null;
export function getProvider(id: string): Provider | null {
  return byId.get(id) ?? null;
}

/** The API a request calls, with what its path says (model, streaming); null when none recognises it. */
export function detectRequest(req: RequestInfo): (RequestMatch & { provider: Provider }) | null {
  for (const provider of PROVIDERS) {
    const m = provider.matchRequest(req);
    if (m) return { ...m, provider };
  }
  return null;
}

/** The API a WebSocket opened by this upgrade request speaks; null when none has such a transport. */
export function detectWebSocket(req: RequestInfo): Provider | null {
  for (const provider of PROVIDERS) if (provider.websocket?.matchUpgrade(req)) return provider;
  return null;
}

/**
 * The API whose stream this event shows; null when the event does not tell
 * (ping, error, a generic stream). `obj` is the event's data parsed as JSON,
 * undefined when it is not JSON.
 */
export function detectStream(ev: SseEvent, obj: unknown): Provider | null {
  for (const provider of PROVIDERS) if (provider.matchStream(ev, obj)) return provider;
  return null;
}

const HOSTS: ReadonlyArray<readonly [string, string]> = PROVIDERS.flatMap((p) => p.otel.hosts).sort((a, b) => b[0].length - a[0].length);

/**
 * OpenTelemetry `gen_ai.provider.name` of a call: from the host when it is
 * a known one (whatever the API: an OpenAI-compatible endpoint of Google is
 * still Google's), else the API's own.
 */
export function otelProviderName(provider: Provider, host: string | null): string {
  const h = (host ?? '').toLowerCase().split(':')[0];
  for (const [suffix, name] of HOSTS) if (h.endsWith(suffix)) return name;
  return provider.otel.provider;
}

export type { LlmProvider, RequestInfo, RequestMatch, TransportMeaning, TransportMessage, WebSocketTransport } from './types';
export type { Json, LlmError, LlmMessage, LlmRequest, LlmResponse, LlmToolCall, MergeTarget, TokenUsage, ToolAccumulator } from './types';
export { defineProvider } from './types';
export { toolCall, toolCommand } from './util';
