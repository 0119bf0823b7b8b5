/**
 * A streamed LLM answer puts a key that the model writes into many small
 * deltas (`"text":"sk-a"`, `"text":"nt-api03-"`, ...), each inside its own
 * SSE event and JSON object: no single piece of the wire holds it. This view
 * follows the JSON strings of an event stream as they arrive and joins the
 * values of the fields that carry streamed text (text, delta, content,
 * partial_json, arguments, thinking, refusal), one text per field name,
 * remembering where each character came from; each joined text is scanned
 * like a text stream (lib/redact/stream.ts) and what is found is mapped back
 * to the wire positions to mask.
 *
 * Positions are absolute offsets of the body (the caller's choice of
 * origin); the text fed is a latin1 view of the bytes, so a position is a
 * byte.
 */
import { TextStream } from './stream';
import type { Range } from './types';

/** Fields whose string values stream the text of an answer. */
const DELTA_FIELDS = new Set(['text', 'delta', 'content', 'partial_json', 'arguments', 'thinking', 'refusal', 'output_text', 'reasoning']);
const MAX_KEY = 64;

interface View {
  stream: TextStream;
  /** Characters appended since the last scan, and where each came from. */
  text: string;
  starts: number[];
  ends: number[];
}

export class SseDeltaView {
  private inStr = false;
  private strIsValue = false;
  private field: string | null = null;
  private keyBuf = '';
  private pendingKey: string | null = null;
  private lastKey: string | null = null;
  private afterColon = false;
  /** An escape sequence being read (`\`, `\u00`), and where it began. */
  private esc = '';
  private escStart = 0;
  private readonly views = new Map<string, View>();

  constructor(private readonly carry = 128) {}

  /** Feed text whose first character is at absolute position `at`; returns absolute ranges to mask. */
  push(text: string, at: number): Range[] {
    this.read(text, at);
    const out: Range[] = [];
    for (const v of this.views.values()) {
      if (v.text.length === 0) continue;
      for (const f of v.stream.push(v.text)) {
        for (let k = f.start; k < f.end; k++) {
          const last = out[out.length - 1];
          if (last && last.end === v.starts[k]) last.end = v.ends[k];
          else out.push({ start: v.starts[k], end: v.ends[k] });
        }
      }
      v.text = '';
      v.starts.length = 0;
      v.ends.length = 0;
    }
    return out;
  }

  private view(field: string): View {
    let v = this.views.get(field);
    if (!v) {
      v = { stream: new TextStream(this.carry), text: '', starts: [], ends: [] };
      this.views.set(field, v);
    }
    return v;
  }

  /** Follow the JSON strings of the text; append the characters of streamed fields' values to their views. */
  private read(text: string, at: number): void {
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (!this.inStr) {
        // outside strings: only quotes and colons matter
        const c = text.charCodeAt(i);
        if (c === 0x22) {
          this.inStr = true;
          this.strIsValue = this.afterColon;
          this.field = this.afterColon && this.lastKey !== null && DELTA_FIELDS.has(this.lastKey) ? this.lastKey : null;
          this.keyBuf = '';
          this.afterColon = false;
        } else if (c === 0x3a) {
          if (this.pendingKey !== null) {
            this.lastKey = this.pendingKey;
            this.afterColon = true;
          }
          this.pendingKey = null;
        } else if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) {
          this.pendingKey = null;
          this.afterColon = false;
        }
        i++;
        continue;
      }
      if (this.esc) {
        this.escape(text[i], at + i);
        i++;
        continue;
      }
      // inside a string: take the run up to the next quote, backslash or line end at once
      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === 0x22 || c === 0x5c || c === 0x0a || c === 0x0d) break;
        j++;
      }
      if (j > i) {
        if (this.strIsValue) {
          if (this.field !== null) {
            const v = this.view(this.field);
            v.text += text.slice(i, j);
            for (let k = i; k < j; k++) {
              v.starts.push(at + k);
              v.ends.push(at + k + 1);
            }
          }
        } else if (this.keyBuf.length < MAX_KEY) this.keyBuf += text.slice(i, Math.min(j, i + MAX_KEY - this.keyBuf.length));
        i = j;
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === 0x5c) {
        this.esc = '\\';
        this.escStart = at + i;
      } else if (c === 0x22) {
        this.inStr = false;
        if (!this.strIsValue) this.pendingKey = this.keyBuf;
        this.field = null;
      } else {
        // not JSON: a raw line end inside a string
        this.inStr = false;
        this.field = null;
        this.pendingKey = null;
      }
      i++;
    }
  }

  /** The next character of an escape sequence at absolute position pos. */
  private escape(c: string, pos: number): void {
    this.esc += c;
    let d: string | null = null;
    if (this.esc.length === 2 && c !== 'u') d = c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : c === 'b' ? '\b' : c === 'f' ? '\f' : c;
    else if (this.esc.length === 6) d = /^\\u[0-9a-fA-F]{4}$/.test(this.esc) ? String.fromCharCode(parseInt(this.esc.slice(2), 16)) : '?';
    if (d === null) return;
    this.esc = '';
    if (this.strIsValue) {
      if (this.field !== null) {
        const v = this.view(this.field);
        v.text += d;
        v.starts.push(this.escStart);
        v.ends.push(pos + 1);
      }
    } else if (this.keyBuf.length < MAX_KEY) this.keyBuf += d;
  }
}
