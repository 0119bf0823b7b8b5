/**
 * Loading an eBPF object. The kernel's verifier gives up with EAGAIN when a
 * signal arrives while it works (a profiler's SIGPROF, a terminal's
 * SIGWINCH...), and libbpf retries only a few times at once. An object whose
 * load failed cannot be loaded again, so the whole open-configure-load step
 * is repeated.
 */
import { classifyNativeError } from '../core/errors';
import type { Timeline } from '../core/timeline';
import type { NativeBinding } from './binding';

/** Attempts of an interrupted load before its error stands. */
export const LOAD_ATTEMPTS = 10;

/** Run `openAndLoad` (which must close what it opened when it throws) again while the load was interrupted. */
export function loadRetrying<T>(openAndLoad: () => T): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return openAndLoad();
    } catch (err) {
      const e = err as { op?: string; code?: string };
      if (!(e.op === 'load' && e.code === 'EAGAIN') || attempt >= LOAD_ATTEMPTS) throw classifyNativeError(err);
    }
  }
}

/**
 * A start-up or stop step: with a timeline (--verbose), how long it took and
 * what libbpf printed meanwhile are noted there.
 */
export function step<T>(tl: Timeline | null, binding: Pick<NativeBinding, 'libbpfVerbose' | 'takeLibbpfLog'>, phase: string, fn: () => T): T {
  if (!tl) return fn();
  binding.libbpfVerbose?.(true);
  try {
    return tl.span(phase, fn);
  } finally {
    tl.libbpf(binding.takeLibbpfLog?.());
    binding.libbpfVerbose?.(false);
  }
}
