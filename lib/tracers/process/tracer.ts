/**
 * The process lifecycle tracer: loads bpf/process.bpf.c, selects processes,
 * and turns its ring buffer into `process` events.
 *
 * ProcessTracer.resolve(options) validates options (no kernel needed, spec.ts);
 * ProcessTracer.start(options) returns a live tracer that must be close()d.
 */
import { TRACKED, TRACK_REASON } from '../../kernel/abi';
import { getBinding, type NativeBinding, type NativeBpfObject } from '../../kernel/binding';
import { KernelClock } from '../../kernel/clock';
import { classifyNativeError, native, UsageError } from '../../core/errors';
import { statsEvent, type Event } from '../../core/event';
import { RingSource, type RingSourceStats } from '../../kernel/ring-source';
import { openTracefs, TRACEFS_DIRS } from '../../kernel/tracefs';
import { readBpfStats } from '../../kernel/bpf-stats';
import { LOAD_ATTEMPTS, loadInterrupted, loadOrTake, loadPhase, step, stepAsync } from '../../kernel/load';
import { takeLoad } from '../../kernel/early';
import { openRecipe } from '../../kernel/recipe';
import { FileOpenDedup, type FileDedupStats } from '../file-dedup';
import { listProcesses, readProc, selectProcesses, type Selected } from '../proc';
import { decodeProcessRecord } from '../../kernel/process-decode';
import { isSelected } from '../rules';
import { cgroupPids, ContainerResolver, resolveCgroupSelection, type SelectedCgroup } from '../cgroup';
import {
  fileHookWanted,
  fileHookWith,
  processConfigBlock,
  processRecipe,
  resolveProcessOptions,
  SYSCALL_OPEN_PROGRAMS,
  SYSCALL_OPEN_TRACEPOINTS,
  type ProcessTracerOptions,
  type ResolvedProcessOptions,
} from './spec';

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
  /** The cgroups selected by --cgroup/--container. */
  cgroups?: { path: string; id: number; container?: string }[];
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
  /** The container of a record's cgroup, for every event (shared with the TLS tracer). */
  readonly containers: ContainerResolver;

  private constructor(
    readonly options: ResolvedProcessOptions,
    binding: NativeBinding,
    /** The loaded eBPF object (its "tracked" map is shared with the TLS tracer). */
    readonly object: NativeBpfObject,
    /** The cgroups selected by --cgroup/--container, as the kernel matches them. */
    readonly cgroups: readonly SelectedCgroup[] = [],
  ) {
    this.clock = new KernelClock(binding);
    this.dedup = new FileOpenDedup(options.fileDedupMs);
    this.containers = new ContainerResolver(options.cgroupRoot ? { root: options.cgroupRoot } : {});
  }

  /** Validate and complete options; throws UsageError with what is wrong. */
  static resolve(o: ProcessTracerOptions = {}): ResolvedProcessOptions {
    return resolveProcessOptions(o);
  }

  /** The const volatile configuration block for process.bpf.c. */
  static configBlock(o: ResolvedProcessOptions): Buffer {
    return processConfigBlock(o);
  }

  /** Load, attach and seed; the returned tracer is live until close(). */
  static async start(options: ProcessTracerOptions = {}): Promise<ProcessTracer> {
    return (await ProcessTracer.startWith(options, null)).tracer;
  }

  /**
   * start(), with another object loaded at the same time: `alongside` is
   * called with the configured process object before its load (it may share
   * its maps with reuseMap, which it must do before its first await) and
   * loads its own object meanwhile. Its result, settled, is returned with the
   * tracer; if the process object fails to load, a loaded companion is closed.
   */
  static async startWith<T extends { close(): void }>(
    options: ProcessTracerOptions,
    alongside: ((object: NativeBpfObject, options: ResolvedProcessOptions) => Promise<T>) | null,
  ): Promise<{ tracer: ProcessTracer; alongside: PromiseSettledResult<T> | null }> {
    const o = resolveProcessOptions(options);
    try {
      return await ProcessTracer.open(o, alongside);
    } catch (err) {
      // tracefs listed the syscall tracepoints but they could not be attached: sys_enter/sys_exit see the same opens
      if (o.fileHook === 'auto' && (err as { op?: string }).op === 'attach_tracepoint') return ProcessTracer.open({ ...o, fileHook: 'raw' }, alongside);
      throw err;
    }
  }

  private static async open<T extends { close(): void }>(
    o: ResolvedProcessOptions,
    alongside: ((object: NativeBpfObject, options: ResolvedProcessOptions) => Promise<T>) | null,
  ): Promise<{ tracer: ProcessTracer; alongside: PromiseSettledResult<T> | null }> {
    for (const p of o.pid) {
      if (!readProc(p)) throw new UsageError(`--pid ${p}: no such process`);
    }
    const cgroups = resolveCgroupSelection({ cgroup: o.cgroup, container: o.container, cgroupRoot: o.cgroupRoot ?? undefined });
    const binding = o.binding ?? getBinding();
    // file opens are reported in mode 0, or for selected processes: with neither, do not hook syscalls at all
    const wanted = fileHookWanted(o);
    // The per-syscall tracepoints need tracefs while they are attached (mounted for that, if root can)
    const tfs =
      wanted === 'auto' || wanted === 'syscalls'
        ? openTracefs(binding, SYSCALL_OPEN_TRACEPOINTS, o.tracefsDirs.length ? o.tracefsDirs : (binding.tracefsDirs ?? TRACEFS_DIRS))
        : null;
    const hook = fileHookWith(wanted, tfs?.tracefs != null);
    let obj: NativeBpfObject | null = null;
    let companion: PromiseSettledResult<T> | null = null;
    try {
      const tl = o.timeline;
      const recipe = processRecipe(o, hook, cgroups.length);
      // An interrupted load is tried again (with a new companion: its shared maps were the old object's)
      for (let attempt = 1; ; attempt++) {
        // the CLI may have begun this very load at its start (lib/kernel/early.ts)
        const begun = attempt === 1 ? takeLoad(binding, recipe) : null;
        const ob = begun?.object ?? openRecipe(binding, recipe);
        let other: Promise<T> | null = null;
        try {
          other = alongside ? alongside(ob, o) : null;
        } catch (err) {
          // an object cannot be closed while it loads
          if (begun) await begun.loaded.catch(() => undefined);
          ob.close();
          throw err;
        }
        const [own, theirs] = await Promise.allSettled([
          stepAsync(tl, binding, loadPhase('process: load process.bpf.o', begun), () => loadOrTake(ob, begun)),
          other ?? Promise.resolve(null),
        ]);
        if (own.status === 'fulfilled') {
          obj = ob;
          companion = theirs as PromiseSettledResult<T> | null;
          if (!alongside) companion = null;
          break;
        }
        if (theirs.status === 'fulfilled') theirs.value?.close();
        ob.close();
        if (!loadInterrupted(own.reason) || attempt >= LOAD_ATTEMPTS) throw classifyNativeError(own.reason);
      }
      const loaded = obj;
      // selected cgroups are in the map before any program is attached
      native(() =>
        cgroups.forEach((c, i) => {
          const key = Buffer.alloc(8);
          key.writeBigUInt64LE(BigInt(c.id));
          const val = Buffer.alloc(4);
          val.writeUInt32LE(i);
          loaded.mapUpdate('sel_cgroups', key, val, 0);
        }),
      );
      step(
        tl,
        binding,
        `process: attach (file opens on ${hook === 'syscalls' ? "the open syscalls' tracepoints" : hook === 'raw' ? 'sys_enter/sys_exit' : 'nothing'})`,
        () =>
          native(() => {
            for (const p of loaded.programs()) {
              if (!p.autoload) continue;
              const tps = SYSCALL_OPEN_PROGRAMS[p.name];
              if (tps) for (const tp of tps) loaded.attachTracepoint(p.name, 'syscalls', tp);
              else loaded.attach(p.name);
            }
          }),
      );
      if (tl && tfs)
        tl.note(tfs.tracefs ? `tracefs ${tfs.tracefs.mounted ? 'mounted for the attach at' : 'found at'} ${tfs.tracefs.dir}` : `no tracefs: ${tfs.reason}`);
      const t = new ProcessTracer(o, binding, loaded, cgroups);
      t.fileHook = hook;
      if (tfs) t.tracefs = tfs.tracefs ? { use: tfs.tracefs.mounted ? 'mounted' : 'present' } : { use: 'unavailable', reason: tfs.reason };
      step(tl, binding, 'process: select running processes', () => t.seed());
      // read from now on (small, ~1 ms to map): exec records must not pile up while the TLS discovery's first pass runs
      if (o.emit) t.source = new RingSource(binding, loaded, 'process_rb', { intervalMs: 20 });
      return { tracer: t, alongside: companion };
    } catch (err) {
      if (companion?.status === 'fulfilled') companion.value.close();
      obj?.close();
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
    if (!isSelected(o)) return;
    const key = Buffer.alloc(4);
    const val = Buffer.alloc(TRACKED.size);
    const now = Number(process.hrtime.bigint());
    // only processes held at a gate (record's command): they are their whole selection, nothing to scan for
    const held = o.comm.length === 0 && this.cgroups.length === 0 && o.pid.every((p) => o.launching.includes(p));
    for (let pass = 0; pass < (held ? 1 : 2); pass++) {
      // processes already in a selected cgroup are selected like --pid, with their descendants
      const inCgroups = new Set(this.cgroups.flatMap((c) => cgroupPids(c.dir)).filter((p) => p !== o.selfPid));
      const sel: Map<number, Selected> = held
        ? new Map(o.pid.map((pid) => [pid, { root: pid, reason: TRACK_REASON.PID }]))
        : selectProcesses(listProcesses(), { comm: o.comm, pid: [...o.pid, ...inCgroups] }, o.selfPid);
      for (const [pid, s] of sel) {
        key.writeUInt32LE(pid, 0);
        val.writeUInt32LE(s.root, TRACKED.off.root_pid);
        val.writeUInt32LE(inCgroups.has(pid) && !o.pid.includes(pid) ? TRACK_REASON.CGROUP : s.reason, TRACKED.off.reason);
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
  track(pid: number, reason: number = TRACK_REASON.PID): void {
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
      ...(this.cgroups.length ? { cgroups: this.cgroups.map((c) => ({ path: c.path, id: c.id, ...(c.container ? { container: c.container } : {}) })) } : {}),
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
    if (!this.options.emit) throw new UsageError('this tracer was started with emit: false and produces no events');
    if (this.iterating) throw new UsageError('events() can be iterated only once');
    if (this.closed) throw new UsageError('this tracer is closed');
    this.iterating = true;
    const source = this.source as RingSource;
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
          const e = decodeProcessRecord(buf, off, len, this.clock, this.containers);
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
    const tl = this.options.timeline;
    if (tl) tl.span('process: detach and unload', () => this.object.close());
    else this.object.close();
  }
}
