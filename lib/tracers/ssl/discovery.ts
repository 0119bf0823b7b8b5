/**
 * Finding the TLS code to probe while the tracer runs: the host's TLS
 * libraries, the files given with --binary-path, the command about to run,
 * what running processes map, every new executable (through the BoringSSL
 * locator when it exports no TLS symbols), libraries loaded after an exec
 * (rescans) and TLS libraries opened by selected processes. Says once, as a
 * notice, what it cannot probe. Reads files and /proc only: attaching is the
 * loader's, handed in as `attach`.
 */
import * as fs from 'node:fs';
import { UsageError } from '../../core/errors';
import type { Event } from '../../core/event';
import type { ProcessTracer } from '../process';
import { listProcesses, readProc } from '../proc';
import { isSelected } from '../rules';
import { forEachLimit } from '../../core/concurrency';
import { clearAhead } from './ahead';
import { scannedPids, type ResolvedSslOptions } from './spec';
import type { AttachedTarget, DiscoveryHooks, DiscoveryStats, LocatorFinding, Rescan, RescanLimits } from './discovery-types';
import {
  fileKey,
  inspectBinary,
  inspectExecutable,
  inspectStaticTls,
  inspectionKind,
  isTlsLibraryName,
  pathInProcess,
  processImage,
  systemTlsLibraries,
  type ExecutableInspection,
  type TlsTarget,
} from './targets';

export type { AttachedTarget, DiscoveryHooks, DiscoveryStats, LocatorFinding, RescanLimits } from './discovery-types';

/** After a selected process execs, look at its mappings again at these delays (ms), for libraries it loads late. */
const RESCAN_DELAYS = [300, 1500, 5000];

/**
 * A file open that could be a library being loaded (dlopen): read-only, not a
 * directory, named like a shared object or a Node addon (`*.so`, `*.so.N`,
 * `*.node`), not under /proc, /sys or /dev. Files mapped executable are
 * looked at whatever their name (the rescans after exec).
 */
function mayBeLibrary(d: Record<string, unknown>): boolean {
  const flags = Number(d.flags_raw);
  const p = String(d.filepath);
  return (flags & 3) === 0 && (flags & 0o200000) === 0 && /\.(so(\.\d+)*|node)$/.test(p) && !/^\/(proc|sys|dev)\//.test(p);
}

/** Every --binary-path must exist (checked before anything is loaded). */
export function checkBinaryPaths(o: ResolvedSslOptions): void {
  for (const b of o.binaryPaths) {
    if (!fs.existsSync(b)) throw new UsageError(`--binary-path ${b}: no such file`);
  }
}

function firstLine(err: unknown): string {
  return (err as Error).message.split('\n')[0];
}

export class TlsDiscovery {
  private readonly attached = new Map<string, AttachedTarget>();
  /** files inspected or being inspected (by dev:inode): resolves true when it has TLS functions we attached to */
  private readonly inspected = new Map<string, Promise<boolean | 'vanished'>>();
  private readonly noticed = new Set<string>();
  private readonly pending = new Set<Promise<unknown>>();
  /** rescans by executable key, and one queue per step (each in due order: a step's delay is fixed) */
  private readonly rescans = new Map<string, Rescan>();
  private readonly rescanQueues: Rescan[][] = RESCAN_DELAYS.map(() => []);
  private timer: NodeJS.Timeout | null = null;
  private rescanning = false;
  private readonly counters: DiscoveryStats = { execs: 0, execs_gone: 0, rescans: 0, rescans_coalesced: 0, rescans_dropped: 0, rescans_gone: 0 };
  readonly locatorVerdicts: LocatorFinding[] = [];
  attachErrors = 0;
  private closed = false;

  private readonly maxRescanExes: number;
  private readonly maxRescanPids: number;

  constructor(
    private readonly options: ResolvedSslOptions,
    /** holds the selection (see useProcessTracer) */
    private processTracer: Pick<ProcessTracer, 'options' | 'trackedPids'>,
    private readonly hooks: DiscoveryHooks,
    limits: RescanLimits = {},
  ) {
    this.maxRescanExes = limits.maxExecutables ?? 256;
    this.maxRescanPids = limits.maxProcesses ?? 4;
  }

  /** Counters, and the executables being rescanned now (`rescans_pending`). */
  stats(): DiscoveryStats & { rescans_pending: number } {
    return { ...this.counters, rescans_pending: this.rescans.size };
  }

  /** Probed files. */
  targets(): AttachedTarget[] {
    return [...this.attached.values()];
  }

  private notice(key: string, message: string): void {
    if (this.noticed.has(key)) return;
    this.noticed.add(key);
    this.hooks.notice(message);
  }

