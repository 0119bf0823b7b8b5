/**
 * The process lifecycle tracer: loads bpf/process.bpf.c, selects processes,
 * and turns its ring buffer into `process` events.
 *
 * ProcessTracer.resolve(options) validates options (no kernel needed);
 * ProcessTracer.start(options) returns a live tracer that must be close()d.
 */
import { COMM_LEN, MAX_COMM_FILTERS, PROCESS_CONFIG, TRACKED } from '../kernel/abi';
import { getBinding, type NativeBinding, type NativeBpfObject } from '../kernel/binding';
import { KernelClock } from '../kernel/clock';
import { native, UsageError } from '../core/errors';
import { statsEvent, type Event } from '../core/event';
import { RingSource, type RingSourceStats } from '../kernel/ring-source';
import { openTracefs, TRACEFS_DIRS } from '../kernel/tracefs';
import { readBpfStats } from '../kernel/bpf-stats';
import { FileOpenDedup, type FileDedupStats } from './file-dedup';
import { listProcesses, readProc, selectProcesses } from './proc';
import { decodeProcessRecord } from '../kernel/process-decode';

export interface ProcessTracerOptions {
  /** Process names to select (prefix match on the kernel's 15-character comm). */
  comm?: string[];
  /** Process ids to select, with all their descendants. */
  pid?: number[];
  /**
   * 0: every process, file opens of every process; 1: every process, file opens
   * only of selected ones; 2: only selected processes. Default: 2 with a
   * selection, else 1.
   */
  mode?: 0 | 1 | 2;
  /** Report EXIT only for processes that lived at least this long (ms). */
  durationMs?: number;
  /** Report FILE_OPEN (default true). */
  fileEvents?: boolean;
  /** Window (ms) folding identical opens of a process (0: no folding; default 1000). */
  fileDedupMs?: number;
  /** argv bytes copied per exec (default 4096, max 16384). */
  argvMax?: number;
  /** Ring buffer size in bytes (power of two, default 8 MiB). */
  ringBytes?: number;
  /** Periodic stats events while drops/truncations change (ms; 0: only at the end). */
  statsIntervalMs?: number;
  /** false: only maintain the selection (no events), for other tracers sharing it. */
  emit?: boolean;
  /** Never reported (default: this process). */
  selfPid?: number;
  /**
   * How file opens are hooked: 'syscalls' (the per-syscall tracepoints
   * syscalls/sys_{enter,exit}_{openat,openat2,open,creat}: only open calls pay,
   * needs tracefs while they are attached: mounted for that when it is not,
   * see lib/kernel/tracefs.ts), 'raw' (sys_enter/sys_exit: every system call
   * of every process pays a little more, no tracefs needed), 'auto' (default:
   * syscalls where tracefs can be had, else raw).
   */
  fileHook?: 'auto' | 'syscalls' | 'raw';
  /** Where tracefs is looked for and mounted (default: the binding's, else /sys/kernel/tracing, /sys/kernel/debug/tracing). */
  tracefsDirs?: string[];
  binding?: NativeBinding;
}

export type ResolvedProcessOptions = Required<Omit<ProcessTracerOptions, 'binding'>> & { binding?: NativeBinding };

export const ARGV_MAX_LIMIT = 16384;

/** File-open programs on sys_enter/sys_exit (every system call runs them). */
const RAW_OPEN_PROGRAMS = ['handle_sys_enter', 'handle_sys_exit'];
/** File-open programs on the per-syscall tracepoints, with the tracepoints each is attached to. */
const SYSCALL_OPEN_PROGRAMS: Record<string, string[]> = {
  handle_enter_openat: ['sys_enter_openat'],
  handle_enter_openat2: ['sys_enter_openat2'],
  handle_enter_open: ['sys_enter_open'],
  handle_enter_creat: ['sys_enter_creat'],
  handle_exit_open: ['sys_exit_openat', 'sys_exit_openat2', 'sys_exit_open', 'sys_exit_creat'],
};
/** The tracepoints the syscall hook attaches to, as tracefs names them. */
export const SYSCALL_OPEN_TRACEPOINTS = Object.values(SYSCALL_OPEN_PROGRAMS)
  .flat()
  .map((tp) => `syscalls/${tp}`);

/** Where the tracepoint ids came from: a tracefs that was mounted, one mounted for the attach, none (sys_enter/sys_exit), or not needed. */
export type TracefsUse = 'present' | 'mounted' | 'unavailable' | 'unused';

