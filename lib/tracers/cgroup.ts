/**
 * Cgroups and containers: where the cgroup v2 hierarchy is mounted, a cgroup's
 * id (the inode of its directory, what bpf_get_current_cgroup_id() returns),
 * the selection by --cgroup PATH and --container ID, and the container a
 * cgroup path names.
 *
 * Container runtimes put each container in a cgroup named after its id:
 * docker (`docker-<id>.scope` with the systemd driver, `/docker/<id>` with
 * cgroupfs), containerd and the Kubernetes CRI (`cri-containerd-<id>.scope`,
 * `/kubepods/<qos>/pod<uid>/<id>`), CRI-O (`crio-<id>.scope`), podman
 * (`libpod-<id>.scope`). Kubernetes puts the pod's uid in a parent
 * (`kubepods-<qos>-pod<uid>.slice`, `pod<uid>`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_CGROUP_FILTERS } from '../kernel/abi';
import { UsageError } from '../core/errors';

/** What an event says about the container its process runs in (OpenTelemetry's names). */
export interface ContainerRef {
  'container.id': string;
  'k8s.pod.uid'?: string;
}

export interface ContainerInfo {
  id: string;
  /** docker, containerd, cri-o, podman; null when the path does not say */
  runtime: string | null;
  podUid: string | null;
}

const CGROUP2_SUPER_MAGIC = 0x63677270;
const HEX64 = /^[0-9a-f]{64}$/;
const SCOPE = /^(docker|cri-containerd|crio|libpod)-([0-9a-f]{64})\.scope$/;
const POD = /^(?:kubepods(?:-[a-z]+)?-)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;
const RUNTIME: Record<string, string> = { docker: 'docker', 'cri-containerd': 'containerd', crio: 'cri-o', libpod: 'podman' };

/** The container a cgroup path names (the innermost one), or null. */
export function containerOfPath(cgroupPath: string): ContainerInfo | null {
  const parts = cgroupPath.split('/').filter((p) => p && p !== '..');
  let podUid: string | null = null;
  for (const p of parts) {
    const m = POD.exec(p);
    if (m) podUid = m[1].replace(/_/g, '-');
  }
  for (let i = parts.length - 1; i >= 0; i--) {
    const p = parts[i];
    const s = SCOPE.exec(p);
    if (s) return { id: s[2], runtime: RUNTIME[s[1]], podUid };
    if (HEX64.test(p)) {
      const parent = parts[i - 1] ?? '';
      const runtime = parent === 'docker' ? 'docker' : parent.startsWith('libpod') ? 'podman' : null;
      return { id: p, runtime, podUid };
    }
  }
  return null;
}

/** What an event carries for a container. */
export function containerRef(c: ContainerInfo | null): ContainerRef | null {
  if (!c) return null;
  return c.podUid ? { 'container.id': c.id, 'k8s.pod.uid': c.podUid } : { 'container.id': c.id };
}

/**
 * Where the cgroup v2 hierarchy is mounted: `root` when given (e.g. the
 * host's, mounted into a container), else the first cgroup2 mount of this
 * mount namespace (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid
 * systems). Null when there is none.
 */
export function cgroup2Root(root?: string, mountinfo = '/proc/self/mountinfo'): string | null {
  if (root) return isCgroup2(root) ? path.resolve(root) : null;
  let text = '';
  try {
    text = fs.readFileSync(mountinfo, 'utf8');
  } catch {
    return null;
  }
  const mounts: string[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    if (fstype !== 'cgroup2') continue;
    const mountPoint = line.slice(0, sep).split(' ')[4];
    if (mountPoint) mounts.push(mountPoint.replace(/\\040/g, ' '));
  }
  mounts.sort((a, b) => a.length - b.length);
  return mounts.find((m) => m === '/sys/fs/cgroup') ?? mounts.find((m) => m.startsWith('/sys/fs/cgroup')) ?? mounts[0] ?? null;
}

