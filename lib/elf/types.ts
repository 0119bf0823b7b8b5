/** Plain data types and constants of ELF64 (System V gABI, x86-64 psABI). */

/** e_type values. */
export const ET = { NONE: 0, REL: 1, EXEC: 2, DYN: 3, CORE: 4 } as const;
/** p_type values used here. */
export const PT = {
  NULL: 0,
  LOAD: 1,
  DYNAMIC: 2,
  INTERP: 3,
  NOTE: 4,
  SHLIB: 5,
  PHDR: 6,
  TLS: 7,
  GNU_EH_FRAME: 0x6474e550,
  GNU_STACK: 0x6474e551,
  GNU_RELRO: 0x6474e552,
  GNU_PROPERTY: 0x6474e553,
} as const;
/** p_flags bits. */
export const PF = { X: 1, W: 2, R: 4 } as const;
/** sh_type values used here. */
export const SHT = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  HASH: 5,
  DYNAMIC: 6,
  NOTE: 7,
  NOBITS: 8,
  DYNSYM: 11,
  GNU_HASH: 0x6ffffff6,
  GNU_VERDEF: 0x6ffffffd,
  GNU_VERNEED: 0x6ffffffe,
  GNU_VERSYM: 0x6fffffff,
} as const;
/** sh_flags bits. */
export const SHF = { WRITE: 1, ALLOC: 2, EXECINSTR: 4, COMPRESSED: 0x800 } as const;
/** Special section indexes. */
export const SHN = { UNDEF: 0, LORESERVE: 0xff00, ABS: 0xfff1, COMMON: 0xfff2, XINDEX: 0xffff } as const;
/** EM_X86_64. */
export const EM_X86_64 = 62;

/** Symbol binding (STB_*), by name. */
export type SymbolBinding = 'LOCAL' | 'GLOBAL' | 'WEAK' | 'GNU_UNIQUE' | `BIND_${number}`;
/** Symbol type (STT_*), by name. */
export type SymbolType = 'NOTYPE' | 'OBJECT' | 'FUNC' | 'SECTION' | 'FILE' | 'COMMON' | 'TLS' | 'GNU_IFUNC' | `TYPE_${number}`;
/** Symbol visibility (STV_*), by name. */
export type SymbolVisibility = 'DEFAULT' | 'INTERNAL' | 'HIDDEN' | 'PROTECTED';

/** The ELF file header. */
export interface ElfHeader {
  /** 2 = ELF64 (the only class read). */
  class: number;
  /** 1 = little-endian (the only encoding read). */
  data: number;
  osabi: number;
  /** e_type: 2 = ET_EXEC, 3 = ET_DYN (PIE or shared object), 1 = ET_REL, 4 = ET_CORE. */
  type: number;
  /** e_machine: 62 = x86-64. */
  machine: number;
  entry: number;
  phoff: number;
  shoff: number;
  flags: number;
  phentsize: number;
  /** Number of program headers (after PN_XNUM extension). */
  phnum: number;
  shentsize: number;
  /** Number of section headers (after the extended-numbering rule). */
  shnum: number;
  /** Index of the section-name string table (after SHN_XINDEX). */
  shstrndx: number;
}

/** One program header (segment). */
export interface ProgramHeader {
  index: number;
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

/** One section header, with its name resolved. */
export interface SectionHeader {
  index: number;
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

/** The section access symbol tables are read through (ElfFile has it). */
export interface ElfSections {
  readonly path: string;
  readonly sections: readonly SectionHeader[];
  /** The first section of this SHT_* type. */
  sectionByType(type: number): SectionHeader | undefined;
  /** The bytes of a section (empty for SHT_NOBITS). */
  readSection(sec: SectionHeader): Promise<Buffer>;
}

/** One symbol of .dynsym or .symtab. */
export interface ElfSymbol {
  /** Base name, without any `@VERSION` suffix. */
  name: string;
  /** Symbol version (e.g. `OPENSSL_3.0.0`), from .gnu.version* or an `@`/`@@` suffix; undefined when unversioned. */
  version?: string;
  /** True when the version is hidden (`name@VER`, not the default `name@@VER`). */
  versionHidden?: boolean;
  /** st_value: the virtual address for defined symbols of executables and shared objects. */
  value: number;
  size: number;
  binding: SymbolBinding;
  type: SymbolType;
  visibility: SymbolVisibility;
  /** st_shndx (0 = undefined, i.e. imported). */
  shndx: number;
  /** Defined in this file (shndx is neither SHN_UNDEF nor SHN_COMMON). */
  defined: boolean;
  /** The table it came from. */
  table: 'dynsym' | 'symtab';
  /** Index in that table. */
  index: number;
}

/** One ELF note. */
export interface ElfNote {
  name: string;
  type: number;
  desc: Buffer;
}

/** A symbol found by findSymbols(), with what a uprobe needs. */
export interface FoundSymbol {
  /** Base name (without version). */
  name: string;
  /** Virtual address (st_value). */
  vaddr: number;
  /** File offset of vaddr (via PT_LOAD), what a uprobe is attached at; undefined if not in the file image. */
  offset: number | undefined;
  size: number;
  binding: SymbolBinding;
  type: SymbolType;
  /** Symbol version, e.g. `OPENSSL_3.0.0`, when versioned. */
  version?: string;
  /** Which table it was found in. */
  table: 'dynsym' | 'symtab';
}
