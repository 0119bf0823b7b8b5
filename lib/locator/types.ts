/** Public types of the TLS locator. */

/**
 * Where the plaintext is for a probe on a located function. Both functions
 * follow OpenSSL's `int SSL_read(SSL *ssl, void *buf, int num)` /
 * `int SSL_write(SSL *ssl, const void *buf, int num)` in the System V x86-64 ABI.
 */
export interface TlsConvention {
  /** The C prototype the function follows. */
  prototype: string;
  /** Register holding the SSL* at entry. */
  ssl: 'rdi';
  /** Register holding the plaintext buffer pointer at entry. */
  buf: 'rsi';
  /** Register holding the requested length (int) at entry. */
  num: 'edx';
  /** Register holding the result at return: bytes read/written when > 0, else an error (<= 0). */
  result: 'eax';
  /**
   * When the buffer holds the plaintext: at `entry` for writes (buf[0..num)), at
   * `return` for reads (buf[0..eax), with buf saved from entry).
   */
  plaintextAt: 'entry' | 'return';
}

/** One located function. */
export interface LocatedFunction {
  /** What the function is (BoringSSL's name for it). */
  name: string;
  /** Link-time virtual address of the entry. */
  vaddr: number;
  /** File offset of the entry: what a uprobe is attached at. */
  offset: number;
  convention: TlsConvention;
  /** First bytes at the entry, hex (a later attach can re-check them). */
  entryBytes: string;
  /** Bytes from the entry to the end of the last instruction the proof decoded. */
  size: number;
  /** SHA-256 (hex) of those `size` bytes: a cached verdict applies only to a file that still has them at `offset`. */
  sha256: string;
}

/** The analysed file. */
export interface BinaryIdentity {
  path: string;
  size: number;
  mtimeMs: number;
  inode: number;
}

/** The locator found the plaintext functions with unambiguous evidence. */
export interface SupportedVerdict {
  supported: true;
  library: 'boringssl';
  /** GNU build-id (hex), when the file has one. */
  buildId: string | undefined;
  binary: BinaryIdentity;
  functions: { read: LocatedFunction; write: LocatedFunction };
  /** Human-readable evidence, one fact per line. */
  evidence: string[];
  /** Version of the locator's method that produced this verdict. */
  locatorVersion: number;
  /** Milliseconds the analysis took (of the run that produced it, cached or not). */
  analysisMs: number;
  /** True when this verdict came from the cache. */
  cached: boolean;
  /** Set when the cache was not used because it cannot be trusted (or read): why, for a notice. The verdict is a fresh analysis then. */
  cacheProblem?: string;
}

/** The locator cannot (or need not) locate functions in this file; `reason` says why. */
export interface UnsupportedVerdict {
  supported: false;
  reason: string;
  /** Machine-readable kind of reason. */
  code: UnsupportedCode;
  /** For BAD_FILE: the ElfError code (ENOENT, EACCES, ENOTELF, ETRUNCATED, ...). */
  errorCode?: string;
  buildId?: string;
  binary?: BinaryIdentity;
  evidence: string[];
  locatorVersion: number;
  analysisMs: number;
  cached: boolean;
  /** As in SupportedVerdict. */
  cacheProblem?: string;
}

/**
 * - `EXPORTS_SSL_SYMBOLS`: the file exports SSL_read/SSL_write: attach by symbol, no locator needed.
 * - `NOT_BORINGSSL`: no BoringSSL in the file.
 * - `NOT_RUSTLS`: no rustls 0.23 TLS 1.3 cipher module in the file (rustls locator).
 * - `NOT_OPENSSL`: no OpenSSL ssl_lib.c in the file (static OpenSSL locator).
 * - `AMBIGUOUS`: BoringSSL is there but the evidence does not single out one function each.
 * - `NO_EVIDENCE`: BoringSSL is there but a required piece of evidence is missing.
 * - `INCONSISTENT`: candidates were found but a cross-check failed.
 * - `UNSUPPORTED_ARCH`: not an x86-64 executable or shared object.
 * - `BAD_FILE`: unreadable, not ELF, truncated or corrupt (see `errorCode`).
 * - `ANALYSIS_FAILED`: an unexpected internal error (message in `reason`); not cached.
 */
