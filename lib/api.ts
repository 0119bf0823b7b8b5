/**
 * One-call helpers: trace running processes, or launch a command and trace
 * it, and get an AsyncIterable of events. Options take the CLI's names and
 * defaults (HTTP parsing, SSE merging and LLM call events on).
 */
import type { Analyzer } from './core/analyzer';
import { buildAgent } from './cli/agent';
import type { ParsedArgs } from './cli/options';
import type { Event } from './core/event';
import type { ExitStatus, LaunchOptions } from './session/launch';
import { Recording } from './session/recording';

export interface HelperOptions {
  /** TLS capture (default true). */
  ssl?: boolean;
  /** Process tracing (default true). */
  process?: boolean;
  /** HTTP parsing, SSE merging and llm events (default true). */
  http?: boolean;
  /** Keep the raw ssl events too (default false when http is on). */
  rawSsl?: boolean;
  /** Mask credentials (default true). */
  redact?: boolean;
  /** Exclusion filters, as --http-filter / --ssl-filter. */
  httpFilter?: string[];
  sslFilter?: string[];
  /** Any other option in its CLI name, e.g. { 'ssl-uid': 1000, 'max-bytes': 65536 }. */
  extra?: ParsedArgs;
  /** Analyzers appended to the chain (e.g. a FileLogger). */
  analyzers?: Analyzer[];
}

function toArgs(o: HelperOptions): ParsedArgs {
  const a: ParsedArgs = { 'stats-interval': 0, ...(o.extra ?? {}) };
  if (o.ssl !== undefined) a.ssl = o.ssl;
  if (o.process !== undefined) a.process = o.process;
  if (o.http === false) {
    a['http-parser'] = false;
    a['sse-merge'] = false;
  }
  if (o.rawSsl !== undefined) a['raw-ssl'] = o.rawSsl;
  if (o.redact === false) a['disable-auth-removal'] = true;
  if (o.httpFilter) a['http-filter'] = o.httpFilter;
  if (o.sslFilter) a['ssl-filter'] = o.sslFilter;
  return a;
}

export interface TraceOptions extends HelperOptions {
  /** Processes to watch by name (prefix) and their descendants. */
  comm?: string[];
  /** Processes to watch by pid, and their descendants. */
  pid?: number[];
}

export interface TraceSession {
  /** The events, until stop(). Iterate once. */
  events: AsyncIterable<Event>;
  stop(): void;
}

/** Watch running processes (all of them when neither comm nor pid is given). */
export function trace(opts: TraceOptions = {}): TraceSession {
  const ctrl = new AbortController();
  const sel = { ...(opts.comm ? { comm: opts.comm } : {}), ...(opts.pid ? { pid: opts.pid } : {}) };
  const { runner } = buildAgent(toArgs(opts), sel, opts.analyzers ?? []);
  runner.validate();
  return { events: runner.run({ signal: ctrl.signal }), stop: () => ctrl.abort() };
}

export interface RecordOptions extends HelperOptions {
  launch?: LaunchOptions;
}

export interface RecordSession {
  /** pid of the command (and of the process tree's root). */
  pid: number;
  /** The events, from the command's first instruction until it has exited. Iterate once. */
  events: AsyncIterable<Event>;
  /** The command's exit status. */
  exit: Promise<ExitStatus>;
  /** Signal the command and its descendants. */
  signal(sig: NodeJS.Signals): void;
  /** Stop tracing now. */
  stop(): void;
}

/** Launch a command and trace it and all its descendants from its first instruction. */
export function record(command: string[], opts: RecordOptions = {}): RecordSession {
  const rec = new Recording(command, { args: toArgs(opts), sinks: opts.analyzers, launch: opts.launch });
  return { pid: rec.pid, events: rec.events(), exit: rec.exit, signal: (s) => rec.signal(s), stop: () => rec.stop() };
}
