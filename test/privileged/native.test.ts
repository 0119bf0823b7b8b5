/**
 * The native core on the real kernel: errors that cross into JS, and a JS
 * exception thrown inside the ring-buffer callback (which runs from libuv)
 * reaching Node's uncaught-exception path instead of aborting the process.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { expect, it } from 'vitest';
import { getBinding } from '../../lib/kernel/binding';
import { frames, PROCESS_CONFIG, readHeader, REC } from '../../lib/kernel/abi';
import { kernelHasRdonlyCast } from '../../lib/kernel/features';
import { cgroup2Root } from '../../lib/tracers/cgroup';
import { describePrivileged } from '../support/privileged';
import { heldBy, waitUnloaded } from '../support/bpftool';
import { run } from '../support/spawn';
import { inspectBinary, systemTlsLibraries } from '../../lib/tracers/ssl/targets';

describePrivileged('native core', () => {
  it('a JS exception thrown in the ring-buffer callback goes to uncaughtException, the process does not abort', async () => {
    const addon = path.resolve(__dirname, '../../build/Release/agentsight.node');
    const script = `
      const b = require(${JSON.stringify(addon)});
      const o = new b.BpfObject('process');
      const cfg = Buffer.alloc(${PROCESS_CONFIG.size});
      cfg.writeUInt32LE(0, ${PROCESS_CONFIG.off.mode});
      cfg.writeUInt32LE(1, ${PROCESS_CONFIG.off.emit});
      cfg.writeUInt32LE(256, ${PROCESS_CONFIG.off.argv_max});
      o.setRodata('cfg', cfg);
      o.setAutoload('handle_sys_enter', false);
      o.setAutoload('handle_sys_exit', false);
      o.load();
      o.attach('handle_exec');
      let thrown = 0;
      process.on('uncaughtException', (err) => {
        if (String(err.message) !== 'boom from the callback') { console.error('unexpected', err); process.exit(3); }
        if (++thrown === 1) { r.close(); o.close(); console.log('caught'); setTimeout(() => process.exit(0), 50); }
      });
      const r = new b.RingReader(o, 'process_rb', () => { throw new Error('boom from the callback'); });
      require('child_process').exec('true');
      setTimeout(() => { console.error('no batch arrived'); process.exit(4); }, 5000);
    `;
    const res = await run(process.execPath, ['-e', script]);
    expect({ code: res.code, signal: res.signal, out: res.stdout.toString().trim(), err: res.stderr }).toEqual({
      code: 0,
      signal: null,
      out: 'caught',
      err: '',
    });
  });

  it('loadAsync(boost): the loading thread alone runs less nice during the load, and is put back after', async () => {
    const addon = path.resolve(__dirname, '../../build/Release/agentsight.node');
    const script = `
      const fs = require('fs');
      // at nice 0 whatever this test was started at (a nicer process is not boosted, by design); threads made later inherit it
      require('os').setPriority(0);
      const b = require(${JSON.stringify(addon)});
      const niceOf = () => fs.readdirSync('/proc/self/task').map((t) => {
        const st = fs.readFileSync('/proc/self/task/' + t + '/stat', 'utf8');
        return [Number(t), Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[16])];
      });
      const o = new b.BpfObject('process');
      const cfg = Buffer.alloc(${PROCESS_CONFIG.size});
      cfg.writeUInt32LE(1, ${PROCESS_CONFIG.off.emit});
      o.setRodata('cfg', cfg);
      const errors = [];
      for (const bad of [21, -1, 2.5, NaN, 'x']) try { o.loadAsync(bad); } catch (e) { errors.push(e.name); }
      const lowest = new Map();
      let loading = true;
      const sample = () => { for (const [tid, n] of niceOf()) lowest.set(tid, Math.min(n, lowest.get(tid) ?? 99)); if (loading) setImmediate(sample); };
      const p = o.loadAsync(10);
      sample();
      p.then(() => {
        loading = false;
        // threads made before setPriority (V8's) may be nicer: only a value below 0 is a boost
        const boosted = [...lowest].filter(([, n]) => n < 0);
        const now = new Map(niceOf());
        console.log(JSON.stringify({
          errors,
          main: lowest.get(process.pid),
          boosted: boosted.map(([tid, n]) => [tid === process.pid ? 'main' : 'other', n]),
          after: boosted.map(([tid]) => now.get(tid)),
        }));
        o.close();
      });
    `;
    const res = await run(process.execPath, ['-e', script]);
    expect(res.stderr).toBe('');
    // one other thread (the libuv worker that loaded) ran 10 less nice; the JS thread did not; all are back at 0
    expect(JSON.parse(res.stdout.toString())).toEqual({
      errors: ['RangeError', 'RangeError', 'RangeError', 'RangeError', 'TypeError'],
      main: 0,
      boosted: [['other', -10]],
      after: [0],
    });
  });

  it('configuration errors are typed: wrong sizes, unknown names, order of operations', () => {
    const b = getBinding();
    const o = new b.BpfObject('process');
    try {
      expect(() => o.setRodata('cfg', Buffer.alloc(3))).toThrow(new RegExp(`is ${PROCESS_CONFIG.size} bytes in the eBPF object but 3 were given`));
      expect(() => o.setRodata('nope', Buffer.alloc(4))).toThrow(/no const volatile variable 'nope'/);
      expect(() => o.attach('handle_exec')).toThrow(/load\(\) the object before attaching/);
      expect(() => o.mapInfo('nope')).toThrow(expect.objectContaining({ op: 'map_info', code: 'ENOENT' }));
      expect(() => new b.BpfObject('nope')).toThrow(/no embedded eBPF object named 'nope'/);
    } finally {
      o.close();
    }
    expect(o.closed).toBe(true);
    expect(() => o.load()).toThrow(/is closed/);
  });
  it('detachAllAsync() takes every link off on a worker thread, released through pins in a bpffs mounted nowhere: the process holds none, the kernel frees them, no mount is left, the maps stay readable', async () => {
    const b = getBinding();
    const libssl = systemTlsLibraries().find((f) => /libssl\.so/.test(f));
    if (!libssl) throw new Error('libssl is not installed (the setup installs it)');
    const [target] = await inspectBinary(libssl);
    const o = new b.BpfObject('ssl');
    try {
      for (const p of ['ssl_enter', 'ssl_ret', 'go_tls_enter', 'go_tls_ret']) o.setExpectedAttachType(p, 48);
      for (const p of ['ssl_sys_enter', 'ssl_sock_send', 'ssl_sock_recv']) o.setAutoload(p, false);
      o.load();
      const offsets = target.functions.map((f) => f.offset);
      o.attachUprobeMulti('ssl_enter', { path: libssl, offsets });
      o.attachUprobeMulti('ssl_ret', { path: libssl, offsets, retprobe: true });
      o.attachUprobeMulti('go_tls_enter', { path: libssl, offsets: offsets.slice(0, 1) });
      const ids = o.kernelIds().links;
      expect(ids).toHaveLength(3);
      const linkExists = (id: number) => run('bpftool', ['link', 'show', 'id', String(id)]).then((r) => r.code === 0);
      expect(await Promise.all(ids.map(linkExists))).toEqual([true, true, true]);
      const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
      expect(await o.detachAllAsync!()).toBe(3);
      expect(o.linkCount()).toBe(0);
      expect(heldBy(process.pid).links.filter((id) => ids.includes(id))).toEqual([]);
      // the kernel frees a link released from a pin from its work queue, soon after
      expect(await waitUnloaded({ programs: [], links: ids })).toEqual({ programs: [], links: [] });
      expect(await Promise.all(ids.map(linkExists))).toEqual([false, false, false]);
      expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).toBe(mounts);
      // the maps are still there to read (the FINAL stats of a stopped tracer)
      expect(o.mapKeys('conns')).toEqual([]);
    } finally {
      o.close();
    }
    expect(o.closed).toBe(true);
    expect(() => o.detachAllAsync!()).toThrow(/is closed/);
  });
  it("the records' header (pid, tid, uid, cgroup, comm) is the same read through the task cast to untrusted (Linux 6.2+) as through the trusted pointer", async () => {
    const root = cgroup2Root();
    expect(root, 'a cgroup2 mount').not.toBeNull();
    const cg = path.join(root as string, `agentsight-hdr-${process.pid}`);
    fs.mkdirSync(cg);
    const b = getBinding();
    /** The headers of the EXEC records of a shell that joins `cg` and execs setpriv, which execs sleep as uid/gid 65534. */
    const headerOf = async (cast: 0 | 1) => {
      const o = new b.BpfObject('process');
      const cfg = Buffer.alloc(PROCESS_CONFIG.size);
      cfg.writeUInt32LE(0, PROCESS_CONFIG.off.mode);
      cfg.writeUInt32LE(1, PROCESS_CONFIG.off.emit);
      cfg.writeUInt32LE(256, PROCESS_CONFIG.off.argv_max);
      o.setRodata('cfg', cfg);
      o.setRodata('cast_task', Buffer.from([cast]));
      for (const { name } of o.programs()) if (name !== 'handle_exec') o.setAutoload(name, false);
      const records: Buffer[] = [];
      let r: { close(): void } | null = null;
      try {
        o.load();
        o.attach('handle_exec');
        r = new b.RingReader(o, 'process_rb', (batch) => {
          if (batch) for (const [at, len] of frames(batch)) records.push(Buffer.from(batch.subarray(at, at + len)));
        });
        const sh = await run('/bin/sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec setpriv --reuid=65534 --regid=65534 --clear-groups /bin/sleep 0.05`]);
        expect(sh.code).toBe(0);
        const execsOf = () => records.map((rec) => readHeader(rec, 0)).filter((h) => h.type === REC.EXEC && h.pid === sh.pid);
        // the reader drains records submitted without a wake-up every 20 ms
        for (let i = 0; i < 100 && execsOf().length < 3; i++) await new Promise((res) => setTimeout(res, 20));
        const execs = execsOf();
        return { pid: sh.pid as number, headers: execs.map((h) => ({ pid: h.pid, tid: h.tid, uid: h.uid, cgroup_id: h.cgroup_id, comm: h.comm })) };
      } finally {
        r?.close();
        o.close();
      }
    };
    try {
      const casts: (0 | 1)[] = kernelHasRdonlyCast() ? [0, 1] : [0];
      const idOf = (dir: string) => Number(fs.statSync(dir, { bigint: true }).ino);
      // the shell starts in this process's cgroup
      const ours = /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/';
      const want = (pid: number) => [
        { pid, tid: pid, uid: 0, cgroup_id: idOf(path.join(root as string, ours)), comm: 'sh' },
        { pid, tid: pid, uid: 0, cgroup_id: idOf(cg), comm: 'setpriv' },
        { pid, tid: pid, uid: 65534, cgroup_id: idOf(cg), comm: 'sleep' },
      ];
      for (const cast of casts) {
        const { pid, headers } = await headerOf(cast);
        expect({ cast, headers }).toEqual({ cast, headers: want(pid) });
      }
    } finally {
      fs.rmdirSync(cg);
    }
  });
});
