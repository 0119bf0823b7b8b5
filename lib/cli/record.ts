/**
 * `agentsight record [options] -- <command> [args...]`: launch a command and
 * trace exactly it and its descendants from its first instruction, write the
 * session to a file, summarise it, and exit with the command's exit status.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Analyzer } from '../analyzer';
import { OutputAnalyzer } from '../analyzers/output';
import { summaryText } from '../analyzers/summary';
import type { Event } from '../event';
import { listProcesses } from '../tracers/proc';
import { launchGated, type ExitStatus, type GatedCommand, type LaunchOptions } from '../launch';
import { buildAgent } from './agent';
import type { ParsedArgs } from './options';
import { lossSummary, runSession, type SessionIo } from './session';

/**
 * What --live shows on stderr: everything readable, but not the raw material
 * (TLS chunks, streamed body pieces, file opens): those are in the file.
 */
export function liveView(io: SessionIo): OutputAnalyzer {
  return new OutputAnalyzer({
    stream: io.stderr as SessionIo['stdout'],
    format: 'pretty',
    color: (io.stderr as { isTTY?: boolean }).isTTY === true,
    show: (e) => {
      const d = e.data as { type?: string; event?: string };
      return !(
        e.source === 'ssl' ||
        (e.source === 'http' && (d.type === 'body_chunk' || d.type === 'response_headers')) ||
        (e.source === 'process' && d.event === 'FILE_OPEN') ||
        (e.source === 'stats' && d.event === 'ANALYZER')
      );
    },
  });
}

export interface RecordResult {
  status: ExitStatus;
  events: number;
  file: string | null;
  summary: string[];
}

export interface RecordHooks {
  /** Sinks for the merged stream (e.g. a FileLogger), after the summary. */
  sinks?: Analyzer[];
  /** The file the sinks write, for the closing message. */
  file?: string | null;
  launch?: LaunchOptions;
  /** Called for each event at the end of the chain. */
  onEvent?: (e: Event) => void;
  /** Called once the command is released (probes attached, pid selected). */
  onStarted?: (cmd: GatedCommand) => void;
}

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
  const procs = listProcesses();
  const kids = new Map<number, number[]>();
  for (const p of procs) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p.pid]);
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

/** How long to keep tracing after the command exits, for its last events (ms). */
const TAIL_MS = 1500;

export async function runRecord(command: string[], a: ParsedArgs, io: SessionIo, hooks: RecordHooks = {}): Promise<RecordResult> {
  const cmd = launchGated(command[0], command.slice(1), hooks.launch);
  const sinks: Analyzer[] = [...(hooks.sinks ?? [])];
  if (a.live) sinks.push(liveView(io));
  let setup;
  try {
    const exe = resolveCommand(command[0], hooks.launch?.env ?? process.env);
    setup = buildAgent(a, { pid: [cmd.pid] }, sinks, { launching: [cmd.pid], preloadExecutables: exe ? [exe] : [] });
    setup.runner.validate();
  } catch (err) {
    cmd.child.kill('SIGKILL');
    throw err;
  }
  const { runner, summary } = setup;
  const stop = new AbortController();
  let released = false;
  let status: ExitStatus | null = null;
  let sawExit = false;

  runner.once('ready', () => {
    released = true;
    cmd.release();
    hooks.onStarted?.(cmd);
  });

  // Signals: from a terminal, the command's whole process group gets Ctrl-C
  // first-hand; otherwise the signal is passed to the command and its
  // descendants as a terminal would. A second one kills them.
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (status) {
      stop.abort();
      return;
    }
    if (signals >= 2) signalTree(cmd.pid, 'SIGKILL');
    else if (!process.stdin.isTTY || !released) signalTree(cmd.pid, sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  cmd.exited
    .then(async (s) => {
      status = s;
      // keep tracing a moment for the command's last TLS data and its EXIT event
      const end = Date.now() + TAIL_MS;
      while (!sawExit && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
      await new Promise((r) => setTimeout(r, 200));
      stop.abort();
    })
    .catch(() => stop.abort());

  let result;
  try {
    result = await runSession(runner, io, {
      signal: stop.signal,
      handleSignals: false,
      onEvent: (e) => {
        if (e.source === 'process' && e.pid === cmd.pid && e.data.event === 'EXIT') sawExit = true;
        hooks.onEvent?.(e);
      },
    });
  } catch (err) {
    if (!status) cmd.child.kill('SIGKILL');
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const final = status ?? (await cmd.exited);
  const lines: string[] = [];
  if (summary.result) lines.push(...summaryText(summary.result));
  const { lost, total } = lossSummary(result.finals);
  if (total) lines.push(`WARNING: ${total} record(s) lost or truncated: ${Object.entries(lost).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  lines.push(`${result.events} event(s)${hooks.file ? ` written to ${path.relative(process.cwd(), hooks.file) || hooks.file}` : ''}`);
  lines.push(`command exited with ${final.signal ? `signal ${final.signal}` : `status ${final.code}`}`);
  return { status: final, events: result.events, file: hooks.file ?? null, summary: lines };
}