export interface ProcessTracerStats {
  tracer: 'process';
  records: number;
  events: number;
  decode_errors: number;
  kernel: Record<string, number>;
  ring: RingSourceStats | null;
  file_dedup: FileDedupStats;
  seeded: number;
  /** How file opens are hooked: per-syscall tracepoints, sys_enter/sys_exit, or not at all. */
  file_hook: 'syscalls' | 'raw' | 'none';
  /** tracefs for the per-syscall tracepoints: already mounted, mounted by agentsight for the attach (and unmounted), unavailable (then sys_enter/sys_exit), unused. */
  tracefs: TracefsUse;
  /** Why tracefs was unavailable. */
  tracefs_reason?: string;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

export class ProcessTracer {
  private source: RingSource | null = null;
  private readonly clock: KernelClock;
  private readonly dedup: FileOpenDedup;
  private records = 0;
  private emitted = 0;
  private decodeErrors = 0;
  private seeded = 0;
  private fileHook: 'syscalls' | 'raw' | 'none' = 'none';
  private tracefs: { use: TracefsUse; reason?: string } = { use: 'unused' };
  private closed = false;
  private iterating = false;

  private constructor(
    readonly options: ResolvedProcessOptions,
    private readonly binding: NativeBinding,
    /** The loaded eBPF object (its "tracked" map is shared with the TLS tracer). */
    readonly object: NativeBpfObject,
  ) {
    this.clock = new KernelClock(binding);
    this.dedup = new FileOpenDedup(options.fileDedupMs);
  }

  /** Validate and complete options; throws UsageError with what is wrong. */
  static resolve(o: ProcessTracerOptions = {}): ResolvedProcessOptions {
    const comm = [...(o.comm ?? [])];
    const pid = [...(o.pid ?? [])];
    for (const c of comm) {
      if (typeof c !== 'string' || c.length === 0) throw new UsageError('--comm needs a non-empty process name');
      if (Buffer.byteLength(c) > COMM_LEN - 1)
        throw new UsageError(
          `--comm "${c}" is longer than ${COMM_LEN - 1} bytes; the kernel keeps only the first ${COMM_LEN - 1} ` +
            `characters of a process name, so use "${Buffer.from(c).subarray(0, COMM_LEN - 1).toString()}"`,
        );
    }
    if (comm.length > MAX_COMM_FILTERS) throw new UsageError(`at most ${MAX_COMM_FILTERS} --comm filters are supported`);
    for (const p of pid) {
      if (!Number.isInteger(p) || p <= 0 || p > 0x7fffffff) throw new UsageError(`--pid ${p} is not a process id`);
    }
    const selected = comm.length > 0 || pid.length > 0;
    const mode = o.mode ?? (selected ? 2 : 1);
    if (![0, 1, 2].includes(mode)) throw new UsageError(`--mode must be 0, 1 or 2 (got ${mode})`);
    if (mode === 2 && !selected)
      throw new UsageError('--mode 2 reports only selected processes: give --comm or --pid (or use --mode 0 or 1)');
    const durationMs = o.durationMs ?? 0;
    if (!(durationMs >= 0)) throw new UsageError(`--duration must be >= 0 ms (got ${durationMs})`);
    const argvMax = o.argvMax ?? 4096;
    if (!Number.isInteger(argvMax) || argvMax < 0 || argvMax > ARGV_MAX_LIMIT)
      throw new UsageError(`--argv-max must be between 0 and ${ARGV_MAX_LIMIT} bytes (got ${argvMax})`);
    const ringBytes = o.ringBytes ?? 8 << 20;
    if (!isPowerOfTwo(ringBytes) || ringBytes < 4096)
      throw new UsageError(`the ring buffer size must be a power of two of at least 4096 bytes (got ${ringBytes})`);
    const fileDedupMs = o.fileDedupMs ?? 1000;
    if (!(fileDedupMs >= 0)) throw new UsageError(`--file-dedup-ms must be >= 0 (got ${fileDedupMs})`);
    if (o.fileHook !== undefined && !['auto', 'syscalls', 'raw'].includes(o.fileHook))
      throw new UsageError(`fileHook must be 'auto', 'syscalls' or 'raw' (got ${String(o.fileHook)})`);
    const statsIntervalMs = o.statsIntervalMs ?? 10_000;
    if (!(statsIntervalMs >= 0)) throw new UsageError(`--stats-interval must be >= 0 (got ${statsIntervalMs})`);
    return {
      comm,
      pid,
      mode: mode as 0 | 1 | 2,
      durationMs,
      fileEvents: o.fileEvents ?? true,
      fileDedupMs,
      argvMax,
      ringBytes,
      statsIntervalMs,
      emit: o.emit ?? true,
      selfPid: o.selfPid ?? process.pid,
      fileHook: o.fileHook ?? 'auto',
      tracefsDirs: o.tracefsDirs ? [...o.tracefsDirs] : [],
      binding: o.binding,
    };
  }

