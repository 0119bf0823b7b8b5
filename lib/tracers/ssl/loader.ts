/**
 * Putting bpf/ssl.bpf.c into the kernel: the process tracer that holds the
 * selection, opening and loading the object (uprobe_multi links, falling
 * back to perf-event links on kernels without them), the socket hook, and
 * attaching the uprobes of one TLS target.
 */
import * as fs from 'node:fs';
import { SSL_KIND, sslCookie } from '../../kernel/abi';
import type { NativeBinding, NativeBpfObject } from '../../kernel/binding';
import { native, UsageError } from '../../core/errors';
import { loadRetrying } from '../../kernel/load';
import { ProcessTracer } from '../process';
import { isSelected, selectionKey } from '../rules';
import { sslConfigBlock, type ResolvedSslOptions } from './spec';
import type { TlsTarget } from './targets';

const BPF_TRACE_UPROBE_MULTI = 48;

const SOCK_PROGRAMS = ['ssl_sock_send', 'ssl_sock_recv'];
const SYSCALL_PROGRAMS = ['ssl_sys_enter'];
const UPROBE_PROGRAMS = ['ssl_enter', 'ssl_ret'];

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

/** The process tracer holding the selection: the one given (it must select the same processes), else one started here. */
export async function selectionTracer(
  o: ResolvedSslOptions,
  given: ProcessTracer | undefined,
  binding: NativeBinding,
): Promise<{ tracer: ProcessTracer; owned: boolean }> {
  const selected = isSelected(o);
  if (given) {
    if (selected && selectionKey(given.options) !== selectionKey(o))
      throw new UsageError('the TLS tracer and the process tracer it shares must select the same processes');
    return { tracer: given, owned: false };
  }
  const tracer = await ProcessTracer.start({
    timeline: o.timeline ?? undefined,
    comm: o.comm,
    pid: o.pid,
    cgroup: o.cgroup,
    container: o.container,
    ...(o.cgroupRoot ? { cgroupRoot: o.cgroupRoot } : {}),
    mode: selected ? 2 : 1,
    fileEvents: selected,
    fileDedupMs: 0,
    fileHook: o.fileHook,
    statsIntervalMs: 0,
    selfPid: o.selfPid,
    binding,
  });
  return { tracer, owned: true };
}

/** A loaded TLS object with its socket hook attached. */
export interface LoadedSsl {
  object: NativeBpfObject;
  /** uprobe_multi links (one per file and program) rather than one link per function */
  multiLinks: boolean;
}

function openSsl(binding: NativeBinding, o: ResolvedSslOptions, pt: ProcessTracer, socketPrograms: string[], multi: boolean): NativeBpfObject {
  return loadRetrying(() => openSslOnce(binding, o, pt, socketPrograms, multi));
}

function openSslOnce(binding: NativeBinding, o: ResolvedSslOptions, pt: ProcessTracer, socketPrograms: string[], multi: boolean): NativeBpfObject {
  const ob = native(() => new binding.BpfObject('ssl'));
  try {
    native(() => {
      ob.setRodata('cfg', sslConfigBlock(o, isSelected(pt.options)));
      ob.setMaxEntries('ssl_rb', o.ringBytes);
      ob.reuseMap('tracked', pt.object, 'tracked');
      for (const p of [...SOCK_PROGRAMS, ...SYSCALL_PROGRAMS]) if (!socketPrograms.includes(p)) ob.setAutoload(p, false);
      if (multi) for (const p of UPROBE_PROGRAMS) ob.setExpectedAttachType(p, BPF_TRACE_UPROBE_MULTI);
      ob.load();
    });
  } catch (err) {
    ob.close();
    throw err;
  }
  return ob;
}

/**
 * Open, configure and load ssl.bpf.c (sharing pt's "tracked" map), then
 * attach its socket hook. 'auto' links try uprobe_multi (Linux 6.6+: a whole
 * file attaches and detaches at once) and fall back to one link per function.
 */
export function loadSsl(binding: NativeBinding, o: ResolvedSslOptions, pt: ProcessTracer): LoadedSsl {
  const sockHook = o.socketHook === 'sock' || (o.socketHook === 'auto' && kernelHasSockTracepoints());
  const socketPrograms = sockHook ? SOCK_PROGRAMS : SYSCALL_PROGRAMS;
  let object: NativeBpfObject;
  let multiLinks = o.uprobeLinks !== 'perf';
  if (o.uprobeLinks !== 'auto') object = openSsl(binding, o, pt, socketPrograms, multiLinks);
  else {
    try {
      object = openSsl(binding, o, pt, socketPrograms, true);
    } catch {
      multiLinks = false;
      object = openSsl(binding, o, pt, socketPrograms, false);
    }
  }
  try {
    for (const p of socketPrograms) native(() => object.attach(p));
  } catch (err) {
    object.close();
    throw err;
  }
  return { object, multiLinks };
}

/**
 * Attach the entry and return probes of one target's TLS functions (SSL_free
 * and rustls's encrypt have no return probe). Returns the number of links; on failure detaches what
 * it attached and throws.
 */
export function attachTarget(loaded: LoadedSsl, t: TlsTarget): number {
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
