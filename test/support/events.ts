import type { Analyzer } from '../../lib/core/analyzer';
import { chain } from '../../lib/core/analyzer';
import type { Event } from '../../lib/core/event';
import { SSL_F, SSL_FUNC_NAMES, SSL_LIB, type SslFunctionName, type SslLibrary } from '../../lib/kernel/abi';
import { KernelClock } from '../../lib/kernel/clock';
import { decodeProcessRecord } from '../../lib/kernel/process-decode';
import { decodeSslRecord } from '../../lib/kernel/ssl-decode';
import { execRecord, exitRecord, openRecord, sslRecord, type Hdr } from './records';

/*
 * Test events are records laid out as bpf/events.h says (records.ts), decoded
 * by the tracers' own decoders: they have exactly the shape the tracers emit.
 */

/** Wall clock of the test events: monotonic 0 is 2025-11-28T03:40:34.567Z. */
export const TEST_CLOCK = new KernelClock({ clocks: () => ({ realtimeNs: 1_764_301_234_567_000_000n, monotonicNs: 0n }) });

const DEFAULT_PID = 4242;
const DEFAULT_SESSION = 0x55d0c0a1b2c0n;

/** The session pointer (SSL *) of a named TLS session: the same name, the same session. */
function sessionPtr(name?: string): bigint {
  if (name === undefined) return DEFAULT_SESSION;
  let h = 0x811c9dc5; // FNV-1a
  for (const c of Buffer.from(name)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return 0x7f0000000000n | (BigInt(h) << 4n);
}

/** The conn_id the tracer gives a session (named as in ssl()'s `conn` option) of a process. */
export function connId(name?: string, pid = DEFAULT_PID): string {
  return `${pid}:0x${sessionPtr(name).toString(16)}`;
}

/** The default session of the default process. */
export const CONN = connId();

let clock = 1_000_000_000;
/** Monotonic ns of the next event: 1 ms after the previous one unless given. */
function nextMono(mono?: number): number {
  clock += 1_000_000;
  return mono ?? clock;
}

export interface SslOptions {
  /** Name of the TLS session (each name is one SSL * of the process); default the one of CONN. */
  conn: string;
  pid: number;
  tid: number;
  /** text, or the exact bytes (which need not be UTF-8) */
  comm: string | Buffer;
  mono: number;
  library: SslLibrary;
  /** The call moved more bytes than were captured. */
  truncated: boolean;
  /** Bytes the call moved beyond the captured ones. */
  bytes_lost: number;
}

function decoded(rec: Buffer, decode: (b: Buffer, at: number, len: number, c: KernelClock) => Event | null): Event {
  const e = decode(rec, 0, rec.length, TEST_CLOCK);
  if (!e) throw new Error('a test record did not decode');
  return e;
}

/**
 * An ssl event as the tracer produces it (docs/events.md): one TLS call of
 * python3 (pid 4242, uid 1000) over a socket 192.168.1.20:51234 -> 160.79.104.10:443.
 */
export function ssl(fn: SslFunctionName, bytes: Buffer | string, opts: Partial<SslOptions> = {}): Event {
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  const pid = opts.pid ?? DEFAULT_PID;
  const h: Hdr = { ts: nextMono(opts.mono), pid, tid: opts.tid ?? pid, uid: 1000, comm: opts.comm ?? 'python3' };
  const rec = sslRecord(h, {
    func: SSL_FUNC_NAMES.indexOf(fn) as 0 | 1 | 2,
    data,
    len: data.length + (opts.bytes_lost ?? 0),
    ssl: sessionPtr(opts.conn),
    latencyNs: 12_000,
    lib: SSL_LIB[opts.library ?? 'openssl'],
    fd: 7,
    flags: opts.truncated ? SSL_F.TRUNCATED : 0,
    family: 2, // AF_INET
    lport: 51234,
    rport: 443,
    laddr: [192, 168, 1, 20],
    raddr: [160, 79, 104, 10],
  });
  return decoded(rec, decodeSslRecord);
}

export interface ProcessOptions {
  pid: number;
  /** text, or the exact bytes (which need not be UTF-8) */
  comm: string | Buffer;
  mono: number;
}

function processHdr(o: Partial<ProcessOptions>, comm: string): Hdr {
  const pid = o.pid ?? DEFAULT_PID;
  return { ts: nextMono(o.mono), pid, uid: 1000, comm: o.comm ?? comm };
}

/** A process EXEC event as the process tracer produces it. */
export function exec(o: Partial<ProcessOptions & { ppid: number; filename: string | Buffer; argv: ReadonlyArray<string | Buffer> }> = {}): Event {
  const argv = o.argv ?? ['python3', 'agent.py'];
  return decoded(execRecord(processHdr(o, 'python3'), o.ppid ?? 1, o.filename ?? '/usr/bin/python3', argv), decodeProcessRecord);
}

/** A process EXIT event (exit status as wait(2) gives it: code << 8, or the signal). */
export function exit(o: Partial<ProcessOptions & { status: number; durationNs: number }> = {}): Event {
  return decoded(exitRecord(processHdr(o, 'python3'), 1, o.status ?? 0, o.durationNs ?? 1_000_000_000), decodeProcessRecord);
}

/** A FILE_OPEN event: opened as fd (default 3), or failed with -errno when ret < 0. */
export function fileOpen(o: Partial<ProcessOptions & { path: string | Buffer; base: string | Buffer; ret: number; openFlags: number }> = {}): Event {
  return decoded(openRecord(processHdr(o, 'python3'), o.path ?? '/etc/hosts', o.base ?? '', o.ret ?? 3, o.openFlags ?? 0), decodeProcessRecord);
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
