/**
 * What a request to the stand-in is: which emulated API (or models list,
 * token count, health check), whose shape the answer has, whether its
 * credentials pass, and the model lists.
 */
import { anthropicMessages } from './apis/anthropic';
import { gemini, GEMINI_PATH } from './apis/gemini';
import { openaiChat } from './apis/openai-chat';
import { openaiResponses } from './apis/openai-responses';
import { FIXED_CREATED, type ApiModule } from './apis/types';
import { apiError, type ApiErrorOptions, type ApiErrorReply, type Provider } from './errors';
import { firstHeader, type RecordedRequest } from './recording';
import type { ApiKind } from './script';

/** The emulated APIs. */
const MODULES: readonly ApiModule[] = [anthropicMessages, openaiChat, openaiResponses, gemini];

/** The module that emulates an API. */
export function moduleFor(api: ApiKind): ApiModule {
  const mod = MODULES.find((m) => m.api === api);
  if (!mod) throw new Error(`the stand-in does not emulate the ${api} API`);
  return mod;
}

/** Where a request goes. */
export interface Routed {
  route: RecordedRequest['route'];
  /** For API calls. */
  mod?: ApiModule;
  /** The model, when the path names it (Gemini). */
  model?: string;
  /** Streaming, when the path decides it (Gemini). */
  stream?: boolean;
}

const GEMINI_MODEL_PATH = /^\/(v1beta|v1|v1alpha)\/models(?:\/([^/:]+))?$/;

/** The route of a request path (health checks are answered before routing). */
export function routeOf(path: string): Routed {
  for (const mod of MODULES) {
    const r = mod.route(path);
    if (!r) continue;
    if (r.kind === 'count_tokens') return { route: 'count_tokens', model: r.model };
    return { route: mod.api, mod, model: r.model, stream: r.stream };
  }
  if (path === '/v1/models' || path.startsWith('/v1/models/') || GEMINI_MODEL_PATH.test(path)) return { route: 'models' };
  return { route: 'not_found' };
}

/** Whose API a request looks like, from its path and headers: the shape of its answer. */
export function guessProvider(rec: RecordedRequest): Provider {
  const h = rec.headers;
  if (rec.path.startsWith('/v1beta') || rec.path.startsWith('/v1alpha') || GEMINI_PATH.test(rec.path) || h['x-goog-api-key'] || rec.query.key) return 'gemini';
  if (rec.path.startsWith('/v1/messages') || h['anthropic-version'] || h['x-api-key']) return 'anthropic';
  return 'openai';
}

/** The error a request without the credentials its provider wants gets (any non-empty key passes). */
export function checkAuth(rec: RecordedRequest, provider: Provider): ApiErrorReply | undefined {
  const bearer = /^Bearer\s+(\S+)/i.exec(firstHeader(rec.headers.authorization) ?? '')?.[1];
  if (provider === 'anthropic') {
    if (firstHeader(rec.headers['x-api-key']) || bearer) return undefined;
    return apiError('anthropic', 401, { message: 'x-api-key header is required', requestId: rec.requestId });
  }
  if (provider === 'openai') {
    if (bearer) return undefined;
    return apiError('openai', 401, {
      message:
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (i.e. username:YOUR_KEY) when using HTTPS Basic auth.",
      code: null,
    });
  }
  if (firstHeader(rec.headers['x-goog-api-key']) || rec.query.key || bearer) return undefined;
  return apiError('gemini', 403);
}

const MODELS = {
  anthropic: [
    ['claude-sonnet-4-6', 'Claude Sonnet 4.6', '2026-02-17T00:00:00Z'],
    ['claude-haiku-4-5-20251001', 'Claude Haiku 4.5', '2025-10-01T00:00:00Z'],
    ['claude-opus-4-7', 'Claude Opus 4.7', '2026-04-16T00:00:00Z'],
  ],
  openai: ['gpt-4o-mini', 'gpt-4.1', 'gpt-5', 'o4-mini'],
  gemini: ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.0-flash'],
} as const;

/** The answer to a models request: a list or one model, or the 404 for an unknown one. */
export type ModelsAnswer = { found: true; body: unknown; pretty: boolean } | { found: false; error: ApiErrorOptions };

/** The model list (or one model) in the provider's shape. */
export function modelsAnswer(rec: RecordedRequest, provider: Provider): ModelsAnswer {
  const id = decodeURIComponent(rec.path.replace(/^\/(v1beta|v1alpha|v1)\/models\/?/, ''));
  if (provider === 'anthropic') {
    const all = MODELS.anthropic.map(([m, display, created]) => ({ type: 'model', id: m, display_name: display, created_at: created }));
    if (!id) return { found: true, body: { data: all, has_more: false, first_id: all[0]!.id, last_id: all[all.length - 1]!.id }, pretty: false };
    const one = all.find((m) => m.id === id);
    return one ? { found: true, body: one, pretty: false } : { found: false, error: { message: `model: ${id}` } };
  }
  if (provider === 'openai') {
    const all = MODELS.openai.map((m) => ({ id: m, object: 'model', created: FIXED_CREATED, owned_by: 'system' }));
    if (!id) return { found: true, body: { object: 'list', data: all }, pretty: true };
    const one = all.find((m) => m.id === id);
    return one ? { found: true, body: one, pretty: true } : { found: false, error: { message: `The model '${id}' does not exist`, code: 'model_not_found' } };
  }
  const all = MODELS.gemini.map((m) => ({
    name: `models/${m}`,
    version: '001',
    displayName: m,
    inputTokenLimit: 1048576,
    outputTokenLimit: 65536,
    supportedGenerationMethods: ['generateContent', 'countTokens'],
  }));
  if (!id) return { found: true, body: { models: all }, pretty: true };
  const one = all.find((m) => m.name === `models/${id}`);
  return one
    ? { found: true, body: one, pretty: true }
    : { found: false, error: { message: `models/${id} is not found for API version v1beta, or is not supported for generateContent.` } };
}
