import { describe, expect, it } from 'vitest';
import { SSL_F } from '../../lib/kernel/abi';
import { KernelClock } from '../../lib/kernel/clock';
import { sslPayload } from '../../lib/core/payload';
import { decodeSslRecord, formatAddr } from '../../lib/kernel/ssl-decode';
import { sslRecord } from '../support/records';

const clock = new KernelClock({ clocks: () => ({ realtimeNs: 1_700_000_000_000_000_000n, monotonicNs: 0n }) });
const dec = (b: Buffer) => decodeSslRecord(b, 0, b.length, clock);
const h = { ts: 7_000_000, pid: 42, tid: 43, uid: 1000, comm: 'python3' };

describe('ssl record decoding', () => {
  it('a text write with its connection and socket', () => {
    const e = dec(
      sslRecord(h, {
        func: 1,
        data: Buffer.from('POST /v1/messages HTTP/1.1\r\n'),
        ssl: 0xdeadbeefn,
        latencyNs: 2_345_678,
        fd: 5,
        family: 2,
        lport: 40000,
        rport: 443,
        laddr: [127, 0, 0, 1],
        raddr: [10, 1, 2, 3],
      }),
    );
    expect(e).toMatchObject({
      timestamp: 1_700_000_000_007,
      mono_ns: 7_000_000,
      source: 'ssl',
      pid: 42,
      comm: 'python3',
      data: {
        function: 'WRITE/SEND',
        pid: 42,
        tid: 43,
        uid: 1000,
        len: 28,
        latency_ms: 2.346,
        data: 'POST /v1/messages HTTP/1.1\r\n',
        data_encoding: 'utf8',
        truncated: false,
        bytes_lost: 0,
        conn_id: '42:0xdeadbeef',
        fd: 5,
        local_addr: '127.0.0.1',
        local_port: 40000,
        remote_addr: '10.1.2.3',
        remote_port: 443,
        library: 'openssl',
      },
    });
  });

  it('binary data is base64 and the exact bytes are kept out of band', () => {
    const bytes = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x00, 0x41]);
    const e = dec(sslRecord(h, { func: 0, data: bytes, lib: 1 }));
    expect(e?.data).toMatchObject({ function: 'READ/RECV', data_encoding: 'base64', data: bytes.toString('base64'), library: 'gnutls', fd: null });
    expect(e?.data.local_addr).toBeUndefined();
    expect(sslPayload(e!).equals(bytes)).toBe(true);
    // and from its JSON form
    expect(sslPayload(JSON.parse(JSON.stringify(e))).equals(bytes)).toBe(true);
  });

  it('a truncated call says how much was lost; handshakes carry no data', () => {
    const e = dec(sslRecord(h, { func: 0, data: Buffer.from('abc'), len: 10_000, flags: SSL_F.TRUNCATED }));
    expect(e?.data).toMatchObject({ len: 10_000, truncated: true, bytes_lost: 9_997 });
    const hs = dec(sslRecord(h, { func: 2, data: Buffer.alloc(0), len: 0, ret: 1 }));
    expect(hs?.data).toMatchObject({ function: 'HANDSHAKE', len: 0, data: '', ret: 1 });
  });

  it('rejects short or inconsistent records', () => {
    const b = sslRecord(h, { func: 1, data: Buffer.from('hello') });
    expect(decodeSslRecord(b, 0, 100, clock)).toBeNull();
    expect(decodeSslRecord(b, 0, b.length - 1, clock)).toBeNull();
  });

  it('formats IPv4, IPv6 and mapped addresses', () => {
    const v6 = Buffer.alloc(16);
    v6.writeUInt16BE(0x2001, 0);
    v6.writeUInt16BE(0xdb8, 2);
    v6.writeUInt16BE(1, 14);
    expect(formatAddr(10, v6)).toBe('2001:db8::1');
    const lo = Buffer.alloc(16);
    lo[15] = 1;
    expect(formatAddr(10, lo)).toBe('::1');
    const mapped = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
    expect(formatAddr(10, mapped)).toBe('::ffff:127.0.0.1');
    expect(formatAddr(2, Buffer.from([192, 168, 1, 2]))).toBe('192.168.1.2');
    expect(formatAddr(0, Buffer.alloc(16))).toBeNull();
  });
});
