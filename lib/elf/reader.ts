/**
 * ElfFile: a positional-read ELF64 little-endian reader.
 *
 * Opening reads only the ELF header, the program headers, the section headers
 * and the section-name table (a few KB even for a 400 MB executable); every
 * other piece (symbol tables, notes, code bytes) is read on demand with
 * positional reads and cached per ElfFile. Nothing reads the whole file.
 */
import { constants, promises as fsp } from 'fs';
import type { FileHandle } from 'fs/promises';
import { u64 } from './bytes';
import { ElfError, fsError } from './errors';
import { parseNotes } from './notes';
import { readSymbolTable } from './symbols';
import { ElfHeader, ElfNote, ElfSections, ElfSymbol, PF, ProgramHeader, PT, SectionHeader, SHN, SHT } from './types';

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const PN_XNUM = 0xffff;
/** Upper bound on table sizes we are willing to read into memory (corruption guard). */
const MAX_TABLE_BYTES = 512 * 1024 * 1024;

/** Stat of the file at the time it was opened. */
export interface ElfFileStat {
  size: number;
  mtimeMs: number;
  ino: number;
  dev: number;
}

/** An open ELF64 little-endian file. Call close() when done (or use withElf()). */
export class ElfFile implements ElfSections {
  readonly path: string;
  readonly stat: ElfFileStat;
  readonly header: ElfHeader;
  readonly programHeaders: readonly ProgramHeader[];
  readonly sections: readonly SectionHeader[];
  private fh: FileHandle | undefined;
  private readonly symCache = new Map<string, Promise<ElfSymbol[]>>();
  private notesCache: Promise<ElfNote[]> | undefined;

  private constructor(path: string, fh: FileHandle, stat: ElfFileStat, header: ElfHeader, phdrs: ProgramHeader[], sections: SectionHeader[]) {
    this.path = path;
    this.fh = fh;
    this.stat = stat;
    this.header = header;
    this.programHeaders = phdrs;
    this.sections = sections;
  }

  /** File size in bytes. */
  get size(): number {
    return this.stat.size;
  }

