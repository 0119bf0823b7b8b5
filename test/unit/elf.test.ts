import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { promises as fsp, existsSync, mkdtempSync, writeFileSync, copyFileSync, openSync, ftruncateSync, closeSync, rmSync } from 'fs';
import os from 'os';
import path from 'path';
import { ElfError, ElfFile, findSymbols, parseMaps, readEhFrame, readMaps, withElf, ET, PT, FunctionTable } from '../../lib/elf';
import { nameSetFilter, readSymbolTable } from '../../lib/elf/symbols';
import { haveTool, readelfLoads, readelfSyms, run } from '../support/tools';

const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const GNUTLS = '/usr/lib/x86_64-linux-gnu/libgnutls.so.30';
const NODE = process.execPath;
const HAVE_BINUTILS = haveTool('readelf') && haveTool('nm');
const SSL_NAMES = ['SSL_write', 'SSL_read', 'SSL_write_ex', 'SSL_read_ex', 'SSL_do_handshake'];

if (!HAVE_BINUTILS) console.warn('elf tests: readelf/nm not found (Debian package binutils): comparisons skipped');

/** File offset of vaddr computed independently from readelf's PT_LOAD table. */
function offsetViaReadelf(file: string, vaddr: number): number | undefined {
  for (const l of readelfLoads(file)) if (vaddr >= l.vaddr && vaddr < l.vaddr + l.filesz) return l.offset + (vaddr - l.vaddr);
  return undefined;
}