function isCgroup2(dir: string): boolean {
  try {
    return fs.statfsSync(dir).type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/** A cgroup's id: the inode number of its directory. */
export function cgroupId(dir: string): number {
  return Number(fs.statSync(dir, { bigint: true }).ino);
}

/** A selected cgroup: its directory, its path in the hierarchy, its id. */
export interface SelectedCgroup {
  dir: string;
  path: string;
  id: number;
  /** the container it was chosen for (--container) */
  container?: string;
}

function noCgroup2(what: string): UsageError {
  return new UsageError(`${what} needs the cgroup v2 hierarchy (a cgroup2 mount, e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified); none is mounted here`);
}

/** A --cgroup argument: a directory of the cgroup2 mount, or a path in the hierarchy as /proc/PID/cgroup shows it. */
export function resolveCgroupPath(arg: string, root: string): SelectedCgroup {
  const rel = arg.startsWith(`${root}/`) || arg === root ? path.relative(root, arg) : arg.replace(/^\/+/, '');
  const dir = path.join(root, rel);
  if (path.relative(root, dir).startsWith('..')) throw new UsageError(`--cgroup ${arg}: not inside the cgroup hierarchy mounted at ${root}`);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new UsageError(`--cgroup ${arg}: no such cgroup (${dir} does not exist)`);
  }
  if (!st.isDirectory() || !fs.existsSync(path.join(dir, 'cgroup.procs'))) throw new UsageError(`--cgroup ${arg}: ${dir} is not a cgroup`);
  return { dir, path: `/${rel}`, id: cgroupId(dir) };
}

/** Every cgroup directory under `dir` (itself first), breadth first, at most `limit`. */
export function walkCgroups(dir: string, limit = 200_000): string[] {
  const out = [dir];
  for (let i = 0; i < out.length && out.length < limit; i++) {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(out[i], { withFileTypes: true });
    } catch {
      continue; // removed meanwhile
    }
    for (const e of entries) if (e.isDirectory()) out.push(path.join(out[i], e.name));
  }
  return out.slice(0, limit);
}

/**
 * A --container argument: the cgroup of the container whose id starts with
 * it (at least 4 hex digits; one container only), found in the hierarchy by
 * the names the runtimes give their cgroups.
 */
export function resolveContainer(idPrefix: string, root: string): SelectedCgroup {
  const want = idPrefix.toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(want)) throw new UsageError(`--container ${idPrefix}: a container id is 4 to 64 hexadecimal digits`);
  const found = new Map<string, string>();
  for (const dir of walkCgroups(root)) {
    const c = containerOfPath(`/${path.relative(root, dir)}`);
    // only cgroups named after a container, not those below them
    if (!c || !c.id.startsWith(want) || !path.basename(dir).includes(c.id)) continue;
    // the container's own cgroup: the shallowest one named after it
    const have = found.get(c.id);
    if (!have || have.length > dir.length) found.set(c.id, dir);
  }
  if (found.size === 0)
    throw new UsageError(
      `--container ${idPrefix}: no container with this id in the cgroup hierarchy at ${root} (docker, containerd, CRI-O and podman name their cgroups after the container)`,
    );
  if (found.size > 1) throw new UsageError(`--container ${idPrefix} is ambiguous: ${[...found.keys()].map((k) => k.slice(0, 12)).join(', ')}`);
  const [[id, dir]] = [...found];
  return { dir, path: `/${path.relative(root, dir)}`, id: cgroupId(dir), container: id };
}

/** --cgroup and --container, resolved to cgroups (no more than the kernel's map holds). */
export function resolveCgroupSelection(o: { cgroup?: readonly string[]; container?: readonly string[]; cgroupRoot?: string }): SelectedCgroup[] {
  const cgroups = o.cgroup ?? [];
  const containers = o.container ?? [];
  if (cgroups.length === 0 && containers.length === 0) return [];
  const root = cgroup2Root(o.cgroupRoot);
  if (!root)
    throw o.cgroupRoot ? new UsageError(`--cgroup-root ${o.cgroupRoot} is not a cgroup2 mount`) : noCgroup2(cgroups.length ? '--cgroup' : '--container');
  const out = [...cgroups.map((c) => resolveCgroupPath(c, root)), ...containers.map((c) => resolveContainer(c, root))];
  if (out.length > MAX_CGROUP_FILTERS) throw new UsageError(`at most ${MAX_CGROUP_FILTERS} --cgroup/--container selections are supported`);
  return out;
}

