/**
 * agentsight: watch AI agents from the kernel.
 *
 *   const { ProcessRunner, OutputAnalyzer } = require('agentsight');
 */
export type { Event } from './event';
export { compareEvents } from './event';
export type { Analyzer, AnalyzerContext } from './analyzer';
export { chain, mapAnalyzer } from './analyzer';
export {
  AgentsightError,
  UsageError,
  PermissionError,
  NotSupportedError,
  VerifierError,
  BpfError,
} from './errors';
export { getBinding, setBinding } from './binding';
export type { NativeBinding, NativeBpfObject, NativeRingReader } from './binding';
export { sslPayload, encodePayload } from './payload';
export { Runner, type RunOptions } from './runners/runner';
export { ProcessRunner } from './runners/process-runner';
export { ProcessTracer, type ProcessTracerOptions, type ProcessTracerStats } from './tracers/process-tracer';
export { OutputAnalyzer, type OutputOptions, type OutputFormat } from './analyzers/output';
export { renderEvent, registerRenderer } from './render';
export { main } from './cli/main';