describe.skipIf(!existsSync(LIBSSL))('libssl.so.3', () => {
  it('finds the SSL_* entry points with their OPENSSL_3.0.0 versions', async () => {
    const found = await findSymbols(LIBSSL, [...SSL_NAMES, 'no_such_symbol']);
    expect(found.map((f) => f.name)).toEqual(SSL_NAMES);
    for (const f of found) {
      expect(f.version).toBe('OPENSSL_3.0.0');
      expect(f.type).toBe('FUNC');
      expect(f.binding).toBe('GLOBAL');
      expect(f.table).toBe('dynsym');
      expect(f.size).toBeGreaterThan(0);
      expect(f.offset).toBeTypeOf('number');
    }
  });

  it.skipIf(!HAVE_BINUTILS)('agrees with readelf on value, size, version and file offset', async () => {
    const ref = readelfSyms(LIBSSL, '--dyn-syms');
    const found = await findSymbols(LIBSSL, SSL_NAMES);
    for (const f of found) {
      const r = ref.find((s) => s.name === f.name && s.ndx !== 'UND');
      expect(r, f.name).toBeDefined();
      expect(f.vaddr).toBe(r!.value);
      expect(f.size).toBe(r!.size);
      expect(f.version).toBe(r!.version);
      expect(f.offset).toBe(offsetViaReadelf(LIBSSL, f.vaddr));
    }
  });

  it('finds the same through the GNU hash table and, when that table does not hold together, by walking .dynsym', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'as-elf-hash-'));
    try {
      const copy = path.join(dir, 'libssl.so.3');
      copyFileSync(LIBSSL, copy);
      const hash = await withElf(copy, async (elf) => elf.section('.gnu.hash'));
      expect(hash).toBeDefined();
      const good = await findSymbols(LIBSSL, SSL_NAMES);
      const b = await fsp.readFile(copy);
      const h = hash!.offset;
      const chains = h + 16 + b.readUInt32LE(h + 8) * 8 + b.readUInt32LE(h) * 4;
      // every chain's hash values changed (their end bits kept): the table is read, so nothing is found
      // (libssl has no .symtab to fall back on)
      const wrong = Buffer.from(b);
      for (let o = chains; o + 4 <= h + hash!.size; o += 4) wrong.writeUInt32LE((wrong.readUInt32LE(o) ^ 0xfffffffe) >>> 0, o);
      writeFileSync(copy, wrong);
      expect(await findSymbols(copy, SSL_NAMES)).toEqual([]);
      // nbuckets = 0, or a bucket before the first hashed symbol: not a usable table, .dynsym is walked
      const empty = Buffer.from(b);
      empty.writeUInt32LE(0, h);
      writeFileSync(copy, empty);
      expect(await findSymbols(copy, SSL_NAMES)).toEqual(good);
      const early = Buffer.from(b);
      for (let k = 0; k < b.readUInt32LE(h); k++) {
        const at = h + 16 + b.readUInt32LE(h + 8) * 8 + k * 4;
        if (early.readUInt32LE(at) !== 0) early.writeUInt32LE(1, at);
      }
      writeFileSync(copy, early);
      expect(await findSymbols(copy, SSL_NAMES)).toEqual(good);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('matches versioned names exactly and rejects a wrong version', async () => {
    const found = await findSymbols(LIBSSL, ['SSL_write@@OPENSSL_3.0.0', 'SSL_read@OPENSSL_3.0.0', 'SSL_write@@OPENSSL_1.1.0']);
    expect(found.map((f) => `${f.name}@${f.version}`)).toEqual(['SSL_write@OPENSSL_3.0.0', 'SSL_read@OPENSSL_3.0.0']);
  });

  it.skipIf(!HAVE_BINUTILS)('decodes every .dynsym entry like readelf (names, versions, undefined imports)', async () => {
    const ref = readelfSyms(LIBSSL, '--dyn-syms').filter((s) => s.name !== '' || s.value !== 0);
    await withElf(LIBSSL, async (elf) => {
      const syms = await elf.symbols('dynsym');
      expect(syms.length).toBe(ref.length);
      for (let i = 0; i < syms.length; i++) {
        expect(syms[i].name).toBe(ref[i].name);
        expect(syms[i].value).toBe(ref[i].value);
        expect(syms[i].version).toBe(ref[i].version);
        expect(syms[i].defined).toBe(ref[i].ndx !== 'UND');
      }
      // imports carry their required version from .gnu.version_r
      const imp = syms.find((s) => !s.defined && s.name === 'memcpy');
      expect(imp?.version).toMatch(/^GLIBC_/);
    });
  });

  it.skipIf(!HAVE_BINUTILS)('reads the same FDE ranges from .eh_frame as readelf', async () => {
    const ref: { start: number; end: number }[] = [];
    for (const line of run('readelf', ['-wf', LIBSSL]).split('\n')) {
      const m = /FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\.([0-9a-f]+)/.exec(line);
      if (m) ref.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16) });
    }
    expect(ref.length).toBeGreaterThan(100);
    const fdes = await withElf(LIBSSL, readEhFrame);
    expect(fdes).toEqual(ref);
    const table = new FunctionTable(fdes);
    const [w] = await findSymbols(LIBSSL, ['SSL_write']);
    expect(table.startingAt(w.vaddr)).toBeDefined();
    expect(table.containing(w.vaddr + 3)?.start).toBe(w.vaddr);
  });

  it('is an ET_DYN shared object with a build-id and readable code at the symbol', async () => {
    await withElf(LIBSSL, async (elf) => {
      expect(elf.header.type).toBe(ET.DYN);
      expect(await elf.interpreter()).toBeUndefined();
      expect(await elf.buildId()).toMatch(/^[0-9a-f]{40}$/);
      const [w] = await findSymbols(LIBSSL, ['SSL_write']);
      const viaVaddr = await elf.readVaddr(w.vaddr, 16);
      const viaOffset = await elf.read(w.offset!, 16);
      expect(viaVaddr).toEqual(viaOffset);
      expect(elf.isExecutableVaddr(w.vaddr)).toBe(true);
      expect(elf.fileOffsetToVaddr(w.offset!)).toBe(w.vaddr);
    });
  });
});

