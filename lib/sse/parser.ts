/**
 * Incremental text/event-stream parser (WHATWG HTML "server-sent events"
 * interpretation): lines end with CRLF, LF or CR; a blank line dispatches;
 * `:` starts a comment; fields event, data (multi-line, joined with "\n"),
 * id and retry. Input may be cut anywhere, including between CR and LF.
 */

/** One dispatched server-sent event. */
export interface SseEvent {
  /** Event type ("message" when no event: line was given). */
  event: string;
  data: string;
  id?: string;
  retry?: number;
}

/** Counters of one parser. */
export interface SseParserStats {
  events: number;
  comments: number;
  malformed_lines: number;
  /** Lines dropped because they exceeded the line limit. */
  oversize_lines: number;
}

/** Which of the fields the parser knows s[a, b) names (null: another). */
function fieldOf(s: string, a: number, b: number): 'data' | 'event' | 'id' | 'retry' | null {
  switch (b - a) {
    case 4:
      return s.startsWith('data', a) ? 'data' : null;
    case 5:
      return s.startsWith('event', a) ? 'event' : s.startsWith('retry', a) ? 'retry' : null;
    case 2:
      return s.startsWith('id', a) ? 'id' : null;
    default:
      return null;
  }
}

/** Push parser of one event stream. */
export class SseParser {
  private partial = '';
  private lastWasCR = false;
  private dataLines: string[] = [];
  private hasData = false;
  private eventName = '';
  private id: string | undefined;
  private retry: number | undefined;
  private eventSize = 0;
  private dropping = false;
  readonly stats: SseParserStats = { events: 0, comments: 0, malformed_lines: 0, oversize_lines: 0 };
  /** The first few malformed lines, shortened. */
  readonly malformedSamples: string[] = [];

  /** @param maxLineBytes longest line or event kept (characters); longer ones are dropped and counted. */
  constructor(private readonly maxLineBytes = 4 * 1024 * 1024) {}

  /** Characters held (partial line + current event's data). */
  get bufferedChars(): number {
    return this.partial.length + this.eventSize;
  }

  /** Feed decoded text; returns the events completed by it. */
  push(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    let s = text;
    let i = 0;
    if (this.lastWasCR && s.length > 0) {
      if (s[0] === '\n') i = 1;
      this.lastWasCR = false;
    }
    const len = s.length;
    // Next CR and LF at or after i, each searched again only once passed: text with
    // only one kind of line end costs one scan, not one scan per line.
    let cr = -2;
    let lf = -2;
    while (i < len) {
      if (cr !== -1 && cr < i) cr = s.indexOf('\r', i);
      if (lf !== -1 && lf < i) lf = s.indexOf('\n', i);
      const j = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (j === -1) {
        this.appendPartial(s.slice(i));
        break;
      }
      const from = i;
      const partial = this.partial;
      const wasDropping = this.dropping;
      this.partial = '';
      this.dropping = false;
      if (s.charCodeAt(j) === 0x0d) {
        if (j + 1 < len) i = s.charCodeAt(j + 1) === 0x0a ? j + 2 : j + 1;
        else {
          this.lastWasCR = true;
          i = j + 1;
        }
      } else {
        i = j + 1;
      }
      if (wasDropping) continue;
      if (partial.length + (j - from) > this.maxLineBytes) {
        this.stats.oversize_lines++;
        continue;
      }
      // the line is s[from, j), read in place unless it began in an earlier piece
      const ev = partial.length ? this.line(partial + s.slice(from, j), 0, partial.length + (j - from)) : this.line(s, from, j);
      if (ev) out.push(ev);
    }
    s = '';
    return out;
  }

  /** The stream ended: a last event not followed by a blank line is dispatched too. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.partial.length && !this.dropping) {
      const ev = this.line(this.partial, 0, this.partial.length);
      if (ev) out.push(ev);
    }
    this.partial = '';
    this.dropping = false;
    const last = this.dispatch();
    if (last) out.push(last);
    return out;
  }

  private appendPartial(rest: string): void {
    if (this.dropping) return;
    if (this.partial.length + rest.length > this.maxLineBytes) {
      this.partial = '';
      this.dropping = true;
      this.stats.oversize_lines++;
      return;
    }
    this.partial += rest;
  }

  /** The line s[a, b) (without its line end). */
  private line(s: string, a: number, b: number): SseEvent | null {
    if (a === b) return this.dispatch();
    if (s.charCodeAt(a) === 0x3a /* : */) {
      this.stats.comments++;
      return null;
    }
    let c = s.indexOf(':', a);
    if (c >= b) c = -1;
    // the field name is s[a, end); the value follows the colon and one space
    const end = c === -1 ? b : c;
    let v = c === -1 ? b : c + 1;
    if (v < b && s.charCodeAt(v) === 0x20) v++;
    switch (fieldOf(s, a, end)) {
      case 'data': {
        const value = s.slice(v, b);
        if (this.eventSize + value.length > this.maxLineBytes) {
          this.stats.oversize_lines++;
          return null;
        }
        this.dataLines.push(value);
        this.hasData = true;
        this.eventSize += value.length + 1;
        return null;
      }
      case 'event':
        this.eventName = s.slice(v, b);
        return null;
      case 'id': {
        const value = s.slice(v, b);
        if (!value.includes('\0')) this.id = value;
        return null;
      }
      case 'retry': {
        const value = s.slice(v, b);
        if (/^\d+$/.test(value)) this.retry = Number(value);
        else this.malformed(s.slice(a, b));
        return null;
      }
      default:
        this.malformed(s.slice(a, b));
        return null;
    }
  }

  private malformed(line: string): void {
    this.stats.malformed_lines++;
    if (this.malformedSamples.length < 5) this.malformedSamples.push(line.length > 80 ? line.slice(0, 77) + '...' : line);
  }

  private dispatch(): SseEvent | null {
    const hadData = this.hasData;
    const lines = this.dataLines;
    const ev: SseEvent = { event: this.eventName || 'message', data: lines.length === 1 ? lines[0] : lines.join('\n') };
    if (this.id !== undefined) ev.id = this.id;
    if (this.retry !== undefined) ev.retry = this.retry;
    this.dataLines = [];
    this.hasData = false;
    this.eventName = '';
    this.retry = undefined;
    this.eventSize = 0;
    // The id persists across events (last event ID); only data-bearing events are dispatched.
    if (!hadData) return null;
    this.stats.events++;
    return ev;
  }
}
