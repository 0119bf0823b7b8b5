/**
 * Redactor: masks credentials before anything is printed, written or sent.
 * On by default; `--disable-auth-removal` leaves it out of the chain.
 *
 * - ssl events: the plaintext bytes are masked length-preservingly (see
 *   lib/redact/rules.ts), per connection and direction, with the end of the
 *   previous call kept so a secret split across two TLS calls is still found.
 *   Because lengths do not change, HTTP framing survives and HttpParser can
 *   run after it: everything it derives is then clean.
 * - http and sse events: header values of credential headers become
 *   "[REDACTED]"; every other string (paths, bodies, merged text, tool-call
 *   arguments) is masked like text; JSON keys named like secrets lose their
 *   value.
 * - any other event (process argv, ...): strings are masked like text, and
 *   the exact bytes of fields that are not UTF-8 (`*_b64`) like their text.
 *
 * Events without secrets are passed on as they are (same object); events
 * with secrets are copied, never modified in place.
 */
import type { Analyzer } from '../core/analyzer';
import type { Event } from '../core/event';
import { attachPayload, encodePayload, sslPayload } from '../core/payload';
import { applyRanges, findSecrets, isSecretHeader, isSecretKey, maskOf, OpenSecret, Range, redactText } from '../redact/rules';

/** Options of the redactor. */
export interface RedactorOptions {
  /** Bytes of the previous TLS call kept per connection direction to catch split secrets. Default 512. */
  carryBytes?: number;
  /** Connection directions remembered at once. Default 4096. */
  maxStreams?: number;
}

/** Counters of the redactor. */
export interface RedactorStats {
  events_seen: number;
  events_redacted: number;
  ssl_bytes_masked: number;
  header_values_redacted: number;
  strings_redacted: number;
}

interface Carry {
  tail: string;
  open: OpenSecret;
}

const REDACTED = '[REDACTED]';

/** Masks API keys, tokens, cookies and passwords in every event. */
export class Redactor implements Analyzer {
  readonly name = 'redactor';
  private readonly carryBytes: number;
  private readonly maxStreams: number;
  private readonly carries = new Map<string, Carry>();
  private readonly counters: RedactorStats = { events_seen: 0, events_redacted: 0, ssl_bytes_masked: 0, header_values_redacted: 0, strings_redacted: 0 };

  constructor(options: RedactorOptions = {}) {
    this.carryBytes = options.carryBytes ?? 512;
    this.maxStreams = options.maxStreams ?? 4096;
  }

  /** Counters. */
  stats(): RedactorStats {
    return { ...this.counters };
  }

  async *process(input: AsyncIterable<Event>): AsyncIterable<Event> {
    for await (const e of input) {
      yield this.redact(e);
    }
  }

  /** The event with its secrets masked (the same object when it has none). */
  redact(e: Event): Event {
    this.counters.events_seen++;
    let out: Event;
    if (e.source === 'ssl') out = this.redactSsl(e);
    else if (e.source === 'http' || e.source === 'sse') out = this.redactParsed(e);
    else out = this.redactGeneric(e);
    if (out !== e) this.counters.events_redacted++;
    return out;
  }

  private redactSsl(e: Event): Event {
    const d = e.data as { function?: unknown; conn_id?: unknown; data?: unknown; data_encoding?: unknown };
    const bytes = sslPayload(e);
    if (bytes.length === 0) return e;
    const key = `${typeof d.conn_id === 'string' ? d.conn_id : e.pid}|${String(d.function)}`;
    const carry = this.carries.get(key) ?? { tail: '', open: null };
    const text = bytes.toString('latin1');
    const ranges: Range[] = [];
    // A secret value left open by the previous call continues here up to its end.
    if (carry.open) {
      const end = continuationEnd(text, carry.open);
      if (end > 0) ranges.push({ start: 0, end });
    }
    const joined = carry.tail + text;
    const found = findSecrets(joined);
    const shift = carry.tail.length;
    for (const r of found.ranges) {
      if (r.end <= shift) continue;
      ranges.push({ start: Math.max(0, r.start - shift), end: r.end - shift });
    }
    const stillOpen = carry.open && continuationEnd(text, carry.open) === text.length ? carry.open : null;
    this.remember(key, { tail: this.carryBytes > 0 ? joined.slice(-this.carryBytes) : '', open: found.open ?? stillOpen });
    if (ranges.length === 0) return e;
    const masked = applyRanges(text, ranges);
    const out = Buffer.from(masked, 'latin1');
    let n = 0;
    for (let i = 0; i < out.length; i++) if (out[i] !== bytes[i]) n++;
    if (n === 0) return e;
    this.counters.ssl_bytes_masked += n;
    const data: Record<string, unknown> = { ...e.data };
    if (typeof d.data === 'string') Object.assign(data, encodePayload(out));
    const copy: Event = { ...e, data };
    attachPayload(copy, out);
    return copy;
  }

