/**
 * What a TLS tracer is asked to do, before anything touches the kernel: the
 * options, their validation and defaults (resolveSslOptions), the
 * const volatile configuration block of bpf/ssl.bpf.c (sslConfigBlock), what
 * its object is set to before the load (sslRecipe) and the options of the
 * process tracer that holds its selection when it starts one itself.
 */
import { SSL_CONFIG, SSL_MAX_CALL_BYTES } from '../../kernel/abi';
import type { NativeBinding } from '../../kernel/binding';
import { commonRodata, kernelHasSockTracepoints } from '../../kernel/features';
import type { LoadRecipe } from '../../kernel/recipe';
import { Timeline } from '../../core/timeline';
import { UsageError } from '../../core/errors';
import type { FileHook, ProcessTracer, ProcessTracerOptions } from '../process';
import { isSelected, resolveChoice, resolveRingBytes, resolveSelection, resolveStatsInterval } from '../rules';

export type UprobeLinks = 'auto' | 'multi' | 'perf';
export type SocketHook = 'auto' | 'sock' | 'syscall';

export interface SslTracerOptions {
  /** Processes (and descendants) to capture; default every process. */
  pid?: number[];
  /** Process names (prefix of the kernel comm) to capture. */
  comm?: string[];
  /** Processes in these cgroups (and every cgroup below) to capture. */
  cgroup?: string[];
  /** Processes of these containers (ids or unique prefixes) to capture. */
  container?: string[];
  /** Where the cgroup v2 hierarchy is mounted (default: found in /proc/self/mountinfo). */
  cgroupRoot?: string;
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
  /**
   * Wake user space each time the pending data grows past a multiple of this (default 256 KiB; 0: every record),
   * and on every record while more than half the ring is pending; otherwise a 20 ms timer drains.
   */
  wakeupBytes?: number;
  /** Probe the host's shared TLS libraries (default true). */
  systemLibraries?: boolean;
  /** Where the BoringSSL locator caches its verdicts (default: /var/cache/agentsight/locator as root, else ~/.cache/agentsight/locator; used only when verified, see docs/boringssl-locator.md). */
  locatorCacheDir?: string;
  /** Selected pids that are about to exec what is really traced (record's gate): their current image is not scanned. */
  launching?: number[];
  /** Executables to inspect and probe before start() returns (e.g. the command record is about to run): no race with their first TLS call. */
  preloadExecutables?: string[];
  /** Periodic stats events while drops change (ms; 0 = only at the end). */
  statsIntervalMs?: number;
  /**
   * How uprobes are linked: 'multi' (uprobe_multi, Linux 6.6+: one link per file, fast to detach),
   * 'perf' (one perf-event link per function, older kernels), 'auto' (default: multi if the kernel has it).
   */
  uprobeLinks?: UprobeLinks;
  /**
   * How the socket under a TLS session is found: 'sock' (the sock_send_length/sock_recv_length
   * tracepoints, Linux 6.3+: only socket I/O is seen), 'syscall' (a sys_enter hook, which every
   * system call of every process passes through), 'auto' (default: sock if the kernel has it).
   */
  socketHook?: SocketHook;
  /** How the selection's own process tracer (when none is shared) hooks file opens (ProcessTracerOptions.fileHook; default 'auto'). */
  fileHook?: FileHook;
  /** A running process tracer to share the selection with (its events must be passed to observe()). */
  processTracer?: ProcessTracer;
  selfPid?: number;
  /** Say what is loaded and attached, how long each step takes, and what libbpf says (`--verbose`). */
  verbose?: boolean;
  /** Where to say it (the process tracer's when it has one, else made when verbose). */
  timeline?: Timeline;
  binding?: NativeBinding;
}

export interface ResolvedSslOptions {
  pid: number[];
  comm: string[];
  cgroup: string[];
  container: string[];
  cgroupRoot: string | null;
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
  uprobeLinks: UprobeLinks;
  socketHook: SocketHook;
  fileHook: FileHook;
  verbose: boolean;
  timeline: Timeline | null;
}

