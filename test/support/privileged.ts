/**
 * Gate for tests that load eBPF into the real kernel. They skip only where the
 * kernel truly cannot run them, and say why in the test name; with
 * AGENTSIGHT_REQUIRE_PRIVILEGED=1 (set by .ci/run) a missing capability fails
 * the run instead of skipping.
 */
import * as fs from 'node:fs';
import { describe, it } from 'vitest';

export function privilegedUnavailable(): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not running as root (eBPF needs CAP_BPF/CAP_PERFMON)';
  if (!fs.existsSync('/sys/kernel/btf/vmlinux')) return 'this kernel has no BTF (/sys/kernel/btf/vmlinux)';
  return null;
}

export function describePrivileged(name: string, fn: () => void): void {
  const why = privilegedUnavailable();
  if (!why) {
    describe(name, fn);
    return;
  }
  if (process.env.AGENTSIGHT_REQUIRE_PRIVILEGED) {
    describe(name, () => {
      it(`cannot run: ${why}`, () => {
        throw new Error(`privileged tests required (AGENTSIGHT_REQUIRE_PRIVILEGED) but ${why}`);
      });
    });
    return;
  }
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED privileged tests "${name}": ${why}`);
  describe.skip(`${name} [skipped: ${why}]`, fn);
}
