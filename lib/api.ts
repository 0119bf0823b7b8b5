/**
 * One-call helpers: trace running processes, or launch a command and trace
 * it, and get an AsyncIterable of events. Options are AgentOptions (the
 * typed form of `agent`/`record`'s flags, with the same defaults: HTTP
 * parsing, SSE merging and LLM call events on), without periodic stats.
 */
import type { Analyzer } from './core/analyzer';
import type { Event } from './core/event';
import type { AgentOptions } from './config/options';
import { buildAgent } from './session/agent';
import type { ExitStatus, LaunchOptions } from './session/launch';
import { Recording } from './session/recording';

export interface TraceOptions extends AgentOptions {
  /** Analyzers appended to the chain (e.g. a FileLogger). */
  analyzers?: Analyzer[];
}

/** The options trace() and record() share. */
export type HelperOptions = TraceOptions;

export interface TraceSession {
  /** The events, until stop(). Iterate once. */
  events: AsyncIterable<Event>;
  stop(): void;
}

/** Library defaults on top of the CLI's: no periodic stats events. */
function withDefaults<T extends AgentOptions>(o: T): T {
  return { statsIntervalMs: 0, ...o };
}

/** Watch running processes (all of them when neither comm nor pid is given). */
export function trace(opts: TraceOptions = {}): TraceSession {
  const ctrl = new AbortController();
  const { runner } = buildAgent(withDefaults(opts), opts.analyzers ?? []);
  runner.validate();
  return { events: runner.run({ signal: ctrl.signal }), stop: () => ctrl.abort() };
}

export interface RecordOptions extends TraceOptions {
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
  const rec = new Recording(command, { options: withDefaults(opts), sinks: opts.analyzers, launch: opts.launch });
  return { pid: rec.pid, events: rec.events(), exit: rec.exit, signal: (s) => rec.signal(s), stop: () => rec.stop() };
}
