/**
 * The TLS plaintext tracer: loads bpf/ssl.bpf.c, finds the TLS code of the
 * host and of the selected processes, attaches uprobes to it, and turns its
 * ring buffer into `ssl` events.
 *
 * Selection (--pid with descendants, --comm) is the process tracer's
 * "tracked" map, shared with the TLS object; when no process tracer is given,
 * the TLS tracer runs one of its own (its events are used for discovery and
 * not reported).
 */
import * as fs from 'node:fs';
import { EventEmitter } from 'eventemitter3';
import { SSL_CONFIG, SSL_KIND, SSL_MAX_CALL_BYTES, sslCookie } from '../kernel/abi';
import { getBinding, type NativeBinding, type NativeBpfObject } from '../kernel/binding';
import { KernelClock } from '../kernel/clock';
import { native, UsageError } from '../core/errors';
import { diagnosticEvent, statsEvent, type Event } from '../core/event';
import { RingSource, type RingSourceStats } from '../kernel/ring-source';
import { readBpfStats } from '../kernel/bpf-stats';
import { ProcessTracer, type ProcessTracerStats } from './process-tracer';
import { listProcesses, readProc } from './proc';
import { decodeSslRecord } from '../kernel/ssl-decode';
import { fileKey, inspectBinary, inspectExecutable, isTlsLibraryName, pathInProcess, processImage, systemTlsLibraries, type TlsTarget } from './tls-targets';

export interface SslTracerOptions {
  /** Processes (and descendants) to capture; default every process. */
  pid?: number[];
  /** Process names (prefix of the kernel comm) to capture. */
  comm?: string[];
  /** Only this user id. */
  uid?: number;
  /** Only connections with this local or remote port (user-space filter on the socket seen under the TLS session). */
  port?: number[];
  /** Report SSL_do_handshake calls. */
  handshake?: boolean;
  /** Per-call capture cap in bytes (default 4 MiB, the maximum); longer calls are flagged truncated. */
  maxBytes?: number;
  /** Extra executables or libraries to probe (must contain TLS functions). */
  binaryPaths?: string[];
  /** TLS ring buffer size in bytes (power of two, default 64 MiB). */
  ringBytes?: number;
  /** Wake user space when this much data is pending (default 256 KiB); below it, a 20 ms timer drains. */
  wakeupBytes?: number;
  /** Probe the host's shared TLS libraries (default true). */
  systemLibraries?: boolean;
  /** Where the BoringSSL locator caches its verdicts (default ~/.cache/agentsight/locator). */
  locatorCacheDir?: string;
  /** Selected pids that are about to exec what is really traced (record's gate): their current image is not judged. */
  launching?: number[];
  /** Executables to inspect and probe before start() returns (e.g. the command record is about to run): no race with their first TLS call. */
  preloadExecutables?: string[];
  /** Periodic stats events while drops change (ms; 0 = only at the end). */
  statsIntervalMs?: number;
  /**
   * How uprobes are linked: 'multi' (uprobe_multi, Linux 6.6+: one link per file, fast to detach),
   * 'perf' (one perf-event link per function, older kernels), 'auto' (default: multi if the kernel has it).
   */
  uprobeLinks?: 'auto' | 'multi' | 'perf';
  /**
   * How the socket under a TLS session is found: 'sock' (the sock_send_length/sock_recv_length
   * tracepoints, Linux 6.3+: only socket I/O is seen), 'syscall' (a sys_enter hook, which every
   * system call of every process passes through), 'auto' (default: sock if the kernel has it).
   */
  socketHook?: 'auto' | 'sock' | 'syscall';
  /** A running process tracer to share the selection with (its events must be passed to observe()). */
  processTracer?: ProcessTracer;
  selfPid?: number;
  binding?: NativeBinding;
}

export interface ResolvedSslOptions {
  pid: number[];
  comm: string[];
  uid: number | null;
  port: number[];
  handshake: boolean;
  maxBytes: number;
  binaryPaths: string[];
  ringBytes: number;
  wakeupBytes: number;
  systemLibraries: boolean;
  statsIntervalMs: number;
  selfPid: number;
  locatorCacheDir?: string;
  launching: number[];
  preloadExecutables: string[];
}

export interface AttachedTarget {
  path: string;
  library: string;
  functions: string[];
  links: number;
  via: string;
}

