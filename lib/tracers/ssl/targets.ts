/**
 * Finding the TLS code to probe: shared libraries on the host, libraries and
 * executables mapped by processes (also inside containers, via /proc/PID/root),
 * and executables that link a TLS library statically but export its symbols
 * (node). Every file is identified by device and inode, so each is probed once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SSL_KIND, type SslKind, type SslLibrary } from '../../kernel/abi';
import { findSymbolsIn, withElf } from '../../elf';
import { readMaps } from '../../elf';
import {
  locateOpenssl,
  locateRustls,
  locateTls,
  looksLikeBoringSsl,
  looksLikeRustls,
  type LocatorVerdict,
  type OpensslVerdict,
  type RustlsVerdict,
} from '../../locator';
import { ElfFile } from '../../elf';
import { hasStringEndingWith } from '../../locator/scan';
import { analyzeGoTls, type GoConnLayout, type GoTlsAnalysis } from '../../locator/go';
import { aheadKey, queueAhead, takeAhead, type AheadKind } from './ahead';

export interface TlsFunction {
  symbol: string;
  kind: SslKind;
  /** File offset of the function's first instruction (what a uprobe needs). */
  offset: number;
  /** Parameters of the kind, carried in the attach cookie (rustls: field offsets; OpenSSL internals: the length pointer's argument; see events.h). */
  params?: number[];
  /** The library of this function when it differs from its target's (a file with rustls and OpenSSL inside). */
  library?: SslLibrary;
}

export interface TlsTarget {
  /** "dev:inode" of the file. */
  key: string;
  /** Path to attach through (may be /proc/PID/root/...). */
  path: string;
  /** The path as the process (or the host) names it. */
  displayPath: string;
  library: SslLibrary;
  functions: TlsFunction[];
  /** Go crypto/tls (library 'go'): its return sites and what is known of the Conn. */
  go?: GoTarget;
}

/** The Go side of a target: entry probes are `functions`, return probes these RET instructions. */
export interface GoTarget {
  version?: string;
  /** File offsets of RET instructions, with the kind of the function they return from. */
  returns: TlsFunction[];
  /** The Conn's layout to its socket fd, when the file says it. */
  layout?: GoConnLayout;
}

interface Family {
  library: SslLibrary;
  /** Library file names of this family (executables are recognised by their symbols). */
  file: RegExp;
  symbols: [string, SslKind][];
}

export const FAMILIES: Family[] = [
  {
    library: 'openssl',
    file: /^libssl\.so(\.|$)/,
    symbols: [
      ['SSL_read', SSL_KIND.READ],
      ['SSL_write', SSL_KIND.WRITE],
      ['SSL_read_ex', SSL_KIND.READ_EX],
      ['SSL_write_ex', SSL_KIND.WRITE_EX],
      ['SSL_do_handshake', SSL_KIND.HANDSHAKE],
      // the session's end: its socket is forgotten before another session takes its address
      ['SSL_free', SSL_KIND.FREE],
    ],
  },
  {
    library: 'gnutls',
    file: /^libgnutls\.so(\.|$)/,
    symbols: [
      ['gnutls_record_recv', SSL_KIND.READ],
      ['gnutls_record_send', SSL_KIND.WRITE],
      ['gnutls_handshake', SSL_KIND.HANDSHAKE],
    ],
  },
  {
    library: 'nss',
    file: /^libnspr4\.so(\.|$)/,
    symbols: [
      ['PR_Read', SSL_KIND.READ],
      ['PR_Recv', SSL_KIND.READ],
      ['PR_Write', SSL_KIND.WRITE],
      ['PR_Send', SSL_KIND.WRITE],
    ],
  },
];

const ALL_SYMBOLS = FAMILIES.flatMap((f) => f.symbols.map(([s]) => s));

/** Is this file name one of the TLS libraries we know? */
export function isTlsLibraryName(file: string): boolean {
  const base = path.basename(file);
  return FAMILIES.some((f) => f.file.test(base));
}

export function fileKey(st: { dev: number; ino: number }): string {
  return `${st.dev}:${st.ino}`;
}

/**
 * The TLS functions an ELF file defines (exported or in .symtab), grouped
 * into targets by family. A family counts only if both a read and a write
 * function are present. Throws for unreadable or non-ELF files.
 */
