/**
 * The rustls and static-OpenSSL locators on real Codex CLI and Copilot CLI
 * releases (scripts/fetch-npm-agents.sh fetches them). A missing release is a
 * visible skip, and a failure under AGENTSIGHT_REQUIRE_PRIVILEGED (CI fetches
 * them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'fs';
import os from 'os';
import path from 'path';
import { locateOpenssl, locateRustls, looksLikeRustls, RUSTLS_LOCATOR_VERSION } from '../../lib/locator';
import type { OpensslVerdict, RustlsVerdict, SupportedOpensslVerdict, SupportedRustlsVerdict } from '../../lib/locator';
import expected from '../support/npm-agents-tls.json';

const CACHE = process.env.AGENTSIGHT_AGENT_CACHE ?? path.join(os.homedir(), '.cache', 'agentsight');

interface Expected {
  version: string;
  file: string;
  size: number;
  rustls: { version: string; layout: Record<string, number>; functions: { kind: string; provider: string; vaddr: string; offset: string }[] } | null;
  openssl: { read: { vaddr: string; offset: string; lenArg: number }; write: { vaddr: string; offset: string; lenArg: number } } | { code: string };
}

const releases: [string, Expected][] = [
  ...(expected.codex as Expected[]).map((e) => [`Codex CLI ${e.version}`, e] as [string, Expected]),
  ...(expected.copilot as Expected[]).map((e) => [`Copilot CLI ${e.version} runtime.node`, e] as [string, Expected]),
];

/** Present, else a skip (or, where the agents must be there, a failure). */
function present(file: string, what: string, skip: (note: string) => void): boolean {
  if (existsSync(file)) return true;
  const note = `${what} not found at ${file}: run scripts/fetch-npm-agents.sh (or set AGENTSIGHT_AGENT_CACHE)`;
  if (process.env.AGENTSIGHT_REQUIRE_PRIVILEGED) throw new Error(note);
  skip(note);
  return false;
}

