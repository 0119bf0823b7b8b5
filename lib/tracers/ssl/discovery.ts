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
import type { ResolvedSslOptions } from './spec';
import { fileKey, inspectBinary, inspectExecutable, isTlsLibraryName, pathInProcess, processImage, systemTlsLibraries, type TlsTarget } from './targets';

/** A probed file. */
export interface AttachedTarget {
  path: string;
  library: string;
  functions: string[];
  links: number;
  via: string;
}

/** An executable whose TLS functions the locator found (BoringSSL without symbols). */
export interface LocatorFinding {
  path: string;
  buildId: string | null;
  cached: boolean;
  ms: number;
}

export interface DiscoveryHooks {
  /** Probe a target: returns its number of links, throws if it cannot be probed. */
  attach(t: TlsTarget): number;
  notice(message: string): void;
  attached(a: AttachedTarget): void;
}

/** After a selected process execs, look at its mappings again at these delays (ms), for libraries it loads late. */
const RESCAN_DELAYS = [300, 1500, 5000];

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
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pending = new Set<Promise<unknown>>();
  readonly locatorVerdicts: LocatorFinding[] = [];
  attachErrors = 0;
  private closed = false;

  constructor(
    private readonly options: ResolvedSslOptions,
    /** holds the selection */
    private readonly processTracer: ProcessTracer,
    private readonly hooks: DiscoveryHooks,
  ) {}

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

  /** The TLS targets of an executable (through the locator for BoringSSL without symbols); says why one is not probed. */
  private async inspectExe(attachPath: string, displayPath: string, key: string, strict: boolean): Promise<TlsTarget[]> {
    const r = await inspectExecutable(attachPath, displayPath, this.options.locatorCacheDir);
    // said once per reason: the cache directory is the same for every file
    if (r.verdict?.cacheProblem)
      this.notice(`locator-cache:${r.verdict.cacheProblem}`, `${r.verdict.cacheProblem}, so the locator did not use it (${displayPath} was analysed afresh)`);
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
      targets = executable || strict ? await this.inspectExe(attachPath, displayPath, key, strict) : await inspectBinary(attachPath, displayPath);
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
          `--binary-path ${displayPath}: no TLS functions found (no SSL_read/SSL_write, gnutls_record_recv/send or PR_Read/PR_Write symbols, no Go crypto/tls, and no BoringSSL)`,
        );
      return ok;
    });
  }

  /** What start() probes before returning: --binary-path files, system libraries, the command to run, running processes. */
  async attachInitial(): Promise<void> {
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
    const selected = this.selected;
    const pids = selected ? this.processTracer.trackedPids() : listProcesses().map((p) => p.pid);
    for (const pid of pids) {
      if (pid === o.selfPid) continue;
      await this.scanProcess(pid, selected && this.isRoot(pid) && !o.launching.includes(pid));
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
          'and its executable exports no TLS functions (nor is it Go with crypto/tls), so its TLS traffic cannot be captured (yet: it is checked again as it loads libraries)',
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

  /** The executable a process just exec'd, by its /proc link (the process may be gone already). */
  private async considerExec(pid: number, filename: string): Promise<void> {
    const exe = `/proc/${pid}/exe`;
    let display = filename;
    try {
      display = fs.readlinkSync(exe);
    } catch {
      return; // already gone
    }
    await this.consider(exe, display, `executable of pid ${pid}`, false, true);
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
      this.track(this.considerExec(pid, String(d.filename)));
      if (selected) {
        const report = this.isRoot(pid);
        const last = RESCAN_DELAYS[RESCAN_DELAYS.length - 1];
        for (const ms of RESCAN_DELAYS) this.later(ms, () => this.scanProcess(pid, report && ms === last));
      }
    } else if (d.event === 'FILE_OPEN' && d.fd !== undefined && isTlsLibraryName(String(d.filepath))) {
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
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
