/**
 * A recording: a command launched behind a gate and traced, with all its
 * descendants, from its first instruction until it exits. Shared by
 * `agentsight record` and the library's record().
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Analyzer } from '../core/analyzer';
import type { SessionSummary } from '../analyzers/summary';
import { recordAgentOptions, type AgentOptions } from '../config/options';
import { buildAgent } from './agent';
import { UsageError } from '../core/errors';
import type { Event } from '../core/event';
import { launchGated, type ExitStatus, type LaunchOptions } from './launch';
import type { AgentRunner } from '../runners/agent-runner';
import { listProcesses } from '../tracers/proc';

/** The file a command name runs (as execvp would find it), or null. */
export function resolveCommand(name: string, env: NodeJS.ProcessEnv): string | null {
  const ok = (p: string) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (name.includes('/')) return ok(name) ? path.resolve(name) : null;
  for (const dir of (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', name);
    if (ok(p)) return p;
  }
  return null;
}

/** Send a signal to a process and all its descendants. */
export function signalTree(root: number, sig: NodeJS.Signals): void {
  const kids = new Map<number, number[]>();
  for (const p of listProcesses()) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p.pid]);
  const todo = [root];
  for (let i = 0; i < todo.length; i++) todo.push(...(kids.get(todo[i]) ?? []));
  for (const pid of todo) {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export interface RecordingOptions {
  /** What to trace and how (the options of `agentsight record`). */
  options?: AgentOptions;
  /** Analyzers at the end of the chain (e.g. a FileLogger). */
  sinks?: Analyzer[];
  launch?: LaunchOptions;
  /** How long to keep tracing after the command exits, for descendants that outlive it (ms, default 0: what the command did is all drained at its exit). */
  tailMs?: number;
}

export class Recording {
  readonly command: readonly string[];
  readonly pid: number;
  readonly runner: AgentRunner;
  readonly summary: SessionSummary;
  /** Resolves when the command exits. */
  readonly exit: Promise<ExitStatus>;
  /** The command's exit status once known. */
  status: ExitStatus | null = null;
  /** The command was let go (probes attached). */
  released = false;
  private readonly stopCtrl = new AbortController();
  private started = false;

  constructor(command: readonly string[], opts: RecordingOptions = {}) {
    if (command.length === 0 || !command[0]) throw new UsageError('no command to record');
    this.command = [...command];
    const cmd = launchGated(command[0], command.slice(1), opts.launch);
    this.pid = cmd.pid;
    try {
      const exe = resolveCommand(command[0], opts.launch?.env ?? process.env);
      const setup = buildAgent(recordAgentOptions(opts.options ?? {}, cmd.pid), opts.sinks ?? [], {
        launching: [cmd.pid],
        preloadExecutables: exe ? [exe] : [],
      });
      setup.runner.validate();
      this.runner = setup.runner;
      this.summary = setup.summary;
    } catch (err) {
      cmd.child.kill('SIGKILL');
      throw err;
    }
    this.runner.once('ready', () => {
      this.released = true;
      cmd.release();
    });
    // The kernel records a process's exit (sched_process_exit) before its parent hears of it, and
    // its TLS calls before that: once the command has exited, everything it did is in the rings,
    // and stopping drains them. tailMs keeps following its descendants that outlive it.
    const tail = opts.tailMs ?? 0;
    this.exit = cmd.exited.then(async (s) => {
      this.status = s;
      if (tail > 0) await new Promise((r) => setTimeout(r, tail));
      this.stopCtrl.abort();
      return s;
    });
    this.exit.catch(() => this.stopCtrl.abort());
  }

  /** Send a signal to the command and its descendants. */
  signal(sig: NodeJS.Signals): void {
    if (!this.status) signalTree(this.pid, sig);
  }

  /** Stop tracing now (the command is not touched). */
  stop(): void {
    this.stopCtrl.abort();
  }

  /**
   * The session's events, from the command's first instruction until it has
   * exited (and its last events arrived) or stop() is called. If the consumer
   * stops early while the command still runs, the command is killed.
   */
  async *events(): AsyncGenerator<Event> {
    if (this.started) throw new Error('events() can be iterated only once');
    this.started = true;
    try {
      for await (const e of this.runner.run({ signal: this.stopCtrl.signal })) {
        yield e;
      }
    } finally {
      if (!this.status) {
        // tracing failed to start, or the consumer left: do not leave a gated or orphaned command behind
        this.signal('SIGKILL');
      }
    }
  }
}
