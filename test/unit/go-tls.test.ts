/**
 * Go executables: the function table and DWARF readers, and the analysis of
 * crypto/tls (entries, RET instructions, register ABI, Conn layout) on Go
 * programs built here with the system's Go, checked against Go's own tools
 * (go tool objdump, .symtab) and against damaged copies.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ElfFile, goPclntabSection, readDwarfStructs, readGoBuildInfo, readGoFuncTable, withElf } from '../../lib/elf';
import { GO_CFG, GO_F, goCookie, SSL_KIND, SSL_LIB } from '../../lib/kernel/abi';
import { analyzeGoTls, GO_TLS_FUNCTIONS, type GoTlsAnalysis } from '../../lib/locator/go';
import { decodeRange } from '../../lib/locator/x86';
import { goConfigBlock } from '../../lib/tracers/ssl/loader';
import { inspectExecutable } from '../../lib/tracers/ssl/targets';
import { buildGo, goMissing, goTool, goVersion } from '../support/go';
import { need } from '../support/required';

type Supported = Extract<GoTlsAnalysis, { supported: true }>;

function supported(a: GoTlsAnalysis): Supported {
  if (!a.go || !a.tls || !a.supported) throw new Error(`not supported: ${JSON.stringify(a)}`);
  return a;
}

/** RET instructions of a function, by go tool objdump: file offsets (ET_EXEC at 0x400000 with text at file offset vaddr - 0x400000). */
function objdumpRets(bin: string, fn: string): number[] {
  const re = fn.replace(/[()*.]/g, (c) => `\\${c}`);
  const out = execFileSync(goTool(), ['tool', 'objdump', '-s', `^${re}$`, bin], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return out
    .split('\n')
    .filter((l) => /\tRET\s*$/.test(l.trimEnd() + '\t') || /\bRET\b/.test(l))
    .map((l) => Number.parseInt(/0x[0-9a-f]+/.exec(l)![0], 16));
}

describe('Go executables', () => {
  const bins: Record<string, string> = {};
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-gounit-'));
  const missing = goMissing();
  beforeEach((ctx) => need(ctx, !missing, missing!));
  beforeAll(() => {
    if (missing) return;
    bins.plain = buildGo('client', 'plain');
    bins.stripped = buildGo('client', 'stripped');
    bins.pie = buildGo('client', 'pie');
    bins.hello = buildGo('hello', 'stripped');
  }, 600_000);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A copy of a binary with `patch` applied to its bytes. */
  function patched(bin: string, name: string, patch: (b: Buffer) => void): string {
    const b = fs.readFileSync(bin);
    patch(b);
    const p = path.join(tmp, name);
    fs.writeFileSync(p, b, { mode: 0o755 });
    return p;
  }

  it('the build information names the Go release that built it', async () => {
    const v = await withElf(bins.stripped, (e) => readGoBuildInfo(e));
    expect(v.version).toBe(goVersion());
  });

  it('the function table agrees with .symtab on every Go function', async () => {
    await withElf(bins.plain, async (elf) => {
      const syms = (await elf.symbols('symtab')).filter((s) => s.type === 'FUNC' && s.size > 0 && s.defined);
      const table = await readGoFuncTable(elf);
      expect(table.format).toBe('go1.18');
      // names given to one function only (a few runtime functions have an assembly twin of the same name)
      const count = new Map<string, number>();
      for (const s of syms) count.set(s.name, (count.get(s.name) ?? 0) + 1);
      const listed = table.find([...count.keys()]);
      for (const f of listed) count.set(f.name, (count.get(f.name) ?? 0) + 1);
      const found = new Map(listed.filter((f) => count.get(f.name) === 2).map((f) => [f.name, f]));
      // the table lists the Go functions (C and assembly helpers without Go metadata aside)
      expect(found.size).toBeGreaterThan(table.count * 0.9);
      for (const n of Object.values(GO_TLS_FUNCTIONS)) expect(found.has(n)).toBe(true);
      let checked = 0;
      for (const s of syms) {
        const f = found.get(s.name);
        if (!f) continue;
        expect({ name: s.name, entry: f.entry }).toEqual({ name: s.name, entry: s.value });
        expect(f.end).toBeGreaterThanOrEqual(s.value + s.size);
        checked++;
      }
      expect(checked).toBe(found.size);
    });
  });

  it('crypto/tls with symbols: entries, every RET instruction go tool objdump shows, the Conn layout from DWARF', async () => {
    const a = supported(await analyzeGoTls(bins.plain));
    expect(a).toMatchObject({ version: goVersion(), source: 'symtab' });
    expect(a.functions.map((f) => f.name)).toEqual(Object.values(GO_TLS_FUNCTIONS));
    for (const f of a.functions.filter((x) => x.role !== 'close')) {
      const rets = objdumpRets(bins.plain, f.name).map((v) => v - 0x400000);
      expect(rets.length).toBeGreaterThan(0);
      expect({ name: f.name, returns: f.returns }).toEqual({ name: f.name, returns: rets });
    }
    // Go 1.19's layout: tls.Conn.conn first, TCPConn{conn{fd}}, netFD{pfd}, poll.FD{fdmu (16 bytes), Sysfd}
    expect(a.layout).toMatchObject({ connConn: 0, tcpconnFd: 0, netfdPfd: 0, fdSysfd: 16 });
    expect(a.layout!.itabHash).not.toBe(0);
  });

  it('stripped (-s -w): the same functions and RETs from .gopclntab, no layout (no DWARF)', async () => {
    const plain = supported(await analyzeGoTls(bins.plain));
    const a = supported(await analyzeGoTls(bins.stripped));
    expect(a.source).toBe('gopclntab');
    expect(a.layout).toBeUndefined();
    expect(a.layoutMissing).toBe('no DWARF');
    // -s -w leaves the text as it was
    expect(a.functions.map((f) => [f.name, f.offset, f.returns])).toEqual(plain.functions.map((f) => [f.name, f.offset, f.returns]));
  });

  it('position-independent (-buildmode=pie): probed, with the same Conn layout', async () => {
    const plain = supported(await analyzeGoTls(bins.plain));
    const a = supported(await analyzeGoTls(bins.pie));
    expect(a.layout).toEqual(plain.layout);
    expect(a.functions.every((f) => f.role === 'close' || f.returns.length > 0)).toBe(true);
  });

  it('DWARF structs: sizes and members; none in a stripped file', async () => {
    const names = ['crypto/tls.Conn', 'internal/poll.FD', 'no/such.Type'];
    const got = await withElf(bins.plain, (e) => readDwarfStructs(e, names));
    expect([...got.keys()].sort()).toEqual(['crypto/tls.Conn', 'internal/poll.FD']);
    expect(got.get('internal/poll.FD')!.members.get('Sysfd')).toEqual({ name: 'Sysfd', offset: 16, type: 'int' });
    expect(got.get('crypto/tls.Conn')!.members.get('conn')).toEqual({ name: 'conn', offset: 0, type: 'net.Conn' });
    expect(got.get('crypto/tls.Conn')!.size).toBeGreaterThan(100);
    expect((await withElf(bins.stripped, (e) => readDwarfStructs(e, names))).size).toBe(0);
  });

  it('other executables: not Go, or Go without crypto/tls', async () => {
    expect(await analyzeGoTls('/bin/ls')).toEqual({ go: false });
    expect(await analyzeGoTls(bins.hello)).toEqual({ go: true, tls: false, version: goVersion() });
    expect((await inspectExecutable(bins.hello)).targets).toEqual([]);
  });

  describe('refused, never guessed', () => {
    async function pclntabOffset(bin: string): Promise<number> {
      return withElf(bin, async (e) => goPclntabSection(e)!.offset);
    }

    it('garbage and cut files: clear errors naming the file', async () => {
      const rand = path.join(tmp, 'random');
      fs.writeFileSync(rand, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 0xff)));
      await expect(analyzeGoTls(rand)).rejects.toMatchObject({ code: 'ENOTELF', message: expect.stringContaining(`${rand}: not an ELF file`) });
      const b = fs.readFileSync(bins.stripped);
      const half = path.join(tmp, 'half');
      fs.writeFileSync(half, b.subarray(0, b.length >> 1));
      await expect(analyzeGoTls(half)).rejects.toMatchObject({ code: 'ETRUNCATED', message: expect.stringContaining(`${half}: truncated ELF file`) });
    });

    it('a function table of Go 1.2-1.15, of an unknown format, or damaged', async () => {
      const off = await pclntabOffset(bins.stripped);
      const old = patched(bins.stripped, 'old-magic', (b) => b.writeUInt32LE(0xfffffffb, off));
      expect(await analyzeGoTls(old)).toMatchObject({ supported: false, reason: expect.stringMatching(/Go 1\.2 to 1\.15/) });
      const odd = patched(bins.stripped, 'odd-magic', (b) => b.writeUInt32LE(0x12345678, off));
      expect(await analyzeGoTls(odd)).toMatchObject({ supported: false, reason: expect.stringMatching(/unknown magic 0x12345678/) });
      const huge = patched(bins.stripped, 'huge-nfunc', (b) => b.writeUInt32LE(0x7fffffff, off + 8));
      expect(await analyzeGoTls(huge)).toMatchObject({ supported: false, reason: expect.stringMatching(/damaged Go function table/) });
      await expect(withElf(odd, (e) => readGoFuncTable(e))).rejects.toMatchObject({ code: 'EBADELF' });
    });

    it('a release before the register ABI (by its build information)', async () => {
      const v = goVersion();
      const info = await withElf(bins.stripped, async (e) => e.section('.go.buildinfo')!.offset);
      const old = patched(bins.stripped, 'go116', (b) => {
        const at = b.indexOf(Buffer.from(v), info);
        expect(at - info).toBeLessThan(64);
        b.write(`go1.16${v.slice(6)}`, at, 'latin1');
      });
      expect(await analyzeGoTls(old)).toMatchObject({ supported: false, reason: expect.stringMatching(/^go1\.16.* passes arguments on the stack/) });
      const r = await inspectExecutable(old);
      expect(r.targets).toEqual([]);
      expect(r.go).toMatchObject({ supported: false });
    });

    it('a function that does not check its stack through r14', async () => {
      const a = supported(await analyzeGoTls(bins.stripped));
      const read = a.functions.find((f) => f.role === 'read')!;
      const bad = patched(bins.stripped, 'no-r14', (b) => {
        // cmp rsp,[r14+10h] is 49 3b 66 10
        expect(b.subarray(read.offset, read.offset + 4).toString('hex')).toBe('493b6610');
        b.fill(0x90, read.offset, read.offset + 4);
      });
      expect(await analyzeGoTls(bad)).toMatchObject({ supported: false, reason: expect.stringMatching(/does not check its stack through r14/) });
    });

    it('undecodable bytes in a function', async () => {
      const a = supported(await analyzeGoTls(bins.stripped));
      const w = a.functions.find((f) => f.role === 'write')!;
      // its first RET becomes 0x06, not an instruction in 64-bit mode
      const bad = patched(bins.stripped, 'undecodable', (b) => {
        expect(b[w.returns[0]]).toBe(0xc3);
        b[w.returns[0]] = 0x06;
      });
      expect(await analyzeGoTls(bad)).toMatchObject({ supported: false, reason: expect.stringMatching(/Write.*undecodable bytes at 0x/) });
    });
  });

  it('the probe target: entry probes, return probes on each RET, the go_cfg value and cookies', async () => {
    const r = await inspectExecutable(bins.plain);
    expect(r.targets).toHaveLength(1);
    const t = r.targets[0];
    expect(t).toMatchObject({ library: 'go', go: { version: goVersion() } });
    expect(t.functions.map((f) => f.kind)).toEqual([SSL_KIND.GO_READ, SSL_KIND.GO_WRITE, SSL_KIND.GO_CLOSE]);
    const a = supported(await analyzeGoTls(bins.plain));
    expect(t.go!.returns.map((f) => [f.kind, f.offset])).toEqual(
      a.functions.flatMap((f) => f.returns.map((o) => [f.role === 'read' ? SSL_KIND.GO_READ : SSL_KIND.GO_WRITE, o])),
    );
    const cfg = goConfigBlock(t);
    expect(cfg.length).toBe(GO_CFG.size);
    expect(cfg.readUInt32LE(GO_CFG.off.flags)).toBe(GO_F.SYSFD);
    expect(cfg.readUInt32LE(GO_CFG.off.itab_hash)).toBe(a.layout!.itabHash);
    expect(cfg.readUInt32LE(GO_CFG.off.fd_sysfd)).toBe(16);
    // stripped: no layout, the block says so
    const s = (await inspectExecutable(bins.stripped)).targets[0];
    expect(goConfigBlock(s).equals(Buffer.alloc(GO_CFG.size))).toBe(true);
    expect(goCookie(SSL_KIND.GO_WRITE, 0x1234)).toBe(SSL_KIND.GO_WRITE + SSL_LIB.go * 0x100 + 0x1234 * 0x10000);
    expect(() => goCookie(SSL_KIND.GO_READ, 0x10000)).toThrow(RangeError);
  });
});