  /**
   * Open and validate an ELF64 little-endian file.
   * @throws ElfError (ENOENT/EACCES/... from the system, ENOTELF, EELFCLASS, ETRUNCATED, EBADELF)
   */
  static async open(path: string): Promise<ElfFile> {
    let fh: FileHandle;
    try {
      // O_NONBLOCK: a FIFO named like a library (a process can open one) must not hang the open
      fh = await fsp.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw fsError(path, 'open', err);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new ElfError(path, 'not a regular file', st.isDirectory() ? 'EISDIR' : 'ENOTELF');
      const stat: ElfFileStat = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, dev: st.dev };
      const read = (off: number, len: number, what: string) => readExact(fh, path, stat.size, off, len, what);

      if (stat.size < EHDR_SIZE) {
        const head = stat.size >= 4 ? await read(0, 4, 'ELF magic') : Buffer.alloc(0);
        if (head.length === 4 && head.readUInt32BE(0) === 0x7f454c46) {
          throw new ElfError(path, `truncated ELF file: ${stat.size} bytes, shorter than the ELF header`, 'ETRUNCATED');
        }
        throw new ElfError(path, `not an ELF file (${stat.size} bytes)`, 'ENOTELF');
      }
      const eh = await read(0, EHDR_SIZE, 'ELF header');
      const header = parseHeader(path, eh);

      // Section 0 carries the extended counts when shnum/phnum/shstrndx overflow.
      let sh0: Buffer | undefined;
      if (header.shoff !== 0 && header.shentsize >= SHDR_SIZE) {
        if (header.shoff + SHDR_SIZE > stat.size) {
          throw new ElfError(
            path,
            `truncated ELF file: section header table at offset ${header.shoff} is past the end of the file (${stat.size} bytes)`,
            'ETRUNCATED',
          );
        }
        sh0 = await read(header.shoff, SHDR_SIZE, 'section header 0');
        if (header.shnum === 0) header.shnum = u64(sh0, 0x20);
        if (header.shstrndx === SHN.XINDEX) header.shstrndx = sh0.readUInt32LE(0x28);
        if (header.phnum === PN_XNUM) header.phnum = sh0.readUInt32LE(0x2c);
      }

      const phdrs = await readProgramHeaders(path, header, read);
      const sections = await readSections(path, header, stat.size, read);
      return new ElfFile(path, fh, stat, header, phdrs, sections);
    } catch (err) {
      await fh.close().catch(() => undefined);
      if (err instanceof ElfError) throw err;
      throw fsError(path, 'read', err);
    }
  }

  /** Close the file. Further reads throw. */
  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.close();
  }

  /**
   * Read exactly `length` bytes at file offset `offset`.
   * @throws ElfError ETRUNCATED when the range is past the end of the file.
   */
  async read(offset: number, length: number, what = 'data'): Promise<Buffer> {
    if (!this.fh) throw new ElfError(this.path, 'file is closed', 'EBADF');
    return readExact(this.fh, this.path, this.stat.size, offset, length, what);
  }

  /** The first section with this name (e.g. ".text"). */
  section(name: string): SectionHeader | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The first section of this sh_type. */
  sectionByType(type: number): SectionHeader | undefined {
    return this.sections.find((s) => s.type === type);
  }

  /**
   * The contents of a section (empty for SHT_NOBITS).
   * @throws ElfError ETRUNCATED when it lies past the end of the file.
   */
  async readSection(sec: SectionHeader): Promise<Buffer> {
    if (sec.type === SHT.NOBITS || sec.size === 0) return Buffer.alloc(0);
    if (sec.size > MAX_TABLE_BYTES) {
      throw new ElfError(this.path, `section ${sec.name} is implausibly large (${sec.size} bytes)`, 'EBADELF');
    }
    return this.read(sec.offset, sec.size, `section ${sec.name || sec.index}`);
  }

  /** PT_LOAD segments in file order. */
  get loadSegments(): ProgramHeader[] {
    return this.programHeaders.filter((p) => p.type === PT.LOAD);
  }

  /** The PT_INTERP path (e.g. "/lib64/ld-linux-x86-64.so.2"), or undefined for static files. */
  async interpreter(): Promise<string | undefined> {
    const p = this.programHeaders.find((h) => h.type === PT.INTERP);
    if (!p || p.filesz === 0 || p.filesz > 4096) return undefined;
    const b = await this.read(p.offset, p.filesz, 'PT_INTERP');
    const nul = b.indexOf(0);
    return b.toString('utf8', 0, nul < 0 ? b.length : nul);
  }

  /**
   * The PT_LOAD segment whose file image holds `vaddr` (vaddr in [p_vaddr, p_vaddr + p_filesz)).
   */
  segmentForVaddr(vaddr: number): ProgramHeader | undefined {
    for (const p of this.programHeaders) {
      if (p.type === PT.LOAD && vaddr >= p.vaddr && vaddr < p.vaddr + p.filesz) return p;
    }
    return undefined;
  }

  /**
   * The file offset of a virtual address, via the PT_LOAD segment that maps it:
   * `p_offset + (vaddr - p_vaddr)`. This is the offset a uprobe is attached at.
   * Undefined when no segment maps the address from the file (e.g. .bss).
   */
  vaddrToFileOffset(vaddr: number): number | undefined {
    const p = this.segmentForVaddr(vaddr);
    return p ? p.offset + (vaddr - p.vaddr) : undefined;
  }

  /** The virtual address of a file offset (inverse of vaddrToFileOffset), or undefined if unmapped. */
  fileOffsetToVaddr(offset: number): number | undefined {
    for (const p of this.programHeaders) {
      if (p.type === PT.LOAD && offset >= p.offset && offset < p.offset + p.filesz) return p.vaddr + (offset - p.offset);
    }
    return undefined;
  }

  /** True when `vaddr` lies in an executable PT_LOAD segment's file image. */
  isExecutableVaddr(vaddr: number): boolean {
    const p = this.segmentForVaddr(vaddr);
    return !!p && (p.flags & PF.X) !== 0;
  }

  /**
   * Read `length` bytes of the memory image at `vaddr`. The range must lie in one
   * PT_LOAD segment; bytes past p_filesz (zero-filled .bss) read as zero.
   * @throws ElfError EBADELF when no segment maps the range.
   */
  async readVaddr(vaddr: number, length: number): Promise<Buffer> {
    for (const p of this.programHeaders) {
      if (p.type !== PT.LOAD || vaddr < p.vaddr || vaddr + length > p.vaddr + p.memsz) continue;
      const out = Buffer.alloc(length);
      const rel = vaddr - p.vaddr;
      const inFile = Math.max(0, Math.min(length, p.filesz - rel));
      if (inFile > 0) (await this.read(p.offset + rel, inFile, `bytes at 0x${vaddr.toString(16)}`)).copy(out, 0);
      return out;
    }
    throw new ElfError(this.path, `no PT_LOAD segment maps 0x${vaddr.toString(16)}..+${length}`, 'EBADELF');
  }

  /**
   * All symbols of `.dynsym` (default) or `.symtab`, with versions resolved.
   * Empty when the table is absent (e.g. a stripped file has no .symtab). Cached.
   */
  symbols(table: 'dynsym' | 'symtab' = 'dynsym'): Promise<ElfSymbol[]> {
    let p = this.symCache.get(table);
    if (!p) {
      p = readSymbolTable(this, table);
      this.symCache.set(table, p);
      p.catch(() => this.symCache.delete(table));
    }
    return p;
  }

  /** All notes, from PT_NOTE segments (or SHT_NOTE sections when there are no PT_NOTE segments). Cached. */
  notes(): Promise<ElfNote[]> {
    if (!this.notesCache) {
      this.notesCache = this.readAllNotes();
      this.notesCache.catch(() => (this.notesCache = undefined));
    }
    return this.notesCache;
  }

  private async readAllNotes(): Promise<ElfNote[]> {
    const out: ElfNote[] = [];
    const segs = this.programHeaders.filter((p) => p.type === PT.NOTE && p.filesz > 0);
    if (segs.length > 0) {
      for (const p of segs) {
        if (p.filesz > 16 * 1024 * 1024) continue;
        out.push(...parseNotes(await this.read(p.offset, p.filesz, 'PT_NOTE'), p.align));
      }
    } else {
      for (const s of this.sections) {
        if (s.type !== SHT.NOTE || s.size === 0 || s.size > 16 * 1024 * 1024) continue;
        out.push(...parseNotes(await this.readSection(s), s.addralign));
      }
    }
    return out;
  }

  /** The GNU build-id (NT_GNU_BUILD_ID) as lowercase hex, or undefined when the file has none. */
  async buildId(): Promise<string | undefined> {
    const n = (await this.notes()).find((x) => x.name === 'GNU' && x.type === 3);
    return n && n.desc.length > 0 ? n.desc.toString('hex') : undefined;
  }
}

