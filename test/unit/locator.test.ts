import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  existsSync,
  mkdtempSync,
  rmSync,
  statSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  copyFileSync,
  openSync,
  writeSync,
  closeSync,
  chmodSync,
  mkdirSync,
  symlinkSync,
  lstatSync,
  createReadStream,
  createWriteStream,
} from 'fs';
import { pipeline } from 'stream/promises';
import os from 'os';
import path from 'path';
import { ElfFile, findSymbols } from '../../lib/elf';
import { analyzeBoringSsl, defaultCacheDir, hasTlsSymbols, locateTls, looksLikeBoringSsl, LOCATOR_VERSION, ROOT_CACHE_DIR } from '../../lib/locator';
import type { LocatorVerdict, SupportedVerdict, UnsupportedVerdict } from '../../lib/locator';
import versions from '../support/claude-code-versions.json';
import { need, needFile } from '../support/required';

const CACHE = process.env.AGENTSIGHT_CLAUDE_CODE_CACHE ?? path.join(os.homedir(), '.cache', 'agentsight', 'claude-code');
const binaryOf = (v: string) => path.join(CACHE, v, 'claude');
const available = versions.versions.filter((v) => existsSync(binaryOf(v.version)));
const missingNote = (v: string) => `Claude Code ${v} is not in ${CACHE}: run scripts/fetch-claude-code.sh (or set AGENTSIGHT_CLAUDE_CODE_CACHE)`;
const ANDROID_LIBSSL = '/usr/lib/x86_64-linux-gnu/android/libssl.so.0';
const NODE = process.execPath;

