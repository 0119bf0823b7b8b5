/**
 * `agentsight report FILE...`: a report of saved sessions (lib/report/collect.ts)
 * in text, JSON or Markdown (lib/report/render.ts).
 */
import * as fs from 'node:fs';
import { CostAnalyzer } from '../analyzers/cost';
import { Redactor } from '../analyzers/redactor';
import { UsageError } from '../core/errors';
import { Prices } from '../cost/prices';
import { readNdjson } from '../sinks/ndjson';
import { ReportBuilder, type ReportLimits, type SessionReport } from './collect';

export * from './collect';
export { printable, renderReport, reportMarkdown, reportText, type ReportFormat } from './render';

export interface ReportOptions {
  /** Price table (default: the shipped one). */
  prices?: Prices;
  /** Price every call again, also those that carry a recorded cost (default: only those without one). */
  reprice?: boolean;
  limits?: ReportLimits;
  /** Mask credentials in the events read (default true): a file may have been written without masking. */
  redact?: boolean;
}

/** Check that the files can be read before anything is done with them. */
export function checkSessionFiles(files: readonly string[], what = 'report'): void {
  if (files.length === 0) throw new UsageError(`${what} needs at least one session file (NDJSON, as written by record or --output)`);
  for (const f of files) {
    let st: fs.Stats;
    try {
      st = fs.statSync(f);
    } catch (e) {
      throw new UsageError(`${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    if (!st.isFile()) throw new UsageError(`${f}: not a regular file`);
    try {
      fs.accessSync(f, fs.constants.R_OK);
    } catch (e) {
      throw new UsageError(`${f}: cannot be read: ${(e as Error).message}`);
    }
  }
}

/** The report of saved sessions, one file after another (damaged lines are counted, not fatal). */
export async function buildReport(files: readonly string[], opts: ReportOptions = {}): Promise<SessionReport> {
  checkSessionFiles(files);
  const cost = new CostAnalyzer({ prices: opts.prices, reprice: opts.reprice });
  const b = new ReportBuilder(opts.limits);
  const redactor = opts.redact === false ? null : new Redactor({ exposures: false });
  for (const f of files) {
    b.file(f);
    for await (const e of readNdjson(f)) b.add(cost.price(redactor ? redactor.redact(e) : e));
  }
  return b.result();
}
