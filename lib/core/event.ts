/**
 * The event every tracer and analyzer speaks. NDJSON output is one of these
 * per line; field names follow the original AgentSight collector.
 */
export interface Event<D extends Record<string, unknown> = Record<string, any>> {
  /** Wall-clock time, Unix epoch milliseconds (integer). */
  timestamp: number;
  /**
   * CLOCK_MONOTONIC nanoseconds of the kernel event, for exact ordering of
   * events within one machine (present on events that come from the kernel
   * and on events derived from them).
   */
  mono_ns?: number;
  /** "process" | "ssl" | "http" | "sse" | "llm" | "stats" | "error" | ... */
  source: string;
  pid: number;
  comm: string;
  data: D;
}

/** Event sources produced by this package. */
export const SOURCES = ['process', 'ssl', 'http', 'sse', 'llm', 'stats', 'diagnostic'] as const;

/** Order two events by kernel time when both have it, else by wall clock. */
export function compareEvents(a: Event, b: Event): number {
  if (a.mono_ns !== undefined && b.mono_ns !== undefined) return a.mono_ns - b.mono_ns;
  return a.timestamp - b.timestamp;
}
