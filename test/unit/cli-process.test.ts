import { afterEach, describe, expect, it } from 'vitest';
import { PROCESS_CONFIG } from '../../lib/kernel/abi';
import { setBinding } from '../../lib/kernel/binding';
import { main } from '../../lib/cli/main';
import { ProcessTracer } from '../../lib/tracers/process-tracer';
import { BpfError } from '../../lib/core/errors';
import { captureIo, until } from '../support/io';
import { fakeBinding, FakeObject } from '../support/fake-binding';
import { execRecord, exitRecord, openRecord } from '../support/records';

afterEach(() => setBinding(null));

describe('agentsight process (with an injected binding)', () => {
  it('configures the kernel side from the options, prints NDJSON, stops cleanly on SIGINT', async () => {
    const fb = fakeBinding();
    setBinding(fb);
    const cap = captureIo();
    const run = main(['process', '--comm', 'python', '--duration', '5', '--format', 'json'], cap.io);
    await until(() => fb.readers.length === 1, 5000, 'ring reader');
    const obj = fb.objects[0];
    const cfg = obj.rodata.get('cfg') as Buffer;
    expect(cfg.length).toBe(PROCESS_CONFIG.size);
    expect(cfg.readUInt32LE(PROCESS_CONFIG.off.mode)).toBe(2);
    expect(cfg.readUInt32LE(PROCESS_CONFIG.off.self_pid)).toBe(process.pid);
    expect(cfg.readBigUInt64LE(PROCESS_CONFIG.off.min_duration_ns)).toBe(5_000_000n);
    expect(cfg.readUInt32LE(PROCESS_CONFIG.off.n_comm)).toBe(1);
    expect(cfg.toString('utf8', PROCESS_CONFIG.off.comm, PROCESS_CONFIG.off.comm + 6)).toBe('python');
    // file opens through the per-syscall tracepoints: the fake kernel's tracefs was not mounted, so it was mounted for the attach and unmounted after
    expect(obj.attached).toEqual([
      'handle_exec',
      'handle_fork',
      'handle_exit',
      'handle_enter_openat@syscalls/sys_enter_openat',
      'handle_enter_openat2@syscalls/sys_enter_openat2',
      'handle_enter_open@syscalls/sys_enter_open',
      'handle_enter_creat@syscalls/sys_enter_creat',
      'handle_exit_open@syscalls/sys_exit_openat',
      'handle_exit_open@syscalls/sys_exit_openat2',
      'handle_exit_open@syscalls/sys_exit_open',
      'handle_exit_open@syscalls/sys_exit_creat',
    ]);
    expect({ mounts: fb.tracefs.mounts, unmounts: fb.tracefs.unmounts, mounted: fb.tracefs.mounted }).toEqual({ mounts: 1, unmounts: 1, mounted: false });

    fb.readers[0].push([
      execRecord({ ts: 2e9, pid: 42, comm: 'python3' }, 1, '/usr/bin/python3', ['python3', '-c', 'pass']),
      openRecord({ ts: 2.1e9, pid: 42, comm: 'python3' }, 'x.txt', '/home/u', 3),
      exitRecord({ ts: 3e9, pid: 42, comm: 'python3' }, 1, 0, 1e9),
    ]);
    await until(() => cap.out().split('\n').length > 3, 5000, 'output');
    process.emit('SIGINT');
    expect(await run).toBe(0);
    const lines = cap.lines();
    expect(lines.map((l) => l.data.event)).toEqual(['EXEC', 'FILE_OPEN', 'EXIT', 'FINAL']);
    expect(lines[0]).toMatchObject({ source: 'process', pid: 42, comm: 'python3', data: { argv: ['python3', '-c', 'pass'] } });
    expect(lines[1].data.filepath).toBe('/home/u/x.txt');
    expect(lines[3]).toMatchObject({ source: 'stats', data: { tracer: 'process', records: 3, events: 3, file_hook: 'syscalls', tracefs: 'mounted' } });
    expect(cap.err()).toContain('nothing lost');
    expect(obj.closed).toBe(true);
  });

  it('accepts the pass-through form and merges it', async () => {
    const fb = fakeBinding();
    setBinding(fb);
    const cap = captureIo();
    const run = main(['process', '--comm', 'node', '--quiet', '--', '--comm', 'python', '--mode', '1', '--no-file-events'], cap.io);
    await until(() => fb.readers.length === 1);
    const cfg = fb.objects[0].rodata.get('cfg') as Buffer;
    expect(cfg.readUInt32LE(PROCESS_CONFIG.off.n_comm)).toBe(2);
    expect(cfg.readUInt32LE(PROCESS_CONFIG.off.mode)).toBe(1);
    expect(cfg.readUInt32LE(PROCESS_CONFIG.off.file_events)).toBe(0);
    expect(fb.objects[0].autoload.get('handle_sys_enter')).toBe(false);
    expect(fb.objects[0].autoload.get('handle_exit_open')).toBe(false);
    process.emit('SIGTERM');
    expect(await run).toBe(0);
    expect(cap.out()).toBe('');
  });

  it('file opens: per-syscall tracepoints from a mounted tracefs, one mounted for the attach, else sys_enter/sys_exit', async () => {
    const start = async (fb: ReturnType<typeof fakeBinding>) => {
      const t = await ProcessTracer.start({ comm: ['x'], binding: fb, statsIntervalMs: 0 });
      const obj = fb.objects.find((o) => o.name === 'process') as FakeObject;
      const s = t.stats();
      await t.close();
      return {
        hook: s.file_hook,
        tracefs: s.tracefs,
        reason: s.tracefs_reason,
        raw: obj.attached.includes('handle_sys_enter'),
        tracepoints: obj.attached.filter((a) => a.includes('@syscalls/')).length,
      };
    };
    // already mounted: used as it is, left mounted
    const present = fakeBinding();
    present.tracefs.mount(present.tracefs.dir);
    expect(await start(present)).toEqual({ hook: 'syscalls', tracefs: 'present', reason: undefined, raw: false, tracepoints: 8 });
    expect({ mounts: present.tracefs.mounts, unmounts: present.tracefs.unmounts, mounted: present.tracefs.mounted }).toEqual({
      mounts: 1,
      unmounts: 0,
      mounted: true,
    });
    // not mounted: mounted for the attach, then unmounted
    const absent = fakeBinding();
    expect(await start(absent)).toEqual({ hook: 'syscalls', tracefs: 'mounted', reason: undefined, raw: false, tracepoints: 8 });
    expect({ mounts: absent.tracefs.mounts, unmounts: absent.tracefs.unmounts, mounted: absent.tracefs.mounted }).toEqual({
      mounts: 1,
      unmounts: 1,
      mounted: false,
    });
    // cannot be mounted (no CAP_SYS_ADMIN, e.g. in a container): sys_enter/sys_exit, and why
    const denied = fakeBinding();
    denied.tracefs.mountError = Object.assign(new Error('mount: cannot mount tracefs: Operation not permitted'), { code: 'EPERM' });
    const r = await start(denied);
    expect(r).toMatchObject({ hook: 'raw', tracefs: 'unavailable', raw: true, tracepoints: 0 });
    expect(r.reason).toMatch(/tracefs is not mounted and cannot be mounted at .*: mount: cannot mount tracefs: Operation not permitted/);
  });

  it('falls back to sys_enter/sys_exit when the syscall tracepoints cannot be attached', async () => {
    const fb = fakeBinding();
    const failing: string[] = [];
    const orig = fb.BpfObject;
    fb.BpfObject = class extends (orig as unknown as typeof FakeObject) {
      override attachTracepoint(p: string, c: string, n: string): number {
        failing.push(n);
        throw Object.assign(new Error(`cannot attach '${p}' to tracepoint ${c}/${n}`), { op: 'attach_tracepoint', errno: 2, code: 'ENOENT' });
      }
    } as unknown as typeof fb.BpfObject;
    const t = await ProcessTracer.start({ comm: ['x'], binding: fb, statsIntervalMs: 0 });
    try {
      expect(failing).toEqual(['sys_enter_openat']);
      expect(t.stats().file_hook).toBe('raw');
      // a tracefs mounted for the failed attach is not left behind
      expect(fb.tracefs.mounted).toBe(false);
    } finally {
      await t.close();
    }
    await expect(ProcessTracer.start({ comm: ['x'], binding: fb, fileHook: 'syscalls' })).rejects.toMatchObject({ op: 'attach_tracepoint' });
  });

  it('reports drops from the kernel counters in the final stats and on stderr', async () => {
    const fb = fakeBinding();
    setBinding(fb);
    const cap = captureIo();
    const run = main(['process', '--format', 'json'], cap.io);
    await until(() => fb.readers.length === 1);
    fb.objects[0].stats.set(0, 17n);
    process.emit('SIGINT');
    expect(await run).toBe(0);
    const final = cap.lines().at(-1);
    expect(final.data.kernel).toEqual({ ringbuf_full_process: 17 });
    expect(cap.err()).toMatch(/WARNING: 17 record\(s\) lost.*process\.ringbuf_full_process=17/);
    expect(cap.err()).toMatch(/raise --ring-size/);
  });

  it.each([
    [['process', '--bogus'], /Unknown argument: bogus/],
    [['process', '--', '--comm', 'x', '--quiet'], /arguments after --: Unknown argument: quiet/],
    [['process', '--mode', '2'], /--mode 2 reports only selected processes/],
    [['process', '--mode', '5'], /Invalid values/],
    [['process', '--comm', 'a-very-long-process-name'], /longer than 15 bytes.*"a-very-long-pro"/],
    [['process', '--pid', 'abc'], /--pid NaN is not a process id/],
    [['process', '--pid', '2147483000'], /no such process/],
    [['process', '--argv-max', '99999'], /--argv-max must be between 0 and 16384/],
    [['process', '--ring-size', '3'], /power of two/],
    [['process', '--duration', '1', '--', '--duration', '2'], /--duration given twice/],
    [['nope'], /Unknown argument: nope/],
  ])('%j is a usage error', async (argv, msg) => {
    setBinding(fakeBinding());
    const cap = captureIo();
    expect(await main(argv as string[], cap.io)).toBe(2);
    expect(cap.err()).toMatch(msg as RegExp);
    expect(cap.err()).toMatch(/--help" for usage/);
  });

  it('--help documents every process option', async () => {
    const cap = captureIo();
    expect(await main(['process', '--help'], cap.io)).toBe(0);
    const help = cap.out();
    for (const o of [
      '--comm',
      '--pid',
      '--duration',
      '--mode',
      '--file-events',
      '--file-dedup-ms',
      '--argv-max',
      '--ring-size',
      '--quiet',
      '--format',
      '--stats-interval',
    ])
      expect(help).toContain(o);
  });
});

describe('agentsight output that fails (with an injected binding)', () => {
  it('stdout closed by its reader (EPIPE, as `| head -1`): the run stops cleanly and says so', async () => {
    const fb = fakeBinding();
    setBinding(fb);
    const cap = captureIo();
    const stdout = cap.io.stdout;
    let writes = 0;
    const realWrite = stdout.write.bind(stdout);
    // the reader takes one batch, then goes away
    (stdout as unknown as { write: typeof stdout.write }).write = ((chunk: unknown, cb?: unknown) => {
      if (++writes === 1) return realWrite(chunk as string, cb as () => void);
      const err = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      process.nextTick(() => {
        if (typeof cb === 'function') (cb as (e: Error) => void)(err);
        stdout.emit('error', err);
      });
      return false;
    }) as typeof stdout.write;
    const run = main(['process', '--comm', 'python', '--format', 'json'], cap.io);
    await until(() => fb.readers.length === 1, 5000, 'ring reader');
    fb.readers[0].push([execRecord({ ts: 2e9, pid: 42, comm: 'python3' }, 1, '/usr/bin/python3', ['python3'])]);
    await until(() => writes === 1, 5000, 'first write');
    fb.readers[0].push([execRecord({ ts: 3e9, pid: 43, comm: 'python3' }, 1, '/usr/bin/python3', ['python3', 'b'])]);
    // no Ctrl-C: the broken stdout alone stops it
    expect(await run).toBe(0);
    expect(cap.err()).toMatch(/stdout was closed by its reader \(EPIPE\): stopped; \d+ event\(s\) captured meanwhile were not shown/);
    expect(cap.err()).not.toMatch(/nothing lost/);
    expect(fb.objects.every((o) => o.closed)).toBe(true);
  });

  it.each([
    [['process', '--output', ''], /--output: a file path is required/],
    [['process', '--output', '/proc/version'], /--output \/proc\/version: is on procfs/],
    [['agent', '--output', '/proc/self/status'], /is on procfs/],
  ])('%j is refused before tracing starts', async (args, msg) => {
    const fb = fakeBinding();
    setBinding(fb);
    const cap = captureIo();
    expect(await main(args, cap.io)).toBe(2);
    expect(cap.err()).toMatch(msg);
    expect(fb.objects).toHaveLength(0);
  });
});

describe('loading an object the verifier was interrupted on', () => {
  const interrupting = (fb: ReturnType<typeof fakeBinding>, times: number) => {
    const orig = fb.BpfObject;
    let left = times;
    const opened: string[] = [];
    const Base = orig as unknown as new (name: string) => FakeObject;
    fb.BpfObject = class extends Base {
      constructor(name: string) {
        super(name);
        opened.push(name);
      }
      override load(): void {
        if (left-- > 0)
          throw Object.assign(new Error(`load: the kernel refused eBPF object '${this.name}': Resource temporarily unavailable`), {
            op: 'load',
            errno: 11,
            code: 'EAGAIN',
            log: '-- BEGIN PROG LOAD LOG --\n...',
          });
        super.load();
      }
    } as unknown as typeof fb.BpfObject;
    return opened;
  };

  it('opens and loads it again (a failed load cannot be repeated on the same object)', async () => {
    const fb = fakeBinding();
    const opened = interrupting(fb, 3);
    const t = await ProcessTracer.start({ comm: ['x'], binding: fb, statsIntervalMs: 0 });
    expect(opened).toEqual(['process', 'process', 'process', 'process']);
    expect(fb.objects.filter((o) => o.closed)).toHaveLength(3);
    t.close();
  });

  it('gives up after 10 attempts with an error that says why (not a verifier rejection)', async () => {
    const fb = fakeBinding();
    interrupting(fb, 100);
    const err = await ProcessTracer.start({ comm: ['x'], binding: fb, statsIntervalMs: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(BpfError);
    expect(err.message).toMatch(/interrupted by signals again and again/);
    expect(fb.objects).toHaveLength(10);
    expect(fb.objects.every((o) => o.closed)).toBe(true);
  });
});

describe('--verbose', () => {
  it('says each start-up and stop step with its time, what was attached, and libbpf messages; also after --', async () => {
    for (const args of [
      ['process', '--comm', 'python', '--format', 'json', '--verbose'],
      ['process', '--comm', 'python', '--format', 'json', '--', '--verbose'],
    ]) {
      const fb = fakeBinding();
      const logs: string[] = [];
      Object.assign(fb, {
        libbpfVerbose: (on: boolean) => logs.push(`verbose ${on}`),
        takeLibbpfLog: () => 'libbpf: loading object \x27process\x27 from buffer\n',
      });
      setBinding(fb);
      const cap = captureIo();
      const run = main(args, cap.io);
      await until(() => fb.readers.length === 1, 5000, 'ring reader');
      process.emit('SIGINT');
      expect(await run).toBe(0);
      const err = cap.err();
      for (const step of [
        /\[\s*\d+\.\d ms\] agentsight loaded, command line read \(since the process started\): \d+\.\d ms/,
        /\[\s*\d+\.\d ms\] process: load process\.bpf\.o: \d+\.\d ms/,
        /libbpf: loading object 'process' from buffer/,
        /process: attach \(file opens on the open syscalls' tracepoints\)/,
        /tracefs mounted for the attach at /,
        /process: select running processes/,
        /process: detach and unload: \d+\.\d ms/,
      ])
        expect(err).toMatch(step);
      expect(logs).toContain('verbose true');
      expect(logs.at(-1)).toBe('verbose false');
    }
  });

  it('says every step even when libbpf said thousands of lines before the tracers were up (the timeline is followed from the start)', async () => {
    for (const args of [
      ['agent', '--comm', 'python', '--format', 'json', '--verbose'],
      ['ssl', '--format', 'json', '--verbose'],
      ['process', '--format', 'json', '--verbose'],
    ]) {
      const fb = fakeBinding();
      let calls = 0;
      // the first load's log alone is longer than what a timeline keeps for a listener that comes late
      Object.assign(fb, {
        libbpfVerbose: () => undefined,
        takeLibbpfLog: () => (calls++ === 0 ? Array.from({ length: 2500 }, (_, i) => `libbpf: line ${i}`).join('\n') : ''),
      });
      setBinding(fb);
      const cap = captureIo();
      const run = main(args, cap.io);
      await until(() => fb.readers.length >= 1, 5000, 'ring reader');
      process.emit('SIGINT');
      expect(await run).toBe(0);
      const err = cap.err();
      expect(err).toContain('libbpf: line 2499');
      expect(err).toMatch(/process: select running processes/);
      if (args[0] !== 'process') expect(err).toMatch(/ssl: find and probe TLS code: \d+\.\d ms/);
    }
  });
});
