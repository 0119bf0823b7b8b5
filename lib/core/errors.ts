/**
 * Typed errors. Native errors arrive as plain Errors with op/errno/code/log
 * (native/errors.cc); classifyNativeError() turns them into these classes with
 * advice a user can act on.
 */

export class AgentsightError extends Error {
  /** Operation that failed: "open", "load", "attach", "attach_uprobe", "map_update", ... */
  op: string;
  /** Positive errno, 0 when not from a system call. */
  errno: number;
  /** Symbolic errno ("EPERM") or an AGENTSIGHT_* code. */
  code: string;
  /** Tail of libbpf's log (includes the verifier log on a rejected program). */
  log?: string;
  constructor(message: string, opts: { op?: string; errno?: number; code?: string; log?: string; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = new.target.name;
    this.op = opts.op ?? 'agentsight';
    this.errno = opts.errno ?? 0;
    this.code = opts.code ?? 'EAGENTSIGHT';
    if (opts.log) this.log = opts.log;
  }
}

/** Bad options or arguments: the message says which and why. */
export class UsageError extends AgentsightError {
  constructor(message: string) {
    super(message, { op: 'usage', code: 'EUSAGE' });
  }
}

/** Not allowed: not root / missing capabilities / kernel lockdown. */
export class PermissionError extends AgentsightError {}

/**
 * A file or directory agentsight would read or write is not one it can
 * trust: a path component someone else owns or can write to, a symbolic link
 * someone else made, a file with other links. The message says which and why.
 */
export class UntrustedPathError extends AgentsightError {
  /** The path that was refused. */
  path: string;
  constructor(message: string, path: string) {
    super(message, { op: 'trust', code: 'EUNTRUSTED' });
    this.path = path;
  }
}

/** The kernel or machine lacks something needed (BTF, a program type, a helper, a library). */
export class NotSupportedError extends AgentsightError {
  /** What is missing, in a few words ("kernel BTF", "bpf_loop helper", ...). */
  missing: string;
  constructor(message: string, missing: string, opts: ConstructorParameters<typeof AgentsightError>[1] = {}) {
    super(message, opts);
    this.missing = missing;
  }
}

/** The verifier rejected a program; `log` holds the end of its log. */
export class VerifierError extends AgentsightError {}

/** Any other failure of a bpf() operation. */
export class BpfError extends AgentsightError {}

interface NativeErrorShape {
  message: string;
  op?: string;
  errno?: number;
  code?: string;
  log?: string;
}

function isNativeError(e: unknown): e is Error & NativeErrorShape {
  return e instanceof Error && typeof (e as NativeErrorShape).op === 'string';
}

function logTail(log: string | undefined, lines = 25): string {
  if (!log) return '';
  const all = log.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/** Turn an error thrown by the native addon into a typed error with advice. */
export function classifyNativeError(e: unknown): unknown {
  if (!isNativeError(e) || e instanceof AgentsightError) return e;
  const base = { op: e.op, errno: e.errno ?? 0, code: e.code ?? 'EAGENTSIGHT', log: e.log, cause: e };
  const log = e.log ?? '';
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

  if (/failed to find valid kernel BTF|vmlinux BTF is not found|failed to find kernel BTF/i.test(log)) {
    return new NotSupportedError(
      `${e.message}\nThis kernel exposes no BTF (/sys/kernel/btf/vmlinux), which CO-RE eBPF needs: ` +
        'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (the default on current Debian, Ubuntu, Fedora).',
      'kernel BTF',
      base,
    );
  }
  if (e.op === 'load' && e.code === 'EAGAIN') {
    return new BpfError(
      `${e.message}\nThe kernel's verifier was interrupted by signals again and again while it checked the program ` +
        '(e.g. a profiler sampling this process with SIGPROF); run it without them.',
      base,
    );
  }
  if (e.code === 'EPERM' || e.code === 'EACCES') {
    if (/-- BEGIN PROG LOAD LOG --/.test(log) && e.code === 'EACCES') {
      return new VerifierError(`${e.message}\nThe kernel verifier rejected the program. End of its log:\n${logTail(log)}`, base);
    }
    if (!isRoot) {
      return new PermissionError(
        `${e.message}\nagentsight loads eBPF programs: run it as root (sudo) or give it CAP_BPF, CAP_PERFMON ` +
          'and CAP_SYS_RESOURCE (e.g. sudo setcap cap_bpf,cap_perfmon,cap_sys_resource+ep $(which node)).',
        base,
      );
    }
    return new PermissionError(
      `${e.message}\nRunning as root but the kernel still said no: kernel lockdown or a security module ` +
        '(e.g. /sys/kernel/security/lockdown, SELinux/AppArmor, kernel.unprivileged_bpf_disabled) forbids this operation.',
      base,
    );
  }
  if (/-- BEGIN PROG LOAD LOG --/.test(log) || (e.op === 'load' && (e.code === 'EINVAL' || e.code === 'E2BIG'))) {
    const tail = logTail(log);
    if (/unknown func bpf_loop|invalid func unknown#181/.test(log)) {
      return new NotSupportedError(`${e.message}\nThis kernel lacks the bpf_loop helper (Linux 5.17+ needed).`, 'bpf_loop helper', base);
    }
    return new VerifierError(`${e.message}\nThe kernel verifier rejected the program. End of its log:\n${tail}`, base);
  }
  if (e.op === 'attach' && (e.code === 'ENOENT' || e.code === 'EINVAL' || e.code === 'ESRCH')) {
    return new NotSupportedError(
      `${e.message}\nThe kernel does not offer this attach point (BTF-enabled tracepoints need Linux 5.5+).` + (log ? `\n${logTail(log, 8)}` : ''),
      'attach point',
      base,
    );
  }
  return new BpfError(log ? `${e.message}\n${logTail(log, 8)}` : e.message, base);
}

/** Run fn, rethrowing native errors as typed ones. */
export function native<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw classifyNativeError(err);
  }
}
