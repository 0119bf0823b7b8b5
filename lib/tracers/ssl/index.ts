/**
 * The TLS tracer: spec.ts (options, validation, the eBPF configuration
 * block), loader.ts (the eBPF object and its probes), discovery.ts (which
 * files to probe, as processes come and go), targets.ts (the TLS functions
 * of a file or a process), tracer.ts (the live tracer: events, stats, close).
 */
export { SslTracer, type SslTracerStats } from './tracer';
export { resolveSslOptions, sslConfigBlock, type ResolvedSslOptions, type SslTracerOptions, type SocketHook, type UprobeLinks } from './spec';
export { kernelHasSockTracepoints } from '../../kernel/features';
export type { AttachedTarget, LocatorFinding } from './discovery';
