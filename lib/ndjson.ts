import * as fs from 'node:fs';
import * as readline from 'node:readline';
import type { Event } from './event';

/**
 * Events from an NDJSON file (what the CLI and FileLogger write), for
 * replaying a recorded session through analyzers. Lines that are not JSON
 * events are reported through onBadLine (default: throw, with the line number).
 */
export async function* readNdjson(file: string, onBadLine?: (lineNo: number, line: string) => void): AsyncGenerator<Event> {
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (!line.trim()) continue;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      e = null;
    }
    const ok = e !== null && typeof e === 'object' && typeof (e as Event).source === 'string' && typeof (e as Event).data === 'object';
    if (ok) yield e as Event;
    else if (onBadLine) onBadLine(n, line);
    else throw new Error(`${file}:${n}: not an event: ${line.slice(0, 80)}`);
  }
}
