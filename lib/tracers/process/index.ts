/**
 * The process tracer: spec.ts (options, validation, the eBPF configuration
 * block) and tracer.ts (loading, seeding the selection, events, stats, close).
 */
export { ARGV_MAX_LIMIT, processConfigBlock, resolveProcessOptions, type FileHook, type ProcessTracerOptions, type ResolvedProcessOptions } from './spec';
export { fileHookFor, ProcessTracer, type ProcessTracerStats } from './tracer';
