/**
 * What the running kernel has, where a tracer or a program chooses by it: from the release where
 * every kernel since a version has the thing (no need to read the 5 MB of BTF that tells), else
 * from the names in the kernel's BTF (a distribution's older kernel may have it backported).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

/** Is this kernel release (os.release()) `major.minor` or later? */
export function releaseAtLeast(major: number, minor: number, release: string = os.release()): boolean {
  const [a, b] = release.split(/[.-]/).map(Number);
  return a > major || (a === major && b >= minor);
}

/** Are all these names in the kernel's BTF? False when it cannot be read. */
export function vmlinuxHasNames(names: readonly string[], file = '/sys/kernel/btf/vmlinux'): boolean {
  let btf: Buffer;
  try {
    btf = fs.readFileSync(file);
  } catch {
    return false;
  }
  // each name is a NUL-terminated string of the string section, preceded by the previous one's NUL
  return names.every((n) => btf.includes(`\0${n}\0`));
}

/** A feature of the running kernel, looked up once. */
function feature(major: number, minor: number, names: readonly string[]): () => boolean {
  let known: boolean | undefined;
  return () => (known ??= releaseAtLeast(major, minor) || vmlinuxHasNames(names));
}

/** The sock_send_length/sock_recv_length tracepoints (net/socket.c, Linux 6.3+). */
export const kernelHasSockTracepoints = feature(6, 3, ['btf_trace_sock_send_length', 'btf_trace_sock_recv_length']);

/** The bpf_rdonly_cast kfunc (Linux 6.2+). */
export const kernelHasRdonlyCast = feature(6, 2, ['bpf_rdonly_cast']);

/** What the variables of bpf/common.bpf.h are set to, in every object's recipe. */
export function commonRodata(): Record<string, Buffer> {
  return { cast_task: Buffer.from([kernelHasRdonlyCast() ? 1 : 0]) };
}
