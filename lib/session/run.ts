/**
 * Running a runner to completion the way the CLI does: Ctrl-C / SIGTERM stop
 * it cleanly (the kernel side is drained, analyzers flush, everything is
 * detached), and a summary of what was seen and lost goes to stderr. Lines
 * that quote captured text (notices name processes and files) are written
 * through writeLine(): escaped, one line each.
 */
import type { Writable } from 'node:stream';
import type { Event } from '../core/event';
import type { Runner } from '../runners/runner';
import type { SinkLoss } from '../sinks/output';
import { writeLine } from '../render/safe-text';

/** Exit status when events could not be written (EX_IOERR of sysexits.h). */
export const EXIT_OUTPUT_FAILED = 74;

/** A sink that can say what it could not write. */
export interface AccountableSink {
  loss(): SinkLoss | null;
}

export interface SessionIo {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
}

export interface SessionResult {
  events: number;
  /** The FINAL stats event of each tracer. */
  finals: Event[];
  /** The ANALYZER stats event of each analyzer that emits one. */
  analyzerStats: Event[];
  /** Set when the run stopped on a signal. */
  signal?: NodeJS.Signals;
  /** What the sinks could not write. */
  losses: SinkLoss[];
}

export interface SessionOptions {
  /** Extra stop condition (e.g. the launched command exited). */
  signal?: AbortSignal;
  /** Called for every event that reaches the end of the chain. */
  onEvent?: (e: Event) => void;
  /** Install SIGINT/SIGTERM handlers (default true). */
  handleSignals?: boolean;
  /** Print the runner's ready line and notices to stderr (default true). */
  announce?: boolean;
  /** Sinks whose losses the result reports (those with a loss() method). */
  sinks?: readonly unknown[];
}

/** A sink that says what it did at the end of a run (the OTLP sink: what it sent). */
export interface ReportingSink {
  summaryLines(): string[];
}

/** The end-of-run lines of the sinks that have some. */
export function sinkReports(sinks: readonly unknown[]): string[] {
  return sinks.flatMap((s) => (typeof (s as ReportingSink).summaryLines === 'function' ? (s as ReportingSink).summaryLines() : []));
}

/** What sinks could not write. */
export function sinkLosses(sinks: readonly unknown[]): SinkLoss[] {
  const out: SinkLoss[] = [];
  for (const s of sinks) {
    const loss = typeof (s as AccountableSink).loss === 'function' ? (s as AccountableSink).loss() : null;
    if (loss) out.push(loss);
  }
  return out;
}

/** Lines about what sinks could not write. */
export function lossLines(losses: readonly SinkLoss[]): string[] {
  return losses.map((l) =>
    l.sink === 'console' && /EPIPE/.test(l.error ?? '')
      ? `stdout was closed by its reader (EPIPE): stopped${l.events_not_written ? `; ${l.events_not_written} event(s) captured meanwhile were not shown` : ''}`
      : `WARNING: ${l.events_not_written} ${l.unit ?? 'event(s)'} not ${l.export ? 'sent' : 'written'} to the ${l.sink}${l.error ? ` (${l.error})` : ''}`,
  );
}

/** Did a sink other than a closed console (or a remote export) fail to write? Then the exit status says so. */
export function outputFailed(losses: readonly SinkLoss[]): boolean {
  return losses.some((l) => !l.export && !(l.sink === 'console' && /EPIPE/.test(l.error ?? '')));
}

/** Sum of every drop/truncation counter in FINAL stats events. */
export function lossSummary(finals: readonly Event[]): { lost: Record<string, number>; total: number } {
  const lost: Record<string, number> = {};
  let total = 0;
  for (const f of finals) {
    const k = (f.data.kernel ?? {}) as Record<string, number>;
    for (const [name, v] of Object.entries(k)) {
      if (!v) continue;
      lost[`${f.data.tracer}.${name}`] = (lost[`${f.data.tracer}.${name}`] ?? 0) + v;
      total += v;
    }
    const d = f.data.decode_errors as number | undefined;
    if (d) {
      lost[`${f.data.tracer}.decode_errors`] = d;
      total += d;
    }
  }
  return { lost, total };
}