  private remember(key: string, c: Carry): void {
    this.carries.delete(key);
    this.carries.set(key, c);
    if (this.carries.size > this.maxStreams) this.carries.delete(this.carries.keys().next().value as string);
  }

  private redactParsed(e: Event): Event {
    const d = e.data as Record<string, unknown>;
    let changed = false;
    const data: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(d)) {
      let nv: unknown;
      if (k === 'headers' && isRecord(v)) nv = this.redactHeaders(v);
      else if ((k === 'body' || k === 'data' || k === 'raw') && typeof v === 'string' && d[`${k}_encoding`] === 'base64') nv = v;
      else if (k === 'excerpt_hex') nv = v;
      else nv = this.walk(v, k);
      if (nv !== v) changed = true;
      data[k] = nv;
    }
    if (!changed) return e;
    if (typeof d.excerpt_text === 'string' && data.excerpt_text !== d.excerpt_text) data.excerpt_hex = REDACTED;
    return { ...e, data };
  }

  private redactHeaders(h: Record<string, unknown>): Record<string, unknown> {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(h)) {
      if (typeof value === 'string' && isSecretHeader(name) && value !== REDACTED && !/^\*+$|^\[REDACTED\]\**$/.test(value)) {
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

  private redactGeneric(e: Event): Event {
    const data = this.walk(e.data, '');
    return data === e.data ? e : { ...e, data: data as Record<string, unknown> };
  }

  /** Mask strings inside any JSON-like value; returns the same value when nothing changed. */
  private walk(v: unknown, key: string): unknown {
    // the exact bytes of a text field that is not UTF-8 (argv_b64, filepath_b64, ...): masked like the text, on the bytes
    if (typeof v === 'string' && key.endsWith('_b64')) {
      const text = Buffer.from(v, 'base64').toString('latin1');
      const masked = redactText(text);
      if (masked === text) return v;
      this.counters.strings_redacted++;
      return Buffer.from(masked, 'latin1').toString('base64');
    }
    if (typeof v === 'string') {
      if (key && isSecretKey(key) && v.length > 0 && !/^\[REDACTED\]\**$|^\*+$/.test(v)) {
        this.counters.strings_redacted++;
        return maskOf(v.length);
      }
      const r = redactText(v);
      if (r !== v) this.counters.strings_redacted++;
      return r;
    }
    if (Array.isArray(v)) {
      let changed = false;
      const out = v.map((x) => {
        const y = this.walk(x, key);
        if (y !== x) changed = true;
        return y;
      });
      return changed ? out : v;
    }
    if (isRecord(v)) {
      let changed = false;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const y = this.walk(x, k);
        if (y !== x) changed = true;
        out[k] = y;
      }
      return changed ? out : v;
    }
    return v;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** How far a secret left open by the previous piece runs into this one. */
function continuationEnd(text: string, open: Exclude<OpenSecret, null>): number {
  if (open === 'line') {
    const m = /[\r\n]/.exec(text);
    return m ? m.index : text.length;
  }
  // JSON string: up to the closing quote (not escaped), never across a line end.
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '"' || c === '\r' || c === '\n') return i;
  }
  return text.length;
}
