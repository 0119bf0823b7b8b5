/**
 * The `agent` and `record` commands: TLS + process tracing under one
 * selection, HTTP parsing, SSE merging and LLM call events on by default.
 */
import type { Analyzer } from '../core/analyzer';
import { LlmAnalyzer } from '../analyzers/llm';
import { Redactor } from '../analyzers/redactor';
import { OutputAnalyzer, type OutputFormat } from '../sinks/output';
import { SessionSummary } from '../analyzers/summary';
import { UsageError } from '../core/errors';
import { AgentRunner } from '../runners/agent-runner';
import { ProcessRunner } from '../runners/process-runner';
import { SslRunner } from '../runners/ssl-runner';
import type { ProcessTracerOptions } from '../tracers/process-tracer';
import type { SslTracerOptions } from '../tracers/ssl-tracer';
import { chainOptions, tlsAnalyzers } from './chains';
import { defined, type ParsedArgs } from './options';
import type { SessionIo } from '../session/run';

export interface Selection {
  comm?: string[];
  pid?: number[];
}

export interface AgentSetup {
  runner: AgentRunner;
  summary: SessionSummary;
  llm: LlmAnalyzer | null;
}

const num = (v: unknown) => (v === undefined ? undefined : Number(v));

/** Tracer options from agent/record arguments. */
export function agentTracerOptions(a: ParsedArgs, sel: Selection): { ssl: SslTracerOptions; process: ProcessTracerOptions } {
  const statsIntervalMs = Number(a['stats-interval'] ?? 10) * 1000;
  const sslRing = num(a['ssl-ring-size']);
  const procRing = num(a['ring-size']);
  return {
    ssl: {
      ...sel,
      statsIntervalMs,
      ...defined({
        uid: num(a['ssl-uid']),
        handshake: a['ssl-handshake'] === undefined ? undefined : Boolean(a['ssl-handshake']),
        port: (a.port as unknown[] | undefined)?.map(Number),
        binaryPaths: (a['binary-path'] as unknown[] | undefined)?.map(String),
        maxBytes: num(a['max-bytes']),
        ringBytes: sslRing === undefined ? undefined : sslRing * 1024 * 1024,
      }),
    },
    process: {
      ...sel,
      statsIntervalMs,
      ...defined({
        durationMs: num(a.duration),
        fileEvents: a['file-events'] === undefined ? undefined : Boolean(a['file-events']),
        fileDedupMs: num(a['file-dedup-ms']),
        argvMax: num(a['argv-max']),
        ringBytes: procRing === undefined ? undefined : procRing * 1024 * 1024,
      }),
    },
  };
}

/**
 * The runner of `agent`/`record`: an AgentRunner with an SslRunner (HTTP
 * parsing and SSE merging on by default) and a ProcessRunner sharing one
 * selection; global analyzers: LLM calls, the session summary, then `sinks`.
 */
export function buildAgent(a: ParsedArgs, sel: Selection, sinks: Analyzer[], sslExtra: Partial<SslTracerOptions> = {}): AgentSetup {
  const useSsl = a.ssl !== false;
  const useProc = a.process !== false;
  if (!useSsl && !useProc) throw new UsageError('--ssl false and --process false leave nothing to trace');
  const opts = agentTracerOptions(a, sel);
  const chain = chainOptions(a, { httpParser: true, sseMerge: true, rawSsl: false });
  const runner = new AgentRunner('agent');
  if (useSsl) runner.addRunner(new SslRunner({ ...opts.ssl, ...sslExtra }).withAnalyzers(tlsAnalyzers(chain)));
  if (useProc) runner.addRunner(new ProcessRunner(opts.process));
  // process events (argv, paths) are masked too; the TLS chain masked its own events already
  if (chain.redact) runner.addGlobalAnalyzer(new Redactor());
  const llm = useSsl && chain.httpParser ? new LlmAnalyzer() : null;
  if (llm) runner.addGlobalAnalyzer(llm);
  const summary = new SessionSummary();
  runner.addGlobalAnalyzer(summary);
  for (const s of sinks) runner.addGlobalAnalyzer(s);
  return { runner, summary, llm };
}

export function consoleOutput(a: ParsedArgs, io: SessionIo, stream?: SessionIo['stdout']): OutputAnalyzer {
  return new OutputAnalyzer({ stream: stream ?? io.stdout, format: (a.format as OutputFormat) ?? 'auto', quiet: Boolean(a.quiet) });
}