/** What analyzers left out: the `lost` counters of their ANALYZER stats events, as `<analyzer>.<counter>`. */
export function analyzerLosses(stats: readonly Event[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of stats) {
    const lost = e.data.lost;
    if (typeof lost !== 'object' || lost === null) continue;
    for (const [k, v] of Object.entries(lost as Record<string, unknown>)) {
      if (typeof v === 'number' && v > 0) out[`${e.data.analyzer}.${k}`] = (out[`${e.data.analyzer}.${k}`] ?? 0) + v;
    }
  }
  return out;
}

/** The line for people about what analyzers left out, or null when nothing was. */
export function analyzerLossLine(stats: readonly Event[]): string | null {
  const lost = Object.entries(analyzerLosses(stats));
  if (lost.length === 0) return null;
  return `WARNING: analyzers left out: ${lost.map(([k, v]) => `${k}=${v}`).join(', ')} (see docs/events.md, loss counters)`;
}

export async function runSession(runner: Runner, io: SessionIo, opts: SessionOptions = {}): Promise<SessionResult> {
  const ctrl = new AbortController();
  const result: SessionResult = { events: 0, finals: [], analyzerStats: [], losses: [] };
  const onSignal = (sig: NodeJS.Signals) => {
    if (ctrl.signal.aborted) {
      io.stderr.write(`agentsight: second ${sig}, exiting without cleanup\n`);
      process.exit(130);
    }
    result.signal = sig;
    ctrl.abort();
  };
  const handle = opts.handleSignals ?? true;
  if (handle) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const onReady = (info: { detail: string }) => writeLine(io.stderr, `agentsight: ${info.detail}; Ctrl-C to stop`);
  const onNotice = (msg: string) => writeLine(io.stderr, `agentsight: ${msg}`);
  if (opts.announce ?? true) {
    runner.on('ready', onReady);
    runner.on('notice', onNotice);
  }
  const onExtra = () => ctrl.abort();
  opts.signal?.addEventListener('abort', onExtra, { once: true });
  try {
    for await (const e of runner.run({ signal: ctrl.signal })) {
      result.events++;
      if (e.source === 'stats' && e.data.event === 'FINAL') result.finals.push(e);
      if (e.source === 'stats' && e.data.event === 'ANALYZER') result.analyzerStats.push(e);
      opts.onEvent?.(e);
    }
  } finally {
    opts.signal?.removeEventListener('abort', onExtra);
    runner.off('ready', onReady);
    runner.off('notice', onNotice);
    if (handle) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
  result.losses = sinkLosses(opts.sinks ?? []);
  return result;
}

/** The stderr lines summarising a session. */
export function summaryLines(r: SessionResult): string[] {
  const lines: string[] = [];
  const { lost, total } = lossSummary(r.finals);
  if (total > 0) {
    lines.push(
      `agentsight: WARNING: ${total} record(s) lost or truncated: ` +
        Object.entries(lost)
          .map(([k, v]) => `${k}=${v}`)
          .join(', '),
    );
    if (Object.keys(lost).some((k) => k.includes('ringbuf_full')))
      lines.push('agentsight: the ring buffer was full: raise --ring-size or narrow the selection (--comm/--pid)');
  }
  // --port: what it left out, so an empty capture is not a mystery
  let portFiltered = 0;
  let portUnknown = 0;
  for (const f of r.finals) {
    portFiltered += Number(f.data.port_filtered ?? 0);
    portUnknown += Number(f.data.port_unknown ?? 0);
  }
  const leftOut = [
    portFiltered > 0 ? `${portFiltered} TLS event(s) on other ports` : '',
    portUnknown > 0 ? `${portUnknown} whose socket was unknown (port_unknown)` : '',
  ].filter(Boolean);
  if (leftOut.length > 0) lines.push(`agentsight: --port left out ${leftOut.join(' and ')}`);
  const analyzers = analyzerLossLine(r.analyzerStats);
  if (analyzers) lines.push(`agentsight: ${analyzers}`);
  for (const l of lossLines(r.losses)) lines.push(`agentsight: ${l}`);
  lines.push(`agentsight: ${r.events} event(s)${total === 0 && !analyzers && r.losses.length === 0 ? ', nothing lost' : ''}`);
  return lines;
}