export type UnsupportedCode =
  | 'EXPORTS_SSL_SYMBOLS'
  | 'NOT_BORINGSSL'
  | 'NOT_RUSTLS'
  | 'NOT_OPENSSL'
  | 'AMBIGUOUS'
  | 'NO_EVIDENCE'
  | 'INCONSISTENT'
  | 'UNSUPPORTED_ARCH'
  | 'BAD_FILE'
  | 'ANALYSIS_FAILED';

export type LocatorVerdict = SupportedVerdict | UnsupportedVerdict;

/** One located rustls method (Rust ABI: rdi = return slot, rsi = self, rdx = &msg, rcx = seq). */
export interface RustlsLocatedFunction {
  /** `MessageEncrypter::encrypt` or `MessageDecrypter::decrypt`. */
  kind: 'encrypt' | 'decrypt';
  /** The crypto provider module whose method it is. */
  provider: 'ring' | 'aws_lc_rs';
  vaddr: number;
  offset: number;
  /** First bytes at the entry, hex. */
  entryBytes: string;
  /** Bytes from the entry to the end of the last instruction the proof decoded. */
  size: number;
  /** SHA-256 (hex) of those `size` bytes: a cached verdict applies only to a file that still has them at `offset`. */
  sha256: string;
}

/** Field offsets the probes read (see RustlsLayout in rustls.ts). */
export interface RustlsProbeLayout {
  inPtr: number;
  inLen: number;
  chunks: number;
  typ: number;
  appData: number;
}

/** The rustls locator found the TLS 1.3 record methods with unambiguous evidence. */
export interface SupportedRustlsVerdict {
  supported: true;
  library: 'rustls';
  /** rustls version from its source paths (0.23.N). */
  version: string;
  buildId: string | undefined;
  binary: BinaryIdentity;
  functions: RustlsLocatedFunction[];
  layout: RustlsProbeLayout;
  evidence: string[];
  locatorVersion: number;
  analysisMs: number;
  cached: boolean;
  /** Set when the cache directory or file was refused or unreadable (the verdict was made afresh). */
  cacheProblem?: string;
}

export type RustlsVerdict = SupportedRustlsVerdict | UnsupportedVerdict;

/** One located OpenSSL 3 internal function (System V ABI). */
export interface OpensslLocatedFunction {
  name: 'ssl_read_internal' | 'ssl_write_internal';
  vaddr: number;
  offset: number;
  /** 0-based argument index of the size_t * that receives the byte count (3, or 4 from OpenSSL 3.2 on for writes). */
  lenArg: number;
  entryBytes: string;
  /** Bytes from the entry to the end of the last instruction the proof decoded, and their SHA-256. */
  size: number;
  sha256: string;
}

/** The OpenSSL locator found ssl_read_internal/ssl_write_internal with unambiguous evidence. */
export interface SupportedOpensslVerdict {
  supported: true;
  library: 'openssl';
  buildId: string | undefined;
  binary: BinaryIdentity;
  functions: { read: OpensslLocatedFunction; write: OpensslLocatedFunction };
  evidence: string[];
  locatorVersion: number;
  analysisMs: number;
  cached: boolean;
  /** Set when the cache directory or file was refused or unreadable (the verdict was made afresh). */
  cacheProblem?: string;
}

export type OpensslVerdict = SupportedOpensslVerdict | UnsupportedVerdict;

/** Options of locateTls(). */
export interface LocateOptions {
  /**
   * Cache directory (default: $AGENTSIGHT_LOCATOR_CACHE; else, as root,
   * /var/cache/agentsight/locator; else $XDG_CACHE_HOME/agentsight/locator or
   * ~/.cache/agentsight/locator). Used only when it and every directory above
   * it are owned by root or the effective user and not writable by others
   * (see docs/boringssl-locator.md); otherwise verdicts are not cached and
   * `cacheProblem` says why.
   */
  cacheDir?: string;
  /** Read and write the cache (default true). False always analyses and stores nothing. */
  cache?: boolean;
}