/** The pids in a cgroup and every cgroup below it. */
export function cgroupPids(dir: string): number[] {
  const out: number[] = [];
  for (const d of walkCgroups(dir)) {
    let text = '';
    try {
      text = fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8');
    } catch {
      continue;
    }
    for (const l of text.split('\n')) if (l) out.push(Number(l));
  }
  return out;
}

/** A process's cgroup v2 path, from /proc/PID/cgroup (the `0::` line), or null. */
export function procCgroupPath(pid: number, procRoot = '/proc'): string | null {
  let text: string;
  try {
    text = fs.readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) if (line.startsWith('0::')) return line.slice(3);
  return null;
}

export interface ContainerResolverOptions {
  /** The cgroup2 mount (default: found in /proc/self/mountinfo). */
  root?: string | null;
  procRoot?: string;
  /** Cgroup ids remembered (default 4096). */
  maxEntries?: number;
  /** Least time between two walks of the hierarchy for ids /proc could not tell (ms, default 2000). */
  rescanMs?: number;
}

/**
 * The container of a record's cgroup id, decoded from the cgroup's path and
 * remembered per cgroup id. The path comes from the process's /proc/PID/cgroup,
 * checked against the id when the hierarchy is visible here; for a process
 * already gone, from a walk of the hierarchy (at most every rescanMs).
 */
export class ContainerResolver {
  private readonly cache = new Map<number, ContainerRef | null>();
  private readonly root: string | null;
  private readonly procRoot: string;
  private readonly max: number;
  private readonly rescanMs: number;
  private lastScan = -Infinity;
  private byId: Map<number, string> | null = null;
  readonly stats = { lookups: 0, proc_reads: 0, scans: 0, unknown: 0 };

  constructor(o: ContainerResolverOptions = {}) {
    this.root = o.root === undefined ? cgroup2Root() : o.root;
    this.procRoot = o.procRoot ?? '/proc';
    this.max = o.maxEntries ?? 4096;
    this.rescanMs = o.rescanMs ?? 2000;
  }

  /** The container of cgroup `id`, where process `pid` ran (null: not in a container, or not known). */
  lookup(id: number, pid: number): ContainerRef | null {
    const hit = this.cache.get(id);
    if (hit !== undefined) return hit;
    if (id === 0) return null;
    this.stats.lookups++;
    const p = this.pathOf(id, pid);
    if (p === undefined) {
      this.stats.unknown++;
      return null; // not remembered: a later process of that cgroup may tell
    }
    const ref = containerRef(containerOfPath(p));
    if (this.cache.size >= this.max) this.cache.delete(this.cache.keys().next().value as number);
    this.cache.set(id, ref);
    return ref;
  }

  private pathOf(id: number, pid: number): string | undefined {
    this.stats.proc_reads++;
    const p = procCgroupPath(pid, this.procRoot);
    if (p !== null) {
      if (!this.root || p.startsWith('/..')) return p; // the hierarchy is not ours to check against: trust /proc
      try {
        if (cgroupId(path.join(this.root, p)) === id) return p;
      } catch {
        /* removed meanwhile */
      }
    }
    if (!this.root) return undefined;
    // a process already gone most often ran where we run (record's command, our child): no walk for that
    const own = procCgroupPath(process.pid, this.procRoot);
    if (own !== null && !own.startsWith('/..')) {
      try {
        if (cgroupId(path.join(this.root, own)) === id) return own;
      } catch {
        /* removed meanwhile */
      }
    }
    const known = this.byId?.get(id);
    if (known !== undefined) return known;
    const now = Date.now();
    if (now - this.lastScan < this.rescanMs) return undefined;
    this.lastScan = now;
    this.stats.scans++;
    const m = new Map<number, string>();
    for (const dir of walkCgroups(this.root, 100_000)) {
      try {
        m.set(cgroupId(dir), `/${path.relative(this.root, dir)}`);
      } catch {
        /* removed meanwhile */
      }
    }
    this.byId = m;
    return m.get(id);
  }
}
