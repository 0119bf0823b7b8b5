import { afterEach, describe, expect, it } from 'vitest';
import { SSL_CONFIG } from '../../lib/kernel/abi';
import { setBinding } from '../../lib/kernel/binding';
import { main } from '../../lib/cli/main';
import { captureIo, until } from '../support/io';
import { fakeBinding } from '../support/fake-binding';
import { sslRecord } from '../support/records';

afterEach(() => setBinding(null));

describe('agentsight ssl (with an injected binding)', () => {
  it('configures the TLS object, probes the host TLS libraries with one link per file and program, prints ssl events', async () => {
    const fb = fakeBinding();
    setBinding(fb);
    const cap = captureIo();
    const run = main(['ssl', '--format', 'json', '--uid', '1000', '--handshake', '--max-bytes', '65536'], cap.io);
    await until(() => fb.readers.some((r) => r.mapName === 'ssl_rb'), 10_000, 'ssl ring reader');
    const ssl = fb.objects.find((o) => o.name === 'ssl');
    const cfg = ssl?.rodata.get('cfg') as Buffer;
    expect(cfg.readUInt32LE(SSL_CONFIG.off.self_pid)).toBe(process.pid);
    expect(cfg.readUInt32LE(SSL_CONFIG.off.filter_tracked)).toBe(0);
    expect(cfg.readUInt32LE(SSL_CONFIG.off.has_uid)).toBe(1);
    expect(cfg.readUInt32LE(SSL_CONFIG.off.uid)).toBe(1000);
    expect(cfg.readUInt32LE(SSL_CONFIG.off.handshake)).toBe(1);
    expect(cfg.readUInt32LE(SSL_CONFIG.off.max_call_bytes)).toBe(65536);
    expect(ssl?.reused).toEqual(['tracked']);
    expect(ssl?.attachTypes.get('ssl_enter')).toBe(48);
    const libssl = ssl?.multi.filter((m) => m.opts.path === '/usr/lib/x86_64-linux-gnu/libssl.so.3') ?? [];
    expect(libssl.map((m) => [m.program, m.opts.retprobe ?? false, m.opts.offsets.length])).toEqual([
      ['ssl_enter', false, 6],
      ['ssl_ret', true, 5], // SSL_free: entry only
    ]);
    // cookies: kind in the low byte, library (openssl = 0) above
    expect(libssl[0].opts.cookies).toEqual([0, 1, 2, 3, 4, 5]);
    expect(libssl[1].opts.cookies).toEqual([0, 1, 2, 3, 4]);
    expect(cap.err()).toMatch(/TLS tracer attached to \d+ file\(s\): .*libssl\.so\.3 \(openssl\)/);

    const reader = fb.readers.find((r) => r.mapName === 'ssl_rb');
    reader?.push([
      sslRecord(
        { ts: 2e9, pid: 77, comm: 'curl' },
        { func: 1, data: Buffer.from('GET / HTTP/1.1\r\n\r\n'), fd: 3, family: 2, lport: 5000, rport: 443, laddr: [127, 0, 0, 1], raddr: [127, 0, 0, 1] },
      ),
    ]);
    await until(() => cap.out().includes('WRITE/SEND'), 5000, 'ssl event');
    process.emit('SIGINT');
    expect(await run).toBe(0);
    const lines = cap.lines();
    const ev = lines.find((l) => l.source === 'ssl');
    expect(ev).toMatchObject({ pid: 77, comm: 'curl', data: { function: 'WRITE/SEND', data: 'GET / HTTP/1.1\r\n\r\n', remote_port: 443 } });
    expect(lines.at(-1)).toMatchObject({ source: 'stats', data: { event: 'FINAL', tracer: 'ssl', records: 1, events: 1 } });
    expect(fb.objects.every((o) => o.closed)).toBe(true);
  });

  it('the pass-through form selects processes in the kernel (shared tracked map) and filters ports', async () => {
    const fb = fakeBinding();
    setBinding(fb);
    const cap = captureIo();
    const run = main(['ssl', '--format', 'json', '--', '--pid', String(process.pid), '--port', '443'], cap.io);
    await until(() => fb.readers.some((r) => r.mapName === 'ssl_rb'), 10_000);
    const ssl = fb.objects.find((o) => o.name === 'ssl');
    expect((ssl?.rodata.get('cfg') as Buffer).readUInt32LE(SSL_CONFIG.off.filter_tracked)).toBe(1);
    const proc = fb.objects.find((o) => o.name === 'process');
    expect(proc?.mapKeys('tracked').map((k) => k.readUInt32LE(0))).toContain(process.pid);
    const reader = fb.readers.find((r) => r.mapName === 'ssl_rb');
    const conn = { fd: 3, family: 2, laddr: [127, 0, 0, 1], raddr: [127, 0, 0, 1] };
    reader?.push([
      sslRecord({ ts: 2e9, pid: 77, comm: 'curl' }, { func: 1, data: Buffer.from('to 443'), lport: 5000, rport: 443, ...conn }),
      sslRecord({ ts: 3e9, pid: 77, comm: 'curl' }, { func: 1, data: Buffer.from('to 8443'), lport: 5001, rport: 8443, ...conn }),
      sslRecord({ ts: 4e9, pid: 77, comm: 'node' }, { func: 1, data: Buffer.from('unknown socket') }),
    ]);
    await until(() => cap.out().includes('to 443'), 5000);
    await new Promise((r) => setTimeout(r, 50));
    process.emit('SIGINT');
    expect(await run).toBe(0);
    const ssls = cap.lines().filter((l) => l.source === 'ssl');
    expect(ssls.map((l) => l.data.data)).toEqual(['to 443']);
    expect(cap.lines().at(-1)?.data).toMatchObject({ port_filtered: 1, port_unknown: 1 });
    expect(cap.err()).toContain('--port left out 1 TLS event(s) on other ports and 1 whose socket was unknown (port_unknown)');
  });

  it.each([
    [['ssl', '--interface', 'eth0'], /--interface eth0 cannot be honoured/],
    [['ssl', '--', '--port', '443', '--interface', 'eth0'], /--interface eth0 cannot be honoured/],
    [['ssl', '--port', '70000'], /--port 70000 is not a TCP port/],
    [['ssl', '--max-bytes', '99999999'], /--max-bytes must be between 0 and 4194304/],
    [['ssl', '--binary-path', '/nonexistent/agent'], /--binary-path \/nonexistent\/agent: no such file/],
    [['ssl', '--binary-path', '/bin/ls'], /--binary-path \/bin\/ls: no TLS functions found/],
    [['ssl', '--ssl-ring-size', '3'], /power of two/],
  ])('%j is a usage error', async (argv, msg) => {
    setBinding(fakeBinding());
    const cap = captureIo();
    expect(await main(argv as string[], cap.io)).toBe(2);
    expect(cap.err()).toMatch(msg as RegExp);
  });
});
