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
/** DELTA_FIELDS by length: a key is told from them by comparing it with the few of its length (a set lookup would hash every key first). */
const DELTA_BY_LENGTH: string[][] = [];
for (const f of DELTA_FIELDS) (DELTA_BY_LENGTH[f.length] ??= []).push(f);

/** The field of DELTA_FIELDS that `key` is, or null. */
function deltaField(key: string): string | null {
  const same = DELTA_BY_LENGTH[key.length];
  if (same !== undefined) for (const f of same) if (f === key) return f;
  return null;
}

interface View {
  stream: TextStream;
  /** Characters appended since the last scan. */
  text: string;
  /**
   * Where they came from, a piece at a time: [start in text, characters, start on the wire, end on the wire];
   * a run of plain characters is one to one, an escape sequence is one character.
   */
  pieces: number[];
}

/** Append a piece of the view: `n` characters at the end of v.text that came from [from, to) on the wire. */
function addPiece(v: View, n: number, from: number, to: number): void {
  const p = v.pieces;
  const k = p.length;
  // a run that continues the previous one
  if (k && p[k - 1] === from && p[k - 3] === p[k - 1] - p[k - 2] && to - from === n) {
    p[k - 3] += n;
    p[k - 1] = to;
    return;
  }
  p.push(v.text.length - n, n, from, to);
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
      const p = v.pieces;
      for (const f of v.stream.push(v.text)) {
        // the first piece that ends after the finding's start
        let lo = 0;
        let hi = p.length / 4;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (p[mid * 4] + p[mid * 4 + 1] <= f.start) lo = mid + 1;
          else hi = mid;
        }
        for (let q = lo * 4; q < p.length && p[q] < f.end; q += 4) {
          const vs = p[q];
          const n = p[q + 1];
          // each character masks where it came from; ranges that touch are joined
          const run = p[q + 3] - p[q + 2] === n;
          const a = run ? p[q + 2] + Math.max(0, f.start - vs) : p[q + 2];
          const b = run ? p[q + 2] + Math.min(n, f.end - vs) : p[q + 3];
          const last = out[out.length - 1];
          if (last && last.end === a) last.end = b;
          else out.push({ start: a, end: b });
        }
      }
      v.text = '';
      p.length = 0;
    }
    return out;
  }

  private view(field: string): View {
    let v = this.views.get(field);
    if (!v) {
      v = { stream: new TextStream(this.carry), text: '', pieces: [] };
      this.views.set(field, v);
    }
    return v;
  }

  /** Follow the JSON strings of the text; append the characters of streamed fields' values to their views. */
  private read(text: string, at: number): void {
    const n = text.length;
    let i = 0;
    // the state outside strings in locals while they are read (written back on entering a string and at the end)
    let pendingKey = this.pendingKey;
    let afterColon = this.afterColon;
    while (i < n) {
      if (!this.inStr) {
        // outside strings: only quotes and colons matter
        for (; i < n; i++) {
          const c = text.charCodeAt(i);
          if (c === 0x22) break;
          if (c === 0x3a) {
            if (pendingKey !== null) {
              this.lastKey = pendingKey;
              afterColon = true;
            }
            pendingKey = null;
          } else if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) {
            pendingKey = null;
            afterColon = false;
          }
        }
        if (i === n) break;
        this.inStr = true;
        this.strIsValue = afterColon;
        this.field = afterColon && this.lastKey !== null ? deltaField(this.lastKey) : null;
        this.keyBuf = '';
        afterColon = false;
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
            addPiece(v, j - i, at + i, at + j);
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
        if (!this.strIsValue) pendingKey = this.keyBuf;
        this.field = null;
      } else {
        // not JSON: a raw line end inside a string
        this.inStr = false;
        this.field = null;
        pendingKey = null;
      }
      i++;
    }
    this.pendingKey = pendingKey;
    this.afterColon = afterColon;
  }

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
        addPiece(v, 1, this.escStart, pos + 1);
      }
    } else if (this.keyBuf.length < MAX_KEY) this.keyBuf += d;
  }
}
