/**
 * Masking of parsed events, field by field: header values of credential
 * headers become "[REDACTED]"; bodies are masked as text (event streams with
 * their joined deltas too; bodies that are not UTF-8 through a latin1 view
 * of their bytes); a compressed body that could not be decoded is dropped,
 * and so are the compressed body bytes of `raw`; every other string is masked
 * like text, and a field named like a secret loses its whole value.
 */
import { findHeadEnd } from '../http/head';
import { encodeBody } from '../http/util';
import { classifyName, credentialLike, isSecretHeader } from './names';
import { applyRanges, maskOf } from './mask';
import { bodyRanges, findSecrets, redactBody, redactText, type KnownBody } from './rules';
import { latin1Utf8, utf8Latin1 } from './text';
import type { Finding } from './types';

export const REDACTED = '[REDACTED]';
/** Characters of long strings whose masking is remembered. */
const MEMO_CHARS = 16 * 1024 * 1024;
/** How LlmAnalyzer marks a text it cut at its size limit. */
const CLIPPED = /…\[\d+ more characters\]$/;

/** Mask a text that was cut short: a secret running to its end is masked as far as it goes. */
function redactCut(text: string): string {
  const { findings } = findSecrets(text, true);
  return findings.length ? applyRanges(text, findings) : text;
}
const MASKED = /^(?:\[REDACTED\]\**|\*+)$/;
/** Already masked ("[REDACTED]***", "****"): only a string that begins with "[" or "*" is tried. */
const isMasked = (v: string): boolean => {
  const c = v.charCodeAt(0);
  return (c === 0x5b || c === 0x2a) && MASKED.test(v);
};

/** Counters of parsed-event masking. */
export interface FieldCounters {
  header_values_redacted: number;
  strings_redacted: number;
  bodies_omitted: number;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class FieldMasker {
  readonly counters: FieldCounters = { header_values_redacted: 0, strings_redacted: 0, bodies_omitted: 0 };

  /**
   * A string masked as text (or whole, when its field is named like a
   * secret). `cut`: the string was cut short (an excerpt, a size limit), so a
   * secret may run past its end: what of it is there is masked.
   */
  string(v: string, key: string, cut = false): string {
    // the exact bytes of a text field that is not UTF-8 (filepath_b64, comm_b64, ...): masked like the text, on the bytes
    if (key.endsWith('_b64')) {
      const text = Buffer.from(v, 'base64').toString('latin1');
      const masked = this.string(text, key.slice(0, -4), cut);
      return masked === text ? v : Buffer.from(masked, 'latin1').toString('base64');
    }
    if (key && v.length > 0 && !isMasked(v)) {
      const verdict = classifyName(key);
      if (verdict && (verdict.strength === 'secret' || credentialLike(v))) {
        this.counters.strings_redacted++;
        return maskOf(v.length);
      }
    }
    // only a string ending in "]" can end in the mark (the expression would be tried at every "…" of a long text)
    const clip = v.charCodeAt(v.length - 1) === 0x5d ? CLIPPED.exec(v) : null;
    // excerpts (of a parse error, of a line that is not an event) are cut wherever their bytes end
    const r = clip ? redactCut(v.slice(0, clip.index)) + clip[0] : cut || key === 'excerpt' || key === 'excerpt_text' ? redactCut(v) : this.cached(v);
    if (r !== v) this.counters.strings_redacted++;
    return r;
  }

  /**
   * redactText of a long string, remembered: the messages of a conversation
   * come back in every request of it (and in every llm event), so the same
   * long texts are seen again and again. Bounded by the characters kept.
   */
  private cached(v: string): string {
    if (v.length < 256) return redactText(v);
    const hit = this.memo.get(v);
    if (hit !== undefined) {
      this.memo.delete(v);
      this.memo.set(v, hit);
      return hit;
    }
    const r = redactText(v);
    this.memo.set(v, r);
    this.memoChars += v.length + (r === v ? 0 : r.length);
    while (this.memoChars > MEMO_CHARS && this.memo.size) {
      const [k, x] = this.memo.entries().next().value as [string, string];
      this.memo.delete(k);
      this.memoChars -= k.length + (x === k ? 0 : x.length);
    }
    return r;
  }

  private readonly memo = new Map<string, string>();
  private memoChars = 0;

  /** Mask strings inside any JSON-like value; the same value when nothing changed. */
  walk(v: unknown, key: string, cut = false): unknown {
    if (typeof v === 'string') return this.string(v, key, cut);
    if (typeof v !== 'object' || v === null) return v;
    // copied only from the first value that changes
    if (Array.isArray(v)) {
      let out: unknown[] | null = null;
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        const y = this.walk(x, key, cut);
        if (y !== x && out === null) out = v.slice(0, i);
        if (out !== null) out.push(y);
      }
      return out ?? v;
    }
    let out: Record<string, unknown> | null = null;
    const r = v as Record<string, unknown>;
    for (const k in r) {
      if (!Object.prototype.hasOwnProperty.call(r, k)) continue;
      const x = r[k];
      const y = this.walk(x, k, cut);
      if (y !== x && out === null) {
        out = {};
        for (const j in r) {
          if (j === k) break;
          if (Object.prototype.hasOwnProperty.call(r, j)) out[j] = r[j];
        }
      }
      if (out !== null) out[k] = y;
    }
    return out ?? v;
  }

