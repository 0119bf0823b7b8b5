import { describe, expect, it } from 'vitest';
import { PROCESS_CONFIG, SSL_CONFIG, SSL_MAX_CALL_BYTES } from '../../lib/kernel/abi';
import { UsageError } from '../../lib/core/errors';
import { processConfigBlock, resolveProcessOptions } from '../../lib/tracers/process';
import { resolveSslOptions, SslTracer, sslConfigBlock } from '../../lib/tracers/ssl';

// The specs need no kernel: options are checked and completed, config blocks laid out, before any load.

describe('TLS tracer spec', () => {
  it('completes options with their defaults', () => {
    const o = resolveSslOptions({ selfPid: 10 });
    expect(o).toMatchObject({
      pid: [],
      comm: [],
      uid: null,
      port: [],
      handshake: false,
      maxBytes: SSL_MAX_CALL_BYTES,
      ringBytes: 64 << 20,
      wakeupBytes: 256 << 10,
      systemLibraries: true,
      statsIntervalMs: 10_000,
      selfPid: 10,
      uprobeLinks: 'auto',
      socketHook: 'auto',
    });
    expect(SslTracer.resolve({ selfPid: 10 })).toEqual(o);
  });

  it.each([
    [{ port: [0] }, /--port 0 is not a TCP port/],
    [{ uid: -1 }, /--uid -1 is not a user id/],
    [{ maxBytes: SSL_MAX_CALL_BYTES + 1 }, /--max-bytes must be between 0 and/],
    [{ ringBytes: 12288 }, /the TLS ring buffer size must be a power of two/],
    [{ wakeupBytes: -1 }, /wakeup bytes must be >= 0/],
    [{ statsIntervalMs: -5 }, /--stats-interval must be >= 0/],
    [{ binaryPaths: [''] }, /--binary-path needs a file/],
    [{ comm: ['a-very-long-process-name'] }, /longer than 15 bytes/],
    [{ pid: [0] }, /--pid 0 is not a process id/],
    [{ uprobeLinks: 'fast' as never }, /uprobeLinks must be 'auto', 'multi' or 'perf' \(got fast\)/],
    [{ socketHook: 'kprobe' as never }, /socketHook must be 'auto', 'sock' or 'syscall' \(got kprobe\)/],
  ])('rejects %j', (bad, message) => {
    expect(() => resolveSslOptions(bad)).toThrow(UsageError);
    expect(() => resolveSslOptions(bad)).toThrow(message);
  });

  it('lays out the ssl.bpf.c configuration block', () => {
    const o = resolveSslOptions({ selfPid: 77, uid: 1000, maxBytes: 4096, handshake: true, wakeupBytes: 8192 });
    const b = sslConfigBlock(o, true);
    expect(b.length).toBe(SSL_CONFIG.size);
    const at = (f: string) => b.readUInt32LE(SSL_CONFIG.off[f]);
    expect(['self_pid', 'filter_tracked', 'uid', 'has_uid', 'max_call_bytes', 'handshake', 'wakeup_bytes'].map(at)).toEqual([77, 1, 1000, 1, 4096, 1, 8192]);
    expect(sslConfigBlock(resolveSslOptions({}), false).readUInt32LE(SSL_CONFIG.off.has_uid)).toBe(0);
  });
});

describe('process tracer spec', () => {
  it('defaults the mode from the selection', () => {
    expect(resolveProcessOptions({}).mode).toBe(1);
    expect(resolveProcessOptions({ comm: ['python3'] }).mode).toBe(2);
    expect(() => resolveProcessOptions({ mode: 2 })).toThrow(/--mode 2 reports only selected processes/);
    expect(() => resolveProcessOptions({ fileHook: 'ebpf' as never })).toThrow(/fileHook must be 'auto', 'syscalls' or 'raw' \(got ebpf\)/);
    expect(() => resolveProcessOptions({ ringBytes: 1000 })).toThrow(/the ring buffer size must be a power of two/);
  });

  it('lays out the process.bpf.c configuration block, comm filters NUL-terminated', () => {
    const o = resolveProcessOptions({ comm: ['python3', 'node'], selfPid: 5, durationMs: 1.5, argvMax: 100 });
    const b = processConfigBlock(o);
    expect(b.length).toBe(PROCESS_CONFIG.size);
    expect(b.readUInt32LE(PROCESS_CONFIG.off.mode)).toBe(2);
    expect(b.readBigUInt64LE(PROCESS_CONFIG.off.min_duration_ns)).toBe(1_500_000n);
    expect(b.readUInt32LE(PROCESS_CONFIG.off.n_comm)).toBe(2);
    expect(b.toString('utf8', PROCESS_CONFIG.off.comm, PROCESS_CONFIG.off.comm + 8)).toBe('python3\0');
    expect(b.toString('utf8', PROCESS_CONFIG.off.comm + 16, PROCESS_CONFIG.off.comm + 21)).toBe('node\0');
  });
});