  /** The const volatile configuration block for process.bpf.c. */
  static configBlock(o: ResolvedProcessOptions): Buffer {
    const b = Buffer.alloc(PROCESS_CONFIG.size);
    const off = PROCESS_CONFIG.off;
    b.writeUInt32LE(o.mode, off.mode);
    b.writeUInt32LE(o.selfPid, off.self_pid);
    b.writeBigUInt64LE(BigInt(Math.round(o.durationMs * 1e6)), off.min_duration_ns);
    b.writeUInt32LE(o.comm.length, off.n_comm);
    b.writeUInt32LE(o.emit ? 1 : 0, off.emit);
    b.writeUInt32LE(o.fileEvents ? 1 : 0, off.file_events);
    b.writeUInt32LE(o.argvMax, off.argv_max);
    o.comm.forEach((c, i) => b.write(c, off.comm + i * COMM_LEN, COMM_LEN - 1, 'utf8'));
    return b;
  }

  /** Load, attach and seed; the returned tracer is live until close(). */
  static async start(options: ProcessTracerOptions = {}): Promise<ProcessTracer> {
    const o = ProcessTracer.resolve(options);
    try {
      return await ProcessTracer.open(o);
    } catch (err) {
      // tracefs listed the syscall tracepoints but they could not be attached: sys_enter/sys_exit see the same opens
      if (o.fileHook === 'auto' && (err as { op?: string }).op === 'attach_tracepoint') return ProcessTracer.open({ ...o, fileHook: 'raw' });
      throw err;
    }
  }

  private static async open(o: ResolvedProcessOptions): Promise<ProcessTracer> {
    for (const p of o.pid) {
      if (!readProc(p)) throw new UsageError(`--pid ${p}: no such process`);
    }
    const binding = o.binding ?? getBinding();
    // file opens are reported in mode 0, or for selected processes: with neither, do not hook syscalls at all
    const selected = o.comm.length > 0 || o.pid.length > 0;
    const wanted = !o.fileEvents || !o.emit || (o.mode !== 0 && !selected) ? 'none' : o.fileHook;
    // The per-syscall tracepoints need tracefs while they are attached (mounted for that, if root can)
    const tfs = wanted === 'auto' || wanted === 'syscalls' ? openTracefs(binding, SYSCALL_OPEN_TRACEPOINTS, o.tracefsDirs.length ? o.tracefsDirs : (binding.tracefsDirs ?? TRACEFS_DIRS)) : null;
    const hook = wanted === 'auto' ? (tfs?.tracefs ? 'syscalls' : 'raw') : wanted;
    const obj = native(() => new binding.BpfObject('process'));
    try {
      native(() => {
        obj.setRodata('cfg', ProcessTracer.configBlock(o));
        obj.setMaxEntries('process_rb', o.ringBytes);
        if (hook !== 'raw') for (const p of RAW_OPEN_PROGRAMS) obj.setAutoload(p, false);
        if (hook !== 'syscalls') for (const p of Object.keys(SYSCALL_OPEN_PROGRAMS)) obj.setAutoload(p, false);
        obj.load();
        for (const p of obj.programs()) {
          if (!p.autoload) continue;
          const tps = SYSCALL_OPEN_PROGRAMS[p.name];
          if (tps) for (const tp of tps) obj.attachTracepoint(p.name, 'syscalls', tp);
          else obj.attach(p.name);
        }
      });
      const t = new ProcessTracer(o, binding, obj);
      t.fileHook = hook;
      if (tfs) t.tracefs = tfs.tracefs ? { use: tfs.tracefs.mounted ? 'mounted' : 'present' } : { use: 'unavailable', reason: tfs.reason };
      t.seed();
      if (o.emit) t.source = new RingSource(binding, obj, 'process_rb', { intervalMs: 20 });
      return t;
    } catch (err) {
      obj.close();
      throw err;
    } finally {
      tfs?.tracefs?.release();
    }
  }

