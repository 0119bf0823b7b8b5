/**
 * The native addon's JS surface (native/*.cc), and its loader. The loader can
 * be replaced (setBinding) so the CLI and the pipeline can be tested without
 * root or a kernel: tests inject a fake that replays records.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NotSupportedError } from '../core/errors';
import { packageRoot } from '../core/package-root';

export interface UprobeOptions {
  /** Executable or library, possibly through /proc/PID/root/... */
  path: string;
  /** File offset of the probed instruction (or 0 with `func`). */
  offset?: number;
  /** Symbol to resolve with libbpf instead of an offset. */
  func?: string;
  /** Only this process (-1: every process mapping the file). */
  pid?: number;
  retprobe?: boolean;
  /** bpf_get_attach_cookie() value seen by the program. */
  cookie?: number;
}

export interface StructLayout {
  size: number;
  members: { name: string; offset: number; size: number }[];
}

export interface EnumValue {
  name: string;
  value: number;
}

export interface MapInfo {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  perCpu: boolean;
  /** Bytes returned by mapLookup (per-CPU maps: one 8-aligned slot per possible CPU). */
  lookupSize: number;
  fd: number;
}

export interface NativeBpfObject {
  readonly name: string;
  readonly closed: boolean;
  setRodata(variable: string, value: Buffer): void;
  setMaxEntries(map: string, n: number): void;
  setAutoload(program: string, on: boolean): void;
  /** Share the owner's map (created now when the owner is not loaded yet, so both can load at once). */
  reuseMap(map: string, owner: NativeBpfObject, ownerMap: string): void;
  load(): void;
  /**
   * load() on a worker thread (the object refuses other calls until it settles); absent in bindings without one.
   * boost (0-20): that thread's nice value is this much lower during the load (not below -20; not when the process runs nicer than 0).
   */
  loadAsync?(boost?: number): Promise<void>;
  attach(program: string): number;
  /** Attach a tracefs tracepoint program to the named tracepoint (which must share its record layout). */
  attachTracepoint(program: string, category: string, name: string): number;
  attachUprobe(program: string, opts: UprobeOptions): number;
  /** One link for many offsets of one file (Linux 6.6+); the program must be loaded with expected attach type 48. */
  attachUprobeMulti(program: string, opts: { path: string; offsets: number[]; cookies?: number[]; pid?: number; retprobe?: boolean }): number;
  setExpectedAttachType(program: string, type: number): void;
  detach(linkId: number): boolean;
  /**
   * Take every link out of the object and destroy them on a worker thread (the kernel waits a grace period
   * per uprobe link); resolves with their number. The maps stay readable. close() does not wait for it.
   * Absent in bindings without one.
   */
  detachAllAsync?(): Promise<number>;
  linkCount(): number;
  mapUpdate(map: string, key: Buffer, value: Buffer, flags?: number): void;
  mapLookup(map: string, key: Buffer): Buffer | null;
  mapDelete(map: string, key: Buffer): boolean;
  mapKeys(map: string): Buffer[];
  mapInfo(map: string): MapInfo;
  programs(): { name: string; section: string; autoload: boolean }[];
  maps(): string[];
  kernelIds(): { programs: number[]; maps: number[]; links: number[] };
  structLayout(type: string): StructLayout;
  /** The constants of an enum in the object's BTF, in declaration order. */
  enumValues(type: string): EnumValue[];
  close(): void;
}

export interface RingStats {
  records: number;
  bytes: number;
  batches: number;
  wakeups: number;
  paused: boolean;
  closed: boolean;
}

export interface RingReaderOptions {
  /** Upper bound of one batch handed to JS (default 4 MiB). */
  maxBatchBytes?: number;
  /** Drain timer period for records submitted without wakeup (default 20 ms). */
  intervalMs?: number;
}

/** onBatch(buffer, count) per wake-up; onBatch(null, 0, error) if reading failed. */
export type BatchCallback = (batch: Buffer | null, count: number, error?: Error) => void;

export interface NativeRingReader {
  pause(): void;
  resume(): void;
  /** Synchronously drain one batch (null when empty). */
  consume(): Buffer | null;
  close(): void;
  stats(): RingStats;
}

