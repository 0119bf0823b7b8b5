import type { Analyzer } from '../../lib/core/analyzer';
import { chain } from '../../lib/core/analyzer';
import type { Event } from '../../lib/core/event';
import { encodePayload } from '../../lib/core/payload';

export const CONN = '4242:0x55d0c0a1b2c0';

let clock = 1_000_000_000;

/** An ssl event in the exact shape the tracer produces (docs/events.md). */
export function ssl(fn: 'READ/RECV' | 'WRITE/SEND' | 'HANDSHAKE', bytes: Buffer | string, opts: Partial<{ conn: string; pid: number; comm: string; mono: number; truncated: boolean; bytes_lost: number; tid: number }> = {}): Event {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  clock += 1_000_000;
  const mono = opts.mono ?? clock;
  const pid = opts.pid ?? 4242;
  return {
    timestamp: 1764301234567 + Math.floor(mono / 1e6),
    mono_ns: mono,
    source: 'ssl',
    pid,
    comm: opts.comm ?? 'python3',
    data: {
      function: fn,
      pid,
      tid: opts.tid ?? pid,
      uid: 1000,
      comm: opts.comm ?? 'python3',
      len: b.length + (opts.bytes_lost ?? 0),
      latency_ms: 0.012,
      ...encodePayload(b),
      truncated: opts.truncated ?? false,
      bytes_lost: opts.bytes_lost ?? 0,
      conn_id: opts.conn ?? CONN,
      fd: 7,
      remote_addr: '160.79.104.10',
      remote_port: 443,
      library: 'openssl',
      timestamp_ns: mono,
    },
  };
}

export async function* fromArray(events: readonly Event[]): AsyncIterable<Event> {
  for (const e of events) yield e;
}

/** Run events through analyzers and collect the output. */
export async function run(analyzers: Analyzer | readonly Analyzer[], events: readonly Event[]): Promise<Event[]> {
  const list = Array.isArray(analyzers) ? analyzers : [analyzers as Analyzer];
  const out: Event[] = [];
  const ac = new AbortController();
  for await (const e of chain(fromArray(events), list, { signal: ac.signal })) out.push(e);
  return out;
}

export function http(events: readonly Event[], type?: string): Array<Record<string, any>> {
  return events.filter((e) => e.source === 'http' && (type === undefined || e.data.type === type)).map((e) => e.data);
}

/** Split a buffer at the given sorted cut points. */
export function splitAt(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...new Set(cuts)].filter((c) => c > 0 && c < buf.length).sort((a, b) => a - b)) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}

/** Chunked transfer encoding of the given pieces. */
export function chunked(pieces: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const p of pieces) {
    const b = typeof p === 'string' ? Buffer.from(p) : p;
    if (b.length === 0) continue;
    parts.push(Buffer.from(b.length.toString(16) + '\r\n'), b, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}
