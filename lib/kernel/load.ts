/**
 * Loading an eBPF object. The kernel's verifier gives up with EAGAIN when a
 * signal arrives while it works (a profiler's SIGPROF, a terminal's
 * SIGWINCH...), and libbpf retries only a few times at once. An object whose
 * load failed cannot be loaded again, so the whole open-configure-load step
 * is repeated.
 */
import { classifyNativeError } from '../core/errors';
import type { Timeline } from '../core/timeline';
import type { NativeBinding, NativeBpfObject } from './binding';
import type { BegunLoad } from './early';

/** Attempts of an interrupted load before its error stands. */
export const LOAD_ATTEMPTS = 10;

/** Run `openAndLoad` (which must close what it opened when it throws) again while the load was interrupted. */
export function loadRetrying<T>(openAndLoad: () => T): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return openAndLoad();
    } catch (err) {
      if (!loadInterrupted(err) || attempt >= LOAD_ATTEMPTS) throw classifyNativeError(err);
    }
  }
}

/**
 * A start-up or stop step: with a timeline (--verbose), how long it took and
 * what libbpf printed meanwhile are noted there.
 */
export function step<T>(tl: Timeline | null, binding: Pick<NativeBinding, 'libbpfVerbose' | 'takeLibbpfLog'>, phase: string, fn: () => T): T {
  if (!tl) return fn();
  // a load may be under way meanwhile (stepAsync): its libbpf messages are kept until the last step ends
  if (verboseSteps++ === 0) binding.libbpfVerbose?.(true);
  try {
    return tl.span(phase, fn);
  } finally {
    tl.libbpf(binding.takeLibbpfLog?.());
    if (--verboseSteps === 0) binding.libbpfVerbose?.(false);
  }
}

/** Steps running at once (loads on worker threads, attaches meanwhile): libbpf's verbose log stays on until the last ends. */
let verboseSteps = 0;

/**
 * How much less nice the thread of a load that others wait for runs: with two objects loading at
 * once and the JS thread reading ahead, three threads share the CPUs, and the longest load (the TLS
 * object's, ~80 ms of verification, map creation and relocation) is what start-up waits for.
 */
export const CRITICAL_LOAD_BOOST = 10;

/**
 * Load a configured object: on a worker thread where the binding can
 * (loadAsync: the verifier's work runs while the JS thread and other loads go
 * on), else in place. Rejects with the classified native error. `critical`:
 * the load that start-up waits for (its thread gets CRITICAL_LOAD_BOOST).
 */
export async function loadObject(ob: NativeBpfObject, critical = false): Promise<void> {
  try {
    if (ob.loadAsync) await ob.loadAsync(critical ? CRITICAL_LOAD_BOOST : 0);
    else ob.load();
  } catch (err) {
    throw classifyNativeError(err);
  }
}

/** Load an opened object (loadObject), or wait for its load when it was begun early (lib/kernel/early.ts). */
export async function loadOrTake(ob: NativeBpfObject, begun: BegunLoad | null, critical = false): Promise<void> {
  if (!begun) return loadObject(ob, critical);
  try {
    await begun.loaded;
  } catch (err) {
    throw classifyNativeError(err);
  }
}

/** A load step's name on the timeline, saying when a load begun early began. */
export function loadPhase(phase: string, begun: BegunLoad | null): string {
  return begun ? `${phase} (begun ${begun.beganAt.toFixed(1)} ms after the process started; the wait for its end)` : phase;
}

/** Is this an interrupted load (worth opening and loading again)? */
export function loadInterrupted(err: unknown): boolean {
  const e = err as { op?: string; code?: string };
  return e.op === 'load' && e.code === 'EAGAIN';
}

/** Run `openAndLoad` again while the load was interrupted (the async loadRetrying). */
export async function loadRetryingAsync<T>(openAndLoad: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openAndLoad();
    } catch (err) {
      if (!loadInterrupted(err) || attempt >= LOAD_ATTEMPTS) throw classifyNativeError(err);
    }
  }
}

/** step() of an asynchronous step; several may run at once. */
export async function stepAsync<T>(
  tl: Timeline | null,
  binding: Pick<NativeBinding, 'libbpfVerbose' | 'takeLibbpfLog'>,
  phase: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (!tl) return fn();
  if (verboseSteps++ === 0) binding.libbpfVerbose?.(true);
  try {
    return await tl.spanAsync(phase, fn);
  } finally {
    tl.libbpf(binding.takeLibbpfLog?.());
    if (--verboseSteps === 0) binding.libbpfVerbose?.(false);
  }
}
