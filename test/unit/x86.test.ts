import { describe, it, expect } from 'vitest';
import { argumentFlow, decodeFunction, reachableFrom, usesFramePointer } from '../../lib/locator/x86';
import { resolveSite } from '../../lib/locator/boringssl';

// A hand-assembled function shaped like SSL_write(ssl, buf, num):
//   401000 push rbp / mov rbp,rsp / push r14 / push rbx
//   401006 mov r14,rsi / mov ebx,edx / test edx,edx / js 40101d
//   401010 mov rcx,r14 / mov r8d,ebx / call 402000        ; hands buf and num on
//   40101b jmp 401039
//   40101d mov ecx,0x123456 / mov edi,16 / xor esi,esi / mov edx,111 / mov r8d,981
//   401034 call 403000                                     ; OPENSSL_PUT_ERROR(SSL, BAD_LENGTH) at line 981
//   401039 pop rbx / pop r14 / pop rbp / ret
const BASE = 0x401000;
const CODE = Buffer.from('554889e54156534989f689d385d2780d4c89f14189d8e8e50f0000eb1cb956341200bf1000000031f6ba6f00000041b8d5030000e8c71f00005b415e5dc3', 'hex');

describe('x86 decoding and value tracking', () => {
  it('decodes the function along its branches, without problems', () => {
    const fn = decodeFunction(CODE, BASE, BASE, BASE + CODE.length);
    expect(fn.problems).toEqual([]);
    expect(fn.order[0]).toBe(BASE);
    expect(fn.insns.get(0x401016)).toMatchObject({ flow: 'call', target: 0x402000 });
    expect(fn.insns.get(0x401034)).toMatchObject({ flow: 'call', target: 0x403000 });
    expect(fn.insns.get(0x40103d)?.flow).toBe('ret');
    expect(fn.branchTargets).toEqual(new Set([0x40101d, 0x401039]));
    expect(usesFramePointer(fn)).toBe(true);
    expect(reachableFrom(fn, 0x40101d).has(0x401010)).toBe(false);
  });

  it('tracks entry arguments through register copies to a call', () => {
    const fn = decodeFunction(CODE, BASE, BASE, BASE + CODE.length);
    const flow = argumentFlow(fn);
    const atCall = flow.get(0x401016)!;
    expect(atCall[7]).toEqual({ k: 'arg', i: 0, width: 64 }); // rdi still the ssl
    expect(atCall[1]).toEqual({ k: 'arg', i: 1, width: 64 }); // rcx = buf
    expect(atCall[8]).toEqual({ k: 'arg', i: 2, width: 32 }); // r8d = num
    // after the call, caller-saved registers are unknown; r14 (callee-saved) still holds buf
    const after = flow.get(0x401039)!;
    expect(after[1]).toBeUndefined();
    expect(after[14]).toEqual({ k: 'arg', i: 1, width: 64 });
  });

  it('resolves an OPENSSL_PUT_ERROR site: library, reason, file and line', () => {
    const fn = decodeFunction(CODE, BASE, BASE, BASE + CODE.length);
    const idx = fn.order.indexOf(0x40101d);
    expect(resolveSite(fn, idx, new Set([0x123456]))).toEqual({
      ip: 0x40101d,
      callee: 0x403000,
      callIp: 0x401034,
      lib: 16,
      reason: 111,
      line: 981,
      fileArg: 3,
    });
    expect(resolveSite(fn, idx, new Set([0x999999]))).toBeUndefined();
  });

  it('reports a branch into the middle of an instruction', () => {
    // je +1 falls through to mov eax,0xc3909090 and also jumps into its immediate
    const overlapping = Buffer.from('7401b8909090c3', 'hex');
    const fn2 = decodeFunction(overlapping, 0x1000, 0x1000, 0x1000 + overlapping.length);
    expect(fn2.problems.length).toBeGreaterThan(0);
  });

  it('stops at undecodable bytes and at the limit', () => {
    const fn = decodeFunction(Buffer.from('9090', 'hex'), 0x1000, 0x1000, 0x1002);
    expect(fn.order).toEqual([0x1000, 0x1001]);
    const junk = decodeFunction(Buffer.from('0f0b', 'hex'), 0x1000, 0x1000, 0x1002); // ud2
    expect(junk.insns.get(0x1000)?.flow).toBe('stop');
  });
});
