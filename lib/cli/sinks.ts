import type { Analyzer } from '../analyzer';
import { FileLogger } from '../analyzers/file-logger';
import type { ParsedArgs } from './options';

/** The FileLogger of --output (with --rotate-logs/--max-log-size), if asked for. */
export function fileSink(a: ParsedArgs, fallback?: string): FileLogger | null {
  const file = (a.output as string | undefined) ?? fallback;
  if (!file) return null;
  return new FileLogger(file, {
    rotate: Boolean(a['rotate-logs']),
    ...(a['max-log-size'] !== undefined ? { maxSizeMb: Number(a['max-log-size']) } : {}),
  });
}

export function sinks(...list: (Analyzer | null)[]): Analyzer[] {
  return list.filter((x): x is Analyzer => x !== null);
}
