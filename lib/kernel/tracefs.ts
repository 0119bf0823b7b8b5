/**
 * tracefs, where the ids of the per-syscall tracepoints (syscalls/sys_enter_*)
 * are read when they are attached. Many machines have it mounted at
 * /sys/kernel/tracing; a fresh one without systemd's automount does not.
 * Then, as root, agentsight mounts it there for the time it takes to attach
 * (as trace-cmd does) and unmounts it again: the attached tracepoints hold
 * their own references, and the machine is left as it was found.
 */
import * as fs from 'node:fs';
import type { NativeBinding } from './binding';

/** Where tracefs is looked for, in libbpf's order of preference. */
export const TRACEFS_DIRS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

export interface Tracefs {
  /** The directory the tracepoints were found in. */
  readonly dir: string;
  /** Mounted by agentsight for this attach (and unmounted by release()). */
  readonly mounted: boolean;
  /** Unmount what was mounted here (idempotent; a no-op for a tracefs that was there). */
  release(): void;
}

export interface TracefsResult {
  tracefs: Tracefs | null;
  /** Why there is none, for people. */
  reason?: string;
}

/** Does this tracefs directory list every one of these tracepoints ("category/name")? */
export function hasTracepoints(dir: string, tracepoints: readonly string[]): boolean {
  return tracepoints.every((tp) => fs.existsSync(`${dir}/events/${tp}/id`));
}

/**
 * A tracefs that lists these tracepoints: one already mounted, else one
 * mounted now at the first of `dirs` (needs CAP_SYS_ADMIN). Null, with the
 * reason, when neither is possible or the kernel has no such tracepoints.
 */
export function openTracefs(
  binding: Pick<NativeBinding, 'mountTracefs' | 'unmount'>,
  tracepoints: readonly string[],
  dirs: readonly string[] = TRACEFS_DIRS,
): TracefsResult {
  for (const dir of dirs) if (hasTracepoints(dir, tracepoints)) return { tracefs: { dir, mounted: false, release: () => undefined } };
  const dir = dirs[0];
  if (fs.existsSync(`${dir}/events`))
    return { tracefs: null, reason: `the tracefs at ${dir} has no ${tracepoints[0]} tracepoint (kernel without syscall tracepoints)` };
  try {
    binding.mountTracefs(dir);
  } catch (err) {
    return { tracefs: null, reason: `tracefs is not mounted and cannot be mounted at ${dir}: ${(err as Error).message}` };
  }
  let mounted = true;
  const release = () => {
    if (!mounted) return;
    mounted = false;
    try {
      binding.unmount(dir);
    } catch {
      /* already gone */
    }
  };
  if (!hasTracepoints(dir, tracepoints)) {
    release();
    return { tracefs: null, reason: `the kernel's tracefs has no ${tracepoints[0]} tracepoint (kernel without syscall tracepoints)` };
  }
  return { tracefs: { dir, mounted: true, release } };
}