  /**
   * Add the already-running processes the selection covers (and their
   * descendants) to the tracked map. Probes are attached first, so a child
   * forked after the scan of a selected parent is tracked by the kernel; a
   * second pass catches children forked while the first one ran.
   */
  private seed(): void {
    const o = this.options;
    if (o.comm.length === 0 && o.pid.length === 0) return;
    const key = Buffer.alloc(4);
    const val = Buffer.alloc(TRACKED.size);
    const now = Number(process.hrtime.bigint());
    for (let pass = 0; pass < 2; pass++) {
      const sel = selectProcesses(listProcesses(), { comm: o.comm, pid: o.pid }, o.selfPid);
      for (const [pid, s] of sel) {
        key.writeUInt32LE(pid, 0);
        val.writeUInt32LE(s.root, TRACKED.off.root_pid);
        val.writeUInt32LE(s.reason, TRACKED.off.reason);
        val.writeBigUInt64LE(BigInt(now), TRACKED.off.since_ns);
        try {
          this.object.mapUpdate('tracked', key, val, 1 /* BPF_NOEXIST */);
          this.seeded++;
        } catch (err) {
          if ((err as { code?: string }).code !== 'EEXIST') throw err;
        }
      }
    }
  }

  /** pids currently selected (tracked in the kernel). */
  trackedPids(): number[] {
    return this.object.mapKeys('tracked').map((k) => k.readUInt32LE(0));
  }

  /** Add a process (and, from now on, its descendants) to the selection. */
  track(pid: number, reason = 2): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(pid, 0);
    const val = Buffer.alloc(TRACKED.size);
    val.writeUInt32LE(pid, TRACKED.off.root_pid);
    val.writeUInt32LE(reason, TRACKED.off.reason);
    val.writeBigUInt64LE(process.hrtime.bigint(), TRACKED.off.since_ns);
    native(() => this.object.mapUpdate('tracked', key, val, 0));
  }

  stats(): ProcessTracerStats {
    return {
      tracer: 'process',
      records: this.records,
      events: this.emitted,
      decode_errors: this.decodeErrors,
      kernel: this.closed ? this.lastKernel : readBpfStats(this.object),
      ring: this.source ? this.source.stats() : null,
      file_dedup: this.dedup.stats,
      seeded: this.seeded,
      file_hook: this.fileHook,
      tracefs: this.tracefs.use,
      ...(this.tracefs.reason ? { tracefs_reason: this.tracefs.reason } : {}),
    };
  }

  private lastKernel: Record<string, number> = {};

  private statsEvent(kind: 'STATS' | 'FINAL'): Event {
    return statsEvent({ event: kind, ...this.stats() });
  }

  /**
   * The events, until the signal aborts or close() is called. Then the rest
   * of the ring is drained, pending file-open aggregates are flushed and a
   * FINAL stats event ends the stream. Iterate once.
   */
  async *events(signal?: AbortSignal): AsyncGenerator<Event> {
    if (!this.source) throw new UsageError('this tracer was started with emit: false and produces no events');
    if (this.iterating) throw new UsageError('events() can be iterated only once');
    this.iterating = true;
    const source = this.source;
    const onAbort = () => source.end();
    if (signal?.aborted) source.end();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const out: Event[] = [];
    let lastStats = Date.now();
    let lastKernelKey = '';
    try {
      for await (const r of source.records()) {
        if (r === null) {
          this.dedup.expire(Number(process.hrtime.bigint()), out);
        } else {
          this.records++;
          const [buf, off, len] = r;
          const e = decodeProcessRecord(buf, off, len, this.clock);
          if (e) this.dedup.push(e, out);
          else this.decodeErrors++;
        }
        if (this.options.statsIntervalMs > 0 && Date.now() - lastStats >= this.options.statsIntervalMs) {
          lastStats = Date.now();
          const k = JSON.stringify(readBpfStats(this.object));
          if (k !== lastKernelKey && k !== '{}') out.push(this.statsEvent('STATS'));
          lastKernelKey = k;
        }
        for (const e of out) {
          this.emitted++;
          yield e;
        }
        out.length = 0;
      }
      this.dedup.flush(out);
      for (const e of out) {
        this.emitted++;
        yield e;
      }
      out.length = 0;
      yield this.statsEvent('FINAL');
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.close();
    }
  }

  /** Stop reading (the events() iteration ends after draining). */
  stop(): void {
    this.source?.end();
  }

  /** Detach everything and free the kernel objects. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.source?.end();
    try {
      this.lastKernel = readBpfStats(this.object);
    } catch {
      /* object already gone */
    }
    this.closed = true;
    this.object.close();
  }
}
