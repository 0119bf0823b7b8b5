/**
 * Putting bpf/ssl.bpf.c into the kernel: the process tracer that holds the
 * selection, opening and loading the object (uprobe_multi links, falling
 * back to perf-event links on kernels without them), the socket hook, and
 * attaching the uprobes of one TLS target.
 */
import { GO_CFG, GO_CFG_KEY_MAX, GO_F, goCookie, SSL_KIND, sslCookie } from '../../kernel/abi';
import type { NativeBinding, NativeBpfObject } from '../../kernel/binding';
import { native, UsageError } from '../../core/errors';
import { loadOrTake, loadPhase, loadRetryingAsync, step, stepAsync } from '../../kernel/load';
import { takeLoad, type BegunLoad } from '../../kernel/early';
import { openRecipe } from '../../kernel/recipe';
import type { Timeline } from '../../core/timeline';
import { ProcessTracer, type ResolvedProcessOptions } from '../process';
import { isSelected, selectionKey } from '../rules';
import { selectionProcessOptions, socketProgramsFor, sslRecipe, type ResolvedSslOptions } from './spec';
import { type TlsTarget } from './targets';
import { TlsDiscovery, type AttachedTarget, type DiscoveryHooks } from './discovery';
import { warmUpDuring } from './warm-up';

/** Entries of the go_cfg map (max_entries in ssl.bpf.c). */
const GO_CFG_ENTRIES = 1024;

/**
 * The process tracer holding the selection: the one given (it must select the same processes), else one
 * started here, with the TLS object loaded at the same time (`early`: that load, settled).
 */
export async function selectionTracer(
  o: ResolvedSslOptions,
  given: ProcessTracer | undefined,
  binding: NativeBinding,
): Promise<{ tracer: ProcessTracer; owned: boolean; early: PromiseSettledResult<LoadedSsl> | null }> {
  const selected = isSelected(o);
  if (given) {
    if (selected && selectionKey(given.options) !== selectionKey(o))
      throw new UsageError('the TLS tracer and the process tracer it shares must select the same processes');
    return { tracer: given, owned: false, early: null };
  }
  const starting = ProcessTracer.startWith({ ...selectionProcessOptions(o), binding }, sslAlongside(binding, o));
  // the loads are under way (worker threads): read what the discovery will look at meanwhile
  const { tracer, alongside } = await warmUpDuring(o, starting);
  return { tracer, owned: true, early: alongside };
}

/** A loaded TLS object with its socket hook attached. */
export interface LoadedSsl {
  object: NativeBpfObject;
  /** uprobe_multi links (one per file and program) rather than one link per function */
  multiLinks: boolean;
  /** go_cfg keys given out (one per Go executable probed) */
  goKeys?: number;
  /** The discovery begun as soon as the object loaded (the host's libraries), for the tracer to take over. */
  discovery?: BegunDiscovery;
  close(): void;
}

/** A discovery begun before its tracer exists, and where what it says waits for that tracer. */
export interface BegunDiscovery {
  discovery: TlsDiscovery;
  relay: DiscoveryRelay;
  /** discoveryKey() of the options it was begun with */
  key: string;
}

/** What a discovery's work depends on in the options: a tracer takes over an early discovery only when its own are the same. */
export function discoveryKey(o: ResolvedSslOptions): string {
  return JSON.stringify([selectionKey(o), o.binaryPaths, o.systemLibraries, o.preloadExecutables, o.launching, o.locatorCacheDir ?? null, o.selfPid]);
}

/** What a discovery says (notices, attached targets), held until a tracer connects, then passed on as it comes. */
export class DiscoveryRelay implements Pick<DiscoveryHooks, 'notice' | 'attached'> {
  private to: Pick<DiscoveryHooks, 'notice' | 'attached'> | null = null;
  private readonly held: (() => void)[] = [];

  notice(m: string): void {
    if (this.to) this.to.notice(m);
    else this.held.push(() => this.to?.notice(m));
  }

  attached(a: AttachedTarget): void {
    if (this.to) this.to.attached(a);
    else this.held.push(() => this.to?.attached(a));
  }

  connect(to: Pick<DiscoveryHooks, 'notice' | 'attached'>): void {
    this.to = to;
    for (const f of this.held.splice(0)) f();
  }
}

/** Say on the timeline how a loaded object's uprobes are linked. */
export function noteLinks(tl: Timeline | null, loaded: LoadedSsl): void {
  tl?.note(`uprobes linked ${loaded.multiLinks ? 'per file (uprobe_multi)' : 'per function (perf events)'}`);
}

