/**
 * agentsight: watch AI agents from the kernel.
 *
 *   const { record, trace, AgentRunner, SslRunner, ProcessRunner } = require('agentsight');
 */
export type { Event } from './core/event';
export { compareEvents } from './core/event';
export type { Analyzer, AnalyzerContext, Emit, StepAnalyzer } from './core/analyzer';
export { chain, mapAnalyzer, runSteps, stepProcess, isStepAnalyzer } from './core/analyzer';
export { AgentsightError, UsageError, PermissionError, NotSupportedError, VerifierError, BpfError } from './core/errors';
export { getBinding, setBinding } from './kernel/binding';
export type { NativeBinding, NativeBpfObject, NativeRingReader } from './kernel/binding';
export { sslPayload, attachPayload, encodePayload } from './core/payload';
export { readNdjson, toJsonLine } from './sinks/ndjson';
export { mergeOrdered } from './core/ordered-merge';

// options: typed, with the tables every command-line flag is defined in
export type { AgentOptions, ChainOptions, SelectionOptions, ConsoleOptions, FileOutputOptions } from './config/options';
export { chainOptions, AGENT_CHAIN_DEFAULTS, SSL_CHAIN_DEFAULTS } from './config/options';
export { parseArgv, fromFlags, type OptionDef, type OptionTable } from './config/define';
export { PROCESS_OPTIONS, SSL_TRACER_OPTIONS, AGENT_OPTIONS, ANALYSIS_OPTIONS } from './config/tables';
export { tlsAnalyzers } from './analyzers/chains';
export { buildAgent, agentAnalyzers, type AgentSetup, type AgentAnalyzers } from './session/agent';

// one-call helpers
export { record, trace, type RecordOptions, type RecordSession, type TraceOptions, type TraceSession, type HelperOptions } from './api';
export { Recording, type RecordingOptions } from './session/recording';
export { launchGated, type LaunchOptions, type ExitStatus } from './session/launch';

// runners and tracers
export { Runner, type RunOptions, type ReadyInfo } from './runners/runner';
export { ProcessRunner } from './runners/process-runner';
export { SslRunner } from './runners/ssl-runner';
export { AgentRunner, type AgentRunnerOptions } from './runners/agent-runner';
export { ProcessTracer, type ProcessTracerOptions, type ProcessTracerStats } from './tracers/process-tracer';
export { SslTracer, type SslTracerOptions, type SslTracerStats } from './tracers/ssl-tracer';

// analyzers
export { HttpParser, type HttpParserOptions } from './analyzers/http-parser';
export { SseProcessor, type SseProcessorOptions } from './analyzers/sse-processor';
export { HttpFilter, SslFilter } from './analyzers/filters';
// the original collector's names, for its users
export { HttpParser as HTTPParser, type HttpParserOptions as HTTPParserOptions } from './analyzers/http-parser';
export { SseProcessor as SSEProcessor, type SseProcessorOptions as SSEProcessorOptions } from './analyzers/sse-processor';
export { HttpFilter as HTTPFilter, SslFilter as SSLFilter } from './analyzers/filters';
export { LlmAnalyzer, type LlmAnalyzerOptions, type LlmCallData } from './analyzers/llm';
export { SessionSummary, summaryText, type SessionSummaryData } from './analyzers/summary';
export { CostAnalyzer, type CostAnalyzerOptions, type CostAnalyzerStats } from './analyzers/cost';

// cost: the price table and what a call cost
export { Prices, priceCall, pricedTokens, costOf, formatUsd } from './cost';
export type { ModelPrice, PriceFile, ProviderPrices, ResolvedPrice, CallCost, PricedTokens, Unpriced } from './cost';

// reports of saved sessions
export { buildReport, renderReport, reportText, reportMarkdown, ReportBuilder, percentiles } from './report';
export type { SessionReport, ReportFormat, ReportOptions, ReportModel, ReportCommand, ReportToolCall, ReportError } from './report';

// the web UI: a store of a session, its server, the sink that feeds it
export { SessionStore, UiServer, UiSink, openSessionFiles, startUi, fileSetOf } from './ui';
export type { StoreOptions, UiServerOptions, UiSnapshot, UiCall, UiProc } from './ui';
export { FileLogger, type FileLoggerOptions } from './sinks/file-logger';
export { Redactor, type RedactorOptions } from './analyzers/redactor';
export { OutputAnalyzer, type OutputOptions, type OutputFormat } from './sinks/output';
export { renderEvent, registerRenderer } from './render/events';

// LLM APIs: one provider per wire API, and the registry that detects them
export { PROVIDERS, API_IDS, getProvider, detectRequest, detectStream, detectWebSocket, otelProviderName, defineProvider, toolCommand } from './providers';
export type {
  ApiId,
  Vendor,
  Provider,
  LlmProvider,
  RequestInfo,
  RequestMatch,
  MergeTarget,
  ToolAccumulator,
  LlmRequest,
  LlmResponse,
  LlmMessage,
  LlmToolCall,
  LlmError,
  TokenUsage,
  TransportMeaning,
  TransportMessage,
  WebSocketTransport,
} from './providers';

// OpenTelemetry: sessions as OTLP traces and metrics (docs/otel.md)
export { OtlpSink, resolveOtlp, otlpWanted, SessionSpans, ExportQueue, type OtlpSinkOptions, type ResolvedOtlp, type OtlpTarget } from './otel';
export type { OtlpOptions } from './config/options';
export { OTLP_OPTIONS, SELECTION_OPTIONS } from './config/tables';
export { loadConfigFile } from './config/file';

// containers: selection by cgroup, container.id of events
export { containerOfPath, ContainerResolver, cgroup2Root, cgroupId, type ContainerRef, type ContainerInfo } from './tracers/cgroup';

// binary analysis
export { locateTls, hasTlsSymbols, looksLikeBoringSsl, type LocatorVerdict } from './locator';

export { main } from './cli/main';
