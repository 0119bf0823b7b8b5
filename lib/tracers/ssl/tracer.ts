/**
 * The TLS plaintext tracer: loads bpf/ssl.bpf.c (loader.ts), finds the TLS
 * code of the host and of the selected processes and attaches uprobes to it
 * (discovery.ts), and turns its ring buffer into `ssl` events.
 *
 * Selection (--pid with descendants, --comm) is the process tracer's
 * "tracked" map, shared with the TLS object; when no process tracer is given,
 * the TLS tracer runs one of its own (its events are used for discovery and
 * not reported).
 *
 * SslTracer.resolve(options) validates options (no kernel needed);
 * SslTracer.start(options) returns a live tracer that must be close()d.
 */
import { performance } from 'node:perf_hooks';
import { EventEmitter } from 'eventemitter3';
import { getBinding, type NativeBinding, type NativeBpfObject } from '../../kernel/binding';
import { KernelClock } from '../../kernel/clock';
import { UsageError } from '../../core/errors';
import { diagnosticEvent, statsEvent, type Event } from '../../core/event';
import { RingSource, type RingSourceStats } from '../../kernel/ring-source';
import { readBpfStats } from '../../kernel/bpf-stats';
import { decodeSslRecord } from '../../kernel/ssl-decode';
import type { ProcessTracer, ProcessTracerStats, ResolvedProcessOptions } from '../process';
import { resolveSslOptions, sslConfigBlock, type ResolvedSslOptions, type SslTracerOptions } from './spec';
import { attachHook, discoveryKey, loadSsl, noteLinks, selectionTracer, sslAlongside, type LoadedSsl } from './loader';
import { stepAsync } from '../../kernel/load';
import { checkBinaryPaths, TlsDiscovery, type AttachedTarget, type DiscoveryStats, type LocatorFinding } from './discovery';
import { RustlsConnections } from './rustls-conns';
import { clearAhead } from './ahead';
import { warmUpDuring } from './warm-up';

export interface SslTracerStats {
  tracer: 'ssl';
  records: number;
  events: number;
  decode_errors: number;
  port_filtered: number;
  port_unknown: number;
  /** rustls writes whose socket was never learned (their connection is their encrypter). */
  rustls_unbound: number;
  kernel: Record<string, number>;
  ring: RingSourceStats | null;
  targets: AttachedTarget[];
  attach_errors: number;
  /** what TLS discovery did after execs and what it left out */
  discovery: DiscoveryStats & { rescans_pending: number };
  process?: ProcessTracerStats;
}

interface SslTracerEvents {
  notice: [message: string];
  attached: [target: AttachedTarget];
}

export class SslTracer extends EventEmitter<SslTracerEvents> {
  private source: RingSource | null = null;
  private readonly clock: KernelClock;
  private readonly discovery: TlsDiscovery;
  /** notices, also reported as diagnostic events in events() */
  private readonly diagnostics: string[] = [];
  private records = 0;
  private emitted = 0;
  private decodeErrors = 0;
  private portFiltered = 0;
  private portUnknown = 0;
  /** rustls records take their connection from their socket (rustls-conns.ts). */
  private readonly rustls = new RustlsConnections();
  private closed = false;
  private stopped = false;
  private iterating = false;
  private ownProcessLoop: Promise<void> | null = null;
  /** beginDetach() under way. */
  private detaching: Promise<void> | null = null;
  private lastKernel: Record<string, number> = {};
  readonly object: NativeBpfObject;
  /** uprobe_multi links (one per file and program) rather than one link per function */
  readonly multiLinks: boolean;

  private constructor(
    readonly options: ResolvedSslOptions,
    private readonly binding: NativeBinding,
    loaded: LoadedSsl,
    /** The process tracer holding the selection (owned when we started it). */
    readonly processTracer: ProcessTracer,
    private readonly ownsProcessTracer: boolean,
  ) {
    super();
    this.clock = new KernelClock(binding);
    this.object = loaded.object;
    this.multiLinks = loaded.multiLinks;
    const say = {
      notice: (m: string) => {
        this.emit('notice', m);
        this.diagnostics.push(m);
      },
      attached: (a: AttachedTarget) => this.emit('attached', a),
    };
    // begun when the object loaded (the host's libraries): what it said so far comes now
    const begun = loaded.discovery;
    if (begun) {
      begun.discovery.useProcessTracer(processTracer);
      begun.relay.connect(say);
      this.discovery = begun.discovery;
    } else {
      this.discovery = new TlsDiscovery(options, processTracer, { attach: attachHook(loaded, binding, options.timeline), ...say });
    }
  }

