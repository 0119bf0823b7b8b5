/**
 * NDJSON in and out: one event per line, as written by FileLogger and the
 * CLI, read back for replay through analyzer chains.
 */
import * as fs from 'fs';
import * as readline from 'readline';
import { diagnosticEvent, type Event } from '../core/event';
import { encodePayload, sslPayload } from '../core/payload';
import { jsonText } from '../render/safe-text';

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

/**
 * Read events from an NDJSON file. Blank lines are skipped; a line that is
 * not an event yields a `diagnostic` event saying which line and why, so a
 * damaged file replays as far as it can.
 */
export async function* readNdjson(path: string): AsyncIterable<Event> {
  const input = fs.createReadStream(path, { encoding: 'utf8' });
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() === '') continue;
      let v: unknown;
      let error: string | null = null;
      try {
        v = JSON.parse(line);
        if (!isEvent(v)) error = 'not an event (needs timestamp, source, data)';
      } catch (e) {
        error = (e as Error).message;
      }
      if (error === null) {
        const ev = v as Event;
        if (typeof ev.pid !== 'number') ev.pid = 0;
        if (typeof ev.comm !== 'string') ev.comm = '';
        yield ev;
      } else {
        yield diagnosticEvent({
          type: 'ndjson_error',
          level: 'warning',
          message: `${path}:${n}: not an event: ${error}`,
          path,
          line: n,
          error,
          excerpt: line.slice(0, 80),
        });
      }
    }
  } finally {
    lines.close();
    input.destroy();
  }
}
