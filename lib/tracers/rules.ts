/**
 * Option rules shared by the tracers' specs (process/spec.ts, ssl/spec.ts):
 * pure checks, no kernel needed. Each throws a UsageError saying what is wrong.
 */
import { COMM_LEN, MAX_CGROUP_FILTERS, MAX_COMM_FILTERS } from '../kernel/abi';
import { UsageError } from '../core/errors';

export interface SelectionSpec {
  comm: string[];
  pid: number[];
  /** cgroups selected with all cgroups below them (paths as given; resolved when the tracer starts) */
  cgroup: string[];
  /** containers selected by id (resolved to their cgroups when the tracer starts) */
  container: string[];
}

/** What a selection can be given as. */
export interface SelectionInput {
  comm?: readonly string[];
  pid?: readonly number[];
  cgroup?: readonly string[];
  container?: readonly string[];
}

/** --comm, --pid, --cgroup and --container, checked (the kernel keeps 15 bytes of a name; at most MAX_COMM_FILTERS names). */
export function resolveSelection(o: SelectionInput): SelectionSpec {
  const comm = [...(o.comm ?? [])];
  const pid = [...(o.pid ?? [])];
  const cgroup = [...(o.cgroup ?? [])];
  const container = [...(o.container ?? [])];
  for (const c of cgroup) if (typeof c !== 'string' || c.length === 0) throw new UsageError('--cgroup needs a cgroup path');
  for (const c of container)
    if (typeof c !== 'string' || !/^[0-9a-fA-F]{4,64}$/.test(c)) throw new UsageError(`--container ${String(c)}: a container id is 4 to 64 hexadecimal digits`);
  if (cgroup.length + container.length > MAX_CGROUP_FILTERS)
    throw new UsageError(`at most ${MAX_CGROUP_FILTERS} --cgroup/--container selections are supported`);
  for (const c of comm) {
    if (typeof c !== 'string' || c.length === 0) throw new UsageError('--comm needs a non-empty process name');
    if (Buffer.byteLength(c) > COMM_LEN - 1)
      throw new UsageError(
        `--comm "${c}" is longer than ${COMM_LEN - 1} bytes; the kernel keeps only the first ${COMM_LEN - 1} ` +
          `characters of a process name, so use "${Buffer.from(c)
            .subarray(0, COMM_LEN - 1)
            .toString()}"`,
      );
  }
  if (comm.length > MAX_COMM_FILTERS) throw new UsageError(`at most ${MAX_COMM_FILTERS} --comm filters are supported`);
  for (const p of pid) {
    if (!Number.isInteger(p) || p <= 0 || p > 0x7fffffff) throw new UsageError(`--pid ${p} is not a process id`);
  }
  return { comm, pid, cgroup, container };
}

/** Does the selection name any process? */
export function isSelected(s: SelectionInput): boolean {
  return (s.comm?.length ?? 0) > 0 || (s.pid?.length ?? 0) > 0 || (s.cgroup?.length ?? 0) > 0 || (s.container?.length ?? 0) > 0;
}

/** A key that is equal for two selections of the same processes. */
export function selectionKey(s: SelectionInput): string {
  const sorted = (a: readonly unknown[] | undefined) => [...(a ?? [])].map(String).sort();
  return JSON.stringify([sorted(s.comm), sorted(s.pid), sorted(s.cgroup), sorted(s.container)]);
}

/** A ring buffer size: a power of two of at least a page. `what` names the ring in the message. */
export function resolveRingBytes(value: number | undefined, fallback: number, what: string): number {
  const n = value ?? fallback;
  if (!(n > 0 && (n & (n - 1)) === 0) || n < 4096) throw new UsageError(`${what} size must be a power of two of at least 4096 bytes (got ${n})`);
  return n;
}

/** --stats-interval in ms (0: only the final stats). */
export function resolveStatsInterval(value: number | undefined): number {
  const ms = value ?? 10_000;
  if (!(ms >= 0)) throw new UsageError(`--stats-interval must be >= 0 (got ${ms})`);
  return ms;
}

/** One of the allowed values of a string option, or its default. */
export function resolveChoice<T extends string>(name: string, value: T | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) {
    const names = allowed.map((a) => `'${a}'`);
    throw new UsageError(`${name} must be ${names.slice(0, -1).join(', ')} or ${names[names.length - 1]} (got ${String(value)})`);
  }
  return value;
}
