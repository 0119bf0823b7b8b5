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
import { AGENT_CHAIN_DEFAULTS, agentTracerOptions, agentTracersOn, chainOptions, type AgentOptions } from '../config/options';
import { AgentRunner } from '../runners/agent-runner';
import { ProcessRunner } from '../runners/process-runner';
import { SslRunner } from '../runners/ssl-runner';
import type { SslTracerOptions } from '../tracers/ssl-tracer';

export interface AgentSetup {
  runner: AgentRunner;
  summary: SessionSummary;
  llm: LlmAnalyzer | null;
}

/** The analyzers of an agent pipeline: the TLS runner's chain, and the global ones over the merged stream. */
export interface AgentAnalyzers {
  /** The TLS runner's chain (parsing, merging, filters; raw TLS data masked when it is kept). */
  tls: Analyzer[];
  /** Over the merged TLS and process stream: LLM calls and their cost, masking of everything, the summary, then the sinks. */
  global: Analyzer[];
  summary: SessionSummary;
  llm: LlmAnalyzer | null;
}

/**
 * The analyzers `agent`/`record` run, in order. Masking comes after
 * LlmAnalyzer and CostAnalyzer, where the last text is made (llm events re-parse request
 * bodies; tool calls are linked to the commands they ran on clear text), and
 * before the summary and the sinks, so nothing reaches them unmasked; it
 * also reports the secrets requests carried (`exposure` events, with the
 * call they belong to).
 */
export function agentAnalyzers(o: AgentOptions, sinks: readonly Analyzer[] = [], useSsl = o.ssl !== false): AgentAnalyzers {
  const chain = chainOptions(o, AGENT_CHAIN_DEFAULTS);
  const tls = useSsl ? tlsAnalyzers(chain, { redact: 'ssl' }) : [];
  const llm = useSsl && chain.httpParser ? new LlmAnalyzer() : null;
  const global: Analyzer[] = [];
  if (llm) global.push(llm);
  // their cost; a bad --prices file fails here, before anything is traced
  if (llm) global.push(new CostAnalyzer({ prices: typeof o.prices === 'object' ? o.prices : Prices.load(o.prices) }));
  if (chain.redact) global.push(new Redactor({ scope: 'parsed', callIdFor: llm ? (c, s) => llm.callIdFor(c, s) : undefined }));
  const summary = new SessionSummary();
  global.push(summary, ...sinks);
  return { tls, global, summary, llm };
}

/**
 * An AgentRunner with an SslRunner and a ProcessRunner sharing one
 * selection, and the analyzers of agentAnalyzers, then `sinks`. `sslExtra`
 * adds TLS tracer options the command line has no flag for (record's gate).
 */
export function buildAgent(o: AgentOptions, sinks: readonly Analyzer[] = [], sslExtra: Partial<SslTracerOptions> = {}): AgentSetup {
  const { ssl: useSsl, process: useProc } = agentTracersOn(o);
  if (!useSsl && !useProc) throw new UsageError('--ssl false and --process false leave nothing to trace');
  const tracers = agentTracerOptions(o);
  const a = agentAnalyzers(o, sinks, useSsl);
  const runner = new AgentRunner('agent');
  if (useSsl) runner.addRunner(new SslRunner({ ...tracers.ssl, ...sslExtra }).withAnalyzers(a.tls));
  // a gated command (sslExtra.launching) is held for both tracers
  if (useProc) runner.addRunner(new ProcessRunner(sslExtra.launching ? { ...tracers.process, launching: sslExtra.launching } : tracers.process));
  for (const g of a.global) runner.addGlobalAnalyzer(g);
  return { runner, summary: a.summary, llm: a.llm };
}
