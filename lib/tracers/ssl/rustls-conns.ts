/**
 * Connection identity of rustls records.
 *
 * rustls is probed where it protects records (MessageEncrypter::encrypt and
 * MessageDecrypter::decrypt), whose objects are one per direction and key:
 * the two directions of one connection have different `ssl_ptr`s, and both
 * change when the keys do. What they share is the TCP socket, which the
 * kernel side finds for reads (the receive the thread made just before the
 * decrypt) at once and for writes only at the thread's next send, which comes
 * after the encrypt's record: it then sends a BIND record (encrypter ->
 * socket). So a rustls record's connection is its socket, `pid:laddr:lport-raddr:rport`;
 * a write whose socket is not known yet waits for its BIND (events behind it
 * wait too, so the order of events is kept). One that waits longer than
 * `holdNs` of event time, or until the end, goes on with `pid:ssl_ptr`.
 */
import type { Event } from '../../core/event';
import type { SslData } from '../../kernel/ssl-decode';

/** How long (event time) a rustls write may wait for the socket it went out on. */
export const RUSTLS_HOLD_NS = 250_000_000;

function socketOf(d: SslData): string | undefined {
  if (d.local_port === undefined || d.remote_port === undefined) return undefined;
  return `${d.local_addr}:${d.local_port}-${d.remote_addr}:${d.remote_port}`;
}

export class RustlsConnections {
  /** pid:ssl_ptr -> socket */
  private readonly sockets = new Map<string, string>();
  private readonly held: Event<SslData>[] = [];
  /** rustls writes that went on without a socket (waited too long). */
  unbound = 0;

  constructor(private readonly holdNs = RUSTLS_HOLD_NS) {}

  /** Records waiting. */
  get waiting(): number {
    return this.held.length;
  }

  private resolve(e: Event<SslData>): boolean {
    const d = e.data;
    if (d.library !== 'rustls') return true;
    const key = `${d.pid}:${d.ssl_ptr}`;
    let sock = socketOf(d);
    if (sock) this.sockets.set(key, sock);
    else sock = this.sockets.get(key);
    if (!sock) return false;
    d.conn_id = `${d.pid}:${sock}`;
    return true;
  }

  /**
   * One decoded ssl event in; the events that can go on, in order. BIND
   * records are consumed here.
   */
  push(e: Event<SslData>): Event<SslData>[] {
    const d = e.data;
    if (d.function === 'BIND') {
      const sock = socketOf(d);
      if (sock) this.sockets.set(`${d.pid}:${d.ssl_ptr}`, sock);
      return this.release(e.mono_ns ?? 0);
    }
    if (this.held.length === 0 && this.resolve(e)) return [e];
    this.held.push(e);
    return this.release(e.mono_ns ?? 0);
  }

  /** Everything still waiting (the end of the stream). */
  flush(): Event<SslData>[] {
    return this.release(Number.POSITIVE_INFINITY);
  }

  private release(now: number): Event<SslData>[] {
    const out: Event<SslData>[] = [];
    while (this.held.length > 0) {
      const e = this.held[0];
      if (!this.resolve(e)) {
        if (now - (e.mono_ns ?? 0) < this.holdNs) break;
        this.unbound++;
      }
      out.push(this.held.shift()!);
    }
    return out;
  }
}