/** Open `path`, run fn, and close the file whatever happens. */
export async function withElf<T>(path: string, fn: (elf: ElfFile) => Promise<T>): Promise<T> {
  const elf = await ElfFile.open(path);
  try {
    return await fn(elf);
  } finally {
    await elf.close().catch(() => undefined);
  }
}

async function readExact(fh: FileHandle, path: string, fileSize: number, offset: number, length: number, what: string): Promise<Buffer> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new ElfError(path, `bad range for ${what}: offset ${offset}, length ${length}`, 'EBADELF');
  }
  if (offset + length > fileSize) {
    throw new ElfError(
      path,
      `truncated ELF file: ${what} at offset ${offset}..${offset + length} is past the end of the file (${fileSize} bytes)`,
      'ETRUNCATED',
    );
  }
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      ({ bytesRead: n } = await fh.read(buf, done, length - done, offset + done));
    } catch (err) {
      throw fsError(path, `read ${what}`, err);
    }
    if (n === 0) {
      throw new ElfError(path, `truncated ELF file: end of file while reading ${what} at offset ${offset + done}`, 'ETRUNCATED');
    }
    done += n;
  }
  return buf;
}

function parseHeader(path: string, b: Buffer): ElfHeader {
  if (b.readUInt32BE(0) !== 0x7f454c46) throw new ElfError(path, 'not an ELF file (bad magic)', 'ENOTELF');
  const cls = b[4];
  const data = b[5];
  if (cls !== 2) throw new ElfError(path, `unsupported ELF class ${cls} (only ELF64 is read)`, 'EELFCLASS');
  if (data !== 1) throw new ElfError(path, `unsupported ELF data encoding ${data} (only little-endian is read)`, 'EELFCLASS');
  const h: ElfHeader = {
    class: cls,
    data,
    osabi: b[7],
    type: b.readUInt16LE(0x10),
    machine: b.readUInt16LE(0x12),
    entry: u64(b, 0x18),
    phoff: u64(b, 0x20),
    shoff: u64(b, 0x28),
    flags: b.readUInt32LE(0x30),
    phentsize: b.readUInt16LE(0x36),
    phnum: b.readUInt16LE(0x38),
    shentsize: b.readUInt16LE(0x3a),
    shnum: b.readUInt16LE(0x3c),
    shstrndx: b.readUInt16LE(0x3e),
  };
  if (h.phnum > 0 && h.phentsize < PHDR_SIZE) throw new ElfError(path, `bad e_phentsize ${h.phentsize}`, 'EBADELF');
  if (h.shoff !== 0 && h.shentsize < SHDR_SIZE) throw new ElfError(path, `bad e_shentsize ${h.shentsize}`, 'EBADELF');
  return h;
}