function rustls(v: RustlsVerdict): SupportedRustlsVerdict {
  if (!v.supported) throw new Error(`expected a supported rustls verdict, got: ${v.reason}\n${v.evidence.join('\n')}`);
  return v;
}
function openssl(v: OpensslVerdict): SupportedOpensslVerdict {
  if (!v.supported) throw new Error(`expected a supported OpenSSL verdict, got: ${v.reason}\n${v.evidence.join('\n')}`);
  return v;
}
const hex = (n: number) => '0x' + n.toString(16);

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'agentsight-rustls-locator-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Codex CLI and Copilot CLI releases', () => {
  for (const [what, rel] of releases) {
    it(`${what}: rustls ${rel.rustls?.version} record methods and OpenSSL internals, where they were seen at work`, { timeout: 60_000 }, async (ctx) => {
      const file = path.join(CACHE, rel.file);
      if (!present(file, what, (n) => ctx.skip(n))) return;
      expect(await looksLikeRustls(file)).toBe(true);
      const t = performance.now();
      const r = rustls(await locateRustls(file, { cache: false }));
      console.log(`locateRustls(${what}, uncached): ${(performance.now() - t).toFixed(0)} ms`);
      expect(r.library).toBe('rustls');
      expect(r.binary.size).toBe(rel.size);
      expect(r.version).toBe(rel.rustls!.version);
      expect(r.locatorVersion).toBe(RUSTLS_LOCATOR_VERSION);
      expect(r.layout).toEqual(rel.rustls!.layout);
      const got = r.functions.map((f) => ({ kind: f.kind, provider: f.provider, vaddr: hex(f.vaddr), offset: hex(f.offset) }));
      expect(new Set(got.map((g) => JSON.stringify(g)))).toEqual(new Set(rel.rustls!.functions.map((g) => JSON.stringify(g))));
      expect(r.functions.some((f) => f.kind === 'encrypt') && r.functions.some((f) => f.kind === 'decrypt')).toBe(true);
      const ev = r.evidence.join('\n');
      expect(ev).toMatch(/source path …rustls-0\.23\.\d+\/src\/crypto\/aws_lc_rs\/tls13\.rs \(\d+ panic locations\)/);
      expect(ev).toMatch(/decrypt 0x[0-9a-f]+ \(aws_lc_rs, vtable 0x[0-9a-f]+\): payload at msg\+0, length at msg\+8 compared with the 16-byte tag/);
      expect(ev).toMatch(/encrypt 0x[0-9a-f]+ \(aws_lc_rs, vtable 0x[0-9a-f]+\): OutboundChunks at msg\+0, ContentType byte at msg\+32, ApplicationData = 3/);

      const o = await locateOpenssl(file, { cache: false });
      if ('code' in rel.openssl) {
        expect(o.supported).toBe(false);
        if (!o.supported) expect(o.code).toBe(rel.openssl.code);
      } else {
        const s = openssl(o);
        expect({ vaddr: hex(s.functions.read.vaddr), offset: hex(s.functions.read.offset), lenArg: s.functions.read.lenArg }).toEqual(rel.openssl.read);
        expect({ vaddr: hex(s.functions.write.vaddr), offset: hex(s.functions.write.offset), lenArg: s.functions.write.lenArg }).toEqual(rel.openssl.write);
        expect(s.evidence.join('\n')).toMatch(/ssl_read_internal 0x[0-9a-f]+: \d+ ERR_raise\(ERR_LIB_SSL, \.\.\.\) sites naming it in ssl_lib\.c/);
      }

      // the cache: the second look is a cached verdict with the same functions
      const dir = path.join(tmp, 'cache');
      await locateRustls(file, { cacheDir: dir });
      const again = rustls(await locateRustls(file, { cacheDir: dir }));
      expect(again.cached).toBe(true);
      expect(again.functions).toEqual(r.functions);
    });
  }

  it('a copy whose decrypt method is overwritten is refused, also when its verdict was cached', { timeout: 60_000 }, async (ctx) => {
    const rel = (expected.copilot as Expected[])[0];
    const file = path.join(CACHE, rel.file);
    if (!present(file, `Copilot CLI ${rel.version} runtime.node`, (n) => ctx.skip(n))) return;
    const copy = path.join(tmp, 'runtime.node');
    copyFileSync(file, copy);
    const dir = path.join(tmp, 'cache-copy');
    rustls(await locateRustls(copy, { cacheDir: dir }));
    const dec = rel.rustls!.functions.find((f) => f.kind === 'decrypt')!;
    const fd = openSync(copy, 'r+');
    try {
      writeSync(fd, Buffer.alloc(32, 0xcc), 0, 32, Number(dec.offset));
    } finally {
      closeSync(fd);
    }
    // the cached verdict no longer matches the entry bytes: analysed again, and refused
    const v = await locateRustls(copy, { cacheDir: dir });
    expect(v.supported).toBe(false);
    expect(v.cached).toBe(false);
    const fresh = await locateRustls(copy, { cache: false });
    expect(fresh.supported).toBe(false);
  });
});

describe('files without rustls', () => {
  it('node itself (OpenSSL with symbols, no rustls): NOT_RUSTLS, and the OpenSSL locator defers to the symbols', async () => {
    expect(await looksLikeRustls(process.execPath)).toBe(false);
    const r = await locateRustls(process.execPath, { cache: false });
    expect(r.supported).toBe(false);
    if (!r.supported) expect(r.code).toBe('NOT_RUSTLS');
    const o = await locateOpenssl(process.execPath, { cache: false });
    expect(o.supported).toBe(false);
    if (!o.supported) expect(['EXPORTS_SSL_SYMBOLS', 'NOT_OPENSSL']).toContain(o.code);
  });

  it('a file that is not ELF, and one that does not exist: BAD_FILE, never a throw', async () => {
    const p = path.join(tmp, 'not-elf');
    const fd = openSync(p, 'w');
    writeSync(fd, Buffer.from('#!/bin/sh\necho hi\n'));
    closeSync(fd);
    for (const f of [p, path.join(tmp, 'nope')]) {
      const r = await locateRustls(f, { cache: false });
      expect(r.supported).toBe(false);
      if (!r.supported) expect(r.code).toBe('BAD_FILE');
      const o = await locateOpenssl(f, { cache: false });
      expect(o.supported).toBe(false);
      if (!o.supported) expect(o.code).toBe('BAD_FILE');
    }
  });
});
