/**
 * The pipeline of `agent` and `record` (and of trace()/record()): TLS and
 * process tracing under one selection, HTTP parsing, SSE merging and LLM
 * call events on by default.
 */
import type { Analyzer } from '../core/analyzer';
import { UsageError } from '../core/errors';
import { tlsAnalyzers } from '../analyzers/chains';
import { LlmAnalyzer } from '../analyzers/llm';
import { CostAnalyzer } from '../analyzers/cost';
import { Prices } from '../cost/prices';
import { Redactor } from '../analyzers/redactor';
import { SessionSummary } from '../analyzers/summary';
import { AGENT_CHAIN_DEFAULTS, agentTracerOptions, chainOptions, type AgentOptions } from '../config/options';
import { AgentRunner } from '../runners/agent-runner';
import { ProcessRunner } from '../runners/process-runner';
import { SslRunner } from '../runners/ssl-runner';
import type { SslTracerOptions } from '../tracers/ssl-tracer';

export interface AgentSetup {
  runner: AgentRunner;
  summary: SessionSummary;
  llm: LlmAnalyzer | null;
}

/**
 * An AgentRunner with an SslRunner and a ProcessRunner sharing one
 * selection; global analyzers: masking of process events, LLM calls, their
 * cost, the session summary, then `sinks`. `sslExtra` adds TLS tracer options the
 * command line has no flag for (record's gate).
 */
export function buildAgent(o: AgentOptions, sinks: readonly Analyzer[] = [], sslExtra: Partial<SslTracerOptions> = {}): AgentSetup {
  const useSsl = o.ssl !== false;
  const useProc = o.process !== false;
  if (!useSsl && !useProc) throw new UsageError('--ssl false and --process false leave nothing to trace');
  const tracers = agentTracerOptions(o);
  const chain = chainOptions(o, AGENT_CHAIN_DEFAULTS);
  const runner = new AgentRunner('agent');
  if (useSsl) runner.addRunner(new SslRunner({ ...tracers.ssl, ...sslExtra }).withAnalyzers(tlsAnalyzers(chain)));
  if (useProc) runner.addRunner(new ProcessRunner(tracers.process));
  // process events (argv, paths) are masked too; the TLS chain masked its own events already
  if (chain.redact) runner.addGlobalAnalyzer(new Redactor());
  const llm = useSsl && chain.httpParser ? new LlmAnalyzer() : null;
  if (llm) runner.addGlobalAnalyzer(llm);
  // a bad --prices file fails here, before anything is traced
  if (llm) runner.addGlobalAnalyzer(new CostAnalyzer({ prices: typeof o.prices === 'object' ? o.prices : Prices.load(o.prices) }));
  const summary = new SessionSummary();
  runner.addGlobalAnalyzer(summary);
  for (const s of sinks) runner.addGlobalAnalyzer(s);
  return { runner, summary, llm };
}