export async function inspectBinary(attachPath: string, displayPath = attachPath): Promise<TlsTarget[]> {
  return aheadOrNow<TlsTarget[]>('binary', attachPath, displayPath, undefined);
}

/** Each kind's inspection, done now. */
const INSPECT_NOW: Record<AheadKind, (attachPath: string, displayPath: string, cacheDir: string | undefined) => Promise<unknown>> = {
  binary: (attachPath, displayPath) => inspectNow(attachPath, displayPath),
  exe: (attachPath, displayPath, cacheDir) => inspectExecutableNow(attachPath, displayPath, cacheDir),
  static: (attachPath, displayPath, cacheDir) => inspectStaticTlsNow(attachPath, displayPath, cacheDir),
};

/** The inspection read ahead for this file and these paths (inspectAhead), else one done now. A library's takes no locator cache directory. */
function aheadOrNow<T>(kind: AheadKind, attachPath: string, displayPath: string, locatorCacheDir: string | undefined): Promise<T> {
  const cacheDir = kind === 'binary' ? undefined : locatorCacheDir;
  return takeAhead<T>(aheadKey(kind, attachPath, displayPath, cacheDir)) ?? (INSPECT_NOW[kind](attachPath, displayPath, cacheDir) as Promise<T>);
}

/** Which inspection the discovery gives a file: an executable's (with the locators), a known TLS library's, or any other file's (rustls or OpenSSL inside). */
export function inspectionKind(displayPath: string, executable: boolean): AheadKind {
  return executable ? 'exe' : isTlsLibraryName(displayPath) ? 'binary' : 'static';
}

/**
 * Start inspecting a file now (queued: one after another, while the eBPF
 * objects load on other threads); the inspect function of that kind, for the
 * same unchanged file and paths, then takes the result (ahead.ts).
 */
export function inspectAhead(kind: AheadKind, attachPath: string, displayPath = attachPath, locatorCacheDir?: string, gen?: number): void {
  const cacheDir = kind === 'binary' ? undefined : locatorCacheDir;
  queueAhead(aheadKey(kind, attachPath, displayPath, cacheDir), () => INSPECT_NOW[kind](attachPath, displayPath, cacheDir), gen);
}

function inspectNow(attachPath: string, displayPath: string): Promise<TlsTarget[]> {
  return withElf(attachPath, async (elf) => {
    const found = await findSymbolsIn(elf, ALL_SYMBOLS);
    const byName = new Map(found.filter((s) => s.type === 'FUNC' || s.type === 'GNU_IFUNC').map((s) => [s.name, s]));
    const out: TlsTarget[] = [];
    for (const fam of FAMILIES) {
      const fns: TlsFunction[] = [];
      for (const [sym, kind] of fam.symbols) {
        const s = byName.get(sym);
        if (s && s.offset !== undefined) fns.push({ symbol: sym, kind, offset: s.offset });
      }
      const hasRead = fns.some((f) => f.kind === SSL_KIND.READ || f.kind === SSL_KIND.READ_EX);
      const hasWrite = fns.some((f) => f.kind === SSL_KIND.WRITE || f.kind === SSL_KIND.WRITE_EX);
      if (hasRead && hasWrite) out.push({ key: fileKey(elf.stat), path: attachPath, displayPath, library: fam.library, functions: fns });
    }
    return out;
  });
}

const LIB_DIRS = ['/lib', '/lib64', '/usr/lib', '/usr/lib64', '/usr/local/lib'];

/** TLS libraries installed on the host (the usual library directories and their multiarch subdirectories). */
export function systemTlsLibraries(): string[] {
  // each directory once (on merged-/usr systems /lib is /usr/lib)
  const dirs = new Map<string, number>();
  /** The directory's real path when it is there and not seen yet. */
  const add = (d: string): string | null => {
    try {
      const real = fs.realpathSync(d);
      if (dirs.has(real)) return null;
      dirs.set(real, fs.statSync(real).mtimeMs);
      return real;
    } catch {
      return null; // no such directory
    }
  };
  for (const d of LIB_DIRS) {
    const real = add(d);
    if (real === null) continue;
    try {
      for (const e of fs.readdirSync(real, { withFileTypes: true })) if (e.isDirectory() && /-linux-gnu|-linux-musl/.test(e.name)) add(path.join(real, e.name));
    } catch {
      /* unreadable */
    }
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (const [d, mtime] of dirs) {
    for (const n of tlsNamesIn(d, mtime)) {
      const p = path.join(d, n);
      try {
        const st = fs.statSync(p);
        if (!st.isFile()) continue;
        const k = fileKey(st);
        if (seen.has(k)) continue;
        seen.add(k);
        out.push(fs.realpathSync(p));
      } catch {
        /* dangling link */
      }
    }
  }
  return out;
}

/** The TLS library names in a directory, listed again only when its mtime changed (an entry added, removed or renamed). */
const tlsNames = new Map<string, { mtime: number; names: string[] }>();
function tlsNamesIn(dir: string, mtime: number): string[] {
  const had = tlsNames.get(dir);
  if (had && had.mtime === mtime) return had.names;
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => isTlsLibraryName(n));
  } catch {
    return [];
  }
  tlsNames.set(dir, { mtime, names });
  return names;
}

