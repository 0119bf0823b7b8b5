import { describe, expect, it } from 'vitest';
import { BpfError, classifyNativeError, NotSupportedError, PermissionError, VerifierError } from '../../lib/core/errors';

function nativeError(message: string, op: string, code: string, errno: number, log?: string) {
  return Object.assign(new Error(message), { op, code, errno, ...(log ? { log } : {}) });
}

describe('native errors become typed errors with advice', () => {
  it('no kernel BTF', () => {
    const e = classifyNativeError(nativeError('load: the kernel refused', 'load', 'ESRCH', 3, 'libbpf: failed to find valid kernel BTF\n'));
    expect(e).toBeInstanceOf(NotSupportedError);
    expect((e as NotSupportedError).missing).toBe('kernel BTF');
    expect((e as Error).message).toMatch(/CONFIG_DEBUG_INFO_BTF/);
  });

  it('a rejected program carries the end of the verifier log', () => {
    const log = 'libbpf: prog x: -- BEGIN PROG LOAD LOG --\n0: (b7) r0 = 0\nR1 invalid mem access\n-- END PROG LOAD LOG --\n';
    const e = classifyNativeError(nativeError('load: refused', 'load', 'EINVAL', 22, log)) as VerifierError;
    expect(e).toBeInstanceOf(VerifierError);
    expect(e.message).toMatch(/R1 invalid mem access/);
    expect(e.op).toBe('load');
    expect(e.errno).toBe(22);
  });

  it('permission: names the capabilities when not root, lockdown when root', () => {
    const e = classifyNativeError(nativeError('load: refused', 'load', 'EPERM', 1)) as PermissionError;
    expect(e).toBeInstanceOf(PermissionError);
    if (process.getuid?.() === 0) expect(e.message).toMatch(/lockdown/);
    else expect(e.message).toMatch(/CAP_BPF.*CAP_PERFMON/);
  });

  it('a missing helper is reported as not supported', () => {
    const log = '-- BEGIN PROG LOAD LOG --\nunknown func bpf_loop#181\n-- END PROG LOAD LOG --';
    const e = classifyNativeError(nativeError('load: refused', 'load', 'EINVAL', 22, log));
    expect(e).toBeInstanceOf(NotSupportedError);
    expect((e as Error).message).toMatch(/5\.17/);
  });

  it('anything else is a BpfError with op and code; non-native errors pass through', () => {
    const e = classifyNativeError(nativeError('map_update: map x', 'map_update', 'E2BIG', 7)) as BpfError;
    expect(e).toBeInstanceOf(BpfError);
    expect([e.op, e.code, e.errno]).toEqual(['map_update', 'E2BIG', 7]);
    const plain = new TypeError('x');
    expect(classifyNativeError(plain)).toBe(plain);
  });
});
