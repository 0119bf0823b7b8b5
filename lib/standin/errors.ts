/**
 * API error bodies in each provider's own shape, so that the SDKs raise
 * their typed errors (RateLimitError, AuthenticationError, ...) and tracers
 * see what they would see from the real services.
 */

export type Provider = 'anthropic' | 'openai' | 'gemini';

export interface ApiErrorReply {
  status: number;
  /** Extra response headers (retry-after, x-should-retry, ...). */
  headers: Record<string, string>;
  body: unknown;
}

const ANTHROPIC_TYPES: Record<number, [string, string]> = {
  400: ['invalid_request_error', 'There was an issue with the format or content of your request.'],
  401: ['authentication_error', 'invalid x-api-key'],
  403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
  404: ['not_found_error', 'Not Found'],
  405: ['invalid_request_error', 'Method Not Allowed'],
  413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
  429: ['rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit.'],
  500: ['api_error', 'Internal server error'],
  503: ['api_error', 'Service unavailable'],
  529: ['overloaded_error', 'Overloaded'],
};

/** OpenAI's message for a 500, also sent as its in-stream error. */
export const OPENAI_SERVER_ERROR = 'The server had an error while processing your request. Sorry about that!';

const OPENAI_TYPES: Record<number, [type: string, code: string | null, message: string]> = {
  400: ['invalid_request_error', null, 'Invalid request.'],
  401: ['invalid_request_error', 'invalid_api_key', 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.'],
  403: ['invalid_request_error', 'unsupported_country_region_territory', 'Country, region, or territory not supported'],
  404: ['invalid_request_error', 'model_not_found', 'The model does not exist or you do not have access to it.'],
  405: ['invalid_request_error', null, 'Method Not Allowed'],
  413: ['invalid_request_error', null, 'Request too large.'],
  429: ['requests', 'rate_limit_exceeded', 'Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.'],
  500: ['server_error', null, OPENAI_SERVER_ERROR],
  503: ['server_error', null, 'The engine is currently overloaded, please try again later.'],
};

const GOOGLE_STATUS: Record<number, [string, string]> = {
  400: ['INVALID_ARGUMENT', 'Request contains an invalid argument.'],
  401: ['UNAUTHENTICATED', 'Request had invalid authentication credentials.'],
  403: [
    'PERMISSION_DENIED',
    "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
  ],
  404: ['NOT_FOUND', 'Requested entity was not found.'],
  405: ['INVALID_ARGUMENT', 'Method Not Allowed'],
  413: ['INVALID_ARGUMENT', 'Request payload size exceeds the limit.'],
  429: ['RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'],
  500: ['INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'],
  503: ['UNAVAILABLE', 'The model is overloaded. Please try again later.'],
  504: ['DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.'],
};

/** Statuses the `error-<status>` model knob accepts. */
export const KNOB_STATUSES = [400, 401, 403, 404, 413, 429, 500, 503, 504, 529];

export interface ApiErrorOptions {
  message?: string;
  /** OpenAI `param`. */
  param?: string | null;
  /** OpenAI `code` (overrides the status default). */
  code?: string | null;
  /** Anthropic's top-level request_id. */
  requestId?: string;
}

/** An error reply in `provider`'s shape for HTTP `status`. */
export function apiError(provider: Provider, status: number, opts: ApiErrorOptions = {}): ApiErrorReply {
  const headers: Record<string, string> = {};
  if (status === 429) headers['retry-after'] = '20';
  if (provider === 'anthropic') {
    const [type, msg] = ANTHROPIC_TYPES[status] ?? (status >= 500 ? ['api_error', 'Internal server error'] : ['invalid_request_error', 'Bad request']);
    const body: Record<string, unknown> = { type: 'error', error: { type, message: opts.message ?? msg } };
    if (opts.requestId) body.request_id = opts.requestId;
    if (status === 529) headers['x-should-retry'] = 'true';
    return { status, headers, body };
  }
  if (provider === 'openai') {
    const [type, code, msg] =
      OPENAI_TYPES[status] ?? (status >= 500 ? ['server_error', null, 'Internal server error'] : ['invalid_request_error', null, 'Bad request']);
    return {
      status,
      headers,
      body: { error: { message: opts.message ?? msg, type, param: opts.param ?? null, code: opts.code !== undefined ? opts.code : code } },
    };
  }
  const [gstatus, msg] = GOOGLE_STATUS[status] ?? (status >= 500 ? ['INTERNAL', 'Internal error'] : ['INVALID_ARGUMENT', 'Bad request']);
  return { status, headers, body: { error: { code: status, message: opts.message ?? msg, status: gstatus } } };
}
