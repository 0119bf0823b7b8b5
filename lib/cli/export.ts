/**
 * `agentsight export [options] FILE...`: saved sessions (NDJSON files written
 * by record or agent) sent to an OpenTelemetry receiver as OTLP traces, the
 * same spans a live run with --otlp-endpoint sends. Files are read one after
 * another, each a stream of its own; reading waits for the queue (a backfill
 * can wait, unlike capture), and gives up waiting after --otlp-flush-timeout
 * without progress (then spans are dropped and counted).
 */
import { UsageError } from '../core/errors';
import type { ExportCliOptions } from '../config/options';
import { resolveOtlp } from '../otel/config';
import { OtlpSink } from '../otel/sink';
import { EXIT_OUTPUT_FAILED, lossLines, type SessionIo } from '../session/run';
import { checkSessionFiles, readNdjson } from '../sinks/ndjson';
import { writeLine } from '../render/safe-text';

/** Room kept in the queue before an event is handed on (one event makes a few spans at most). */
const ROOM = 64;

export async function runExport(files: string[], o: ExportCliOptions, io: SessionIo): Promise<number> {
  if (files.length === 0) throw new UsageError('export needs at least one NDJSON file: agentsight export [options] <file...>');
  const cfg = resolveOtlp(o, process.env, false);
  if (!cfg) throw new UsageError('export needs a receiver: --otlp-endpoint URL, or --otlp with OTEL_EXPORTER_OTLP_ENDPOINT set');
  checkSessionFiles(files, 'export');
  const say = (l: string) => writeLine(io.stderr, `agentsight: ${l}`);
  const sink = new OtlpSink(cfg, { metrics: false, onNotice: say });
  let events = 0;
  let bad = 0;
  /** spans exported when waiting for room was given up (-1: waiting) */
  let gaveUpAt = -1;
  try {
    for (const f of files) {
      sink.newStream();
      for await (const e of readNdjson(f)) {
        if (e.source === 'diagnostic' && e.data.type === 'ndjson_error') {
          bad++;
          if (bad <= 5) say(String(e.data.message));
        }
        // wait for room while the receiver takes spans; once it stopped for a whole flush timeout, stop waiting until it takes some again
        const q = sink.exporter.queue;
        if (gaveUpAt >= 0 && q.stats().exported > gaveUpAt) gaveUpAt = -1;
        const room = Math.min(ROOM, cfg.queueSize);
        if (gaveUpAt < 0 && q.pending + room > cfg.queueSize && !(await q.waitForSpace(room, cfg.flushTimeoutMs))) gaveUpAt = q.stats().exported;
        sink.observe(e);
        events++;
      }
    }
  } finally {
    await sink.close();
  }
  const lines = [`${events} event(s) read from ${files.length} file(s)${bad ? `, ${bad} line(s) that are not events skipped` : ''}`, ...sink.summaryLines()];
  const loss = sink.loss();
  if (loss) lines.push(...lossLines([loss]));
  for (const l of o.quiet ? lines.filter((x) => /WARNING|not sent/.test(x)) : lines) say(l);
  return loss ? EXIT_OUTPUT_FAILED : 0;
}
