/**
 * Containers from cgroup paths, as the runtimes name them, and the resolver
 * that gives every event its container.id (per cgroup id, from /proc).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroup2Root, containerOfPath, ContainerResolver, procCgroupPath } from '../../lib/tracers/cgroup';
import { decodeProcessRecord } from '../../lib/kernel/process-decode';
import { KernelClock } from '../../lib/kernel/clock';
import { execRecord } from '../support/records';
import { HDR } from '../../lib/kernel/abi';
import { resolveSelection } from '../../lib/tracers/rules';

const ID = 'a'.repeat(8) + '0123456789abcdef'.repeat(3) + 'b'.repeat(8);
const UID = '3f6c8c53-0e41-4b38-9c34-1f0a3e4b5c6d';

describe('the container a cgroup path names', () => {
  const cases: [string, { id: string; runtime: string | null; podUid: string | null } | null][] = [
    [`/system.slice/docker-${ID}.scope`, { id: ID, runtime: 'docker', podUid: null }],
    [`/docker/${ID}`, { id: ID, runtime: 'docker', podUid: null }],
    [`/system.slice/docker-${ID}.scope/init.scope`, { id: ID, runtime: 'docker', podUid: null }],
    [
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-${ID}.scope`,
      { id: ID, runtime: 'containerd', podUid: UID },
    ],
    [`/kubepods/burstable/pod${UID}/${ID}`, { id: ID, runtime: null, podUid: UID }],
    [`/kubepods.slice/kubepods-pod${UID.replace(/-/g, '_')}.slice/crio-${ID}.scope`, { id: ID, runtime: 'cri-o', podUid: UID }],
    [`/machine.slice/libpod-${ID}.scope/container`, { id: ID, runtime: 'podman', podUid: null }],
    [`/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`, { id: ID, runtime: 'podman', podUid: null }],
    // as seen from inside a cgroup namespace
    [
      `/../../kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-${ID}.scope`,
      { id: ID, runtime: 'containerd', podUid: UID },
    ],
    // the monitor next to a container is not the container
    [`/machine.slice/libpod-conmon-${ID}.scope`, null],
    ['/user.slice/user-1000.slice/session-3.scope', null],
    ['/', null],
    [`/system.slice/docker-${ID.slice(1)}.scope`, null],
  ];
  for (const [p, want] of cases) it(p.length > 70 ? `${p.slice(0, 70)}…` : p, () => expect(containerOfPath(p)).toEqual(want));
});

describe('ContainerResolver', () => {
  function procDir(entries: Record<number, string>): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-proc-'));
    for (const [pid, cg] of Object.entries(entries)) {
      fs.mkdirSync(path.join(d, pid));
      fs.writeFileSync(path.join(d, pid, 'cgroup'), `12:pids:/\n0::${cg}\n`);
    }
    return d;
  }

  it('decodes the container of a cgroup id from a process of it, once per cgroup id', () => {
    const proc = procDir({ 10: `/system.slice/docker-${ID}.scope`, 11: '/user.slice', 12: `/kubepods/burstable/pod${UID}/${ID}` });
    try {
      const r = new ContainerResolver({ root: null, procRoot: proc });
      expect(r.lookup(77, 10)).toEqual({ 'container.id': ID });
      // remembered per cgroup id: no /proc read for the next process of that cgroup
      expect(r.lookup(77, 999)).toEqual({ 'container.id': ID });
      expect(r.lookup(78, 11)).toBeNull();
      expect(r.lookup(79, 12)).toEqual({ 'container.id': ID, 'k8s.pod.uid': UID });
      expect(r.stats.proc_reads).toBe(3);
      // a process gone before it could be asked: not remembered, a later one of that cgroup tells
      expect(r.lookup(80, 12345)).toBeNull();
      expect(r.lookup(80, 10)).toEqual({ 'container.id': ID });
      expect(procCgroupPath(11, proc)).toBe('/user.slice');
    } finally {
      fs.rmSync(proc, { recursive: true, force: true });
    }
  });

  it('events carry container.id from the cgroup id of their record', () => {
    const proc = procDir({ 4242: `/system.slice/docker-${ID}.scope` });
    try {
      const r = new ContainerResolver({ root: null, procRoot: proc });
      const rec = execRecord({ ts: 5e9, pid: 4242, comm: 'python3' }, 1, '/usr/bin/python3', ['python3', 'agent.py']);
      rec.writeBigUInt64LE(1234n, HDR.off.cgroup_id);
      const clock = new KernelClock({ clocks: () => ({ realtimeNs: 1_700_000_000_000_000_000n, monotonicNs: 0n }) });
      const e = decodeProcessRecord(rec, 0, rec.length, clock, r);
      expect(e?.['container.id']).toBe(ID);
      expect(decodeProcessRecord(rec, 0, rec.length, clock)?.['container.id']).toBeUndefined();
    } finally {
      fs.rmSync(proc, { recursive: true, force: true });
    }
  });

  it('finds the cgroup2 mount in mountinfo (hybrid hierarchies too)', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-mi-'));
    try {
      const mi = path.join(d, 'mountinfo');
      fs.writeFileSync(
        mi,
        '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw\n32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n',
      );
      expect(cgroup2Root(undefined, mi)).toBe('/sys/fs/cgroup/unified');
      fs.writeFileSync(mi, '29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n');
      expect(cgroup2Root(undefined, mi)).toBe('/sys/fs/cgroup');
      fs.writeFileSync(mi, '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw\n');
      expect(cgroup2Root(undefined, mi)).toBeNull();
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('selections are checked before anything starts', () => {
    expect(resolveSelection({ cgroup: ['/a'], container: ['abcd1234'] })).toMatchObject({ cgroup: ['/a'], container: ['abcd1234'] });
    expect(() => resolveSelection({ container: ['xyz'] })).toThrow(/4 to 64 hexadecimal digits/);
    expect(() => resolveSelection({ cgroup: [''] })).toThrow(/--cgroup needs a cgroup path/);
    expect(() => resolveSelection({ cgroup: Array.from({ length: 17 }, (_, i) => `/c${i}`) })).toThrow(/at most 16/);
  });
});