export interface SslTracerStats {
  tracer: 'ssl';
  records: number;
  events: number;
  decode_errors: number;
  port_filtered: number;
  port_unknown: number;
  kernel: Record<string, number>;
  ring: RingSourceStats | null;
  targets: AttachedTarget[];
  attach_errors: number;
  process?: ProcessTracerStats;
}

interface SslTracerEvents {
  notice: [message: string];
  attached: [target: AttachedTarget];
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

const BPF_TRACE_UPROBE_MULTI = 48;

const SOCK_PROGRAMS = ['ssl_sock_send', 'ssl_sock_recv'];
const SYSCALL_PROGRAMS = ['ssl_sys_enter'];

let sockTracepoints: boolean | undefined;
/** Does the kernel have the sock_send_length/sock_recv_length tracepoints (Linux 6.3+)? From its BTF. */
export function kernelHasSockTracepoints(): boolean {
  if (sockTracepoints === undefined) {
    try {
      const btf = fs.readFileSync('/sys/kernel/btf/vmlinux');
      sockTracepoints = btf.includes('btf_trace_sock_send_length\0') && btf.includes('btf_trace_sock_recv_length\0');
    } catch {
      sockTracepoints = false;
    }
  }
  return sockTracepoints;
}

/** After a selected process execs, look at its mappings again at these delays (ms), for libraries it loads late. */
const RESCAN_DELAYS = [300, 1500, 5000];

export class SslTracer extends EventEmitter<SslTracerEvents> {
  private source: RingSource | null = null;
  private readonly clock: KernelClock;
  private readonly attached = new Map<string, AttachedTarget>();
  /** files inspected or being inspected (by dev:inode): resolves true when it has TLS functions we attached to */
  private readonly inspected = new Map<string, Promise<boolean | 'vanished'>>();
  private readonly noticed = new Set<string>();
  /** Executables whose TLS functions the locator found (BoringSSL without symbols). */
  readonly locatorVerdicts: { path: string; buildId: string | null; cached: boolean; ms: number }[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private records = 0;
  private emitted = 0;
  private decodeErrors = 0;
  private portFiltered = 0;
  private portUnknown = 0;
  private attachErrors = 0;
  private closed = false;
  private iterating = false;
  private ownProcessLoop: Promise<void> | null = null;
  private lastKernel: Record<string, number> = {};
  private readonly pending = new Set<Promise<unknown>>();

  private constructor(
    readonly options: ResolvedSslOptions,
    private readonly binding: NativeBinding,
    readonly object: NativeBpfObject,
    /** The process tracer holding the selection (owned when we started it). */
    readonly processTracer: ProcessTracer | null,
    private readonly ownsProcessTracer: boolean,
    /** uprobe_multi links (one per file and program) rather than one link per function */
    readonly multiLinks: boolean,
  ) {
    super();
    this.clock = new KernelClock(binding);
  }

  static resolve(o: SslTracerOptions = {}): ResolvedSslOptions {
    const port = [...(o.port ?? [])];
    for (const p of port) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new UsageError(`--port ${p} is not a TCP port`);
    const uid = o.uid ?? null;
    if (uid !== null && (!Number.isInteger(uid) || uid < 0 || uid > 0xfffffffe)) throw new UsageError(`--uid ${uid} is not a user id`);
    const maxBytes = o.maxBytes ?? SSL_MAX_CALL_BYTES;
    if (!Number.isInteger(maxBytes) || maxBytes < 0 || maxBytes > SSL_MAX_CALL_BYTES)
      throw new UsageError(`--max-bytes must be between 0 and ${SSL_MAX_CALL_BYTES} (4 MiB) (got ${maxBytes})`);
    const ringBytes = o.ringBytes ?? 64 << 20;
    if (!isPowerOfTwo(ringBytes) || ringBytes < 4096)
      throw new UsageError(`the TLS ring buffer size must be a power of two of at least 4096 bytes (got ${ringBytes})`);
    const wakeupBytes = o.wakeupBytes ?? 256 << 10;
    if (!Number.isInteger(wakeupBytes) || wakeupBytes < 0) throw new UsageError(`wakeup bytes must be >= 0 (got ${wakeupBytes})`);
    const statsIntervalMs = o.statsIntervalMs ?? 10_000;
    if (!(statsIntervalMs >= 0)) throw new UsageError(`--stats-interval must be >= 0 (got ${statsIntervalMs})`);
    for (const b of o.binaryPaths ?? []) if (typeof b !== 'string' || !b) throw new UsageError('--binary-path needs a file');
    // Selection options are validated by the process tracer's rules.
    ProcessTracer.resolve({ comm: o.comm, pid: o.pid, mode: o.comm?.length || o.pid?.length ? 2 : 1 });
    return {
      pid: [...(o.pid ?? [])],
      comm: [...(o.comm ?? [])],
      uid,
      port,
      handshake: o.handshake ?? false,
      maxBytes,
      binaryPaths: [...(o.binaryPaths ?? [])],
      ringBytes,
      wakeupBytes,
      systemLibraries: o.systemLibraries ?? true,
      statsIntervalMs,
      selfPid: o.selfPid ?? process.pid,
      ...(o.locatorCacheDir ? { locatorCacheDir: o.locatorCacheDir } : {}),
      launching: [...(o.launching ?? [])],
      preloadExecutables: [...(o.preloadExecutables ?? [])],
    };
  }

  static configBlock(o: ResolvedSslOptions, filterTracked: boolean): Buffer {
    const b = Buffer.alloc(SSL_CONFIG.size);
    const off = SSL_CONFIG.off;
    b.writeUInt32LE(o.selfPid, off.self_pid);
    b.writeUInt32LE(filterTracked ? 1 : 0, off.filter_tracked);
    b.writeUInt32LE(o.uid ?? 0, off.uid);
    b.writeUInt32LE(o.uid === null ? 0 : 1, off.has_uid);
    b.writeUInt32LE(o.maxBytes, off.max_call_bytes);
    b.writeUInt32LE(o.handshake ? 1 : 0, off.handshake);
    b.writeUInt32LE(o.wakeupBytes, off.wakeup_bytes);
    return b;
  }

  /** Load, attach and start discovery; the returned tracer is live until close(). */
  static async start(options: SslTracerOptions = {}): Promise<SslTracer> {
    const o = SslTracer.resolve(options);
    for (const b of o.binaryPaths) {
      if (!fs.existsSync(b)) throw new UsageError(`--binary-path ${b}: no such file`);
    }
    const binding = options.binding ?? options.processTracer?.options.binding ?? getBinding();
    const selected = o.pid.length > 0 || o.comm.length > 0;
    let pt = options.processTracer ?? null;
    const owns = !pt;
    if (pt && selected) {
      const po = pt.options;
      const same = JSON.stringify([...po.comm].sort()) === JSON.stringify([...o.comm].sort()) && JSON.stringify([...po.pid].sort()) === JSON.stringify([...o.pid].sort());
      if (!same) throw new UsageError('the TLS tracer and the process tracer it shares must select the same processes');
    }
    if (!pt) {
      pt = await ProcessTracer.start({
        comm: o.comm,
        pid: o.pid,
        mode: selected ? 2 : 1,
        fileEvents: selected,
        fileDedupMs: 0,
        statsIntervalMs: 0,
        selfPid: o.selfPid,
        binding,
      });
    }
    const filterTracked = pt.options.comm.length > 0 || pt.options.pid.length > 0;
    const hook = options.socketHook ?? 'auto';
    const sockHook = hook === 'sock' || (hook === 'auto' && kernelHasSockTracepoints());
    const socketPrograms = sockHook ? SOCK_PROGRAMS : SYSCALL_PROGRAMS;
    let obj: NativeBpfObject | null = null;
    try {
      const open = (multi: boolean) => {
        const ob = native(() => new binding.BpfObject('ssl'));
        try {
          native(() => {
            ob.setRodata('cfg', SslTracer.configBlock(o, filterTracked));
            ob.setMaxEntries('ssl_rb', o.ringBytes);
            ob.reuseMap('tracked', (pt as ProcessTracer).object, 'tracked');
            for (const p of [...SOCK_PROGRAMS, ...SYSCALL_PROGRAMS]) if (!socketPrograms.includes(p)) ob.setAutoload(p, false);
            if (multi) for (const p of ['ssl_enter', 'ssl_ret']) ob.setExpectedAttachType(p, BPF_TRACE_UPROBE_MULTI);
            ob.load();
          });
        } catch (err) {
          ob.close();
          throw err;
        }
        return ob;
      };
      // uprobe_multi links (Linux 6.6+) attach and detach a whole file at once; older kernels get one link per function.
      const mode = options.uprobeLinks ?? 'auto';
      let multi = mode !== 'perf';
      if (mode === 'multi') obj = open(true);
      else if (mode === 'perf') obj = open(false);
      else {
        try {
          obj = open(true);
        } catch {
          multi = false;
          obj = open(false);
        }
      }
      const ob = obj;
      for (const p of socketPrograms) native(() => ob.attach(p));
      const t = new SslTracer(o, binding, ob, pt, owns, multi);
      await t.attachInitial();
      t.source = new RingSource(binding, ob, 'ssl_rb', { intervalMs: 20 });
      return t;
    } catch (err) {
      obj?.close();
      if (owns) pt.close();
      throw err;
    }
  }

  private notice(key: string, message: string): void {
    if (this.noticed.has(key)) return;
    this.noticed.add(key);
    this.emit('notice', message);
    this.diagnostics.push(message);
  }

  private readonly diagnostics: string[] = [];

  /** Attach the uprobe pairs of one target (once per file). */
  private attachTarget(t: TlsTarget, via: string): AttachedTarget | null {
    const have = this.attached.get(t.key);
    if (have) return have;
    const links: number[] = [];
    try {
      if (this.multiLinks) {
        const offsets = t.functions.map((f) => f.offset);
        const cookies = t.functions.map((f) => sslCookie(f.kind, t.library));
        links.push(native(() => this.object.attachUprobeMulti('ssl_enter', { path: t.path, offsets, cookies })));
        // SSL_free needs no return probe
        const ret = t.functions.filter((f) => f.kind !== SSL_KIND.FREE);
        const retOffsets = ret.map((f) => f.offset);
        const retCookies = ret.map((f) => sslCookie(f.kind, t.library));
        links.push(native(() => this.object.attachUprobeMulti('ssl_ret', { path: t.path, offsets: retOffsets, cookies: retCookies, retprobe: true })));
      } else {
        for (const f of t.functions) {
          const cookie = sslCookie(f.kind, t.library);
          links.push(native(() => this.object.attachUprobe('ssl_enter', { path: t.path, offset: f.offset, cookie })));
          if (f.kind !== SSL_KIND.FREE)
            links.push(native(() => this.object.attachUprobe('ssl_ret', { path: t.path, offset: f.offset, cookie, retprobe: true })));
        }
      }
    } catch (err) {
      for (const l of links) this.object.detach(l);
      this.attachErrors++;
      this.notice(`attach:${t.key}`, `cannot probe ${t.displayPath}: ${(err as Error).message.split('\n')[0]}`);
      return null;
    }
    const a: AttachedTarget = { path: t.displayPath, library: t.library, functions: t.functions.map((f) => f.symbol), links: links.length, via };
    this.attached.set(t.key, a);
    this.emit('attached', a);
    return a;
  }

  /**
   * Inspect a file once (by inode) and attach if it holds TLS functions.
   * Executables without TLS symbols that contain BoringSSL go through the
   * locator. Resolves whether the file is probed.
   */
  private consider(attachPath: string, displayPath: string, via: string, strict = false, executable = false): Promise<boolean> {
    let key: string;
    try {
      key = fileKey(fs.statSync(attachPath));
    } catch (err) {
      if (strict) return Promise.reject(new UsageError(`--binary-path ${displayPath}: ${(err as Error).message}`));
      return Promise.resolve(false);
    }
    let p = this.inspected.get(key);
    if (!p) {
      p = (async (): Promise<boolean | 'vanished'> => {
        let targets: TlsTarget[] = [];
        try {
          if (executable || strict) {
            const r = await inspectExecutable(attachPath, displayPath, this.options.locatorCacheDir);
            targets = r.targets;
            if (r.verdict?.supported === false) {
              const msg =
                `${displayPath} contains BoringSSL but its TLS functions cannot be located with certainty ` +
                `(${r.verdict.reason}); not probed, so its TLS traffic is not captured`;
              if (strict) throw new UsageError(`--binary-path ${msg}`);
              this.notice(`locator:${key}`, msg);
            } else if (r.verdict?.supported) {
              this.locatorVerdicts.push({ path: displayPath, buildId: r.verdict.buildId ?? null, cached: r.verdict.cached, ms: r.verdict.analysisMs });
            }
          } else targets = await inspectBinary(attachPath, displayPath);
        } catch (err) {
          if (strict) throw err instanceof UsageError ? err : new UsageError(`--binary-path ${displayPath}: ${(err as Error).message}`);
          // read through /proc/PID/...: the process went away meanwhile. Nothing to say, and the
          // file is inspected again when another process maps it
          if (attachPath.startsWith('/proc/') && (err as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(attachPath)) {
            this.inspected.delete(key);
            return 'vanished';
          }
          // a file that cannot be read is not silently skipped when it is a TLS library
          if (isTlsLibraryName(displayPath) || executable)
            this.notice(`inspect:${key}`, `cannot inspect ${displayPath} for TLS functions: ${(err as Error).message.split('\n')[0]}`);
        }
        let ok = false;
        for (const t of targets) ok = this.attachTarget(t, via) !== null || ok;
        return ok;
      })();
      this.inspected.set(key, p);
    }
    // inspected through a process that went away: the file is looked at again through this caller's path, if it is still there
    const result = p.then((r) => (r === 'vanished' ? (fs.existsSync(attachPath) ? this.consider(attachPath, displayPath, via, strict, executable) : false) : r));
    if (!strict) return result;
    return result.then((ok) => {
      if (!ok)
        throw new UsageError(
          `--binary-path ${displayPath}: no TLS functions found (no SSL_read/SSL_write, gnutls_record_recv/send or PR_Read/PR_Write symbols, and no BoringSSL)`,
        );
      return ok;
    });
  }

  private async attachInitial(): Promise<void> {
    const o = this.options;
    for (const b of o.binaryPaths) await this.consider(fs.realpathSync(b), b, 'binary-path', true);
    if (o.systemLibraries) for (const lib of systemTlsLibraries()) await this.consider(lib, lib, 'system');
    for (const exe of o.preloadExecutables) {
      let real: string;
      try {
        real = fs.realpathSync(exe);
      } catch {
        continue; // the command will fail to start; nothing to probe
      }
      await this.consider(real, exe, 'the command to run', false, true);
    }
    // Processes running now: the selected ones, or all.
    const pt = this.processTracer as ProcessTracer;
    const selected = pt.options.comm.length > 0 || pt.options.pid.length > 0;
    const pids = selected ? pt.trackedPids() : listProcesses().map((p) => p.pid);
    for (const pid of pids) {
      if (pid === this.options.selfPid) continue;
      await this.scanProcess(pid, selected && this.isRoot(pid) && !this.options.launching.includes(pid));
    }
  }

  /** Was this process selected directly (not only as a descendant)? */
  private isRoot(pid: number): boolean {
    const o = this.options;
    if (o.pid.includes(pid)) return true;
    const p = readProc(pid);
    return !!p && o.comm.some((c) => p.comm.startsWith(c));
  }

  /**
   * Probe the TLS code a process maps: known TLS libraries and its executable
   * (static TLS with exported symbols). When `report`, say once if it maps none.
   */
  private async scanProcess(pid: number, report: boolean): Promise<void> {
    const img = await processImage(pid);
    if (!img) return;
    let has = [...img.keys].some((k) => this.attached.has(k));
    for (const [display, attachPath] of img.files) {
      const isExe = display === img.exe;
      if (!isExe && !isTlsLibraryName(display)) continue;
      if (await this.consider(attachPath, display, isExe ? `executable of pid ${pid}` : `mapped by pid ${pid}`, false, isExe)) has = true;
    }
    if (!has && report) {
      const comm = readProc(pid)?.comm ?? '?';
      this.notice(
        `none:${img.exe ?? pid}`,
        `no TLS code found in pid ${pid} (${comm}, ${img.exe ?? 'unknown executable'}): it maps no libssl/libgnutls/libnspr4 ` +
          'and its executable exports no TLS functions, so its TLS traffic cannot be captured (yet: it is checked again as it loads libraries)',
      );
    }
  }

  private later(ms: number, fn: () => Promise<void>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) this.track(fn());
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private track<T>(p: Promise<T>): void {
    const q = p.catch((err) => this.notice(`err:${String(err)}`, `TLS discovery error: ${(err as Error).message}`));
    this.pending.add(q);
    void q.finally(() => this.pending.delete(q));
  }

  /**
   * Feed a process event (from the shared process tracer): new executables
   * and TLS libraries opened by selected processes are probed as they appear.
   */
  observe(e: Event): void {
    if (this.closed || e.source !== 'process') return;
    const d = e.data;
    const pt = this.processTracer as ProcessTracer;
    const selected = pt.options.comm.length > 0 || pt.options.pid.length > 0;
    if (d.event === 'EXEC') {
      if (e.pid === this.options.selfPid || (selected && !d.tracked)) return;
      const pid = e.pid;
      this.track(
        (async () => {
          const exe = `/proc/${pid}/exe`;
          let display = String(d.filename);
          try {
            display = fs.readlinkSync(exe);
          } catch {
            return; // already gone
          }
          await this.consider(exe, display, `executable of pid ${pid}`, false, true);
        })(),
      );
      if (selected) {
        const report = this.isRoot(pid);
        for (const ms of RESCAN_DELAYS) this.later(ms, () => this.scanProcess(pid, report && ms === RESCAN_DELAYS[RESCAN_DELAYS.length - 1]));
      }
    } else if (d.event === 'FILE_OPEN' && d.fd !== undefined && isTlsLibraryName(String(d.filepath))) {
      const pid = e.pid;
      const p = String(d.filepath);
      this.track(this.consider(pathInProcess(pid, p), p, `opened by pid ${pid}`).then(() => undefined));
    }
  }

  stats(): SslTracerStats {
    return {
      tracer: 'ssl',
      records: this.records,
      events: this.emitted,
      decode_errors: this.decodeErrors,
      port_filtered: this.portFiltered,
      port_unknown: this.portUnknown,
      kernel: this.closed ? this.lastKernel : readBpfStats(this.object),
      ring: this.source ? this.source.stats() : null,
      targets: [...this.attached.values()],
      attach_errors: this.attachErrors,
      ...(this.ownsProcessTracer && this.processTracer ? { process: this.processTracer.stats() } : {}),
    };
  }

  /** Probed files, for people. */
  targets(): AttachedTarget[] {
    return [...this.attached.values()];
  }

  private statsEvent(kind: 'STATS' | 'FINAL'): Event {
    return statsEvent({ event: kind, ...this.stats() });
  }

  private passesPort(e: Event): boolean {
    const ports = this.options.port;
    if (ports.length === 0) return true;
    const d = e.data;
    if (d.local_port === undefined) {
      this.portUnknown++;
      return false;
    }
    if (ports.includes(d.local_port) || ports.includes(d.remote_port)) return true;
    this.portFiltered++;
    return false;
  }

  /**
   * The ssl events (and diagnostics), until the signal aborts or close() is
   * called; then the ring is drained and a FINAL stats event ends the stream.
   */
  async *events(signal?: AbortSignal): AsyncGenerator<Event> {
    const source = this.source as RingSource;
    if (this.iterating) throw new UsageError('events() can be iterated only once');
    this.iterating = true;
    const onAbort = () => this.stop();
    if (signal?.aborted) this.stop();
    else signal?.addEventListener('abort', onAbort, { once: true });
    if (this.ownsProcessTracer && this.processTracer) {
      const pt = this.processTracer;
      this.ownProcessLoop = (async () => {
        for await (const e of pt.events()) this.observe(e);
      })();
    }
    let lastStats = Date.now();
    let lastKernelKey = '';
    let shown = 0;
    try {
      for await (const r of source.records()) {
        while (shown < this.diagnostics.length) yield this.diagnostic(this.diagnostics[shown++]);
        if (r !== null) {
          this.records++;
          const [buf, off, len] = r;
          const e = decodeSslRecord(buf, off, len, this.clock);
          if (!e) this.decodeErrors++;
          else if (this.passesPort(e)) {
            this.emitted++;
            yield e;
          }
        }
        if (this.options.statsIntervalMs > 0 && Date.now() - lastStats >= this.options.statsIntervalMs) {
          lastStats = Date.now();
          const k = JSON.stringify(readBpfStats(this.object));
          if (k !== lastKernelKey && k !== '{}') yield this.statsEvent('STATS');
          lastKernelKey = k;
        }
      }
      while (shown < this.diagnostics.length) yield this.diagnostic(this.diagnostics[shown++]);
      yield this.statsEvent('FINAL');
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await this.closeAsync();
    }
  }

  private diagnostic(message: string): Event {
    return diagnosticEvent({ type: 'tls_discovery', level: 'warning', tracer: 'ssl', message });
  }

  /** Stop: the events() iteration drains the ring and ends. */
  stop(): void {
    this.source?.end();
    if (this.ownsProcessTracer) this.processTracer?.stop();
  }

  private async closeAsync(): Promise<void> {
    this.stop();
    if (this.ownProcessLoop) await this.ownProcessLoop.catch(() => undefined);
    await Promise.all([...this.pending]);
    this.close();
  }

  /** Detach everything and free the kernel objects. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.source?.end();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    try {
      this.lastKernel = readBpfStats(this.object);
    } catch {
      /* already gone */
    }
    this.closed = true;
    this.object.close();
    if (this.ownsProcessTracer) this.processTracer?.close();
  }
}