export interface NativeBinding {
  BpfObject: new (name: string) => NativeBpfObject;
  RingReader: new (obj: NativeBpfObject, map: string, onBatch: BatchCallback, opts?: RingReaderOptions) => NativeRingReader;
  embeddedObjects(): string[];
  libbpfVersion(): string;
  clocks(): { realtimeNs: bigint; monotonicNs: bigint };
  numPossibleCpus(): number;
  /** mount(2) a tracefs at this directory. */
  mountTracefs(dir: string): void;
  /** umount2(2) with MNT_DETACH. */
  unmount(dir: string): void;
  /** Keep every libbpf message (debug level included) for takeLibbpfLog(). */
  libbpfVerbose?(on: boolean): void;
  /** What libbpf printed since the last call (with libbpfVerbose on). */
  takeLibbpfLog?(): string;
  /**
   * Whether detaching hands links to the kernel to free later (pinned in a bpffs mounted nowhere,
   * then let go: Linux 6.5+) instead of waiting for each detach (a kernel grace period).
   */
  linksReleaseWithoutWait?(): boolean;
  /** Where this binding's kernel has tracefs (default lib/kernel/tracefs.ts TRACEFS_DIRS; a fake kernel has its own). */
  tracefsDirs?: readonly string[];
}

let injected: NativeBinding | null = null;
let loaded: NativeBinding | null = null;

const BUILD_FROM_SOURCE =
  '`AGENTSIGHT_BUILD_FROM_SOURCE=1 npm rebuild agentsight` (-g for a global install), or `npm run build:native` in a checkout ' +
  '(needs gcc, g++, make, python3, clang, llvm, libelf-dev, zlib1g-dev)';

/**
 * Where the addon may live, in order: built here from source (node-gyp:
 * build/Release, relative to dist/kernel/ or lib/kernel/), then the prebuilt
 * one the npm package ships for this platform (prebuilds/<platform>-<arch>).
 */
export function addonCandidates(): string[] {
  return [
    path.join(packageRoot(), 'build', 'Release', 'agentsight.node'),
    path.join(packageRoot(), 'prebuilds', `${process.platform}-${process.arch}`, 'agentsight.node'),
  ];
}

/** The addon file that would be loaded: the first candidate that exists (else the first). */
export function addonPath(): string {
  const all = addonCandidates();
  return all.find((f) => fs.existsSync(f)) ?? all[0];
}

/** What to do about an addon that exists but does not load. */
function loadHint(msg: string): string {
  if (/lib(elf|z)\.so/.test(msg)) return 'Install its runtime libraries (Debian/Ubuntu: apt-get install libelf1 zlib1g).';
  if (/libbpf\.so/.test(msg))
    return 'It was built against the shared libbpf (AGENTSIGHT_LIBBPF=system): apt-get install libbpf1, or rebuild it with the default static libbpf.';
  if (/GLIBC(XX)?_[0-9.]+' not found/.test(msg))
    return `This system's C or C++ library is older than the one it was built with (the prebuilt addon needs glibc 2.31). Build it here: ${BUILD_FROM_SOURCE}.`;
  return `Rebuild it: ${BUILD_FROM_SOURCE}.`;
}

/** The binding in use: an injected one, else the compiled addon. */
export function getBinding(): NativeBinding {
  if (injected) return injected;
  if (loaded) return loaded;
  const failures: string[] = [];
  let first: unknown;
  for (const file of addonCandidates()) {
    if (!fs.existsSync(file)) continue;
    try {
      loaded = require(file) as NativeBinding;
      return loaded;
    } catch (err) {
      first ??= err;
      const msg = (err as Error).message.split('\n')[0];
      failures.push(`${file}: ${msg}\n  ${loadHint(msg)}`);
    }
  }
  if (failures.length === 0) {
    throw new NotSupportedError(
      `cannot load the agentsight addon: none built or shipped for ${process.platform}-${process.arch} (looked for ${addonCandidates().join(', ')}).\n` +
        `Build it: ${BUILD_FROM_SOURCE}.`,
      'native addon',
      { op: 'load_addon', code: 'ENOENT' },
    );
  }
  throw new NotSupportedError(`cannot load the agentsight addon:\n${failures.join('\n')}`, 'native addon', {
    op: 'load_addon',
    code: 'ENOENT',
    cause: first,
  });
}

/** Replace the binding (tests, or a host embedding its own build). null restores the default. */
export function setBinding(b: NativeBinding | null): void {
  injected = b;
}
