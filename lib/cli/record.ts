/**
 * `agentsight record [options] -- <command> [args...]`: launch a command and
 * trace exactly it and its descendants from its first instruction, write the
 * session to a file, summarise it, and exit with the command's exit status.
 */
import * as path from 'node:path';
import type { Analyzer } from '../core/analyzer';
import { OutputAnalyzer } from '../sinks/output';
import { summaryText } from '../analyzers/summary';
import type { Event } from '../core/event';
import type { ExitStatus, LaunchOptions } from '../session/launch';
import { Recording } from '../session/recording';
import type { AgentOptions, FileOutputOptions, RecordCliOptions } from '../config/options';
import { UsageError } from '../core/errors';
import { analyzerLossLine, EXIT_OUTPUT_FAILED, lossLines, lossSummary, outputFailed, sinkLosses, sinkReports, type SessionIo } from '../session/run';
import { FileLogger, openFileLogger } from '../sinks/file-logger';
import { writeLine } from '../render/safe-text';

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
  /** What agentsight exits with: the command's status, or EXIT_OUTPUT_FAILED when it succeeded but the session could not be written. */
  exitCode: number;
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
}

/** The session file's name when --output is not given: agentsight-record-<local time>.ndjson. */
export function defaultRecordFile(when = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `agentsight-record-${when.getFullYear()}${p(when.getMonth() + 1)}${p(when.getDate())}-${p(when.getHours())}${p(when.getMinutes())}${p(when.getSeconds())}.ndjson`;
}

/**
 * The default session file, in the current directory: always a file this
 * run creates (a name taken, by an earlier run or planted by someone else,
 * gets a -2, -3 ... suffix), never one appended to.
 */
export async function openDefaultRecordFile(o: FileOutputOptions): Promise<FileLogger> {
  const name = defaultRecordFile();
  for (let n = 1; ; n++) {
    const file = n === 1 ? name : name.replace(/\.ndjson$/, `-${n}.ndjson`);
    try {
      return (await openFileLogger({ ...o, output: file, createNew: true })) as FileLogger;
    } catch (err) {
      if (!(err instanceof UsageError && /already exists/.test(err.message)) || n >= 100) throw err;
    }
  }
}

export async function runRecord(command: string[], o: AgentOptions & RecordCliOptions, io: SessionIo, hooks: RecordHooks = {}): Promise<RecordResult> {
  const sinks: Analyzer[] = [...(hooks.sinks ?? [])];
  if (o.live) sinks.push(liveView(io));
  const rec = new Recording(command, { options: o, sinks, launch: hooks.launch });
  const onReady = (info: { detail: string }) => {
    if (!o.quiet) writeLine(io.stderr, `agentsight: ${info.detail}`);
  };
  const onNotice = (m: string) => writeLine(io.stderr, `agentsight: ${m}`);
  rec.runner.on('ready', onReady);
  rec.runner.on('notice', onNotice);

  // Signals: from a terminal, the command's whole process group gets Ctrl-C
  // first-hand; otherwise it is passed to the command and its descendants,
  // as a terminal would. A second one kills them.
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (rec.status) rec.stop();
    else if (signals >= 2) rec.signal('SIGKILL');
    else if (!process.stdin.isTTY || !rec.released) rec.signal(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let events = 0;
  const finals: Event[] = [];
  const analyzerStats: Event[] = [];
  try {
    for await (const e of rec.events()) {
      events++;
      if (e.source === 'stats' && e.data.event === 'FINAL') finals.push(e);
      if (e.source === 'stats' && e.data.event === 'ANALYZER') analyzerStats.push(e);
      hooks.onEvent?.(e);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    rec.runner.off('ready', onReady);
    rec.runner.off('notice', onNotice);
  }
  const final = await rec.exit;
  const losses = sinkLosses(sinks);
  const lines: string[] = [];
  if (rec.summary.result) lines.push(...summaryText(rec.summary.result));
  const { lost, total } = lossSummary(finals);
  if (total)
    lines.push(
      `WARNING: ${total} record(s) lost or truncated: ${Object.entries(lost)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
  const analyzers = analyzerLossLine(analyzerStats);
  if (analyzers) lines.push(analyzers);
  lines.push(...sinkReports(sinks));
  lines.push(...lossLines(losses));
  const where = hooks.file
    ? ` ${losses.some((l) => l.sink === `file ${hooks.file}`) ? 'for' : 'written to'} ${path.relative(process.cwd(), hooks.file) || hooks.file}`
    : '';
  lines.push(`${events} event(s)${where}`);
  lines.push(`command exited with ${final.signal ? `signal ${final.signal}` : `status ${final.code}`}`);
  // the command's status, unless it succeeded and its session could not be written
  const exitCode = outputFailed(losses) && final.status === 0 ? EXIT_OUTPUT_FAILED : final.status;
  if (exitCode !== final.status) lines.push(`exit status ${exitCode}: the session was not written completely`);
  return { status: final, exitCode, events, file: hooks.file ?? null, summary: lines };
}