function supported(v: LocatorVerdict): SupportedVerdict {
  if (!v.supported) throw new Error(`expected a supported verdict, got: ${v.reason}\n${v.evidence.join('\n')}`);
  return v;
}
function unsupported(v: LocatorVerdict): UnsupportedVerdict {
  if (v.supported) throw new Error(`expected "not supported", got read ${v.functions.read.vaddr} write ${v.functions.write.vaddr}`);
  return v;
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'agentsight-locator-'));
  if (available.length < versions.versions.length) {
    console.warn(
      versions.versions
        .filter((v) => !available.includes(v))
        .map((v) => missingNote(v.version))
        .join('\n'),
    );
  }
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Claude Code releases', () => {
  for (const rel of versions.versions) {
    it(`${rel.version}: supported, at the addresses verified with gdb`, async (ctx) => {
      needFile(ctx, binaryOf(rel.version), missingNote(rel.version));
      const t = performance.now();
      const v = supported(await locateTls(binaryOf(rel.version), { cache: false }));
      const ms = performance.now() - t;
      console.log(`locateTls(claude ${rel.version}, uncached): ${ms.toFixed(0)} ms`);
      expect(v.library).toBe('boringssl');
      expect(v.buildId).toBe(rel.buildId);
      expect(v.binary.size).toBe(rel.size);
      expect(v.cached).toBe(false);
      expect(v.locatorVersion).toBe(LOCATOR_VERSION);
      expect(v.functions.read).toMatchObject({ name: 'SSL_read', vaddr: Number(rel.read.vaddr), offset: Number(rel.read.offset) });
      expect(v.functions.write).toMatchObject({ name: 'SSL_write', vaddr: Number(rel.write.vaddr), offset: Number(rel.write.offset) });
      expect(v.functions.read.convention).toMatchObject({ ssl: 'rdi', buf: 'rsi', num: 'edx', result: 'eax', plaintextAt: 'return' });
      expect(v.functions.write.convention).toMatchObject({ ssl: 'rdi', buf: 'rsi', num: 'edx', result: 'eax', plaintextAt: 'entry' });
      // the evidence names what it relied on
      const ev = v.evidence.join('\n');
      expect(ev).toMatch(/BoringSSL source path ".*ssl\/ssl_lib\.cc"/);
      expect(ev).toMatch(/SSL_write candidate .* ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED@\d+, SSL_R_UNINITIALIZED@\d+, SSL_R_SSL_HANDSHAKE_FAILURE@\d+/);
      expect(ev).toMatch(/calls ssl_read_impl/);
      expect(ev).toMatch(/SSL_write hands buf and num to the record layer/);
      expect(ev).toMatch(/SSL_read entry .*direct call/);
      // the offsets hold the recorded entry bytes, a frame-pointer prologue
      const elf = await ElfFile.open(binaryOf(rel.version));
      try {
        for (const f of [v.functions.read, v.functions.write]) {
          expect((await elf.read(f.offset, 16)).toString('hex')).toBe(f.entryBytes);
          expect(f.entryBytes.startsWith('554889e5')).toBe(true); // push rbp; mov rbp,rsp
        }
      } finally {
        await elf.close();
      }
      // the binary exports no SSL_* symbols: the locator is the only way in
      expect(await findSymbols(binaryOf(rel.version), ['SSL_read', 'SSL_write'])).toEqual([]);
      expect(await hasTlsSymbols(binaryOf(rel.version))).toBe(false);
      expect(await looksLikeBoringSsl(binaryOf(rel.version))).toBe(true);
    });
  }

  it('caches verdicts per build-id in 0600 files and re-checks them against the file', async (ctx) => {
    need(ctx, available.length > 0, 'no Claude Code release in the cache: run scripts/fetch-claude-code.sh');
    const rel = available[0];
    const dir = path.join(tmp, 'cache');
    const first = supported(await locateTls(binaryOf(rel.version), { cacheDir: dir }));
    expect(first.cached).toBe(false);
    const files = readdirSync(dir);
    expect(files).toEqual([`build-${rel.buildId}.json`]);
    expect(statSync(path.join(dir, files[0])).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const t = performance.now();
    const second = supported(await locateTls(binaryOf(rel.version), { cacheDir: dir }));
    console.log(`locateTls(claude ${rel.version}, cached): ${(performance.now() - t).toFixed(1)} ms`);
    expect(second.cached).toBe(true);
    expect(second.functions).toEqual(first.functions);
    // a cache entry whose bytes no longer match the file is ignored
    const file = path.join(dir, files[0]);
    const data = JSON.parse(readFileSync(file, 'utf8'));
    data.verdict.functions.write.entryBytes = 'cc'.repeat(16);
    writeFileSync(file, JSON.stringify(data));
    const third = supported(await locateTls(binaryOf(rel.version), { cacheDir: dir }));
    expect(third.cached).toBe(false);
    expect(third.functions).toEqual(first.functions);
  });

  it('refuses a copy whose SSL_write entry was damaged', async (ctx) => {
    need(ctx, available.length > 0, 'no Claude Code release in the cache: run scripts/fetch-claude-code.sh');
    const rel = available[0];
    const copy = path.join(tmp, 'damaged');
    copyFileSync(binaryOf(rel.version), copy);
    try {
      const fd = openSync(copy, 'r+');
      writeSync(fd, Buffer.alloc(16, 0xcc), 0, 16, Number(rel.write.offset));
      closeSync(fd);
      const v = unsupported(await locateTls(copy, { cache: false }));
      expect(v.buildId).toBe(rel.buildId);
      expect(['NO_EVIDENCE', 'AMBIGUOUS', 'INCONSISTENT']).toContain(v.code);
      expect(v.reason).toMatch(/^not supported: /);
      // the same build-id must not pull the intact binary's cached verdict onto the damaged copy
      const dir = path.join(tmp, 'cache-damaged');
      supported(await locateTls(binaryOf(rel.version), { cacheDir: dir }));
      const again = await locateTls(copy, { cacheDir: dir });
      expect(again.supported).toBe(false);
    } finally {
      rmSync(copy, { force: true });
    }
  });

  it('reports a truncated copy as a bad file', async (ctx) => {
    need(ctx, available.length > 0, 'no Claude Code release in the cache: run scripts/fetch-claude-code.sh');
    const rel = available[0];
    const copy = path.join(tmp, 'truncated');
    await pipeline(createReadStream(binaryOf(rel.version), { start: 0, end: 32 * 1024 * 1024 - 1 }), createWriteStream(copy));
    const v = unsupported(await locateTls(copy, { cacheDir: path.join(tmp, 'cache-trunc') }));
    expect(v).toMatchObject({ code: 'BAD_FILE', errorCode: 'ETRUNCATED' });
    expect(v.reason).toMatch(/truncated ELF file/);
    expect(existsSync(path.join(tmp, 'cache-trunc'))).toBe(false); // bad files are never cached
  });
});

