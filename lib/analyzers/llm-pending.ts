/**
 * The LLM requests waiting for their answers, within bounds: an exchange is
 * forgotten when nothing happened on it for `timeoutMs` of event time, when
 * its process exited before an answer began (after `exitGraceMs`, so what
 * the HTTP parser flushes about the exit still pairs), and, oldest first,
 * beyond the caps per connection, per process, in number and in bytes.
 * Everything forgotten is counted, by reason.
 */
import { UsageError } from '../core/errors';
import type { Event } from '../core/event';

/** Bounds of the waiting requests (LlmAnalyzerOptions). */
export interface PendingLimits {
  /** An exchange with no event for this long (event time) is forgotten. Default 300000 (5 min, the HTTP parser's idle timeout). */
  timeoutMs?: number;
  /** A request not answered at all when its process exits is forgotten this long (event time) after the exit. Default 2000. */
  exitGraceMs?: number;
  /** Requests waiting at once. Default 256. */
  maxPending?: number;
  /** Requests waiting per connection. Default 8. */
  maxPerConnection?: number;
  /** Requests waiting per process. Default 64. */
  maxPerProcess?: number;
  /** Request body bytes held by the waiting requests (their parsed form is about as large). Default 32 MiB. */
  maxBytes?: number;
}

/** The request's event, without its body (the parsed request is kept instead). */
export interface RequestRef {
  pid: number;
  comm: string;
  comm_b64?: string;
  timestamp: number;
  mono_ns?: number;
  conn_id: string;
  seq: number;
}

/** What the request event of a call is kept as. */
export function requestRef(e: Event): RequestRef {
  const d = e.data as Record<string, unknown>;
  const r: RequestRef = { pid: e.pid, comm: e.comm, timestamp: e.timestamp, conn_id: String(d.conn_id), seq: Number(d.seq) };
  if (typeof e.mono_ns === 'number') r.mono_ns = e.mono_ns;
  if (typeof e.comm_b64 === 'string') r.comm_b64 = e.comm_b64;
  return r;
}

/** What the table needs to know of an entry. */
export interface PendingEntry {
  connId: string;
  pid: number;
  /** what the entry holds, roughly: the size of the request body (its parsed form is about as large), and of what is kept of its answer */
  bytes: number;
  /** event time of the last event of the exchange */
  lastNs: number;
  /** an answer began (a streamed response's head was seen) */
  answered: boolean;
  /** event time after which the entry is forgotten because its process exited */
  exitDeadlineNs?: number;
}

/** Why requests were never answered, counted. */
export interface PendingCounters {
  /** no event on the exchange for timeoutMs */
  requests_expired: number;
  /** the process exited before any answer */
  requests_process_exited: number;
  /** forgotten, oldest first, beyond maxPerConnection / maxPerProcess / maxPending / maxBytes */
  requests_evicted: number;
  /** still waiting when the input ended */
  requests_unanswered_at_end: number;
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new UsageError(`LlmAnalyzer: ${name} must be a positive number (got ${String(v)})`);
  return v;
}

export class PendingExchanges<T extends PendingEntry> {
  /** in arrival order (a Map keeps insertion order): the first is the oldest */
  private readonly entries = new Map<string, T>();
  private readonly perConn = new Map<string, number>();
  private readonly perPid = new Map<number, number>();
  private heldBytes = 0;
  private lastSweepNs = -Infinity;
  private readonly timeoutNs: number;
  private readonly exitGraceNs: number;
  private readonly maxPending: number;
  private readonly maxPerConnection: number;
  private readonly maxPerProcess: number;
  private readonly maxBytes: number;
  readonly counters: PendingCounters = { requests_expired: 0, requests_process_exited: 0, requests_evicted: 0, requests_unanswered_at_end: 0 };

