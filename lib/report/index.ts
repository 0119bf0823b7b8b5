/**
 * `agentsight report FILE...`: a report of saved sessions (lib/report/collect.ts)
 * in text, JSON or Markdown (lib/report/render.ts).
 */
import { CostAnalyzer } from '../analyzers/cost';
import { Redactor } from '../analyzers/redactor';
import { Prices } from '../cost/prices';
import { checkSessionFiles, readNdjson } from '../sinks/ndjson';
import { ReportBuilder, type ReportLimits, type SessionReport } from './collect';

export { checkSessionFiles } from '../sinks/ndjson';
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
