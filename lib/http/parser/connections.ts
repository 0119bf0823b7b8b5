/**
 * The connections the HTTP parser follows: one Http1Stream per direction,
 * kept in least-recently-active order, bounded in number, evicted when idle
 * (event time) or when their process exits.
 */
import type { Event } from '../../core/event';
import { Http1Stream, type StreamSink } from '../stream';
import type { ParseContext } from './context';
import { releaseMessage } from './message';
import type { Conn, Dir, DirState } from './state';

/** Makes the receiver of what one direction's stream parses. */
export type SinkFactory = (c: Conn, dir: Dir, ds: DirState) => StreamSink;

export class ConnectionTable {
  /** In least-recently-active order (a Map keeps insertion order). */
  private readonly conns = new Map<string, Conn>();
  private lastSweepNs = -Infinity;

  constructor(
    private readonly ctx: ParseContext,
    private readonly sinkFor: SinkFactory,
  ) {}

  /** The connection inserted last in `conns` (the most recently active one), when known. */
  private lastId: string | null = null;

  get size(): number {
    return this.conns.size;
  }

  /** Bytes held by the streams: undecided input, and streamed bodies not yet passed on. */
  bufferedBytes(): number {
    let n = 0;
    for (const c of this.conns.values()) {
      for (const ds of [c.dirs.write, c.dirs.read]) {
        n += ds.parser.bufferedBytes + (ds.sniff?.length ?? 0);
        const s = ds.msg?.stream;
        if (s) n += s.heldBytes;
      }
      if (c.h2) n += c.h2.bufferedBytes;
      if (c.ws) n += c.ws.bufferedBytes;
    }
    return n;
  }

  /** The connection `id` if it is followed, left as it is. */
  peek(id: string): Conn | undefined {
    return this.conns.get(id);
  }

  /** The connection `id` (made active at `ns`), opened for `e`'s process when new; evicts the least recently active beyond the bound. */
  get(id: string, e: Event, ns: number): Conn {
    let c = this.conns.get(id);
    if (c) {
      // most recently active last; already there when the previous event was on it too
      if (id !== this.lastId) {
        this.conns.delete(id);
        this.conns.set(id, c);
        this.lastId = id;
      }
      c.lastNs = ns;
      return c;
    }
    if (this.conns.size >= this.ctx.config.maxConnections) {
      const oldest = this.conns.values().next().value as Conn;
      this.close(oldest, e, 'evicted');
      this.ctx.counters.connections_evicted++;
    }
    c = {
      id,
      pid: e.pid,
      comm: e.comm,
      lastNs: ns,
      nextSeq: 0,
      awaiting: [],
      dirs: { write: null as unknown as DirState, read: null as unknown as DirState },
      h2: null,
      ws: null,
    };
    if (e.comm_b64 !== undefined) c.comm_b64 = e.comm_b64;
    c.dirs.write = this.newDir(c, 'write');
    c.dirs.read = this.newDir(c, 'read');
    this.conns.set(id, c);
    this.lastId = id;
    return c;
  }

  /** Evict connections idle (event time) longer than idleTimeoutMs; looks at most every quarter of it (at least 1 s). */
  sweep(ns: number): void {
    const idleNs = this.ctx.config.idleNs;
    if (ns - this.lastSweepNs < Math.max(1e9, idleNs / 4)) return;
    this.lastSweepNs = ns;
    const limit = ns - idleNs;
    for (const c of [...this.conns.values()]) {
      if (c.lastNs >= limit) break; // map is in activity order
      this.close(c, this.ctx.cursor?.event, 'idle_timeout');
      this.ctx.counters.connections_evicted++;
    }
  }

  /** Close every connection of process `pid` (it exited: event `e`). */
  closeProcess(pid: number, e: Event): void {
    for (const c of [...this.conns.values()]) if (c.pid === pid) this.close(c, e, 'process_exit');
  }

  /** Close every connection (input over). */
  closeAll(when: Event | undefined): void {
    for (const c of [...this.conns.values()]) this.close(c, when, 'end_of_input');
  }

  /** End both streams of a connection (flushing what they hold, at the time of `when`) and forget it. */
  private close(c: Conn, when: Event | undefined, reason: string): void {
    this.ctx.at(when, () => {
      c.h2?.close();
      c.ws?.close(reason);
      for (const dir of ['write', 'read'] as const) {
        const ds = c.dirs[dir];
        ds.parser.end();
        if (ds.msg) releaseMessage(this.ctx, ds.msg);
        ds.msg = null;
      }
      this.conns.delete(c.id);
      if (c.id === this.lastId) this.lastId = null;
    });
  }

  private newDir(c: Conn, dir: Dir): DirState {
    const ds: DirState = { parser: null as unknown as Http1Stream, msg: null, startRefs: null, startNs: 0, sniff: null, started: false };
    ds.parser = new Http1Stream(this.sinkFor(c, dir, ds), { maxHeaderBytes: this.ctx.config.maxHeaderBytes });
    return ds;
  }
}

/** Remember which ssl events carried the bytes of a message whose head is not complete yet. */
export function noteHeadBytes(ctx: ParseContext, ds: DirState): void {
  const p = ds.startRefs;
  if (p === null) {
    ds.startNs = ctx.ns;
    ds.startRefs = ctx.refsHere();
    return;
  }
  const seq = ctx.refSeq();
  if (p.last_seq !== seq) {
    p.last_seq = seq;
    const mono = ctx.refMono();
    if (mono !== undefined) p.last_mono_ns = mono;
    p.events++;
  }
}