  private get selected(): boolean {
    return isSelected(this.processTracer.options);
  }

  /** Attach the uprobe pairs of one target (once per file). */
  private attachTarget(t: TlsTarget, via: string): AttachedTarget | null {
    const have = this.attached.get(t.key);
    if (have) return have;
    // stopping: the probes are coming off
    if (this.closed) return null;
    let links: number;
    try {
      links = this.hooks.attach(t);
    } catch (err) {
      this.attachErrors++;
      this.notice(`attach:${t.key}`, `cannot probe ${t.displayPath}: ${firstLine(err)}`);
      return null;
    }
    const a: AttachedTarget = { path: t.displayPath, library: t.library, functions: t.functions.map((f) => f.symbol), links, via };
    this.attached.set(t.key, a);
    this.hooks.attached(a);
    return a;
  }

  /** The TLS targets of an executable (through the locators for BoringSSL and rustls without symbols); says why one is not probed. */
  private async inspectExe(attachPath: string, displayPath: string, key: string, strict: boolean): Promise<TlsTarget[]> {
    const r = await inspectExecutable(attachPath, displayPath, this.options.locatorCacheDir);
    return this.verdicts(r, displayPath, key, strict);
  }

  /** Notices and findings of the locators' verdicts in an inspection; its targets. */
  private verdicts(r: ExecutableInspection, displayPath: string, key: string, strict: boolean): TlsTarget[] {
    // said once per reason: the cache directory is the same for every file
    for (const v of [r.verdict, r.rustls, r.openssl])
      if (v?.cacheProblem)
        this.notice(`locator-cache:${v.cacheProblem}`, `${v.cacheProblem}, so the locator did not use it (${displayPath} was analysed afresh)`);
    if (r.rustls?.supported === false && r.rustls.code !== 'NOT_RUSTLS') {
      const msg =
        `${displayPath} contains rustls but its TLS record functions cannot be located with certainty ` +
        `(${r.rustls.reason}); not probed, so its TLS traffic is not captured`;
      if (strict) throw new UsageError(`--binary-path ${msg}`);
      this.notice(`rustls:${key}`, msg);
    } else if (r.rustls?.supported) {
      this.locatorVerdicts.push({ path: displayPath, buildId: r.rustls.buildId ?? null, cached: r.rustls.cached, ms: r.rustls.analysisMs });
    }
    if (r.openssl?.supported === false && r.openssl.code !== 'NOT_OPENSSL' && r.openssl.code !== 'EXPORTS_SSL_SYMBOLS') {
      const msg =
        `${displayPath} contains OpenSSL without its symbols but its SSL read/write functions cannot be located with certainty ` +
        `(${r.openssl.reason}); not probed, so its OpenSSL traffic is not captured`;
      if (strict) throw new UsageError(`--binary-path ${msg}`);
      this.notice(`openssl:${key}`, msg);
    } else if (r.openssl?.supported) {
      this.locatorVerdicts.push({ path: displayPath, buildId: r.openssl.buildId ?? null, cached: r.openssl.cached, ms: r.openssl.analysisMs });
    }
    if (r.verdict?.supported === false) {
      const msg =
        `${displayPath} contains BoringSSL but its TLS functions cannot be located with certainty ` +
        `(${r.verdict.reason}); not probed, so its TLS traffic is not captured`;
      if (strict) throw new UsageError(`--binary-path ${msg}`);
      this.notice(`locator:${key}`, msg);
    } else if (r.verdict?.supported) {
      this.locatorVerdicts.push({ path: displayPath, buildId: r.verdict.buildId ?? null, cached: r.verdict.cached, ms: r.verdict.analysisMs });
    }
    if (r.go && !r.go.supported) {
      const msg =
        `${displayPath} is a Go program (${r.go.version ?? 'Go version not recorded'}) whose crypto/tls cannot be probed ` +
        `(${r.go.reason}); not probed, so its TLS traffic is not captured`;
      if (strict) throw new UsageError(`--binary-path ${msg}`);
      this.notice(`go:${key}`, msg);
    }
    return r.targets;
  }

