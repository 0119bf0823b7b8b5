/**
 * The CLI's entry (bin/agentsight.js, and the first module of the CLI bundle):
 * a tracing command's loads are begun (early-load.ts) before the rest of the
 * CLI (main.ts and all it imports) is initialised, which main() does first.
 */
import type { SessionIo } from '../session/run';

/** Begin loading what the command line will load (early-load.ts). */
export function beginEarlyLoads(argv: readonly string[] = process.argv.slice(2)): void {
  (require('./early-load') as typeof import('./early-load')).beginEarlyLoads(argv);
}

/** Run the CLI (main.ts); resolves to the process exit code. */
export function main(argv: string[] = process.argv.slice(2), io?: SessionIo): Promise<number> {
  return (require('./main') as typeof import('./main')).main(argv, io);
}