type Reader = (off: number, len: number, what: string) => Promise<Buffer>;

async function readProgramHeaders(path: string, h: ElfHeader, read: Reader): Promise<ProgramHeader[]> {
  if (h.phoff === 0 || h.phnum === 0) return [];
  if (h.phnum * h.phentsize > MAX_TABLE_BYTES) throw new ElfError(path, `implausible program header count ${h.phnum}`, 'EBADELF');
  const b = await read(h.phoff, h.phnum * h.phentsize, 'program header table');
  const out: ProgramHeader[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const o = i * h.phentsize;
    out.push({
      index: i,
      type: b.readUInt32LE(o),
      flags: b.readUInt32LE(o + 4),
      offset: u64(b, o + 8),
      vaddr: u64(b, o + 16),
      paddr: u64(b, o + 24),
      filesz: u64(b, o + 32),
      memsz: u64(b, o + 40),
      align: u64(b, o + 48),
    });
  }
  return out;
}

async function readSections(path: string, h: ElfHeader, fileSize: number, read: Reader): Promise<SectionHeader[]> {
  if (h.shoff === 0 || h.shnum === 0) return [];
  if (h.shnum * h.shentsize > MAX_TABLE_BYTES) throw new ElfError(path, `implausible section count ${h.shnum}`, 'EBADELF');
  const b = await read(h.shoff, h.shnum * h.shentsize, 'section header table');
  const secs: SectionHeader[] = [];
  for (let i = 0; i < h.shnum; i++) {
    const o = i * h.shentsize;
    secs.push({
      index: i,
      name: '',
      type: b.readUInt32LE(o + 4),
      flags: u64(b, o + 8),
      addr: u64(b, o + 16),
      offset: u64(b, o + 24),
      size: u64(b, o + 32),
      link: b.readUInt32LE(o + 40),
      info: b.readUInt32LE(o + 44),
      addralign: u64(b, o + 48),
      entsize: u64(b, o + 56),
      // sh_name is resolved below
    });
    (secs[i] as SectionHeader & { nameOff: number }).nameOff = b.readUInt32LE(o);
  }
  const strSec = h.shstrndx !== SHN.UNDEF && h.shstrndx < secs.length ? secs[h.shstrndx] : undefined;
  let names: Buffer | undefined;
  if (strSec && strSec.type !== SHT.NOBITS && strSec.size > 0) {
    if (strSec.offset + strSec.size > fileSize) {
      throw new ElfError(path, `truncated ELF file: section name table is past the end of the file (${fileSize} bytes)`, 'ETRUNCATED');
    }
    if (strSec.size > MAX_TABLE_BYTES) throw new ElfError(path, 'implausible section name table size', 'EBADELF');
    names = await read(strSec.offset, strSec.size, 'section name table');
  }
  for (const s of secs as (SectionHeader & { nameOff?: number })[]) {
    if (names && s.nameOff !== undefined && s.nameOff < names.length) {
      const end = names.indexOf(0, s.nameOff);
      s.name = names.toString('latin1', s.nameOff, end < 0 ? names.length : end);
    }
    delete s.nameOff;
  }
  return secs;
}