/** Validate and complete options; throws UsageError with what is wrong. No kernel needed. */
export function resolveSslOptions(o: SslTracerOptions = {}): ResolvedSslOptions {
  const port = [...(o.port ?? [])];
  for (const p of port) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new UsageError(`--port ${p} is not a TCP port`);
  const uid = o.uid ?? null;
  if (uid !== null && (!Number.isInteger(uid) || uid < 0 || uid > 0xfffffffe)) throw new UsageError(`--uid ${uid} is not a user id`);
  const maxBytes = o.maxBytes ?? SSL_MAX_CALL_BYTES;
  if (!Number.isInteger(maxBytes) || maxBytes < 0 || maxBytes > SSL_MAX_CALL_BYTES)
    throw new UsageError(`--max-bytes must be between 0 and ${SSL_MAX_CALL_BYTES} (4 MiB) (got ${maxBytes})`);
  const ringBytes = resolveRingBytes(o.ringBytes, 64 << 20, 'the TLS ring buffer');
  const wakeupBytes = o.wakeupBytes ?? 256 << 10;
  if (!Number.isInteger(wakeupBytes) || wakeupBytes < 0) throw new UsageError(`wakeup bytes must be >= 0 (got ${wakeupBytes})`);
  const statsIntervalMs = resolveStatsInterval(o.statsIntervalMs);
  for (const b of o.binaryPaths ?? []) if (typeof b !== 'string' || !b) throw new UsageError('--binary-path needs a file');
  const { comm, pid, cgroup, container } = resolveSelection(o);
  return {
    pid,
    comm,
    cgroup,
    container,
    cgroupRoot: o.cgroupRoot ?? null,
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
    uprobeLinks: resolveChoice('uprobeLinks', o.uprobeLinks, ['auto', 'multi', 'perf'], 'auto'),
    socketHook: resolveChoice('socketHook', o.socketHook, ['auto', 'sock', 'syscall'], 'auto'),
    fileHook: resolveChoice('fileHook', o.fileHook, ['auto', 'syscalls', 'raw'], 'auto'),
    verbose: o.verbose ?? false,
    timeline: o.timeline ?? o.processTracer?.options.timeline ?? (o.verbose ? new Timeline() : null),
  };
}

/** The const volatile configuration block of ssl.bpf.c. filterTracked: only processes in the shared "tracked" map. */
export function sslConfigBlock(o: ResolvedSslOptions, filterTracked: boolean): Buffer {
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

/** Which of these processes the first pass of discovery scans: not agentsight itself, nor one held at record's gate (it maps only the gate's shell; its command is inspected as such). */
export function scannedPids(o: ResolvedSslOptions, pids: readonly number[]): number[] {
  return pids.filter((p) => p !== o.selfPid && !o.launching.includes(p));
}

/** The expected attach type of a program linked with uprobe_multi. */
const BPF_TRACE_UPROBE_MULTI = 48;
/** The socket hook on the sock_send_length/sock_recv_length tracepoints. */
const SOCK_PROGRAMS = ['ssl_sock_send', 'ssl_sock_recv'];
/** The socket hook on sys_enter (kernels without those tracepoints). */
const SYSCALL_PROGRAMS = ['ssl_sys_enter'];
/** The uprobe programs (linked per file with uprobe_multi, or per function). */
const UPROBE_PROGRAMS = ['ssl_enter', 'ssl_ret', 'go_tls_enter', 'go_tls_ret'];

/** The socket hook's programs. */
export function socketProgramsFor(o: ResolvedSslOptions): string[] {
  const sockHook = o.socketHook === 'sock' || (o.socketHook === 'auto' && kernelHasSockTracepoints());
  return sockHook ? SOCK_PROGRAMS : SYSCALL_PROGRAMS;
}

/**
 * What ssl.bpf.o is set to before its load: its "tracked" map is the process object's; `filterTracked`: only
 * tracked processes are captured; `multi`: uprobes linked with uprobe_multi.
 */
export function sslRecipe(o: ResolvedSslOptions, filterTracked: boolean, socketPrograms: readonly string[], multi: boolean): LoadRecipe {
  return {
    object: 'ssl',
    rodata: { cfg: sslConfigBlock(o, filterTracked), ...commonRodata() },
    maxEntries: { ssl_rb: o.ringBytes },
    skip: [...SOCK_PROGRAMS, ...SYSCALL_PROGRAMS].filter((p) => !socketPrograms.includes(p)),
    attachTypes: multi ? Object.fromEntries(UPROBE_PROGRAMS.map((p) => [p, BPF_TRACE_UPROBE_MULTI])) : {},
    shared: { tracked: 'tracked' },
  };
}

/** The process tracer a TLS tracer starts to hold its selection (when it is given none): file opens only of the selected. */
export function selectionProcessOptions(o: ResolvedSslOptions): ProcessTracerOptions {
  const selected = isSelected(o);
  return {
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
    launching: o.launching,
  };
}
