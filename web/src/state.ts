/**
 * The page's model of the session: the snapshot the server sends first,
 * merged with its updates (entries replaced by seq or path). Views subscribe
 * and are redrawn at most every 30 ms.
 */
import type { UiCall, UiError, UiFile, UiInfo, UiProc, UiSnapshot, UiTotals, UiUpdate } from '../../lib/ui/types';

export interface Filters {
  pid: string;
  provider: string;
  model: string;
  text: string;
}

export class Model {
  info: UiInfo | null = null;
  totals: UiTotals | null = null;
  seq = 0;
  calls = new Map<number, UiCall>();
  procs = new Map<number, UiProc>();
  files = new Map<string, UiFile>();
  errors = new Map<number, UiError>();
  connected = false;
  version = 0;
  private listeners = new Set<() => void>();
  private timer = 0;

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    this.version++;
    if (this.timer) return;
    // a timer, not an animation frame: a page in a background tab keeps up too
    this.timer = window.setTimeout(() => {
      this.timer = 0;
      for (const fn of this.listeners) fn();
    }, 30);
  }

  snapshot(s: UiSnapshot): void {
    this.calls = new Map(s.calls.map((c) => [c.seq, c]));
    this.procs = new Map(s.procs.map((p) => [p.seq, p]));
    this.files = new Map(s.files.map((f) => [f.path, f]));
    this.errors = new Map(s.errors.map((e) => [e.seq, e]));
    this.info = s.info;
    this.totals = s.totals;
    this.seq = s.seq;
    this.changed();
  }

  update(u: UiUpdate): void {
    for (const c of u.calls) this.calls.set(c.seq, c);
    for (const p of u.procs) this.procs.set(p.seq, p);
    for (const f of u.files) this.files.set(f.path, f);
    for (const e of u.errors) this.errors.set(e.seq, e);
    this.info = u.info;
    this.totals = u.totals;
    this.seq = u.seq;
    this.changed();
  }

  setConnected(on: boolean): void {
    if (on === this.connected) return;
    this.connected = on;
    this.changed();
  }

  /** Depth of a process row in the tree (its ancestors that have rows). */
  depth(p: UiProc, limit = 16): number {
    let d = 0;
    let cur = p.parent !== null ? this.procs.get(p.parent) : undefined;
    while (cur && d < limit) {
      d++;
      cur = cur.parent !== null ? this.procs.get(cur.parent) : undefined;
    }
    return d;
  }

  /** Process rows linked to a tool call. */
  procsOf(callId: string, toolId: string | null): UiProc[] {
    return [...this.procs.values()].filter((p) => p.link && p.link.call === callId && (toolId === null || p.link.tool === toolId));
  }

  callById(id: string): UiCall | undefined {
    for (const c of this.calls.values()) if (c.id === id) return c;
    return undefined;
  }
}

const has = (hay: (string | number | null | undefined)[], needle: string) =>
  hay.some((h) => h !== null && h !== undefined && String(h).toLowerCase().includes(needle));

export function callMatches(c: UiCall, f: Filters): boolean {
  if (f.pid && String(c.pid) !== f.pid.trim()) return false;
  if (f.provider && c.provider !== f.provider) return false;
  if (f.model && c.model !== f.model) return false;
  const q = f.text.trim().toLowerCase();
  return !q || has([c.id, c.model, c.provider, c.answer, c.prompt, c.error, c.comm, ...c.tools.flatMap((t) => [t.name, t.command, t.id])], q);
}

/** `calls`: with a provider or model filter, the ids of the calls it keeps (their processes are kept). */
export function procMatches(p: UiProc, f: Filters, calls: Set<string> | null): boolean {
  if (f.pid && String(p.pid) !== f.pid.trim() && String(p.ppid) !== f.pid.trim()) return false;
  if (calls && !(p.link && calls.has(p.link.call))) return false;
  const q = f.text.trim().toLowerCase();
  return !q || has([p.cmd, p.comm, p.pid, p.link?.call, p.link?.tool, p.link?.name], q);
}

export function fileMatches(x: UiFile, f: Filters): boolean {
  if (f.pid && !x.pids.includes(Number(f.pid))) return false;
  const q = f.text.trim().toLowerCase();
  return !q || x.path.toLowerCase().includes(q) || (x.error ?? '').toLowerCase().includes(q);
}
