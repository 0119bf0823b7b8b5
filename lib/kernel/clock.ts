import type { NativeBinding } from './binding';

/**
 * Converts eBPF timestamps (bpf_ktime_get_ns: CLOCK_MONOTONIC) into wall-clock
 * Unix epoch milliseconds, from one back-to-back reading of both clocks.
 */
export class KernelClock {
  /** realtime - monotonic, in ms (fractional). */
  readonly offsetMs: number;

  constructor(binding: Pick<NativeBinding, 'clocks'>) {
    const { realtimeNs, monotonicNs } = binding.clocks();
    this.offsetMs = Number(realtimeNs - monotonicNs) / 1e6;
  }

  /** Epoch milliseconds (integer) of a monotonic nanosecond timestamp. */
  toEpochMs(monoNs: number): number {
    return Math.floor(this.offsetMs + monoNs / 1e6);
  }
}
