import type { Analyzer } from '../core/analyzer';
import { FileLogger } from '../sinks/file-logger';
import type { ParsedArgs } from './options';

/** The FileLogger of --output (with --rotate-logs/--max-log-size), if asked for. */
export async function fileSink(a: ParsedArgs): Promise<FileLogger | null> {
  const file = a.output as string | undefined;
  if (!file) return null;
  const logger = new FileLogger({
    path: file,
    rotate: Boolean(a['rotate-logs']),
    ...(a['max-log-size'] !== undefined ? { maxSizeMB: Number(a['max-log-size']) } : {}),
  });
  await logger.open(); // a bad path fails before tracing starts
  return logger;
}

export function sinks(...list: (Analyzer | null)[]): Analyzer[] {
  return list.filter((x): x is Analyzer => x !== null);
}