  /** Header values: credential headers become exactly "[REDACTED]". */
  headers(h: Record<string, unknown>): Record<string, unknown> {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const name in h) {
      if (!Object.prototype.hasOwnProperty.call(h, name)) continue;
      const value = h[name];
      if (typeof value === 'string' && isSecretHeader(name) && value !== '' && value !== REDACTED && !isMasked(value)) {
        out[name] = REDACTED;
        this.counters.header_values_redacted++;
        changed = true;
      } else {
        const nv = this.walk(value, name);
        if (nv !== value) changed = true;
        out[name] = nv;
      }
    }
    return changed ? out : h;
  }

  /**
   * The body fields of a request or response, masked: `body` (text or
   * base64), `raw` (head, and body unless compressed). Returns the fields
   * that change, and what was found in the body (`findings`, positions in its
   * text). `known`: what the body's streamed chunks told of it (ranges found, triggers).
   */
  bodyFields(
    d: Record<string, unknown>,
    sse: boolean,
    known: KnownBody | null = null,
  ): { changes: Record<string, unknown>; findings: Finding[]; text: string } {
    const out: Record<string, unknown> = {};
    let findings: Finding[] = [];
    let bodyText = '';
    const cut = d.body_truncated === true;
    const mask = (text: string): string => {
      const r = bodyRanges(text, sse, known, cut);
      findings = r.findings;
      bodyText = text;
      return r.ranges.length ? applyRanges(text, r.ranges) : text;
    };
    const coded = typeof d.content_encoding === 'string' && !/^\s*identity\s*$/i.test(d.content_encoding);
    if (typeof d.body === 'string' && d.body !== '') {
      if (d.body_encoding === 'base64') {
        if (coded && typeof d.decode_error === 'string') {
          // the compressed bytes could not be decoded, so not searched: they are not shown
          out.body = '';
          out.body_omitted = `compressed body that could not be decoded (${d.content_encoding}): not shown, it may hold secrets`;
          this.counters.bodies_omitted++;
        } else {
          const bytes = Buffer.from(d.body, 'base64').toString('latin1');
          const masked = mask(bytes);
          if (masked !== bytes) {
            out.body = Buffer.from(masked, 'latin1').toString('base64');
            this.counters.strings_redacted++;
          }
        }
      } else if (known) {
        // ranges known from the chunks are byte offsets: mask a latin1 view of the bytes
        const bytes = utf8Latin1(d.body);
        const masked = mask(bytes);
        if (masked !== bytes) {
          out.body = latin1Utf8(masked);
          this.counters.strings_redacted++;
        }
      } else {
        const masked = mask(d.body);
        if (masked !== d.body) {
          out.body = masked;
          this.counters.strings_redacted++;
        }
      }
    }
    if (typeof d.raw === 'string' && d.raw !== '') {
      const bytes = Buffer.from(d.raw, d.raw_encoding === 'base64' ? 'base64' : 'utf8').toString('latin1');
      const he = findHeadEnd(Buffer.from(bytes, 'latin1'));
      const headEnd = he === -1 ? bytes.length : he;
      let text = bytes;
      if (coded && headEnd < bytes.length) {
        text = bytes.slice(0, headEnd);
        out.raw_body_omitted = `compressed body bytes (${String(d.content_encoding)}) are not kept in raw: they may hold secrets; the decoded body is in body`;
        this.counters.bodies_omitted++;
      }
      const head = redactText(text.slice(0, headEnd));
      const rest = text.length > headEnd ? redactBody(text.slice(headEnd), sse) : '';
      const masked = head + rest;
      if (masked !== bytes) {
        const enc = encodeBody(Buffer.from(masked, 'latin1'));
        out.raw = enc.text;
        out.raw_encoding = enc.encoding;
        if (masked !== text) this.counters.strings_redacted++;
      }
    }
    return { changes: out, findings, text: bodyText };
  }
}
