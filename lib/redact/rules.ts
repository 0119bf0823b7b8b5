/**
 * What counts as a secret, and how it is masked.
 *
 * Text masking is length-preserving: a secret of n characters becomes
 * n characters ("[REDACTED]" followed by "*", or only "*" when shorter than
 * 10), so masking raw TLS plaintext never changes Content-Length framing.
 * Masks only replace characters inside header values, JSON string values,
 * URL parameter values and key-shaped tokens: never CR, LF, quotes or
 * separators, so chunked framing and JSON syntax survive.
 */

/** Header names whose whole value is a credential (lower case). */
const SECRET_HEADER_EXACT = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'x-amz-security-token',
  'x-amz-content-sha256-secret',
  'ocp-apim-subscription-key',
  'x-functions-key',
  'private-token',
  'x-vault-token',
  'authentication',
]);
/** Suffixes of header names that carry credentials (x-auth-token, anthropic-api-key, x-csrf-token, ...). */
const SECRET_HEADER_SUFFIX = /(?:^|[-_])(?:api[-_]?key|apikey|token|secret|password|passwd|session[-_]?id|access[-_]?key|subscription[-_]?key)$/i;

/** Is this header (any case) a credential carrier? */
export function isSecretHeader(name: string): boolean {
  const n = name.toLowerCase();
  return SECRET_HEADER_EXACT.has(n) || SECRET_HEADER_SUFFIX.test(n);
}

/** JSON object keys whose string value is a secret. */
const SECRET_KEY =
  /^(?:api[-_]?key|apikey|x-api-key|access[-_]?token|refresh[-_]?token|id[-_]?token|auth[-_]?token|token|client[-_]?secret|secret|secret[-_]?key|private[-_]?key|password|passwd|authorization|aws[-_]?secret[-_]?access[-_]?key|session[-_]?token)$/i;
/** URL query / form parameter names whose value is a secret (Gemini's ?key=, signed URLs...). */
const SECRET_PARAM = /^(?:key|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|code_verifier)$/i;

/** Is this JSON key a secret's name? */
export function isSecretKey(name: string): boolean {
  return SECRET_KEY.test(name);
}

/** Is this URL/form parameter a secret? */
export function isSecretParam(name: string): boolean {
  return SECRET_KEY.test(name) || SECRET_PARAM.test(name);
}

/** The replacement for a secret of `length` characters. */
export function maskOf(length: number): string {
  if (length <= 0) return '';
  return length >= 10 ? '[REDACTED]' + '*'.repeat(length - 10) : '*'.repeat(length);
}

/** A half-open range of characters to mask. */
export interface Range {
  start: number;
  end: number;
}

/** Header lines: name ":" value up to the end of the line. */
const HEADER_LINE = /(^|\n)([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:[ \t]*([^\r\n]*)/g;
/** "key": "value" (JSON), the value up to its closing quote or the end of the text. */
const JSON_PAIR = /"([A-Za-z0-9_-]{1,40})"\s*:\s*"((?:[^"\\\r\n]|\\[^\r\n])*)("|$)/g;
/** key=value in URLs and form bodies (after "?" or "&", or at the very start). */
const PARAM = /(^|[?&])([A-Za-z0-9_.-]{1,40})=([^&#\s"'<>]*)/g;
/** Key-shaped tokens; the first group is kept as a hint of what it was. */
const KEY_SHAPES =
  /(?<![A-Za-z0-9_-])(sk-ant-|sk-(?:proj-|svcacct-|admin-|or-v1-)?|AIza|gh[pousr]_|github_pat_|hf_|xox[abprs]-|gsk_|AKIA|ASIA)([A-Za-z0-9_-]{16,})/g;
/** A key-shaped prefix running to the end of the text: may be the first half of a split key. */
const KEY_TAIL = /(?<![A-Za-z0-9_-])(sk-ant-|sk-(?:proj-|svcacct-|admin-|or-v1-)?|AIza|gh[pousr]_|github_pat_|hf_|xox[abprs]-|gsk_|AKIA|ASIA)([A-Za-z0-9_-]*)$/;

/** Where a secret value runs past the end of the text (continues in the next piece). */
export type OpenSecret = 'line' | 'json' | null;

/** Ranges to mask in a text (latin1 view of bytes, or a JS string). */
export function findSecrets(text: string): { ranges: Range[]; open: OpenSecret } {
  const ranges: Range[] = [];
  let open: OpenSecret = null;
  for (const m of text.matchAll(HEADER_LINE)) {
    if (!isSecretHeader(m[2]) || m[3].length === 0) continue;
    const start = (m.index ?? 0) + m[0].length - m[3].length;
    ranges.push({ start, end: start + m[3].length });
    if (start + m[3].length === text.length) open = 'line';
  }
  for (const m of text.matchAll(JSON_PAIR)) {
    if (!isSecretKey(m[1])) continue;
    const start = (m.index ?? 0) + m[0].length - m[3].length - m[2].length;
    if (m[2].length) ranges.push({ start, end: start + m[2].length });
    if (m[3] === '') open = 'json';
  }
  for (const m of text.matchAll(PARAM)) {
    if (!isSecretParam(m[2]) || m[3].length === 0) continue;
    const start = (m.index ?? 0) + m[0].length - m[3].length;
    ranges.push({ start, end: start + m[3].length });
  }
  for (const m of text.matchAll(KEY_SHAPES)) {
    const start = (m.index ?? 0) + m[1].length;
    ranges.push({ start, end: start + m[2].length });
  }
  // Only the end of the text can hold the first half of a split key (keys are < 256 chars).
  const from = Math.max(0, text.length - 256);
  const t = KEY_TAIL.exec(from > 0 ? text.slice(from) : text);
  if (t && t[2].length > 0 && (from === 0 || t.index > 0)) {
    const start = from + t.index + t[1].length;
    ranges.push({ start, end: text.length });
  }
  return { ranges, open };
}

/** Mask ranges in a string (length-preserving). */
export function applyRanges(text: string, ranges: readonly Range[]): string {
  if (ranges.length === 0) return text;
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  let out = '';
  let pos = 0;
  for (const r of mergeRanges(sorted)) {
    out += text.slice(pos, r.start) + maskOf(r.end - r.start);
    pos = r.end;
  }
  return out + text.slice(pos);
}

/** Merge overlapping sorted ranges. */
export function mergeRanges(sorted: readonly Range[]): Range[] {
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

/** Mask every secret found in a text. */
export function redactText(text: string): string {
  const { ranges } = findSecrets(text);
  return applyRanges(text, ranges);
}
