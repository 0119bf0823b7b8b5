/**
 * What a process tracer is asked to do, before anything touches the kernel:
 * the options, their validation and defaults (resolveProcessOptions), the
 * const volatile configuration block of bpf/process.bpf.c (processConfigBlock)
 * and what its object is set to before the load (processRecipe).
 */
import { COMM_LEN, PROCESS_CONFIG, PROCESS_MODE } from '../../kernel/abi';
import type { NativeBinding } from '../../kernel/binding';
import { commonRodata } from '../../kernel/features';
import type { LoadRecipe } from '../../kernel/recipe';
import { Timeline } from '../../core/timeline';
import { UsageError } from '../../core/errors';
import { isSelected, resolveChoice, resolveRingBytes, resolveSelection, resolveStatsInterval } from '../rules';

export type FileHook = 'auto' | 'syscalls' | 'raw';

/** File-open programs on sys_enter/sys_exit (every system call runs them). */
const RAW_OPEN_PROGRAMS = ['handle_sys_enter', 'handle_sys_exit'];
/** File-open programs on the per-syscall tracepoints, with the tracepoints each is attached to. */
export const SYSCALL_OPEN_PROGRAMS: Record<string, string[]> = {
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

export interface ProcessTracerOptions {
  /** Process names to select (prefix match on the kernel's 15-character comm). */
  comm?: string[];
  /** Process ids to select, with all their descendants. */
  pid?: number[];
  /** Cgroups whose processes (and those of every cgroup below) are selected: directories of the cgroup2 mount or paths as /proc/PID/cgroup shows them. */
  cgroup?: string[];
  /** Containers (ids or unique prefixes) whose processes are selected, through the cgroups their runtime names after them. */
  container?: string[];
  /** Where the cgroup v2 hierarchy is mounted (default: found in /proc/self/mountinfo), e.g. the host's inside a container. */
  cgroupRoot?: string;
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
   * Selected pids held before their first instruction (record's gate): they have no descendants
   * yet, so a selection of only such pids is tracked without scanning the process table.
   */
  launching?: number[];
  /**
   * How file opens are hooked: 'syscalls' (the per-syscall tracepoints
   * syscalls/sys_{enter,exit}_{openat,openat2,open,creat}: only open calls pay,
   * needs tracefs while they are attached: mounted for that when it is not,
   * see lib/kernel/tracefs.ts), 'raw' (sys_enter/sys_exit: every system call
   * of every process pays a little more, no tracefs needed), 'auto' (default:
   * syscalls where tracefs can be had, else raw).
   */
  fileHook?: FileHook;
  /** Where tracefs is looked for and mounted (default: the binding's, else /sys/kernel/tracing, /sys/kernel/debug/tracing). */
  tracefsDirs?: string[];
  /** Say what is loaded and attached, how long each step takes, and what libbpf says (`--verbose`). */
  verbose?: boolean;
  /** Where to say it (shared between tracers; made when verbose and none is given). */
  timeline?: Timeline;
  binding?: NativeBinding;
}

export type ResolvedProcessOptions = Required<Omit<ProcessTracerOptions, 'binding' | 'timeline' | 'cgroupRoot'>> & {
  binding?: NativeBinding;
  timeline: Timeline | null;
  cgroupRoot: string | null;
};

export const ARGV_MAX_LIMIT = 16384;

/** Validate and complete options; throws UsageError with what is wrong. No kernel needed. */
export function resolveProcessOptions(o: ProcessTracerOptions = {}): ResolvedProcessOptions {
  const { comm, pid, cgroup, container } = resolveSelection(o);
  const selected = isSelected({ comm, pid, cgroup, container });
  const mode = o.mode ?? (selected ? PROCESS_MODE.TRACKED : PROCESS_MODE.TRACKED_FILES);
  if (![0, 1, 2].includes(mode)) throw new UsageError(`--mode must be 0, 1 or 2 (got ${mode})`);
  if (mode === PROCESS_MODE.TRACKED && !selected)
    throw new UsageError('--mode 2 reports only selected processes: give --comm, --pid, --cgroup or --container (or use --mode 0 or 1)');
  const durationMs = o.durationMs ?? 0;
  if (!(durationMs >= 0)) throw new UsageError(`--duration must be >= 0 ms (got ${durationMs})`);
  const argvMax = o.argvMax ?? 4096;
  if (!Number.isInteger(argvMax) || argvMax < 0 || argvMax > ARGV_MAX_LIMIT)
    throw new UsageError(`--argv-max must be between 0 and ${ARGV_MAX_LIMIT} bytes (got ${argvMax})`);
  const ringBytes = resolveRingBytes(o.ringBytes, 8 << 20, 'the ring buffer');
  const fileDedupMs = o.fileDedupMs ?? 1000;
  if (!(fileDedupMs >= 0)) throw new UsageError(`--file-dedup-ms must be >= 0 (got ${fileDedupMs})`);
  const fileHook = resolveChoice('fileHook', o.fileHook, ['auto', 'syscalls', 'raw'], 'auto');
  const statsIntervalMs = resolveStatsInterval(o.statsIntervalMs);
  return {
    comm,
    pid,
    cgroup,
    container,
    cgroupRoot: o.cgroupRoot ?? null,
    mode: mode as 0 | 1 | 2,
    durationMs,
    fileEvents: o.fileEvents ?? true,
    fileDedupMs,
    argvMax,
    ringBytes,
    statsIntervalMs,
    emit: o.emit ?? true,
    selfPid: o.selfPid ?? process.pid,
    launching: [...(o.launching ?? [])],
    fileHook,
    tracefsDirs: o.tracefsDirs ? [...o.tracefsDirs] : [],
    binding: o.binding,
    verbose: o.verbose ?? false,
    timeline: o.timeline ?? (o.verbose ? new Timeline() : null),
  };
}

/** The const volatile configuration block of process.bpf.c; `cgroups`: how many entries the "sel_cgroups" map gets. */
export function processConfigBlock(o: ResolvedProcessOptions, cgroups = o.cgroup.length + o.container.length): Buffer {
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
  b.writeUInt32LE(cgroups, off.n_cgroup);
  return b;
}

/**
 * How file opens are to be hooked, before tracefs is looked at: not at all when none are reported
 * (mode 0 reports every process's; otherwise only selected processes' are), else as asked.
 */
export function fileHookWanted(o: ResolvedProcessOptions): FileHook | 'none' {
  return !o.fileEvents || !o.emit || (o.mode !== 0 && !isSelected(o)) ? 'none' : o.fileHook;
}

/** The hook of file opens: 'auto' is the per-syscall tracepoints when tracefs lists them (or could be mounted to), else sys_enter/sys_exit. */
export function fileHookWith(wanted: FileHook | 'none', tracefs: boolean): 'syscalls' | 'raw' | 'none' {
  return wanted === 'auto' ? (tracefs ? 'syscalls' : 'raw') : wanted;
}

/** What process.bpf.o is set to before its load, with file opens hooked by `hook`, for `cgroups` selected cgroups. */
export function processRecipe(o: ResolvedProcessOptions, hook: 'syscalls' | 'raw' | 'none', cgroups: number): LoadRecipe {
  return {
    object: 'process',
    rodata: { cfg: processConfigBlock(o, cgroups), ...commonRodata() },
    maxEntries: { process_rb: o.ringBytes },
    skip: [...(hook !== 'raw' ? RAW_OPEN_PROGRAMS : []), ...(hook !== 'syscalls' ? Object.keys(SYSCALL_OPEN_PROGRAMS) : [])],
    attachTypes: {},
    shared: {},
  };
}
