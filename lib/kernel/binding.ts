/**
 * The native addon's JS surface (native/*.cc), and its loader. The loader can
 * be replaced (setBinding) so the CLI and the pipeline can be tested without
 * root or a kernel: tests inject a fake that replays records.
 */
import * as path from 'node:path';
import { NotSupportedError } from '../core/errors';

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
  reuseMap(map: string, owner: NativeBpfObject, ownerMap: string): void;
  load(): void;
  attach(program: string): number;
  /** Attach a tracefs tracepoint program to the named tracepoint (which must share its record layout). */
  attachTracepoint(program: string, category: string, name: string): number;
  attachUprobe(program: string, opts: UprobeOptions): number;
  /** One link for many offsets of one file (Linux 6.6+); the program must be loaded with expected attach type 48. */
  attachUprobeMulti(program: string, opts: { path: string; offsets: number[]; cookies?: number[]; pid?: number; retprobe?: boolean }): number;
  setExpectedAttachType(program: string, type: number): void;
  detach(linkId: number): boolean;
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
  /** Where this binding's kernel has tracefs (default lib/kernel/tracefs.ts TRACEFS_DIRS; a fake kernel has its own). */
  tracefsDirs?: readonly string[];
}

let injected: NativeBinding | null = null;
let loaded: NativeBinding | null = null;

/** Where the compiled addon lives, relative to dist/kernel/ or lib/kernel/. */
export function addonPath(): string {
  return path.resolve(__dirname, '..', '..', 'build', 'Release', 'agentsight.node');
}

/** The binding in use: an injected one, else the compiled addon. */
export function getBinding(): NativeBinding {
  if (injected) return injected;
  if (loaded) return loaded;
  const file = addonPath();
  try {
    loaded = require(file) as NativeBinding;
  } catch (err) {
    const msg = (err as Error).message;
    if (/libbpf\.so/.test(msg)) {
      throw new NotSupportedError(
        `cannot load the agentsight addon: ${msg}\nInstall the shared libbpf (Debian/Ubuntu: apt-get install libbpf1).`,
        'libbpf shared library',
        { op: 'load_addon', code: 'ENOENT', cause: err },
      );
    }
    throw new NotSupportedError(
      `cannot load the agentsight addon from ${file}: ${msg}\n` +
        'Build it with `npm run build:native` (needs clang, llvm, libbpf-dev, libelf-dev, zlib1g-dev).',
      'native addon',
      { op: 'load_addon', code: 'ENOENT', cause: err },
    );
  }
  return loaded;
}

/** Replace the binding (tests, or a host embedding its own build). null restores the default. */
export function setBinding(b: NativeBinding | null): void {
  injected = b;
}
