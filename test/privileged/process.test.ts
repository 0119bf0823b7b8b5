import { execSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { Event } from '../../lib/core/event';
import { ProcessTracer } from '../../lib/tracers/process-tracer';
import { loadedIds, waitUnloaded } from '../support/bpftool';
import { Collector } from '../support/collect';
import { describePrivileged } from '../support/privileged';
import { execed, gatedShell, uniqueShell } from '../support/procs';

const PY = '/usr/bin/python3';
const ev = (name: string) => (e: Event) => e.source === 'process' && e.data.event === name;

/** Release a gated shell and collect the tracer's events until the shell has exited (status 0); the tracer is then stopped. */
async function tracedShell(tracer: ProcessTracer, sh: ReturnType<typeof gatedShell>): Promise<Collector> {
  const col = new Collector(tracer.events());
  sh.release();
  expect(await sh.exited).toBe(0);
  await col.waitFor((e) => ev('EXIT')(e) && e.pid === sh.pid, 10_000, 'EXIT of the shell');
  tracer.stop();
  await col.done;
  return col;
}

describePrivileged('process tracer on the real kernel', () => {
  const shells: { dispose(): void }[] = [];
  afterAll(() => shells.forEach((s) => s.dispose()));

  it('--pid: a tracked shell and its descendants, with pid/ppid chain, argv, exit codes, durations, file opens', async () => {
    const sh = gatedShell(
      '/bin/sh',
      [
        '(exit 3)',
        'sleep 0.3',
        'sh -c "exit 5"',
        'cd /usr/share && cat doc/../doc/agentsight-missing-file 2>/dev/null',
        `${PY} -c "import os; d=os.open('/usr', os.O_RDONLY); os.open('share', os.O_RDONLY, dir_fd=d)"`,
        'exit 0',
      ].join('; '),
    );
    const tracer = await ProcessTracer.start({ pid: [sh.pid as number], statsIntervalMs: 0 });
    const col = new Collector(tracer.events());
    const untracked = spawnSync('/bin/true'); // started by the test, not by the shell
    sh.release();
    expect(await sh.exited).toBe(0);
    await col.waitFor((e) => ev('EXIT')(e) && e.pid === sh.pid, 10_000, 'EXIT of the shell');
    tracer.stop();
    await col.done;
    expect(col.error).toBeNull();

    const execs = col.of(ev('EXEC'));
    const exits = col.of(ev('EXIT'));
    const byPid = new Map(execs.map((e) => [e.pid, e]));

    // (exit 3): a forked subshell that never execs
    const fork = col.of(ev('FORK')).find((e) => e.data.ppid === sh.pid && !byPid.has(e.pid));
    expect(fork).toBeDefined();
    expect(exits.find((e) => e.pid === fork?.pid)?.data.exit_code).toBe(3);

    const sleep = execs.find((e) => e.data.argv[0] === 'sleep');
    expect(sleep?.data).toMatchObject({ ppid: sh.pid, argv: ['sleep', '0.3'], filename: expect.stringMatching(/sleep$/), tracked: true });
    const sleepExit = exits.find((e) => e.pid === sleep?.pid);
    expect(sleepExit?.data.exit_code).toBe(0);
    expect(sleepExit?.data.duration_ms).toBeGreaterThanOrEqual(290);
    expect(sleepExit?.data.duration_ms).toBeLessThan(3000);

    const five = execs.find((e) => e.data.argv.join(' ') === 'sh -c exit 5');
    expect(five?.data.ppid).toBe(sh.pid);
    expect(exits.find((e) => e.pid === five?.pid)?.data).toMatchObject({ exit_code: 5, signal: null });

    const cat = execs.find((e) => e.data.argv[0] === 'cat');
    const missing = col.of(ev('FILE_OPEN')).find((e) => e.pid === cat?.pid && String(e.data.filepath).includes('agentsight-missing-file'));
    expect(missing?.data).toMatchObject({
      filepath: '/usr/share/doc/agentsight-missing-file',
      path_arg: 'doc/../doc/agentsight-missing-file',
      error: 'ENOENT',
      flags: 'O_RDONLY',
    });

    const py = execs.find((e) => e.data.filename === PY);
    const dirfdOpen = col.of(ev('FILE_OPEN')).find((e) => e.pid === py?.pid && e.data.path_arg === 'share');
    expect(dirfdOpen?.data.filepath).toBe('/usr/share');
    expect(dirfdOpen?.data.fd).toBeGreaterThan(2);

    // the shell was started before the tracer: seeded, and its own exit is reported
    expect(exits.find((e) => e.pid === sh.pid)?.data.exit_code).toBe(0);
    // every reported process descends from the shell
    const parents = new Map<number, number>();
    for (const e of col.events) if (e.source === 'process' && typeof e.data.ppid === 'number') parents.set(e.pid, e.data.ppid);
    for (const e of col.of((x) => x.source === 'process')) {
      let p = e.pid;
      for (let i = 0; i < 10 && p !== sh.pid; i++) p = parents.get(p) ?? -1;
      expect({ pid: e.pid, comm: e.comm, descends: p === sh.pid }).toEqual({ pid: e.pid, comm: e.comm, descends: true });
    }
    expect(col.events.some((e) => e.pid === untracked.pid)).toBe(false);
    const final = col.events.at(-1);
    expect(final?.data).toMatchObject({ event: 'FINAL', tracer: 'process', kernel: {} });
  });

  it('--pid of a held process (launching, as record gates its command): tracked without a scan, its descendants followed', async () => {
    const sh = gatedShell('/bin/sh', 'sh -c "exit 4"; /bin/true; exit 0');
    const tracer = await ProcessTracer.start({ pid: [sh.pid as number], launching: [sh.pid as number], statsIntervalMs: 0 });
    // the held shell alone went into the selection
    expect(tracer.stats().seeded).toBe(1);
    expect(tracer.trackedPids()).toEqual([sh.pid]);
    const col = await tracedShell(tracer, sh);
    expect(col.error).toBeNull();
    const child = col.of(ev('EXEC')).find((e) => e.data.argv.join(' ') === 'sh -c exit 4');
    expect(child?.data).toMatchObject({ ppid: sh.pid, tracked: true });
    expect(col.of(ev('EXIT')).find((e) => e.pid === child?.pid)?.data.exit_code).toBe(4);
    expect(col.of(ev('EXEC')).some((e) => e.data.argv[0] === '/bin/true' && e.data.ppid === sh.pid)).toBe(true);

    // taken at its word: the process table is not read, so a child that already runs is not found
    const parent = spawn('/bin/sh', ['-c', 'sleep 30 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const kid = Number((await once(parent.stdout, 'data'))[0].toString());
    try {
      const held = await ProcessTracer.start({ pid: [parent.pid as number], launching: [parent.pid as number], statsIntervalMs: 0 });
      const scanned = await ProcessTracer.start({ pid: [parent.pid as number], statsIntervalMs: 0 });
      try {
        expect(held.trackedPids()).toEqual([parent.pid]);
        expect(scanned.trackedPids().sort()).toEqual([parent.pid, kid].sort());
      } finally {
        held.close();
        scanned.close();
      }
    } finally {
      parent.kill('SIGKILL');
      process.kill(kid, 'SIGKILL');
    }
  });

  it.each(['syscalls', 'raw'] as const)('file opens hooked through %s: openat, openat2, open and creat, relative paths made absolute', async (hook) => {
    const dir = mkdtempSync(join(tmpdir(), 'as-open-'));
    const script = [
      'import ctypes, os',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'class How(ctypes.Structure): _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]',
      'how = How(0o100 | 1, 0o600, 0)',
      `os.chdir(${JSON.stringify(dir)})`,
      'os.close(os.open("via-openat", os.O_CREAT | os.O_WRONLY, 0o600))',
      'assert libc.syscall(437, -100, b"via-openat2", ctypes.byref(how), 24) >= 0, ctypes.get_errno()',
      'assert libc.syscall(2, b"via-open", 0o100 | 1, 0o600) >= 0',
      'assert libc.syscall(85, b"via-creat", 0o600) >= 0',
    ].join('\n');
    const sh = gatedShell('/bin/sh', `${PY} -c '${script}'`);
    try {
      const tracer = await ProcessTracer.start({ pid: [sh.pid as number], statsIntervalMs: 0, fileHook: hook, fileDedupMs: 0 });
      expect(tracer.stats().file_hook).toBe(hook);
      const col = await tracedShell(tracer, sh);
      const opens = col.of((e) => ev('FILE_OPEN')(e) && String(e.data.path_arg).startsWith('via-'));
      expect(opens.map((e) => [e.data.syscall, e.data.path_arg, e.data.filepath, e.data.error ?? null])).toEqual([
        ['openat', 'via-openat', join(dir, 'via-openat'), null],
        ['openat2', 'via-openat2', join(dir, 'via-openat2'), null],
        ['open', 'via-open', join(dir, 'via-open'), null],
        ['creat', 'via-creat', join(dir, 'via-creat'), null],
      ]);
      for (const e of opens) expect(e.data.flags).toContain('O_CREAT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--comm: selects running (seeded) and new processes by name, and their children; mode 2 hides the rest', async () => {
    const shell = uniqueShell();
    shells.push(shell);
    const before = gatedShell(shell.path, 'cat /etc/hostname > /dev/null; exit 7');
    await execed(before.pid as number, shell.name);
    const tracer = await ProcessTracer.start({ comm: [shell.name], statsIntervalMs: 0 });
    expect(tracer.trackedPids()).toContain(before.pid);
    const col = new Collector(tracer.events());
    const after = gatedShell(shell.path, 'exit 2');
    const noise = spawnSync('/bin/echo', ['not selected']);
    before.release();
    after.release();
    expect(await before.exited).toBe(7);
    expect(await after.exited).toBe(2);
    await col.waitFor((e) => ev('EXIT')(e) && e.pid === after.pid, 10_000, 'EXIT of the late shell');
    await col.waitFor((e) => ev('EXIT')(e) && e.pid === before.pid, 10_000, 'EXIT of the early shell');
    tracer.stop();
    await col.done;

    const cat = col.of(ev('EXEC')).find((e) => e.data.argv[0] === 'cat');
    expect(cat?.data.ppid).toBe(before.pid);
    expect(cat?.data.argv).toEqual(['cat', '/etc/hostname']);
    expect(col.of(ev('EXIT')).find((e) => e.pid === before.pid)?.data.exit_code).toBe(7);
    // the late one is selected by its exec: EXEC with our name, then EXIT 2
    expect(col.of(ev('EXEC')).find((e) => e.pid === after.pid)?.comm).toBe(shell.name);
    expect(col.of(ev('EXIT')).find((e) => e.pid === after.pid)?.data.exit_code).toBe(2);
    expect(col.events.some((e) => e.pid === noise.pid)).toBe(false);
    const pids = new Set(col.of((e) => e.source === 'process').map((e) => e.pid));
    expect([...pids].every((p) => p === before.pid || p === after.pid || p === cat?.pid)).toBe(true);
  });

  it('mode 1 reports every process but file opens only of selected ones; --duration hides short-lived EXITs', async () => {
    const shell = uniqueShell();
    shells.push(shell);
    const tracer = await ProcessTracer.start({ comm: [shell.name], mode: 1, durationMs: 200, statsIntervalMs: 0 });
    const col = new Collector(tracer.events());
    const sel = gatedShell(shell.path, 'cat /etc/hostname >/dev/null; sleep 0.3');
    const other = spawnSync('/bin/cat', ['/etc/hostname']);
    sel.release();
    await sel.exited;
    await col.waitFor((e) => ev('EXIT')(e) && e.pid === sel.pid, 10_000, 'EXIT of the selected shell');
    tracer.stop();
    await col.done;
    expect(col.of(ev('EXEC')).some((e) => e.pid === other.pid)).toBe(true);
    expect(col.of(ev('FILE_OPEN')).some((e) => e.pid === other.pid)).toBe(false);
    const selCat = col.of(ev('EXEC')).find((e) => e.data.argv[0] === 'cat' && e.data.ppid === sel.pid);
    expect(col.of(ev('FILE_OPEN')).some((e) => e.pid === selCat?.pid && e.data.filepath === '/etc/hostname')).toBe(true);
    // cat lives < 200 ms: no EXIT; sleep 0.3 lives longer: EXIT
    expect(col.of(ev('EXIT')).some((e) => e.pid === other.pid || e.pid === selCat?.pid)).toBe(false);
    expect(col.of(ev('EXIT')).some((e) => e.comm === 'sleep' && e.data.ppid === sel.pid)).toBe(true);
  });

  it('names that are not UTF-8: exact bytes in *_b64, and two such files stay two', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentsight-bytes-'));
    try {
      // x\377 and x\376 (not UTF-8) both show as x\ufffd; cat opens the first twice
      const a = '"$(printf \'x\\377\')"';
      const b = '"$(printf \'x\\376\')"';
      const sh = gatedShell('/bin/sh', `cd ${dir} && : > ${a} && : > ${b} && cat ${a} ${b} ${a} > /dev/null`);
      const tracer = await ProcessTracer.start({ pid: [sh.pid as number], statsIntervalMs: 0 });
      const col = await tracedShell(tracer, sh);
      const x = (last: number) => Buffer.concat([Buffer.from(join(dir, 'x')), Buffer.from([last])]);
      const cat = col.of(ev('EXEC')).find((e) => e.data.argv[0] === 'cat');
      expect(cat?.data.argv).toEqual(['cat', 'x\ufffd', 'x\ufffd', 'x\ufffd']);
      expect(cat?.data.argv_b64.map((v: string) => Buffer.from(v, 'base64'))).toEqual([
        Buffer.from('cat'),
        Buffer.from('x\xff', 'latin1'),
        Buffer.from('x\xfe', 'latin1'),
        Buffer.from('x\xff', 'latin1'),
      ]);
      const opens = col.of((e) => ev('FILE_OPEN')(e) && e.pid === cat?.pid && typeof e.data.filepath_b64 === 'string');
      const seen = opens.map((e) => [Buffer.from(e.data.filepath_b64, 'base64'), e.data.count, e.data.repeat ?? false]);
      expect(seen).toEqual([
        [x(0xff), 1, false],
        [x(0xfe), 1, false],
        [x(0xff), 1, true], // the second open of x\377, folded and reported at exit: not merged into x\376
      ]);
      for (const e of opens) expect(e.data.filepath).toBe(join(dir, 'x\ufffd'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a tiny ring buffer flooded by an exec storm counts its drops', async () => {
    const tracer = await ProcessTracer.start({ mode: 0, ringBytes: 4096, statsIntervalMs: 0 });
    const col = new Collector(tracer.events());
    // execSync blocks this event loop: nothing drains the 4 KiB ring while 300 processes exec
    execSync('for i in $(seq 300); do /bin/true; done');
    await new Promise((r) => setTimeout(r, 100));
    tracer.stop();
    await col.done;
    const final = col.events.at(-1);
    expect(final?.data.event).toBe('FINAL');
    expect(final?.data.kernel.ringbuf_full_process).toBeGreaterThan(0);
    // what was delivered plus what was counted as lost accounts for at least the storm
    const delivered = col.of(ev('EXEC')).filter((e) => e.comm === 'true').length;
    expect(delivered).toBeLessThan(300);
    expect(delivered + final?.data.kernel.ringbuf_full_process).toBeGreaterThanOrEqual(300);
  });

  it('close() leaves no program or link of ours loaded', async () => {
    // without a selection and outside mode 0 no file open can be reported: the syscall hooks are not even loaded
    const light = await ProcessTracer.start({ statsIntervalMs: 0 });
    expect(light.object.kernelIds().programs.length).toBe(3);
    light.close();
    const tracer = await ProcessTracer.start({ statsIntervalMs: 0, mode: 0 });
    const ids = tracer.object.kernelIds();
    // 3 lifecycle programs, and file opens: 5 programs on 8 syscall tracepoints (tracefs is mounted for that when it is not)
    expect(tracer.stats().file_hook).toBe('syscalls');
    expect({ programs: ids.programs.length, links: ids.links.length }).toEqual({ programs: 8, links: 11 });
    const progs = loadedIds('prog');
    const links = loadedIds('link');
    for (const id of ids.programs) expect(progs.has(id)).toBe(true);
    for (const id of ids.links) expect(links.has(id)).toBe(true);
    tracer.close();
    expect(await waitUnloaded(ids)).toEqual({ programs: [], links: [] });
  });
});
