/**
 * The process tracer: spec.ts (options, validation, the eBPF configuration
 * block) and tracer.ts (loading, seeding the selection, events, stats, close).
 */
export {
  ARGV_MAX_LIMIT,
  processConfigBlock,
  resolveProcessOptions,
  SYSCALL_OPEN_TRACEPOINTS,
  type FileHook,
  type ProcessTracerOptions,
  type ResolvedProcessOptions,
} from './spec';
export { ProcessTracer, type ProcessTracerStats, type TracefsUse } from './tracer';
