/**
 * Reading /proc: the processes already running when a tracer starts, so
 * --pid/--comm selections include them and their existing descendants.
 */
import * as fs from 'node:fs';
import { TRACK_REASON } from '../kernel/abi';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** The process's comm (as in /proc/PID/stat: the thread group leader's name). */
  comm: string;
}

/** Parse /proc/PID/stat text; comm may contain spaces and parentheses. */
export function parseStat(text: string): ProcInfo | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number.parseInt(text.slice(0, open).trim(), 10);
  const rest = text.slice(close + 2).split(' ');
  const ppid = Number.parseInt(rest[1] ?? '', 10);
  if (!Number.isFinite(pid) || !Number.isFinite(ppid)) return null;
  return { pid, ppid, comm: text.slice(open + 1, close) };
}

export function readProc(pid: number, procRoot = '/proc'): ProcInfo | null {
  try {
    return parseStat(fs.readFileSync(`${procRoot}/${pid}/stat`, 'utf8'));
  } catch {
    return null; // gone meanwhile
  }
}

export function listProcesses(procRoot = '/proc'): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name), procRoot);
    if (p) out.push(p);
  }
  return out;
}

export interface Selection {
  comm: readonly string[];
  pid: readonly number[];
}

export interface Selected {
  /** the --pid or --comm match this process descends from (itself for a match) */
  root: number;
  /** a comm match, a pid match, or a descendant of a match (found in /proc: seeded) */
  reason: typeof TRACK_REASON.COMM | typeof TRACK_REASON.PID | typeof TRACK_REASON.SEEDED;
}

/** Does a process name match a --comm filter (prefix match on the 15-char comm)? */
export function commMatches(comm: string, filters: readonly string[]): boolean {
  return filters.some((f) => f.length > 0 && comm.startsWith(f.slice(0, 15)));
}

/**
 * Which running processes a selection covers: --pid matches, --comm matches,
 * and every descendant of those. `exclude` (the tracer itself) and its
 * descendants are never selected by --comm.
 */
export function selectProcesses(procs: readonly ProcInfo[], sel: Selection, exclude?: number): Map<number, Selected> {
  const out = new Map<number, Selected>();
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  const roots: [number, Selected['reason']][] = [];
  const pidSet = new Set(sel.pid);
  for (const p of procs) {
    if (pidSet.has(p.pid)) roots.push([p.pid, TRACK_REASON.PID]);
    else if (p.pid !== exclude && commMatches(p.comm, sel.comm)) roots.push([p.pid, TRACK_REASON.COMM]);
  }
  for (const [root, reason] of roots) {
    if (out.has(root)) continue;
    out.set(root, { root, reason });
    const stack = [...(children.get(root) ?? [])];
    while (stack.length) {
      const pid = stack.pop() as number;
      if (out.has(pid) || pid === exclude) continue;
      out.set(pid, { root, reason: TRACK_REASON.SEEDED });
      stack.push(...(children.get(pid) ?? []));
    }
  }
  return out;
}