describe('the node binary (process.execPath)', () => {
  const NAMES = [
    'SSL_write',
    'SSL_read',
    'SSL_write_ex',
    'SSL_read_ex',
    'SSL_do_handshake',
    'SSL_new',
    'SSL_free',
    'SSL_connect',
    'SSL_shutdown',
    'SSL_CTX_new',
  ];

  it('is ET_EXEC with PT_LOAD, PT_INTERP, PT_NOTE and PT_GNU_EH_FRAME segments', async () => {
    await withElf(NODE, async (elf) => {
      expect(elf.header.machine).toBe(62);
      expect([ET.EXEC, ET.DYN]).toContain(elf.header.type);
      const types = new Set(elf.programHeaders.map((p) => p.type));
      for (const t of [PT.LOAD, PT.INTERP, PT.NOTE, PT.GNU_EH_FRAME]) expect(types.has(t)).toBe(true);
      expect(await elf.interpreter()).toMatch(/ld-linux-x86-64\.so\.2$/);
      expect(elf.section('.text')).toBeDefined();
      expect(elf.section('.dynsym')).toBeDefined();
    });
  });

  it.skipIf(!HAVE_BINUTILS)('header tables and build-id agree with readelf', async () => {
    const hdr = run('readelf', ['-hW', NODE]);
    const notes = run('readelf', ['-n', NODE]);
    const secs = run('readelf', ['-SW', NODE]);
    await withElf(NODE, async (elf) => {
      expect(hdr).toMatch(new RegExp(`Type:\\s+${elf.header.type === ET.EXEC ? 'EXEC' : 'DYN'}`));
      expect(hdr).toContain(`Entry point address:               0x${elf.header.entry.toString(16)}`);
      expect(hdr).toContain(`Number of section headers:         ${elf.sections.length}`);
      const id = /Build ID: ([0-9a-f]+)/.exec(notes)?.[1];
      expect(await elf.buildId()).toBe(id);
      for (const s of elf.sections.slice(1)) expect(secs).toContain(s.name.slice(0, 12));
      const loads = readelfLoads(NODE);
      expect(elf.loadSegments.map((p) => ({ offset: p.offset, vaddr: p.vaddr, filesz: p.filesz, memsz: p.memsz }))).toEqual(
        loads.map(({ offset, vaddr, filesz, memsz }) => ({ offset, vaddr, filesz, memsz })),
      );
    });
  });

  it.skipIf(!HAVE_BINUTILS)('finds exported SSL_* symbols at the addresses nm -D reports', async () => {
    const nm = new Map<string, number>();
    for (const line of run('nm', ['-D', '--defined-only', NODE]).split('\n')) {
      const m = /^([0-9a-f]+) [TtWi] (\S+)$/.exec(line);
      if (m) nm.set(m[2].replace(/@.*/, ''), parseInt(m[1], 16));
    }
    const found = await findSymbols(NODE, NAMES);
    expect(found.map((f) => f.name).sort()).toEqual(NAMES.filter((n) => nm.has(n)).sort());
    for (const f of found) {
      expect(f.vaddr).toBe(nm.get(f.name));
      expect(f.offset).toBe(offsetViaReadelf(NODE, f.vaddr));
    }
  });

  it.skipIf(!HAVE_BINUTILS)('falls back to .symtab for a local function', async () => {
    const line = run('nm', ['--defined-only', NODE])
      .split('\n')
      .find((l) => / t [A-Za-z_]\w{6,}$/.test(l) && !l.includes('.'));
    expect(line).toBeDefined();
    const [addr, , name] = line!.split(' ');
    const [f] = await findSymbols(NODE, [name]);
    expect(f).toMatchObject({ name, vaddr: parseInt(addr, 16), binding: 'LOCAL', table: 'symtab' });
  });

  it('a name filter picks from both tables exactly the entries an unfiltered read has under those names', async () => {
    // names starting like many others (S..., P..., _Z...) and a name absent from the file
    const names = [...NAMES, 'PEM_read_bio', '_start', 'no_such_symbol_here'];
    await withElf(NODE, async (elf) => {
      for (const table of ['dynsym', 'symtab'] as const) {
        const all = (await readSymbolTable(elf, table)).filter((s) => names.includes(s.name)).map((s) => s.index);
        const filtered = (await readSymbolTable(elf, table, nameSetFilter(names))).map((s) => s.index);
        expect(filtered).toEqual(all);
        if (table === 'dynsym') expect(filtered.length).toBeGreaterThanOrEqual(NAMES.length);
      }
    });
  });

  it('finds 10 symbols, the same on every lookup (how fast: bench/elf-symbols.js)', async () => {
    const first = await findSymbols(NODE, NAMES);
    expect(first.map((s) => s.name).sort()).toEqual([...NAMES].sort());
    for (let i = 0; i < 3; i++) expect(await findSymbols(NODE, NAMES)).toEqual(first);
  });
});

describe.skipIf(!existsSync(GNUTLS))('libgnutls.so.30', () => {
  it('finds gnutls_record_send/recv with version GNUTLS_3_4', async () => {
    const found = await findSymbols(GNUTLS, ['gnutls_record_send', 'gnutls_record_recv']);
    expect(found.map((f) => [f.name, f.version, f.type])).toEqual([
      ['gnutls_record_send', 'GNUTLS_3_4', 'FUNC'],
      ['gnutls_record_recv', 'GNUTLS_3_4', 'FUNC'],
    ]);
    if (HAVE_BINUTILS) {
      const ref = readelfSyms(GNUTLS, '--dyn-syms');
      for (const f of found) expect(f.vaddr).toBe(ref.find((r) => r.name === f.name && r.ndx !== 'UND')!.value);
    }
  });
});

