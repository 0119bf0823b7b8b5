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
import type { AgentOptions, RecordCliOptions } from '../config/options';
import { lossSummary, type SessionIo } from '../session/run';

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
}

/** The session file when --output is not given: agentsight-record-<local time>.ndjson in the current directory. */
export function defaultRecordFile(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `agentsight-record-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}.ndjson`;
}

export async function runRecord(command: string[], o: AgentOptions & RecordCliOptions, io: SessionIo, hooks: RecordHooks = {}): Promise<RecordResult> {
  const sinks: Analyzer[] = [...(hooks.sinks ?? [])];
  if (o.live) sinks.push(liveView(io));
  const rec = new Recording(command, { options: o, sinks, launch: hooks.launch });
  const onReady = (info: { detail: string }) => {
    if (!o.quiet) io.stderr.write(`agentsight: ${info.detail}\n`);
  };
  const onNotice = (m: string) => io.stderr.write(`agentsight: ${m}\n`);
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
  try {
    for await (const e of rec.events()) {
      events++;
      if (e.source === 'stats' && e.data.event === 'FINAL') finals.push(e);
      hooks.onEvent?.(e);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    rec.runner.off('ready', onReady);
    rec.runner.off('notice', onNotice);
  }
  const final = await rec.exit;
  const lines: string[] = [];
  if (rec.summary.result) lines.push(...summaryText(rec.summary.result));
  const { lost, total } = lossSummary(finals);
  if (total) lines.push(`WARNING: ${total} record(s) lost or truncated: ${Object.entries(lost).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  lines.push(`${events} event(s)${hooks.file ? ` written to ${path.relative(process.cwd(), hooks.file) || hooks.file}` : ''}`);
  lines.push(`command exited with ${final.signal ? `signal ${final.signal}` : `status ${final.code}`}`);
  return { status: final, events, file: hooks.file ?? null, summary: lines };
}