  /** What loads this tracer's object alongside a process tracer's (ProcessTracer.startWith), for start(…, loadedAlongside). */
  static loadAlongside(options: SslTracerOptions = {}): (object: NativeBpfObject, po: ResolvedProcessOptions) => Promise<LoadedSsl> {
    const o = resolveSslOptions(options);
    return sslAlongside(options.binding ?? getBinding(), o);
  }

  /**
   * Await `loading` (ProcessTracer.startWith(…, SslTracer.loadAlongside(options))) while reading what start()
   * will inspect: the host's TLS libraries, the command to run, the files of the processes running now.
   * start() takes the results; a failed load drops them.
   */
  static async loadingAhead<T>(options: SslTracerOptions, loading: Promise<T>): Promise<T> {
    let o: ResolvedSslOptions;
    try {
      o = resolveSslOptions(options);
    } catch {
      return loading; // options start() refuses itself: nothing to read ahead
    }
    return warmUpDuring(o, loading);
  }

  /** Validate and complete options; throws UsageError with what is wrong. */
  static resolve(o: SslTracerOptions = {}): ResolvedSslOptions {
    return resolveSslOptions(o);
  }

  /** The const volatile configuration block for ssl.bpf.c. */
  static configBlock(o: ResolvedSslOptions, filterTracked: boolean): Buffer {
    return sslConfigBlock(o, filterTracked);
  }

  /**
   * Load, attach and start discovery; the returned tracer is live until close().
   * `loadedAlongside`: the object already loaded with the given process tracer's
   * (ProcessTracer.startWith(…, SslTracer.loadAlongside(options))).
   */
  static async start(options: SslTracerOptions = {}, loadedAlongside?: PromiseSettledResult<LoadedSsl> | null): Promise<SslTracer> {
    const o = resolveSslOptions(options);
    checkBinaryPaths(o);
    const binding = options.binding ?? options.processTracer?.options.binding ?? getBinding();
    const { tracer: pt, owned, early: own } = await selectionTracer(o, options.processTracer, binding);
    const early = own ?? loadedAlongside ?? null;
    let loaded: LoadedSsl | null = early?.status === 'fulfilled' ? early.value : null;
    const tl = o.timeline;
    try {
      // begun with other discovery options than these (loadAlongside's): not this tracer's, loaded again
      if (loaded?.discovery && loaded.discovery.key !== discoveryKey(o)) {
        loaded.close();
        loaded = null;
      }
      // loaded alongside the process object (which said how its uprobes are linked); else (or when that failed) now, with the fallbacks
      if (!loaded) {
        loaded = await stepAsync(tl, binding, 'ssl: load ssl.bpf.o and attach its socket hook', () => loadSsl(binding, o, pt));
        noteLinks(tl, loaded);
      }
      const t = new SslTracer(o, binding, loaded, pt, owned);
      await (tl ? tl.spanAsync('ssl: find and probe TLS code', () => t.discovery.attachInitial()) : t.discovery.attachInitial());
      return t;
    } catch (err) {
      clearAhead();
      loaded?.close();
      if (owned) pt.close();
      throw err;
    }
  }

  /** Executables whose TLS functions the locator found (BoringSSL without symbols). */
  get locatorVerdicts(): readonly LocatorFinding[] {
    return this.discovery.locatorVerdicts;
  }

  /**
   * Feed a process event (from the shared process tracer): new executables
   * and TLS libraries opened by selected processes are probed as they appear.
   */
  observe(e: Event): void {
    if (!this.closed) this.discovery.observe(e);
  }

  stats(): SslTracerStats {
    return {
      tracer: 'ssl',
      records: this.records,
      events: this.emitted,
      decode_errors: this.decodeErrors,
      port_filtered: this.portFiltered,
      port_unknown: this.portUnknown,
      rustls_unbound: this.rustls.unbound,
      kernel: this.closed ? this.lastKernel : readBpfStats(this.object),
      ring: this.source ? this.source.stats() : null,
      targets: this.discovery.targets(),
      attach_errors: this.discovery.attachErrors,
      discovery: this.discovery.stats(),
      ...(this.ownsProcessTracer ? { process: this.processTracer.stats() } : {}),
    };
  }

  /** Probed files, for people. */
  targets(): AttachedTarget[] {
    return this.discovery.targets();
  }