  constructor(limits: PendingLimits = {}) {
    this.timeoutNs = positive('requestTimeoutMs', limits.timeoutMs, 300_000) * 1e6;
    this.exitGraceNs = positive('exitGraceMs', limits.exitGraceMs, 2000) * 1e6;
    this.maxPending = positive('maxPending', limits.maxPending, 256);
    this.maxPerConnection = positive('maxPendingPerConnection', limits.maxPerConnection, 8);
    this.maxPerProcess = positive('maxPendingPerProcess', limits.maxPerProcess, 64);
    this.maxBytes = positive('maxPendingBytes', limits.maxBytes, 32 * 1024 * 1024);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Request body bytes of the waiting requests. */
  get bytes(): number {
    return this.heldBytes;
  }

  /**
   * The entry of the exchange `seq` of connection `connId` (key
   * `${connId}#${seq}`), made active at `ns`. The entry found last is kept
   * while no entry is removed: the events of one exchange come in a row, and
   * they find it without building and hashing its key.
   */
  getExchange(connId: unknown, seq: unknown, ns: number): T | undefined {
    const l = this.lastFound;
    let p: T | undefined;
    if (l !== null && l.gen === this.removals && l.seq === seq && l.connId === connId) p = l.entry;
    else {
      p = this.entries.get(`${connId}#${seq}`);
      this.lastFound = p ? { connId, seq, entry: p, gen: this.removals } : null;
    }
    if (p) p.lastNs = Math.max(p.lastNs, ns);
    return p;
  }

  /** What getExchange() found last, valid while `removals` is what it was then. */
  private lastFound: { connId: unknown; seq: unknown; entry: T; gen: number } | null = null;
  /** Entries removed so far (any removal may be of the entry found last). */
  private removals = 0;

  /** The entry of an exchange, left as it is. */
  peek(key: string): T | undefined {
    return this.entries.get(key);
  }

  /** The entry of an exchange, forgotten (it was answered). */
  take(key: string): T | undefined {
    const p = this.entries.get(key);
    if (p) this.remove(key, p);
    return p;
  }

  /** A new request: older ones are forgotten first when a bound would be passed. */
  add(key: string, p: T): void {
    const old = this.entries.get(key);
    if (old) this.remove(key, old);
    if ((this.perConn.get(p.connId) ?? 0) >= this.maxPerConnection) this.evictFirst((q) => q.connId === p.connId);
    if ((this.perPid.get(p.pid) ?? 0) >= this.maxPerProcess) this.evictFirst((q) => q.pid === p.pid);
    while (this.entries.size > 0 && (this.entries.size >= this.maxPending || this.heldBytes + p.bytes > this.maxBytes)) this.evictFirst(() => true);
    this.entries.set(key, p);
    this.perConn.set(p.connId, (this.perConn.get(p.connId) ?? 0) + 1);
    this.perPid.set(p.pid, (this.perPid.get(p.pid) ?? 0) + 1);
    this.heldBytes += p.bytes;
  }

  /** The entry now holds `bytes` (a streamed answer followed as it arrives); others are forgotten, oldest first, beyond maxBytes. */
  resize(p: T, bytes: number): void {
    this.heldBytes += bytes - p.bytes;
    p.bytes = bytes;
    while (this.heldBytes > this.maxBytes && this.entries.size > 1) this.evictFirst((q) => q !== p);
  }

  /** Process `pid` exited at `ns`: its requests that no answer began for are forgotten after the grace. */
  exited(pid: number, ns: number): void {
    if (!this.perPid.has(pid)) return;
    for (const p of this.entries.values()) if (p.pid === pid && !p.answered) p.exitDeadlineNs ??= ns + this.exitGraceNs;
  }

  /** Forget what timed out or outlived its process, as of event time `ns` (looks at most once a second). */
  sweep(ns: number): void {
    if (ns - this.lastSweepNs < 1e9) return;
    this.lastSweepNs = ns;
    for (const [key, p] of [...this.entries]) {
      if (p.exitDeadlineNs !== undefined && ns > p.exitDeadlineNs) {
        this.remove(key, p);
        this.counters.requests_process_exited++;
      } else if (ns - p.lastNs > this.timeoutNs) {
        this.remove(key, p);
        this.counters.requests_expired++;
      }
    }
  }

  /** Input over: what still waits is counted. */
  end(): void {
    this.counters.requests_unanswered_at_end += this.entries.size;
    this.entries.clear();
    this.removals++;
    this.perConn.clear();
    this.perPid.clear();
    this.heldBytes = 0;
  }

  private evictFirst(match: (p: T) => boolean): void {
    for (const [key, p] of this.entries) {
      if (!match(p)) continue;
      this.remove(key, p);
      this.counters.requests_evicted++;
      return;
    }
  }

  private remove(key: string, p: T): void {
    this.entries.delete(key);
    this.removals++;
    this.heldBytes -= p.bytes;
    const c = (this.perConn.get(p.connId) ?? 1) - 1;
    if (c > 0) this.perConn.set(p.connId, c);
    else this.perConn.delete(p.connId);
    const n = (this.perPid.get(p.pid) ?? 1) - 1;
    if (n > 0) this.perPid.set(p.pid, n);
    else this.perPid.delete(p.pid);
  }
}