describe('linear x86 decoding', () => {
  it('decodes every instruction of a range and stops at undecodable bytes', () => {
    // cmp rsp,[r14+10h] / ret / int3
    const ok = decodeRange(Buffer.from('493b6610c3cc', 'hex'), 0x1000, 0x1000, 0x1006);
    expect(ok.problems).toEqual([]);
    expect(ok.insns.map((i) => [i.ip, i.text, i.flow])).toEqual([
      [0x1000, 'cmp rsp,[r14+10h]', 'next'],
      [0x1004, 'ret', 'ret'],
      [0x1005, 'int3', 'int3'],
    ]);
    const bad = decodeRange(Buffer.from('c306c3', 'hex'), 0x2000, 0x2000, 0x2003);
    expect(bad.insns.map((i) => i.text)).toEqual(['ret']);
    expect(bad.problems).toEqual(['undecodable bytes at 0x2001']);
  });

  it('reads a real ElfFile range the same way as its bytes', async () => {
    const elf = await ElfFile.open('/bin/true');
    try {
      const text = elf.section('.text')!;
      const code = await elf.readVaddr(text.addr, 64);
      const r = decodeRange(code, text.addr, text.addr, text.addr + 32);
      expect(r.insns.length).toBeGreaterThan(0);
      expect(r.insns[0].ip).toBe(text.addr);
    } finally {
      await elf.close();
    }
  });
});