let ownMntNs: string | null | undefined;

/** The path to reach a file a process maps: through /proc/PID/root when it lives in another mount namespace. */
export function pathInProcess(pid: number, p: string): string {
  if (ownMntNs === undefined) {
    try {
      ownMntNs = fs.readlinkSync('/proc/self/ns/mnt');
    } catch {
      ownMntNs = null;
    }
  }
  try {
    if (fs.readlinkSync(`/proc/${pid}/ns/mnt`) === ownMntNs) return p;
  } catch {
    /* gone or not allowed: fall through */
  }
  return `/proc/${pid}/root${p}`;
}

export interface ProcessImage {
  /** the executable, as the process names it */
  exe: string | null;
  /** executable file mappings: display path -> attach path */
  files: Map<string, string>;
  /** "dev:inode" of every executable mapping (from the attach paths) */
  keys: Set<string>;
}

/** The executable and the executable file mappings of a process. Null if it is gone. */
export async function processImage(pid: number): Promise<ProcessImage | null> {
  let maps;
  try {
    maps = await readMaps(pid);
  } catch {
    return null;
  }
  let exe: string | null = null;
  try {
    exe = fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {
    /* kernel thread or gone */
  }
  const files = new Map<string, string>();
  const keys = new Set<string>();
  for (const m of maps) {
    if (!m.perms.includes('x') || !m.path.startsWith('/') || m.deleted || files.has(m.path)) continue;
    const ap = pathInProcess(pid, m.path);
    files.set(m.path, ap);
    try {
      keys.add(fileKey(fs.statSync(ap)));
    } catch {
      /* unlinked meanwhile */
    }
  }
  return { exe, files, keys };
}

export interface ExecutableInspection {
  targets: TlsTarget[];
  /** Set when the file has no TLS symbols but contains BoringSSL: the locator's verdict. */
  verdict?: LocatorVerdict;
  /** Set when the file names rustls 0.23's TLS 1.3 cipher module: the rustls locator's verdict. */
  rustls?: RustlsVerdict;
  /** Set when the file has OpenSSL's ssl_lib.c without exporting SSL_read/SSL_write: the OpenSSL locator's verdict. */
  openssl?: OpensslVerdict;
  /** Set when the file is a Go executable with crypto/tls. */
  go?: Extract<GoTlsAnalysis, { tls: true }>;
}

const GO_KINDS = { read: SSL_KIND.GO_READ, write: SSL_KIND.GO_WRITE, close: SSL_KIND.GO_CLOSE } as const;

/** The probe target of a Go executable's crypto/tls, from its analysis. */
export function goTarget(a: Extract<GoTlsAnalysis, { supported: true }>, key: string, attachPath: string, displayPath: string): TlsTarget {
  return {
    key,
    path: attachPath,
    displayPath,
    library: 'go',
    functions: a.functions.map((f) => ({ symbol: f.name, kind: GO_KINDS[f.role], offset: f.offset })),
    go: {
      ...(a.version ? { version: a.version } : {}),
      returns: a.functions.flatMap((f) => f.returns.map((offset) => ({ symbol: `${f.name} RET`, kind: GO_KINDS[f.role], offset }))),
      ...(a.layout ? { layout: a.layout } : {}),
    },
  };
}

async function looksLikeOpenssl(path: string): Promise<boolean> {
  const elf = await ElfFile.open(path);
  try {
    return await hasStringEndingWith(elf, 'ssl/ssl_lib.c');
  } finally {
    await elf.close();
  }
}

/**
 * A file's statically linked TLS without symbols (an executable or a
 * library such as a Node addon): rustls's record methods and OpenSSL 3's
 * internal read/write functions, each only when the file names that library
 * (a cheap look at its read-only data) and its locator proves the functions.
 * Both go into one target (Codex and Copilot CLI link both).
 */
export async function inspectStaticTls(attachPath: string, displayPath = attachPath, locatorCacheDir?: string): Promise<ExecutableInspection> {
  return aheadOrNow<ExecutableInspection>('static', attachPath, displayPath, locatorCacheDir);
}

async function inspectStaticTlsNow(attachPath: string, displayPath: string, locatorCacheDir: string | undefined): Promise<ExecutableInspection> {
  const opts = locatorCacheDir ? { cacheDir: locatorCacheDir } : {};
  const out: ExecutableInspection = { targets: [] };
  const fns: TlsFunction[] = [];
  if (await looksLikeRustls(attachPath).catch(() => false)) {
    const v = (out.rustls = await locateRustls(attachPath, opts));
    if (v.supported) {
      const L = v.layout;
      for (const f of v.functions)
        fns.push(
          f.kind === 'decrypt'
            ? {
                symbol: `MessageDecrypter::decrypt (${f.provider})`,
                kind: SSL_KIND.RUSTLS_DECRYPT,
                offset: f.offset,
                params: [L.inPtr, L.inLen],
                library: 'rustls',
              }
            : {
                symbol: `MessageEncrypter::encrypt (${f.provider})`,
                kind: SSL_KIND.RUSTLS_ENCRYPT,
                offset: f.offset,
                params: [L.chunks, L.typ, L.appData],
                library: 'rustls',
              },
        );
    }
  }
  if (await looksLikeOpenssl(attachPath).catch(() => false)) {
    const v = (out.openssl = await locateOpenssl(attachPath, opts));
    if (v.supported) {
      const { read, write } = v.functions;
      fns.push({ symbol: read.name, kind: SSL_KIND.READ_EX, offset: read.offset, params: [read.lenArg], library: 'openssl' });
      fns.push({ symbol: write.name, kind: SSL_KIND.WRITE_EX, offset: write.offset, params: [write.lenArg], library: 'openssl' });
    }
  }
  if (fns.length > 0) {
    const st = fs.statSync(attachPath);
    out.targets.push({ key: fileKey(st), path: attachPath, displayPath, library: fns[0].library ?? 'rustls', functions: fns });
  }
  return out;
}

/**
 * An executable's TLS functions: exported symbols; else, for a Go executable,
 * crypto/tls's Conn methods (lib/locator/go.ts); else, for a stripped static
 * executable that contains BoringSSL (e.g. Bun-compiled Claude Code), the
 * functions the locator proves to be SSL_read/SSL_write; else rustls's record
 * methods and OpenSSL's internals (inspectStaticTls). The locators never
 * guess: an unsupported verdict gives no target.
 */
export async function inspectExecutable(attachPath: string, displayPath = attachPath, locatorCacheDir?: string): Promise<ExecutableInspection> {
  return aheadOrNow<ExecutableInspection>('exe', attachPath, displayPath, locatorCacheDir);
}

async function inspectExecutableNow(attachPath: string, displayPath: string, locatorCacheDir: string | undefined): Promise<ExecutableInspection> {
  const targets = await inspectBinary(attachPath, displayPath);
  if (targets.length) return { targets };
  const go = await analyzeGoTls(attachPath);
  if (go.go) {
    if (!go.tls) return { targets };
    if (!go.supported) return { targets, go };
    return { targets: [goTarget(go, fileKey(fs.statSync(attachPath)), attachPath, displayPath)], go };
  }
  if (!(await looksLikeBoringSsl(attachPath).catch(() => false))) return inspectStaticTls(attachPath, displayPath, locatorCacheDir);
  const verdict = await locateTls(attachPath, locatorCacheDir ? { cacheDir: locatorCacheDir } : {});
  if (!verdict.supported) return { targets, verdict };
  const st = fs.statSync(attachPath);
  return {
    verdict,
    targets: [
      {
        key: fileKey(st),
        path: attachPath,
        displayPath,
        library: 'boringssl',
        functions: [
          { symbol: 'SSL_read', kind: SSL_KIND.READ, offset: verdict.functions.read.offset },
          { symbol: 'SSL_write', kind: SSL_KIND.WRITE, offset: verdict.functions.write.offset },
        ],
      },
    ],
  };
}
