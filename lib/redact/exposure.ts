/**
 * Which secrets a request to an LLM API carried, and where: a key pasted
 * into a prompt, a credentials file a tool read and the agent sent back as a
 * tool result, a password in the arguments of a tool call of the history,
 * a token in a custom header or the URL.
 *
 * The credential the call authenticates with (its `x-api-key`,
 * `Authorization`, `api-key`, `x-goog-api-key` header, Gemini's `?key=`) is
 * how every call works, not an exposure: it is counted apart
 * (`provider_auth`), never reported as one.
 */
import { createHash } from 'node:crypto';
import { detectRequest, type ApiId, type Provider } from '../providers';
import type { LlmRequest } from '../providers/types';
import { findSecrets } from './find';
import { headerKind, isSecretHeader } from './names';
import { maskOf } from './mask';
import type { Finding, SecretKind } from './types';

/** Where in a request a secret was. */
export type ExposureWhere = 'header' | 'url' | 'system' | 'prompt' | 'tool_result' | 'tool_arguments' | 'tools' | 'body';

/** One secret a request carried (never the secret itself). */
export interface Exposure {
  kind: SecretKind;
  where: ExposureWhere;
  /** The header, the URL parameter, or the message (`messages[3]`) it was in. */
  field: string | null;
  /** What is shown of it: the hint of its kind, then a mask (`sk-ant-[REDACTED]***`). */
  masked: string;
  /** First 4 hex digits of its SHA-256: the same secret sent twice has the same fingerprint. */
  fingerprint: string;
  length: number;
}

export interface ExposureReport {
  api: ApiId;
  provider: Provider;
  exposures: Exposure[];
  /** Credentials the call authenticated with (not exposures). */
  providerAuth: number;
}

