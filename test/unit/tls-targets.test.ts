import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SSL_KIND } from '../../lib/kernel/abi';
import { inspectBinary, isTlsLibraryName, systemTlsLibraries } from '../../lib/tracers/ssl/targets';

const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';

/** Function offsets as binutils sees them: symbol value minus the load segment's (vaddr - offset). */
function nmOffsets(file: string, names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  const text = execFileSync('nm', ['-D', '--defined-only', file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const phdrs = execFileSync('readelf', ['-lW', file], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const loads = [...phdrs.matchAll(/LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)/g)].map((m) => ({
    off: parseInt(m[1], 16),
    vaddr: parseInt(m[2], 16),
    size: parseInt(m[4], 16),
  }));
  for (const line of text.split('\n')) {
    const [addr, , name] = line.trim().split(/\s+/);
    const base = name?.split('@')[0];
    if (!base || !names.includes(base)) continue;
    const v = parseInt(addr, 16);
    const seg = loads.find((l) => v >= l.vaddr && v < l.vaddr + l.size);
    if (seg) out[base] = v - seg.vaddr + seg.off;
  }
  return out;
}

describe('finding TLS code', () => {
  it('recognises TLS library file names only', () => {
    for (const n of ['libssl.so', 'libssl.so.3', '/x/libssl.so.1.1', 'libgnutls.so.30', 'libnspr4.so']) expect(isTlsLibraryName(n)).toBe(true);
    for (const n of ['libssl3.so', 'libcrypto.so.3', 'libsslx.so', 'libgnutlsxx.so.30', 'node']) expect(isTlsLibraryName(n)).toBe(false);
  });

  it('lists the host libraries once each', () => {
    const libs = systemTlsLibraries();
    expect(libs).toContain(LIBSSL);
    expect(new Set(libs).size).toBe(libs.length);
  });

  it('libssl: the six OpenSSL functions, with binutils offsets and the right kinds', async () => {
    const [t] = await inspectBinary(LIBSSL);
    expect(t.library).toBe('openssl');
    const names = ['SSL_read', 'SSL_write', 'SSL_read_ex', 'SSL_write_ex', 'SSL_do_handshake', 'SSL_free'];
    expect(t.functions.map((f) => f.symbol)).toEqual(names);
    expect(Object.fromEntries(t.functions.map((f) => [f.symbol, f.offset]))).toEqual(nmOffsets(LIBSSL, names));
    expect(t.functions.map((f) => f.kind)).toEqual([SSL_KIND.READ, SSL_KIND.WRITE, SSL_KIND.READ_EX, SSL_KIND.WRITE_EX, SSL_KIND.HANDSHAKE, SSL_KIND.FREE]);
  });

  it('the node executable exports OpenSSL (static) and is a target', async () => {
    const ts = await inspectBinary(process.execPath);
    expect(ts.map((t) => t.library)).toEqual(['openssl']);
    expect(ts[0].functions.find((f) => f.symbol === 'SSL_write')?.offset).toBe(nmOffsets(process.execPath, ['SSL_write']).SSL_write);
  });

  it('an executable that only imports SSL_* (curl) or has none (ls) is not a target', async () => {
    expect(await inspectBinary('/usr/bin/curl')).toEqual([]);
    expect(await inspectBinary('/bin/ls')).toEqual([]);
  });

  it('GnuTLS and NSPR libraries', async () => {
    const libs = systemTlsLibraries();
    const gnutls = libs.find((l) => l.includes('libgnutls'));
    const nspr = libs.find((l) => l.includes('libnspr4'));
    if (gnutls)
      expect((await inspectBinary(gnutls))[0].functions.map((f) => f.symbol)).toEqual(['gnutls_record_recv', 'gnutls_record_send', 'gnutls_handshake']);
    if (nspr) expect((await inspectBinary(nspr))[0].functions.map((f) => f.symbol)).toEqual(['PR_Read', 'PR_Recv', 'PR_Write', 'PR_Send']);
    expect(gnutls ?? nspr).toBeDefined();
  });

  it('a non-ELF file is an error', async () => {
    await expect(inspectBinary('/etc/hostname')).rejects.toThrow();
  });
});