  private statsEvent(kind: 'STATS' | 'FINAL'): Event {
    return statsEvent({ event: kind, ...this.stats() });
  }

  /** --port: an event passes when its connection's local or remote port is one of them (unknown sockets do not). */
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

  private diagnostic(message: string): Event {
    return diagnosticEvent({ type: 'tls_discovery', level: 'warning', tracer: 'ssl', message });
  }

  /** Feed the events of the process tracer we own to discovery, while events() runs. */
  private runOwnProcessTracer(): void {
    if (!this.ownsProcessTracer) return;
    const pt = this.processTracer;
    this.ownProcessLoop = (async () => {
      for await (const e of pt.events()) this.observe(e);
    })();
  }

  /**
   * The ssl events (and diagnostics), until the signal aborts or close() is
   * called; then the ring is drained and a FINAL stats event ends the stream.
   */
  async *events(signal?: AbortSignal): AsyncGenerator<Event> {
    if (this.iterating) throw new UsageError('events() can be iterated only once');
    if (this.closed) throw new UsageError('this tracer is closed');
    this.iterating = true;
    // the ring is mapped here, not in start(): mapping 64 MiB takes ~9 ms, and what is
    // recorded meanwhile waits in the kernel's ring
    const source = (this.source ??= new RingSource(this.binding, this.object, 'ssl_rb', { intervalMs: 20 }));
    if (this.stopped) source.end();
    const onAbort = () => this.stop();
    if (signal?.aborted) this.stop();
    else signal?.addEventListener('abort', onAbort, { once: true });
    this.runOwnProcessTracer();
    let lastStats = Date.now();
    let lastKernelKey = '';
    let shown = 0;
    try {
      for await (const r of source.records()) {
        while (shown < this.diagnostics.length) yield this.diagnostic(this.diagnostics[shown++]);
        if (r !== null) {
          this.records++;
          const [buf, off, len] = r;
          const e = decodeSslRecord(buf, off, len, this.clock, this.processTracer.containers);
          if (!e) this.decodeErrors++;
          else
            for (const ready of this.rustls.push(e)) {
              if (this.passesPort(ready)) {
                this.emitted++;
                yield ready;
              }
            }
        }
        if (this.options.statsIntervalMs > 0 && Date.now() - lastStats >= this.options.statsIntervalMs) {
          lastStats = Date.now();
          const k = JSON.stringify(readBpfStats(this.object));
          if (k !== lastKernelKey && k !== '{}') yield this.statsEvent('STATS');
          lastKernelKey = k;
        }
      }
      for (const ready of this.rustls.flush()) {
        if (this.passesPort(ready)) {
          this.emitted++;
          yield ready;
        }
      }
      while (shown < this.diagnostics.length) yield this.diagnostic(this.diagnostics[shown++]);
      yield this.statsEvent('FINAL');
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await this.closeAsync();
    }
  }

  /** Stop: the events() iteration drains the ring and ends. The probes come off meanwhile. */
  stop(): void {
    this.stopped = true;
    this.source?.end();
    this.beginDetach();
    if (this.ownsProcessTracer) this.processTracer.stop();
  }

  /**
   * Take the probes off now, on a worker thread (the kernel waits a grace
   * period per link, ~40-80 ms), while the ring drains: nothing is read after
   * a stop, so this loses nothing, and close() is left with freeing the object.
   */
  private beginDetach(): void {
    if (this.detaching || this.closed || !this.object.detachAllAsync) return;
    this.discovery.close();
    const tl = this.options.timeline;
    const start = performance.now();
    this.detaching = this.object.detachAllAsync().then(
      (n) => tl?.mark(`ssl: detach ${n} link(s) (while the ring drained)`, start),
      (err: unknown) => tl?.note(`ssl: detach: ${(err as Error).message}`),
    );
  }

  private async closeAsync(): Promise<void> {
    this.stop();
    if (this.ownProcessLoop) await this.ownProcessLoop.catch(() => undefined);
    await this.discovery.settled();
    if (this.detaching) await this.detaching;
    this.close();
  }

  /** Detach everything and free the kernel objects. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.source?.end();
    this.discovery.close();
    try {
      this.lastKernel = readBpfStats(this.object);
    } catch {
      /* already gone */
    }
    this.closed = true;
    const tl = this.options.timeline;
    if (tl) tl.span(this.detaching ? 'ssl: unload' : 'ssl: detach and unload', () => this.object.close());
    else this.object.close();
    if (this.ownsProcessTracer) this.processTracer.close();
  }
}