describe('files the locator is not for', () => {
  it('/bin/ls: no BoringSSL', async () => {
    const v = unsupported(await locateTls('/bin/ls', { cache: false }));
    expect(v.code).toBe('NOT_BORINGSSL');
    expect(v.reason).toMatch(/no "ssl\/ssl_lib\.cc" source path/);
    expect(await looksLikeBoringSsl('/bin/ls')).toBe(false);
    expect(await hasTlsSymbols('/bin/ls')).toBe(false);
  });

  it('node: OpenSSL with exported symbols, attach by symbol', async () => {
    expect(await hasTlsSymbols(NODE)).toBe(true);
    expect(await looksLikeBoringSsl(NODE)).toBe(false);
    const v = unsupported(await locateTls(NODE, { cache: false }));
    expect(v.code).toBe('EXPORTS_SSL_SYMBOLS');
    expect(v.reason).toMatch(/defines SSL_read .* and SSL_write .*attach uprobes by symbol/);
  });

  it('a truncated copy of node, a non-ELF file and a missing file: bad file, never a throw', async () => {
    const copy = path.join(tmp, 'node-trunc');
    await pipeline(createReadStream(NODE, { start: 0, end: 4 * 1024 * 1024 - 1 }), createWriteStream(copy));
    expect(unsupported(await locateTls(copy, { cache: false }))).toMatchObject({ code: 'BAD_FILE', errorCode: 'ETRUNCATED' });
    const txt = path.join(tmp, 'text');
    writeFileSync(txt, 'not an executable\n'.repeat(10));
    expect(unsupported(await locateTls(txt, { cache: false }))).toMatchObject({ code: 'BAD_FILE', errorCode: 'ENOTELF' });
    expect(unsupported(await locateTls(path.join(tmp, 'missing'), { cache: false }))).toMatchObject({ code: 'BAD_FILE', errorCode: 'ENOENT' });
    await expect(hasTlsSymbols(txt)).rejects.toMatchObject({ code: 'ENOTELF' });
  });

  it('caches "not supported" verdicts of readable files too', async () => {
    const dir = path.join(tmp, 'cache-ls');
    expect((await locateTls('/bin/ls', { cacheDir: dir })).cached).toBe(false);
    expect((await locateTls('/bin/ls', { cacheDir: dir })).cached).toBe(true);
  });
});

describe('the verdict cache', () => {
  const only = (dir: string) => {
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    return path.join(dir, files[0]);
  };

  it("as root it is /var/cache/agentsight/locator, whatever HOME and XDG_CACHE_HOME say (sudo -E passes the invoking user's)", () => {
    const env = { HOME: '/home/someone', XDG_CACHE_HOME: '/tmp/anyone', SUDO_UID: '1000' };
    expect(defaultCacheDir(env, 0)).toBe(ROOT_CACHE_DIR);
    expect(ROOT_CACHE_DIR).toBe('/var/cache/agentsight/locator');
    expect(defaultCacheDir(env, 1000)).toBe('/tmp/anyone/agentsight/locator');
    expect(defaultCacheDir({ HOME: '/home/someone', XDG_CACHE_HOME: 'relative' }, 1000)).toBe('/home/someone/.cache/agentsight/locator');
    expect(defaultCacheDir({ ...env, AGENTSIGHT_LOCATOR_CACHE: '/srv/cache' }, 0)).toBe('/srv/cache');
  });

  it('a cache directory others can write to is neither read nor written, and the verdict says why', async () => {
    const dir = path.join(tmp, 'cache-world-writable');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    for (let i = 0; i < 2; i++) {
      const v = unsupported(await locateTls('/bin/ls', { cacheDir: dir }));
      expect(v.code).toBe('NOT_BORINGSSL');
      expect(v.cached).toBe(false);
      expect(v.cacheProblem).toMatch(/cache-world-writable can be written by its group and every user \(mode 777\); not trusted/);
    }
    expect(readdirSync(dir)).toEqual([]);
    // one level further down the same: a directory below one others can write to is not trusted either
    chmodSync(dir, 0o757);
    const below = unsupported(await locateTls('/bin/ls', { cacheDir: path.join(dir, 'sub') }));
    expect(below.cacheProblem).toMatch(/can be written by every user/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a cache file that is a symbolic link is not followed; the fresh verdict replaces the link, not its target', async () => {
    const dir = path.join(tmp, 'cache-link');
    await locateTls('/bin/ls', { cacheDir: dir });
    const file = only(dir);
    const forged = path.join(tmp, 'forged-verdict.json');
    const data = JSON.parse(readFileSync(file, 'utf8'));
    data.verdict.reason = 'forged \x1b]0;title\x07';
    writeFileSync(forged, JSON.stringify(data));
    rmSync(file);
    symlinkSync(forged, file);
    const v = unsupported(await locateTls('/bin/ls', { cacheDir: dir }));
    expect(v.cached).toBe(false);
    expect(v.reason).not.toMatch(/forged/);
    expect(v.cacheProblem).toMatch(/is a symbolic link; not trusted/);
    expect(lstatSync(file).isSymbolicLink()).toBe(false);
    expect(JSON.parse(readFileSync(forged, 'utf8')).verdict.reason).toMatch(/^forged/);
    expect((await locateTls('/bin/ls', { cacheDir: dir })).cached).toBe(true);
  });

  it('a cache file others can write to, or with a second link, is not read', async () => {
    const dir = path.join(tmp, 'cache-file-mode');
    await locateTls('/bin/ls', { cacheDir: dir });
    const file = only(dir);
    chmodSync(file, 0o666);
    expect((await locateTls('/bin/ls', { cacheDir: dir })).cacheProblem).toMatch(/can be written by its group and every user/);
    // rewritten by that run: ours again
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await locateTls('/bin/ls', { cacheDir: dir })).cached).toBe(true);
  });

  it('only verdicts analysis gives, for the same build-id, in the current layout, are taken from the cache', async () => {
    const dir = path.join(tmp, 'cache-fields');
    const first = unsupported(await locateTls('/bin/ls', { cacheDir: dir }));
    const file = only(dir);
    const good = readFileSync(file, 'utf8');
    const tamper = (f: (d: any) => void) => {
      const d = JSON.parse(good);
      f(d);
      writeFileSync(file, JSON.stringify(d));
    };
    for (const change of [
      (d: any) => (d.verdict.code = 'ANALYSIS_FAILED'), // never cached
      (d: any) => (d.verdict.code = 'NOT_A_CODE'),
      (d: any) => (d.verdict.buildId = 'ab'.repeat(20)), // another file's
      (d: any) => delete d.format, // the layout before function hashes
      (d: any) => (d.verdict.reason = 42),
    ]) {
      tamper(change);
      const v = unsupported(await locateTls('/bin/ls', { cacheDir: dir }));
      expect(v.cached).toBe(false);
      expect(v.reason).toBe(first.reason);
    }
    expect((await locateTls('/bin/ls', { cacheDir: dir })).cached).toBe(true);
  });

  it('a cached supported verdict is used only if both functions still have the bytes it hashed', async (ctx) => {
    const rel = available[0];
    need(ctx, !!rel, 'no Claude Code release in the cache: run scripts/fetch-claude-code.sh');
    const dir = path.join(tmp, 'cache-offsets');
    const first = supported(await locateTls(binaryOf(rel.version), { cacheDir: dir }));
    expect(first.functions.write.size).toBeGreaterThan(16);
    expect(first.functions.write.sha256).toMatch(/^[0-9a-f]{64}$/);
    const file = only(dir);
    const good = readFileSync(file, 'utf8');
    const elsewhere = first.functions.read;
    for (const change of [
      // SSL_write "at" SSL_read, with SSL_read's entry bytes but its own hash
      (d: any) => Object.assign(d.verdict.functions.write, { vaddr: elsewhere.vaddr, offset: elsewhere.offset, entryBytes: elsewhere.entryBytes }),
      // an offset that is not where the vaddr is
      (d: any) => (d.verdict.functions.write.offset += 16),
      // fewer bytes than were proven
      (d: any) => (d.verdict.functions.read.size = 16),
      (d: any) => (d.verdict.functions.read.sha256 = '0'.repeat(64)),
      (d: any) => (d.verdict.functions.read.size = -1),
      (d: any) => delete d.verdict.functions.write,
    ]) {
      const d = JSON.parse(good);
      change(d);
      writeFileSync(file, JSON.stringify(d));
      const v = supported(await locateTls(binaryOf(rel.version), { cacheDir: dir }));
      expect(v.cached).toBe(false);
      expect(v.functions).toEqual(first.functions);
    }
    const again = supported(await locateTls(binaryOf(rel.version), { cacheDir: dir }));
    expect(again.cached).toBe(true);
    expect(again.functions).toEqual(first.functions);
  });
});