/** The discovery's attach hook for a loaded object: attachTarget, timed and said on the timeline. */
export function attachHook(loaded: LoadedSsl, binding: NativeBinding, tl: Timeline | null): (t: TlsTarget) => number {
  return (t) => {
    const links = step(tl, binding, `ssl: attach ${t.displayPath}`, () => attachTarget(loaded, t));
    tl?.note(`${t.displayPath} (${t.library}): ${t.functions.map((f) => `${f.symbol}@0x${f.offset.toString(16)}`).join(', ')}: ${links} link(s)`);
    return links;
  };
}

/**
 * Begin the discovery of a TLS object loaded alongside the process object, with the host's libraries
 * (TlsDiscovery.attachSystemLibraries): the process object may still be loading. Not with
 * --binary-path, whose files come first and may refuse the start.
 */
function beginDiscovery(binding: NativeBinding, o: ResolvedSslOptions, po: ResolvedProcessOptions, loaded: LoadedSsl, tl: Timeline | null): void {
  if (o.binaryPaths.length || !o.systemLibraries) return;
  const relay = new DiscoveryRelay();
  // the selection's options only, for now: the tracer gives its process tracer (useProcessTracer) before the rest of the first pass
  const selection = { options: po, trackedPids: (): number[] => [] };
  const discovery = new TlsDiscovery(o, selection, {
    attach: attachHook(loaded, binding, tl),
    notice: (m) => relay.notice(m),
    attached: (a) => relay.attached(a),
  });
  loaded.discovery = { discovery, relay, key: discoveryKey(o) };
  const close = loaded.close;
  loaded.close = () => {
    discovery.close();
    close();
  };
  // errors are the first pass's to report (it takes these results, by file)
  discovery.attachSystemLibraries().catch(() => undefined);
}

/**
 * Load an opened object (the longest load of a start-up: its thread is boosted), or wait for its load begun
 * early, and attach its socket hook; closes it on failure.
 */
async function loadAndHook(ob: NativeBpfObject, begun: BegunLoad | null, socketPrograms: string[], multiLinks: boolean): Promise<LoadedSsl> {
  try {
    await loadOrTake(ob, begun, true);
    for (const p of socketPrograms) native(() => ob.attach(p));
  } catch (err) {
    ob.close();
    throw err;
  }
  return { object: ob, multiLinks, close: () => ob.close() };
}

/**
 * The TLS object's load alongside the process object's (ProcessTracer.startWith): one attempt, with
 * uprobe_multi links unless 'perf' is asked for. What fails here is tried again by loadSsl, in turn.
 */
export function sslAlongside(binding: NativeBinding, o: ResolvedSslOptions): (object: NativeBpfObject, po: ResolvedProcessOptions) => Promise<LoadedSsl> {
  return (object, po) => {
    const socketPrograms = socketProgramsFor(o);
    const multi = o.uprobeLinks !== 'perf';
    const recipe = sslRecipe(o, isSelected(po), socketPrograms, multi);
    // the CLI may have begun this very load at its start, alongside this process object (lib/kernel/early.ts)
    const begun = takeLoad(binding, recipe, object);
    const ob = begun?.object ?? openRecipe(binding, recipe, object);
    const tl = po.timeline ?? o.timeline;
    const phase = loadPhase('ssl: load ssl.bpf.o (alongside) and attach its socket hook', begun);
    return stepAsync(tl, binding, phase, () => loadAndHook(ob, begun, socketPrograms, multi)).then((loaded) => {
      noteLinks(tl, loaded);
      beginDiscovery(binding, o, po, loaded, tl);
      return loaded;
    });
  };
}

/**
 * Open, configure and load ssl.bpf.c (sharing pt's "tracked" map), then
 * attach its socket hook. 'auto' links try uprobe_multi (Linux 6.6+: a whole
 * file attaches and detaches at once) and fall back to one link per function.
 */
export async function loadSsl(binding: NativeBinding, o: ResolvedSslOptions, pt: ProcessTracer): Promise<LoadedSsl> {
  const socketPrograms = socketProgramsFor(o);
  const attempt = (multi: boolean) =>
    loadRetryingAsync(() =>
      loadAndHook(openRecipe(binding, sslRecipe(o, isSelected(pt.options), socketPrograms, multi), pt.object), null, socketPrograms, multi),
    );
  if (o.uprobeLinks !== 'auto') return attempt(o.uprobeLinks !== 'perf');
  try {
    return await attempt(true);
  } catch {
    return attempt(false);
  }
}