/** Headers that authenticate a call to an LLM API. */
const AUTH_HEADERS = new Set(['authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'proxy-authorization', 'cookie']);
/** Kinds of finding that say less than an overlapping one (a named value holding a key of a known shape). */
const GENERIC = new Set(['secret', 'token', 'api_key', 'credential', 'authorization', 'password', 'bearer_token']);

export function fingerprint(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 4);
}

/** The secrets of a text (or the findings already made in it), the most specific finding kept where two overlap. */
export function secretsOf(text: string, found?: readonly Finding[]): Array<{ kind: SecretKind; value: string; hint: string }> {
  const fs = found ?? findSecrets(text).findings;
  const keep: Finding[] = [];
  for (const f of fs) {
    const overlap = keep.findIndex((k) => f.start < k.end && k.start < f.end);
    if (overlap === -1) keep.push(f);
    else if (GENERIC.has(keep[overlap].kind) && !GENERIC.has(f.kind)) keep[overlap] = f;
  }
  return keep.map((f) => {
    const from = f.start - (f.hint ?? 0);
    return { kind: f.kind, value: text.slice(from, f.end), hint: text.slice(from, f.start) };
  });
}

function exposure(kind: SecretKind, where: ExposureWhere, field: string | null, value: string, hint: string): Exposure {
  return { kind, where, field, masked: hint + maskOf(Math.min(24, value.length - hint.length)), fingerprint: fingerprint(value), length: value.length };
}

export interface RequestView {
  method: string;
  path: string;
  host: string | null;
  headers: Record<string, string>;
  /** The body as text, '' when none or not text. */
  body: string;
}

/**
 * The secrets an LLM API request carries (null when it is not one).
 * `bodyFindings`: what a search of the whole body found, when it was made
 * already; when it found nothing, the parts of the body are not searched.
 */
export function requestExposures(req: RequestView, bodyFindings?: readonly Finding[]): ExposureReport | null {
  let json: { v: unknown } | undefined;
  const parse = () => {
    if (!json) {
      try {
        json = { v: req.body ? JSON.parse(req.body) : undefined };
      } catch {
        json = { v: undefined };
      }
    }
    return json.v;
  };
  const det = detectRequest({ method: req.method, path: req.path, host: req.host, json: parse });
  if (!det) return null;
  const out: Exposure[] = [];
  const seen = new Set<string>();
  const prints = new Set<string>();
  let providerAuth = 0;
  const add = (e: Exposure) => {
    const k = `${e.kind}|${e.fingerprint}|${e.where}`;
    // the scan of the whole body finds again what the parts showed: only what they did not is `body`
    if (seen.has(k) || (e.where === 'body' && prints.has(e.fingerprint))) return;
    seen.add(k);
    prints.add(e.fingerprint);
    out.push(e);
  };
  for (const [name, value] of Object.entries(req.headers)) {
    if (AUTH_HEADERS.has(name)) {
      providerAuth++;
      continue;
    }
    if (isSecretHeader(name)) {
      const inner = secretsOf(value);
      if (inner.length) for (const s of inner) add(exposure(s.kind, 'header', name, s.value, s.hint));
      else if (value) add(exposure(headerKind(name), 'header', name, value, ''));
      continue;
    }
    for (const s of secretsOf(value)) add(exposure(s.kind, 'header', name, s.value, s.hint));
  }
  const q = req.path.indexOf('?');
  if (q !== -1) {
    for (const part of req.path.slice(q + 1).split('&')) {
      const eq = part.indexOf('=');
      const name = eq === -1 ? part : part.slice(0, eq);
      if (name === 'key') {
        providerAuth++;
        continue;
      }
      for (const s of secretsOf(part)) add(exposure(s.kind, 'url', name, s.value, s.hint));
    }
  }
  for (const s of secretsOf(q === -1 ? req.path : req.path.slice(0, q))) add(exposure(s.kind, 'url', null, s.value, s.hint));
  if (req.body && (bodyFindings === undefined || bodyFindings.length > 0)) {
    const parsed: LlmRequest = det.provider.parseRequest(parse());
    const text = (where: ExposureWhere, field: string | null, t: string | null | undefined, escaped = false) => {
      if (!t) return;
      for (const s of secretsOf(t)) add(exposure(s.kind, where, field, escaped ? unescapeJson(s.value) : s.value, escaped ? unescapeJson(s.hint) : s.hint));
    };
    text('system', 'system', parsed.system);
    parsed.messages.forEach((m, i) => {
      const field = `messages[${i}]`;
      text(m.role === 'tool' || m.role === 'function' ? 'tool_result' : 'prompt', field, m.content);
      for (const r of m.tool_results ?? []) text('tool_result', field, r.content);
      for (const c of m.tool_calls ?? [])
        text('tool_arguments', field, typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments ?? null), true);
    });
    for (const t of parsed.tools) text('tools', `tools.${t.name}`, t.description);
    // anything else the body carried (fields no provider reads, metadata)
    for (const s of secretsOf(req.body, bodyFindings)) add(exposure(s.kind, 'body', null, unescapeJson(s.value), unescapeJson(s.hint)));
  }
  return { api: det.provider.id, provider: det.provider, exposures: out, providerAuth };
}

/** A JSON string's content decoded (as it was before escaping), or itself when it is not one. */
function unescapeJson(s: string): string {
  if (!s.includes('\\')) return s;
  try {
    return JSON.parse(`"${s}"`) as string;
  } catch {
    return s;
  }
}

/** `exposure` event data: one secret a request to an LLM API carried. */
export interface ExposureData extends Exposure, Record<string, unknown> {
  event: 'SECRET_SENT';
  /** The API called (`anthropic.messages`, ...) and its vendor. */
  api: ApiId;
  provider: string;
  'server.address': string | null;
  /** The request path, masked. */
  path: string;
  /** The HTTP exchange: connection and request number (as in http events). */
  conn_id: string;
  seq: number;
  /** The llm event of the call, when known. */
  call_id: string | null;
}
