/**
 * rustls records take their connection from their socket: reads carry it,
 * writes wait for the BIND record of their encrypter (events behind them
 * wait too, in order), and a write that waits too long goes on with its
 * encrypter as connection. Also the attach cookie of the rustls kinds.
 */
import { describe, expect, it } from 'vitest';
import type { Event } from '../../lib/core/event';
import { SSL_FUNC, SSL_KIND, SSL_LIB, sslCookie } from '../../lib/kernel/abi';
import { decodeSslRecord, type SslData } from '../../lib/kernel/ssl-decode';
import { RUSTLS_HOLD_NS, RustlsConnections } from '../../lib/tracers/ssl/rustls-conns';
import { TEST_CLOCK } from '../support/events';
import { sslRecord } from '../support/records';

const PID = 4242;
const ENC = 0x7f00_1000n;
const DEC = 0x7f00_2000n;

function rec(
  func: keyof typeof SSL_FUNC,
  o: { key: bigint; ts: number; data?: string; lib?: keyof typeof SSL_LIB; port?: number; pid?: number },
): Event<SslData> {
  const data = Buffer.from(o.data ?? '');
  const b = sslRecord(
    { ts: o.ts, pid: o.pid ?? PID, tid: o.pid ?? PID, uid: 0, comm: 'codex' },
    {
      func: SSL_FUNC[func] as 0 | 1 | 2,
      data,
      ssl: o.key,
      lib: SSL_LIB[o.lib ?? 'rustls'],
      ...(o.port ? { family: 2, lport: o.port, rport: 443, laddr: [127, 0, 0, 1], raddr: [127, 0, 0, 1], fd: 9 } : {}),
    },
  );
  const e = decodeSslRecord(b, 0, b.length, TEST_CLOCK);
  if (!e) throw new Error('undecodable test record');
  return e as Event<SslData>;
}

const drain = (c: RustlsConnections, evs: Event<SslData>[]) => [...evs.flatMap((e) => c.push(e)), ...c.flush()];

describe('RustlsConnections', () => {
  it('a write waits for its BIND; the read with its socket and both get one connection; BIND is not an event', () => {
    const c = new RustlsConnections();
    const w = rec('WRITE', { key: ENC, ts: 1_000, data: 'POST /v1/responses HTTP/1.1\r\n\r\n' });
    expect(c.push(w)).toEqual([]);
    expect(c.waiting).toBe(1);
    const other = rec('READ', { key: 0x99n, ts: 1_500, data: 'x', lib: 'openssl', port: 40000 });
    expect(c.push(other)).toEqual([]); // behind the waiting write: order is kept
    const out = c.push(rec('BIND', { key: ENC, ts: 2_000, port: 50000 }));
    expect(out.map((e) => e.data.function)).toEqual(['WRITE/SEND', 'READ/RECV']);
    expect(out[0].data.conn_id).toBe(`${PID}:127.0.0.1:50000-127.0.0.1:443`);
    expect(out[1].data.conn_id).toBe(`4242:0x99`); // other libraries keep theirs
    const r = c.push(rec('READ', { key: DEC, ts: 3_000, data: 'HTTP/1.1 200 OK\r\n\r\n', port: 50000 }));
    expect(r[0].data.conn_id).toBe(out[0].data.conn_id);
    // later writes of the bound encrypter go on at once, with the connection
    const w2 = c.push(rec('WRITE', { key: ENC, ts: 4_000, data: 'more' }));
    expect(w2).toHaveLength(1);
    expect(w2[0].data.conn_id).toBe(out[0].data.conn_id);
    expect(c.unbound).toBe(0);
  });

  it('records that carry their socket go on at once', () => {
    const c = new RustlsConnections();
    const e = rec('WRITE', { key: ENC, ts: 1, data: 'GET / HTTP/1.1\r\n\r\n', port: 41000 });
    expect(c.push(e)).toEqual([e]);
    expect(e.data.conn_id).toBe(`${PID}:127.0.0.1:41000-127.0.0.1:443`);
  });

  it('a write whose BIND never comes goes on after the hold time (event time) with its encrypter, and is counted', () => {
    const c = new RustlsConnections();
    c.push(rec('WRITE', { key: ENC, ts: 10, data: 'lost socket' }));
    expect(c.push(rec('READ', { key: 0x5n, ts: 10 + RUSTLS_HOLD_NS - 1, data: 'a', lib: 'openssl', port: 1 }))).toEqual([]);
    const out = c.push(rec('READ', { key: 0x5n, ts: 10 + RUSTLS_HOLD_NS + 1, data: 'b', lib: 'openssl', port: 1 }));
    expect(out.map((e) => e.data.data)).toEqual(['lost socket', 'a', 'b']);
    expect(out[0].data.conn_id).toBe(`${PID}:0x${ENC.toString(16)}`);
    expect(c.unbound).toBe(1);
  });

  it('flush() lets everything go at the end, in order', () => {
    const c = new RustlsConnections();
    const evs = [rec('WRITE', { key: ENC, ts: 1, data: '1' }), rec('WRITE', { key: ENC, ts: 2, data: '2' })];
    expect(drain(c, evs).map((e) => e.data.data)).toEqual(['1', '2']);
    expect(c.waiting).toBe(0);
  });

  it('the same encrypter address in two processes is two encrypters', () => {
    const c = new RustlsConnections();
    c.push(rec('BIND', { key: ENC, ts: 1, port: 50000, pid: 1 }));
    expect(c.push(rec('WRITE', { key: ENC, ts: 2, data: 'p2', pid: 2 }))).toEqual([]);
  });
});

describe('sslCookie', () => {
  it('packs kind, library and the byte parameters of the rustls kinds', () => {
    expect(sslCookie(SSL_KIND.READ, 'openssl')).toBe(0);
    expect(sslCookie(SSL_KIND.RUSTLS_DECRYPT, 'rustls', [0, 8])).toBe(6 | (4 << 8) | (0 << 16) | (8 << 24));
    const enc = sslCookie(SSL_KIND.RUSTLS_ENCRYPT, 'rustls', [0, 32, 3]);
    expect(enc % 256).toBe(7);
    expect(Math.floor(enc / 2 ** 8) % 256).toBe(4);
    expect(Math.floor(enc / 2 ** 24) % 256).toBe(32);
    expect(Math.floor(enc / 2 ** 32) % 256).toBe(3);
    expect(sslCookie(SSL_KIND.WRITE_EX, 'openssl', [4])).toBe(3 + (4 << 16));
  });
  it('refuses parameters that do not fit a byte', () => {
    expect(() => sslCookie(SSL_KIND.RUSTLS_ENCRYPT, 'rustls', [256])).toThrow(RangeError);
    expect(() => sslCookie(SSL_KIND.RUSTLS_ENCRYPT, 'rustls', [1, 2, 3, 4])).toThrow(RangeError);
  });
});
