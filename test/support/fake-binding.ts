/**
 * A stand-in for the native addon, for tests that run without root: it
 * records what the TypeScript side configures and lets a test feed ring
 * buffer records as the kernel would.
 */
import type { BatchCallback, NativeBinding, NativeBpfObject, NativeRingReader, RingReaderOptions, UprobeOptions } from '../../lib/kernel/binding';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { frameBatch } from '../../lib/kernel/abi';

/**
 * A tracefs of the fake kernel: an empty directory until mountTracefs() fills
 * it with the syscall tracepoints (as mounting the real one shows them);
 * unmount() empties it again. `mountError` makes mounting fail.
 */
const fakeTracefsDirs = new Set<string>();
process.once('exit', () => {
  for (const d of fakeTracefsDirs) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * The syscall tracepoints a real kernel's tracefs has for the open family
 * (and a few others), written out here rather than taken from the tracer:
 * the fake kernel must not agree with the code under test by construction.
 */
const KERNEL_TRACEPOINTS = [
  'syscalls/sys_enter_openat',
  'syscalls/sys_exit_openat',
  'syscalls/sys_enter_openat2',
  'syscalls/sys_exit_openat2',
  'syscalls/sys_enter_open',
  'syscalls/sys_exit_open',
  'syscalls/sys_enter_creat',
  'syscalls/sys_exit_creat',
  'syscalls/sys_enter_open_by_handle_at',
  'syscalls/sys_exit_open_by_handle_at',
  'syscalls/sys_enter_read',
  'syscalls/sys_exit_read',
  'sched/sched_process_exec',
];

export class FakeTracefs {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-fake-tracefs-'));
  constructor() {
    fakeTracefsDirs.add(this.dir);
  }
  mounts = 0;
  unmounts = 0;
  mountError: Error | null = null;
  get mounted(): boolean {
    return fs.existsSync(path.join(this.dir, 'events'));
  }
  mount(dir: string): void {
    if (dir !== this.dir) throw new Error(`fake tracefs: mount at ${dir}`);
    if (this.mountError) throw this.mountError;
    this.mounts++;
    for (const tp of KERNEL_TRACEPOINTS) {
      fs.mkdirSync(path.join(this.dir, 'events', tp), { recursive: true });
      fs.writeFileSync(path.join(this.dir, 'events', tp, 'id'), '1\n');
    }
  }
  unmount(dir: string): void {
    if (dir !== this.dir) throw new Error(`fake tracefs: unmount of ${dir}`);
    this.unmounts++;
    fs.rmSync(path.join(this.dir, 'events'), { recursive: true, force: true });
  }
}

export class FakeObject implements NativeBpfObject {
  static instances: FakeObject[] = [];
  closed = false;
  loaded = false;
  rodata = new Map<string, Buffer>();
  maxEntries = new Map<string, number>();
  autoload = new Map<string, boolean>();
  attached: string[] = [];
  uprobes: { program: string; opts: UprobeOptions }[] = [];
  multi: { program: string; opts: { path: string; offsets: number[]; cookies?: number[]; retprobe?: boolean } }[] = [];
  attachTypes = new Map<string, number>();
  reused: string[] = [];
  mapData = new Map<string, Map<string, Buffer>>();
  stats = new Map<number, bigint>();
  readers: FakeReader[] = [];
  constructor(
    readonly name: string,
    readonly programList: string[],
  ) {
    FakeObject.instances.push(this);
  }
  setRodata(v: string, b: Buffer) {
    this.rodata.set(v, Buffer.from(b));
  }
  setMaxEntries(m: string, n: number) {
    this.maxEntries.set(m, n);
  }
  setAutoload(p: string, on: boolean) {
    this.autoload.set(p, on);
  }
  reuseMap(map: string) {
    this.reused.push(map);
  }
  setExpectedAttachType(p: string, t: number) {
    this.attachTypes.set(p, t);
  }
  attachUprobeMulti(program: string, opts: { path: string; offsets: number[]; cookies?: number[]; retprobe?: boolean }) {
    this.multi.push({ program, opts });
    return 2000 + this.multi.length;
  }
  load() {
    this.loaded = true;
  }
  attach(p: string) {
    this.attached.push(p);
    return this.attached.length;
  }
  attachTracepoint(p: string, category: string, name: string) {
    this.attached.push(`${p}@${category}/${name}`);
    return this.attached.length;
  }
  attachUprobe(program: string, opts: UprobeOptions) {
    this.uprobes.push({ program, opts });
    return 1000 + this.uprobes.length;
  }
  detach() {
    return true;
  }
  linkCount() {
    return this.attached.length + this.uprobes.length + this.multi.length;
  }
  private map(name: string) {
    let m = this.mapData.get(name);
    if (!m) this.mapData.set(name, (m = new Map()));
    return m;
  }
  mapUpdate(map: string, key: Buffer, value: Buffer, flags = 0) {
    const m = this.map(map);
    if (flags === 1 && m.has(key.toString('hex'))) {
      const e = new Error('map_update: exists') as Error & { code: string };
      e.code = 'EEXIST';
      throw e;
    }
    m.set(key.toString('hex'), Buffer.from(value));
  }
  mapLookup(map: string, key: Buffer) {
    if (map === 'as_stats') {
      const v = this.stats.get(key.readUInt32LE(0));
      const b = Buffer.alloc(16);
      if (v) b.writeBigUInt64LE(v, 0);
      return b;
    }
    return this.map(map).get(key.toString('hex')) ?? null;
  }
  mapDelete(map: string, key: Buffer) {
    return this.map(map).delete(key.toString('hex'));
  }
  mapKeys(map: string) {
    return [...this.map(map).keys()].map((k) => Buffer.from(k, 'hex'));
  }
  mapInfo(map: string) {
    return { name: map, type: 6, keySize: 4, valueSize: 8, maxEntries: 16, perCpu: map === 'as_stats', lookupSize: 16, fd: 3 };
  }
  programs() {
    return this.programList.map((name) => ({ name, section: `tp_btf/${name}`, autoload: this.autoload.get(name) ?? true }));
  }
  maps() {
    return [...this.mapData.keys()];
  }
  kernelIds() {
    return { programs: [], maps: [], links: [] };
  }
  structLayout(): never {
    throw new Error('no BTF in the fake');
  }
  enumValues(): never {
    throw new Error('no BTF in the fake');
  }
  close() {
    this.closed = true;
    for (const r of this.readers) r.close();
  }
}

export class FakeReader implements NativeRingReader {
  pending: Buffer[] = [];
  paused = false;
  closed = false;
  pauses = 0;
  constructor(
    readonly obj: FakeObject,
    readonly mapName: string,
    private readonly cb: BatchCallback,
    readonly opts?: RingReaderOptions,
  ) {
    obj.readers.push(this);
  }
  /** Deliver records as one batch, asynchronously like the real reader. */
  push(records: Buffer[]): void {
    const batch = frameBatch(records);
    if (this.paused) {
      this.pending.push(batch);
      return;
    }
    setImmediate(() => {
      if (!this.closed) this.cb(batch, records.length);
    });
  }
  pause() {
    this.paused = true;
    this.pauses++;
  }
  resume() {
    this.paused = false;
    const p = this.pending.splice(0);
    for (const b of p) setImmediate(() => !this.closed && this.cb(b, 1));
  }
  consume() {
    return this.pending.shift() ?? null;
  }
  close() {
    this.closed = true;
  }
  stats() {
    return { records: 0, bytes: 0, batches: 0, wakeups: 0, paused: this.paused, closed: this.closed };
  }
}

export const PROCESS_PROGRAMS = [
  'handle_exec',
  'handle_fork',
  'handle_exit',
  'handle_enter_openat',
  'handle_enter_openat2',
  'handle_enter_open',
  'handle_enter_creat',
  'handle_sys_enter',
  'handle_exit_open',
  'handle_sys_exit',
];
export const SSL_PROGRAMS = ['ssl_enter', 'ssl_ret', 'ssl_sys_enter'];

export function fakeBinding(programs: Record<string, string[]> = { process: PROCESS_PROGRAMS, ssl: SSL_PROGRAMS }): NativeBinding & {
  readers: FakeReader[];
  objects: FakeObject[];
  tracefs: FakeTracefs;
} {
  const tracefs = new FakeTracefs();
  const readers: FakeReader[] = [];
  const objects: FakeObject[] = [];
  class Obj extends FakeObject {
    constructor(name: string) {
      super(name, programs[name] ?? []);
      objects.push(this);
    }
  }
  class Reader extends FakeReader {
    constructor(obj: NativeBpfObject, map: string, cb: BatchCallback, opts?: RingReaderOptions) {
      super(obj as unknown as FakeObject, map, cb, opts);
      readers.push(this);
    }
  }
  return {
    BpfObject: Obj,
    RingReader: Reader,
    embeddedObjects: () => Object.keys(programs),
    libbpfVersion: () => 'v1.1',
    clocks: () => ({ realtimeNs: 1_700_000_000_000_000_000n, monotonicNs: 1_000_000_000n }),
    numPossibleCpus: () => 2,
    mountTracefs: (dir: string) => tracefs.mount(dir),
    unmount: (dir: string) => tracefs.unmount(dir),
    tracefsDirs: [tracefs.dir],
    tracefs,
    readers,
    objects,
  };
}