describe('errors', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'agentsight-elf-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function codeOf(p: Promise<unknown>): Promise<string> {
    try {
      await p;
    } catch (err) {
      expect(err).toBeInstanceOf(ElfError);
      return (err as ElfError).code;
    }
    return 'resolved';
  }

  it('reports a missing file, a directory and a non-ELF file', async () => {
    expect(await codeOf(ElfFile.open(path.join(dir, 'missing')))).toBe('ENOENT');
    expect(await codeOf(ElfFile.open(dir))).toBe('EISDIR');
    const txt = path.join(dir, 'text');
    writeFileSync(txt, '#!/bin/sh\necho hello, this is not an ELF file at all........................................\n');
    expect(await codeOf(ElfFile.open(txt))).toBe('ENOTELF');
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '');
    expect(await codeOf(ElfFile.open(empty))).toBe('ENOTELF');
    expect(await codeOf(findSymbols(txt, ['SSL_write']))).toBe('ENOTELF');
  });

  it('reports 32-bit and big-endian ELF as unsupported class', async () => {
    const h = Buffer.alloc(64);
    h.writeUInt32BE(0x7f454c46, 0);
    h[4] = 1;
    h[5] = 1;
    const p32 = path.join(dir, 'elf32');
    writeFileSync(p32, h);
    expect(await codeOf(ElfFile.open(p32))).toBe('EELFCLASS');
    h[4] = 2;
    h[5] = 2;
    writeFileSync(p32, h);
    expect(await codeOf(ElfFile.open(p32))).toBe('EELFCLASS');
  });

  it.skipIf(!existsSync(LIBSSL))('reports truncated copies as ETRUNCATED, never crashing', async () => {
    const st = await fsp.stat(LIBSSL);
    for (const keep of [10, 63, 64, 4096, Math.floor(st.size / 2), st.size - 100]) {
      const p = path.join(dir, `trunc-${keep}`);
      copyFileSync(LIBSSL, p);
      const fd = openSync(p, 'r+');
      ftruncateSync(fd, keep);
      closeSync(fd);
      expect(await codeOf(findSymbols(p, ['SSL_write'])), `kept ${keep} bytes`).toBe('ETRUNCATED');
    }
  });

  it('reports reads of a closed file', async () => {
    const elf = await ElfFile.open(NODE);
    await elf.close();
    expect(await codeOf(elf.read(0, 4))).toBe('EBADF');
  });
});

describe('/proc/PID/maps', () => {
  it('parses paths with spaces, deleted files, pseudo files and anonymous memory', () => {
    const text = [
      '55f475875000-55f475877000 r--p 00000000 fe:00 260131                     /usr/bin/cat',
      '7f0000001000-7f0000002000 r-xp 00001000 fe:01 42                         /tmp/dir with spaces/my lib.so (deleted)',
      '7f0000003000-7f0000004000 rw-p 00000000 00:00 0 ',
      '7f0000005000-7f0000006000 rw-p 00000000 00:00 0',
      '7ffe6191a000-7ffe6193b000 rw-p 00000000 00:00 0                          [stack]',
      'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
      'garbage line',
    ].join('\n');
    const m = parseMaps(text);
    expect(m).toHaveLength(6);
    expect(m[0]).toEqual({
      start: 0x55f475875000,
      end: 0x55f475877000,
      perms: 'r--p',
      offset: 0,
      dev: 'fe:00',
      inode: 260131,
      path: '/usr/bin/cat',
      deleted: false,
    });
    expect(m[1]).toMatchObject({ perms: 'r-xp', offset: 0x1000, inode: 42, path: '/tmp/dir with spaces/my lib.so', deleted: true });
    expect(m[2]).toMatchObject({ path: '', inode: 0, deleted: false });
    expect(m[3]).toMatchObject({ path: '', inode: 0 });
    expect(m[4].path).toBe('[stack]');
    expect(m[5]).toMatchObject({ start: 0xffffffffff600000, end: 0xffffffffff601000, path: '[vsyscall]' });
    expect(BigInt(m[5].start)).toBe(0xffffffffff600000n);
  });

  it('reads this process: the node executable is mapped executable', async () => {
    const maps = await readMaps('self');
    const exe = await fsp.realpath(NODE);
    const mine = maps.filter((e) => e.path === exe);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.some((e) => e.perms.startsWith('r-x'))).toBe(true);
    const samePid = await readMaps(process.pid);
    expect(samePid.filter((e) => e.path === exe).length).toBe(mine.length);
  });

  it('reports a missing process', async () => {
    await expect(readMaps(0x3fffffff)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readMaps(-1)).rejects.toMatchObject({ code: 'EINVAL' });
  });
});