/**
 * Attach the entry and return probes of one target's TLS functions (SSL_free
 * and rustls's encrypt have no return probe). Returns the number of links; on failure detaches what
 * it attached and throws.
 */
export function attachTarget(loaded: LoadedSsl, t: TlsTarget): number {
  if (t.go) return attachGoTarget(loaded, t);
  const { object } = loaded;
  const links: number[] = [];
  // SSL_free and rustls's encrypt are entry probes only
  const entryOnly = (f: TlsTarget['functions'][number]) => f.kind === SSL_KIND.FREE || f.kind === SSL_KIND.RUSTLS_ENCRYPT;
  const withReturn = t.functions.filter((f) => !entryOnly(f));
  const cookie = (f: TlsTarget['functions'][number]) => sslCookie(f.kind, f.library ?? t.library, f.params);
  try {
    if (loaded.multiLinks) {
      const entry = { path: t.path, offsets: t.functions.map((f) => f.offset), cookies: t.functions.map(cookie) };
      const ret = { path: t.path, offsets: withReturn.map((f) => f.offset), cookies: withReturn.map(cookie), retprobe: true };
      links.push(native(() => object.attachUprobeMulti('ssl_enter', entry)));
      links.push(native(() => object.attachUprobeMulti('ssl_ret', ret)));
    } else {
      for (const f of t.functions) {
        links.push(native(() => object.attachUprobe('ssl_enter', { path: t.path, offset: f.offset, cookie: cookie(f) })));
        if (!entryOnly(f)) links.push(native(() => object.attachUprobe('ssl_ret', { path: t.path, offset: f.offset, cookie: cookie(f), retprobe: true })));
      }
    }
  } catch (err) {
    for (const l of links) object.detach(l);
    throw err;
  }
  return links.length;
}

/** The go_cfg value of a Go target. */
export function goConfigBlock(t: TlsTarget): Buffer {
  const b = Buffer.alloc(GO_CFG.size);
  const l = t.go?.layout;
  if (!l) return b;
  const off = GO_CFG.off;
  b.writeUInt32LE(GO_F.SYSFD, off.flags);
  b.writeUInt32LE(l.itabHash >>> 0, off.itab_hash);
  b.writeUInt32LE(l.connConn, off.conn_conn);
  b.writeUInt32LE(l.tcpconnFd, off.tcpconn_fd);
  b.writeUInt32LE(l.netfdPfd, off.netfd_pfd);
  b.writeUInt32LE(l.fdSysfd, off.fd_sysfd);
  return b;
}

/**
 * A Go crypto/tls target: its go_cfg entry under a new key, go_tls_enter on
 * the functions' entries and go_tls_ret on their RET instructions (plain
 * uprobes: no uretprobe on Go code). Returns the number of links; on failure
 * detaches what it attached, removes the entry and throws.
 */
function attachGoTarget(loaded: LoadedSsl, t: TlsTarget): number {
  const { object } = loaded;
  const go = t.go!;
  const key = (loaded.goKeys ?? 0) + 1;
  if (key > Math.min(GO_CFG_KEY_MAX, GO_CFG_ENTRIES)) throw new Error(`more than ${GO_CFG_ENTRIES} Go executables probed by one tracer`);
  loaded.goKeys = key;
  const keyBuf = Buffer.alloc(4);
  keyBuf.writeUInt32LE(key);
  const links: number[] = [];
  try {
    native(() => object.mapUpdate('go_cfg', keyBuf, goConfigBlock(t)));
    const cookie = (f: TlsTarget['functions'][number]) => goCookie(f.kind, key);
    const sets: [string, TlsTarget['functions']][] = [
      ['go_tls_enter', t.functions],
      ['go_tls_ret', go.returns],
    ];
    for (const [program, fns] of sets) {
      if (fns.length === 0) continue;
      if (loaded.multiLinks)
        links.push(native(() => object.attachUprobeMulti(program, { path: t.path, offsets: fns.map((f) => f.offset), cookies: fns.map(cookie) })));
      else for (const f of fns) links.push(native(() => object.attachUprobe(program, { path: t.path, offset: f.offset, cookie: cookie(f) })));
    }
  } catch (err) {
    for (const l of links) object.detach(l);
    object.mapDelete('go_cfg', keyBuf);
    throw err;
  }
  return links.length;
}