  /** Inspect one file (known by key) and attach its targets; 'vanished' when it was read through a process that went away. */
  private async inspect(
    attachPath: string,
    displayPath: string,
    key: string,
    via: string,
    strict: boolean,
    executable: boolean,
  ): Promise<boolean | 'vanished'> {
    let targets: TlsTarget[] = [];
    try {
      const kind = inspectionKind(displayPath, executable || strict);
      if (kind === 'exe') targets = await this.inspectExe(attachPath, displayPath, key, strict);
      else if (kind === 'binary') targets = await inspectBinary(attachPath, displayPath);
      // any other file (a library, a Node addon): rustls or OpenSSL inside, if its read-only data names them
      else targets = this.verdicts(await inspectStaticTls(attachPath, displayPath, this.options.locatorCacheDir), displayPath, key, false);
    } catch (err) {
      if (strict) throw err instanceof UsageError ? err : new UsageError(`--binary-path ${displayPath}: ${(err as Error).message}`);
      // read through /proc/PID/...: the process went away meanwhile. Nothing to say, and the
      // file is inspected again when another process maps it
      if (attachPath.startsWith('/proc/') && (err as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(attachPath)) {
        this.inspected.delete(key);
        return 'vanished';
      }
      // a file that cannot be read is not silently skipped when it is a TLS library
      if (isTlsLibraryName(displayPath) || executable) this.notice(`inspect:${key}`, `cannot inspect ${displayPath} for TLS functions: ${firstLine(err)}`);
    }
    let ok = false;
    for (const t of targets) ok = this.attachTarget(t, via) !== null || ok;
    return ok;
  }

  /**
   * Inspect a file once (by inode) and attach if it holds TLS functions.
   * Executables without TLS symbols that contain BoringSSL go through the
   * locator. Resolves whether the file is probed; `strict` (--binary-path)
   * rejects with a UsageError instead.
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
      p = this.inspect(attachPath, displayPath, key, via, strict, executable);
      this.inspected.set(key, p);
    }
    // inspected through a process that went away: the file is looked at again through this caller's path, if it is still there
    const result = p.then((r) =>
      r === 'vanished' ? (fs.existsSync(attachPath) ? this.consider(attachPath, displayPath, via, strict, executable) : false) : r,
    );
    if (!strict) return result;
    return result.then((ok) => {
      if (!ok)
        throw new UsageError(
          `--binary-path ${displayPath}: no TLS functions found (no SSL_read/SSL_write, gnutls_record_recv/send or PR_Read/PR_Write symbols, no Go crypto/tls, and no BoringSSL, rustls or OpenSSL the locators can find)`,
        );
      return ok;
    });
  }

  /** The process tracer that holds the selection, once it runs (a discovery begun early had only its options). */
  useProcessTracer(pt: Pick<ProcessTracer, 'options' | 'trackedPids'>): void {
    this.processTracer = pt;
  }

  /**
   * The host's TLS libraries, probed (the second step of attachInitial, which takes what this did):
   * begun as soon as the TLS object is loaded, while the process object may still load, since the
   * first uprobe of a start-up waits for a kernel grace period (~10-15 ms).
   */
  async attachSystemLibraries(): Promise<void> {
    if (this.options.systemLibraries) for (const lib of systemTlsLibraries()) await this.consider(lib, lib, 'system');
  }

  /** What start() probes before returning: --binary-path files, system libraries, the command to run, running processes. */
  async attachInitial(): Promise<void> {
    const o = this.options;
    for (const b of o.binaryPaths) await this.consider(fs.realpathSync(b), b, 'binary-path', true);
    await this.attachSystemLibraries();
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
    const selected = this.selected;
    const pids = selected ? this.processTracer.trackedPids() : listProcesses().map((p) => p.pid);
    const scan = (pid: number) => this.scanProcess(pid, selected && this.isRoot(pid));
    // 8 at once: /proc/PID/maps is read through the thread pool (inspections are shared by file key)
    await forEachLimit(scannedPids(o, pids), 8, scan);
    // what was read ahead for this pass and not taken is not needed
    clearAhead();
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
      // known TLS libraries by name; any other mapped file is looked at for rustls (once per file)
      if (await this.consider(attachPath, display, isExe ? `executable of pid ${pid}` : `mapped by pid ${pid}`, false, isExe)) has = true;
    }
    if (!has && report && !this.closed) {
      const comm = readProc(pid)?.comm ?? '?';
      this.notice(
        `none:${img.exe ?? pid}`,
        `no TLS code found in pid ${pid} (${comm}, ${img.exe ?? 'unknown executable'}): it maps no libssl/libgnutls/libnspr4, ` +
          'no file with BoringSSL or rustls that could be located, and its executable exports no TLS functions (nor is it Go with crypto/tls), ' +
          'so its TLS traffic cannot be captured (yet: it is checked again as it loads libraries)',
      );
    }
  }