describe('an independent BoringSSL build (Debian android-libboringssl)', () => {
  it('the analysis finds the functions its symbol table names', async (ctx) => {
    needFile(ctx, ANDROID_LIBSSL, `${ANDROID_LIBSSL} is missing: install the Debian package android-libboringssl (scripts/setup.sh does)`);
    // PIC code (lea rip-relative), no frame pointers, FDEs, an older BoringSSL
    // without SSL_write's BAD_LENGTH check, and SSL_peek inlined into SSL_read.
    const [read, write] = await findSymbols(ANDROID_LIBSSL, ['SSL_read', 'SSL_write']);
    const elf = await ElfFile.open(ANDROID_LIBSSL);
    try {
      const r = await analyzeBoringSsl(elf);
      if (!r.ok) throw new Error(`${r.reason}\n${r.evidence.join('\n')}`);
      expect(r.write.entry).toBe(write.vaddr);
      expect(r.read.entry).toBe(read.vaddr);
      expect(r.evidence.join('\n')).toMatch(/SSL_read\/SSL_peek-like functions: .*, .*; consuming after the copy to buf: /);
    } finally {
      await elf.close();
    }
    // locateTls itself defers to the symbols
    expect(unsupported(await locateTls(ANDROID_LIBSSL, { cache: false })).code).toBe('EXPORTS_SSL_SYMBOLS');
    expect(await looksLikeBoringSsl(ANDROID_LIBSSL)).toBe(true);
  });
});
