/**
 * NDJSON in and out: one event per line, as written by FileLogger and the
 * CLI, read back for replay through analyzer chains.
 */
import * as fs from 'fs';
import { diagnosticEvent, type Event } from '../core/event';
import { encodePayload, sslPayload } from '../core/payload';
import { jsonText } from '../render/safe-text';
import { UsageError } from '../core/errors';

/**
 * One event as a JSON line (with "\n"). ssl events whose bytes are held out
 * of band get data.data / data.data_encoding filled in, so nothing is lost.
 * Characters a terminal would interpret are escaped (jsonText()), so a line
 * shown on a terminal is as harmless as it is exact.
 */
export function toJsonLine(e: Event): string {
  if (e.source === 'ssl' && typeof (e.data as { data?: unknown }).data !== 'string') {
    const bytes = sslPayload(e);
    return jsonText(JSON.stringify({ ...e, data: { ...e.data, ...encodePayload(bytes) } })) + '\n';
  }
  return jsonText(JSON.stringify(e)) + '\n';
}

function isEvent(v: unknown): v is Event {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.source === 'string' && typeof o.timestamp === 'number' && typeof o.data === 'object' && o.data !== null;
}

/** Where a line is in its file: byte offset and length (without the line end). */
export interface LineLocation {
  offset: number;
  length: number;
}

/** An event read from a file, with where its line is. */
export interface LocatedEvent {
  event: Event;
  at: LineLocation;
}

/** The lines of a file with their byte offsets (LF or CRLF ends; a last line without one counts). */
export async function* readLines(path: string, start = 0): AsyncIterable<{ text: string; at: LineLocation }> {
  const input = fs.createReadStream(path, { start, highWaterMark: 256 * 1024 });
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let lineStart = start;
  /** The line ending before `tail`'s end: its text and place; the next starts after its LF. */
  const take = (tail: Buffer) => {
    const buf = pending.length ? Buffer.concat([...pending, tail], pendingLen + tail.length) : tail;
    pending = [];
    pendingLen = 0;
    const len = buf.length > 0 && buf[buf.length - 1] === 0x0d ? buf.length - 1 : buf.length;
    const line = { text: buf.toString('utf8', 0, len), at: { offset: lineStart, length: len } };
    lineStart += buf.length + 1;
    return line;
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let from = 0;
      for (let nl = chunk.indexOf(0x0a, from); nl !== -1; nl = chunk.indexOf(0x0a, from)) {
        const line = take(chunk.subarray(from, nl));
        from = nl + 1;
        yield line;
      }
      if (from < chunk.length) {
        pending.push(chunk.subarray(from));
        pendingLen += chunk.length - from;
      }
    }
    if (pendingLen > 0) yield take(Buffer.alloc(0));
  } finally {
    input.destroy();
  }
}

/** One line as an event, or the reason it is not one. */
export function parseEventLine(line: string): { event: Event } | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (!isEvent(v)) return { error: 'not an event (needs timestamp, source, data)' };
  if (typeof v.pid !== 'number') v.pid = 0;
  if (typeof v.comm !== 'string') v.comm = '';
  return { event: v };
}

/**
 * Read events from an NDJSON file with the place of each line. Blank lines
 * are skipped; a line that is not an event yields a `diagnostic` event
 * saying which line and why, so a damaged file replays as far as it can.
 */
export async function* readNdjsonLocated(path: string): AsyncIterable<LocatedEvent> {
  let n = 0;
  for await (const { text, at } of readLines(path)) {
    n++;
    if (text.trim() === '') continue;
    const r = parseEventLine(text);
    if ('event' in r) yield { event: r.event, at };
    else
      yield {
        event: diagnosticEvent({
          type: 'ndjson_error',
          level: 'warning',
          message: `${path}:${n}: not an event: ${r.error}`,
          path,
          line: n,
          error: r.error,
          excerpt: text.slice(0, 80),
        }),
        at,
      };
  }
}

/**
 * Read events from an NDJSON file. Blank lines are skipped; a line that is
 * not an event yields a `diagnostic` event saying which line and why, so a
 * damaged file replays as far as it can.
 */
export async function* readNdjson(path: string): AsyncIterable<Event> {
  for await (const { event } of readNdjsonLocated(path)) yield event;
}

/** Check that the files can be read before anything is done with them. */
export function checkSessionFiles(files: readonly string[], what = 'report'): void {
  if (files.length === 0) throw new UsageError(`${what} needs at least one session file (NDJSON, as written by record or --output)`);
  for (const f of files) {
    let st: fs.Stats;
    try {
      st = fs.statSync(f);
    } catch (e) {
      throw new UsageError(`${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    if (!st.isFile()) throw new UsageError(`${f}: not a regular file`);
    try {
      fs.accessSync(f, fs.constants.R_OK);
    } catch (e) {
      throw new UsageError(`${f}: cannot be read: ${(e as Error).message}`);
    }
  }
}