  /**
   * Rescan the processes of `pid`'s executable (`key`) at RESCAN_DELAYS. All
   * execs of one executable share its rescans while they are under way (up
   * to maxProcesses processes are looked at; a TLS library found in one is
   * probed for all, uprobes being per file); at most maxExecutables
   * executables are followed at once. One timer serves them all.
   */
  private scheduleRescans(key: string, pid: number, report: boolean): void {
    const have = this.rescans.get(key);
    if (have) {
      if (have.step > 0 || have.pids.length >= this.maxRescanPids || have.pids.includes(pid)) {
        this.counters.rescans_coalesced++;
        return;
      }
      have.pids.push(pid);
      if (report) have.report.add(pid);
      return;
    }
    if (this.rescans.size >= this.maxRescanExes) {
      this.counters.rescans_dropped++;
      return;
    }
    const r: Rescan = { key, pids: [pid], report: new Set(report ? [pid] : []), step: 0, due: Date.now() + RESCAN_DELAYS[0] };
    this.rescans.set(key, r);
    this.rescanQueues[0].push(r);
    this.armRescans();
  }

  /** The rescan due first, and its queue. */
  private nextRescan(): Rescan[] | null {
    let best: Rescan[] | null = null;
    for (const q of this.rescanQueues) if (q.length && (!best || q[0].due < best[0].due)) best = q;
    return best;
  }

  private armRescans(): void {
    if (this.closed || this.rescanning) return;
    const q = this.nextRescan();
    if (!q) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.track(this.runRescans());
      },
      Math.max(0, q[0].due - Date.now()),
    );
    this.timer.unref();
  }

  /** Do the rescans that are due, one process at a time; then wait for the next. */
  private async runRescans(): Promise<void> {
    if (this.rescanning) return;
    this.rescanning = true;
    try {
      for (let q = this.nextRescan(); q && !this.closed && q[0].due <= Date.now(); q = this.nextRescan()) {
        const r = q.shift() as Rescan;
        const last = r.step === RESCAN_DELAYS.length - 1;
        const alive: number[] = [];
        for (const pid of r.pids) {
          if (!fs.existsSync(`/proc/${pid}`)) {
            this.counters.rescans_gone++;
            continue;
          }
          alive.push(pid);
          this.counters.rescans++;
          await this.scanProcess(pid, last && r.report.has(pid));
        }
        r.pids = alive;
        if (last || alive.length === 0 || this.closed) {
          this.rescans.delete(r.key);
          continue;
        }
        r.due = Date.now() + RESCAN_DELAYS[r.step + 1] - RESCAN_DELAYS[r.step];
        r.step++;
        this.rescanQueues[r.step].push(r);
      }
    } finally {
      this.rescanning = false;
      this.armRescans();
    }
  }

  private track<T>(p: Promise<T>): void {
    const q = p.catch((err) => this.notice(`err:${String(err)}`, `TLS discovery error: ${(err as Error).message}`));
    this.pending.add(q);
    void q.finally(() => this.pending.delete(q));
  }

  /** The executable a process just exec'd, by its /proc link (the process may be gone already); then its rescans. */
  private considerExec(pid: number, filename: string, rescan: boolean, report: boolean): Promise<boolean> {
    this.counters.execs++;
    const exe = `/proc/${pid}/exe`;
    let display = filename;
    let key: string;
    try {
      display = fs.readlinkSync(exe);
      key = fileKey(fs.statSync(exe));
    } catch {
      this.counters.execs_gone++;
      return Promise.resolve(false);
    }
    if (rescan) this.scheduleRescans(key, pid, report);
    return this.consider(exe, display, `executable of pid ${pid}`, false, true);
  }

  /**
   * A process event (from the shared process tracer): new executables and
   * TLS libraries opened by selected processes are probed as they appear.
   */
  observe(e: Event): void {
    if (this.closed || e.source !== 'process') return;
    const d = e.data;
    const selected = this.selected;
    if (d.event === 'EXEC') {
      if (e.pid === this.options.selfPid || (selected && !d.tracked)) return;
      const pid = e.pid;
      this.track(this.considerExec(pid, String(d.filename), selected, selected && this.isRoot(pid)));
    } else if (d.event === 'FILE_OPEN' && d.fd !== undefined && (isTlsLibraryName(String(d.filepath)) || (selected && mayBeLibrary(d)))) {
      // TLS libraries by name; a library a selected process opens may have rustls or OpenSSL
      // inside (Copilot CLI dlopens its runtime.node): looked at once per file, cheaply first
      const pid = e.pid;
      const p = String(d.filepath);
      this.track(this.consider(pathInProcess(pid, p), p, `opened by pid ${pid}`).then(() => undefined));
    }
  }

  /** Resolves when the inspections under way have ended. */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /** No more rescans; events observed from now on are ignored. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.rescans.clear();
    for (const q of this.rescanQueues) q.length = 0;
  }
}
