import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { releaseAtLeast, vmlinuxHasNames } from '../../lib/kernel/features';

describe('kernel features', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-features-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('releaseAtLeast reads major.minor of distribution releases', () => {
    expect(releaseAtLeast(6, 2, '6.2.0-39-generic')).toBe(true);
    expect(releaseAtLeast(6, 2, '6.1.0-13-amd64')).toBe(false);
    expect(releaseAtLeast(6, 2, '5.19.17')).toBe(false);
    expect(releaseAtLeast(6, 2, '6.18.44-fc-v1147')).toBe(true);
    expect(releaseAtLeast(6, 3, '7.0.1')).toBe(true);
    expect(releaseAtLeast(6, 3, '5.14.0-427.el9.x86_64')).toBe(false);
    expect(releaseAtLeast(6, 3, 'garbage')).toBe(false);
  });

  it('vmlinuxHasNames matches whole strings of the BTF string section only', () => {
    const btf = path.join(dir, 'vmlinux');
    fs.writeFileSync(btf, Buffer.from('\0\0task_struct\0xbpf_rdonly_cast\0btf_trace_sock_send_length\0'));
    expect(vmlinuxHasNames(['task_struct'], btf)).toBe(true);
    expect(vmlinuxHasNames(['bpf_rdonly_cast'], btf)).toBe(false); // only as the tail of another name
    expect(vmlinuxHasNames(['btf_trace_sock_send_length', 'task_struct'], btf)).toBe(true);
    expect(vmlinuxHasNames(['btf_trace_sock_send_length', 'btf_trace_sock_recv_length'], btf)).toBe(false);
    expect(vmlinuxHasNames(['task_struct'], path.join(dir, 'missing'))).toBe(false);
  });
});
