import { describe, expect, it } from 'vitest';
import { F } from '../../lib/kernel/abi';
import { KernelClock } from '../../lib/kernel/clock';
import { decodeProcessRecord, renderOpenFlags, splitArgv } from '../../lib/kernel/process-decode';
import { execRecord, exitRecord, forkRecord, openRecord } from '../support/records';

const clock = new KernelClock({ clocks: () => ({ realtimeNs: 1_700_000_000_000_000_000n, monotonicNs: 0n }) });
const dec = (b: Buffer) => decodeProcessRecord(b, 0, b.length, clock);

describe('process record decoding', () => {
  it('EXEC: filename, argv, wall-clock time, flags', () => {
    const e = dec(
      execRecord({ ts: 5_000_000, pid: 7, comm: 'python3', uid: 1000 }, 3, '/usr/bin/python3', ['python3', 'a b.py', ''], F.TRACKED | F.ARGV_TRUNC),
    );
    expect(e).toMatchObject({
      timestamp: 1_700_000_000_005,
      mono_ns: 5_000_000,
      source: 'process',
      pid: 7,
      comm: 'python3',
      data: {
        event: 'EXEC',
        ppid: 3,
        uid: 1000,
        filename: '/usr/bin/python3',
        argv: ['python3', 'a b.py', ''],
        full_command: 'python3 a b.py ',
        argv_truncated: true,
        tracked: true,
      },
    });
  });

  it('EXIT: exit code, signal, core dump, duration', () => {
    expect(dec(exitRecord({ ts: 1, pid: 9, comm: 'sh' }, 1, 3 << 8, 1_234_567))?.data).toMatchObject({
      event: 'EXIT',
      exit_code: 3,
      signal: null,
      core_dumped: false,
      duration_ms: 1.23,
    });
    expect(dec(exitRecord({ ts: 1, pid: 9, comm: 'sh' }, 1, 9, 10))?.data).toMatchObject({ exit_code: 137, signal: 'SIGKILL' });
    expect(dec(exitRecord({ ts: 1, pid: 9, comm: 'sh' }, 1, 0x80 | 11, 10))?.data).toMatchObject({ signal: 'SIGSEGV', core_dumped: true });
  });

  it('FORK: the event is the child, ppid the parent', () => {
    expect(dec(forkRecord({ ts: 1, pid: 10, comm: 'bash' }, 11))).toMatchObject({ pid: 11, comm: 'bash', data: { event: 'FORK', ppid: 10 } });
  });

  it('FILE_OPEN: relative paths resolved against the kernel-provided base, flags and errors', () => {
    const ok = dec(openRecord({ ts: 1, pid: 5, comm: 'cat' }, '../etc/./passwd', '/usr/share', 3, 0o2000000));
    expect(ok?.data).toMatchObject({
      event: 'FILE_OPEN',
      filepath: '/usr/etc/passwd',
      path_arg: '../etc/./passwd',
      flags: 'O_RDONLY|O_CLOEXEC',
      fd: 3,
      syscall: 'openat',
      count: 1,
    });
    const abs = dec(openRecord({ ts: 1, pid: 5, comm: 'cat' }, '/tmp/x', '', -2, 0o1101, 0o644, 2));
    expect(abs?.data).toMatchObject({ filepath: '/tmp/x', flags: 'O_WRONLY|O_CREAT|O_TRUNC', error: 'ENOENT', mode: '0644', syscall: 'open' });
    expect(abs?.data.path_arg).toBeUndefined();
  });

  it('rejects records that are too short or claim more payload than they hold', () => {
    const b = execRecord({ ts: 1, pid: 1, comm: 'x' }, 0, '/bin/x', ['x']);
    expect(decodeProcessRecord(b, 0, 40, clock)).toBeNull();
    expect(decodeProcessRecord(b, 0, b.length - 1, clock)).toBeNull();
  });

  it('renders open flags, unknown bits in hex', () => {
    expect(renderOpenFlags(0)).toBe('O_RDONLY');
    expect(renderOpenFlags(2 | 0o2000 | 0x80000000)).toBe('O_RDWR|O_APPEND|0x80000000');
  });

  it('splits argv blocks', () => {
    expect(splitArgv(Buffer.from('a\0b\0'))).toEqual(['a', 'b']);
    expect(splitArgv(Buffer.from('a\0b'))).toEqual(['a', 'b']);
    expect(splitArgv(Buffer.alloc(0))).toEqual([]);
  });
});
