/**
 * A tracing command's eBPF objects, loading from the moment the CLI starts.
 * bin/agentsight.js calls beginEarlyLoads() before the rest of agentsight is
 * initialised: the verifier's work (on worker threads) then overlaps node
 * compiling and initialising the CLI, reading the command line and building
 * the pipeline, which used to come first. What is loaded is what the
 * tracers will ask for: the command's flags parsed with its own table, the
 * tracers' options derived as the command derives them, and their recipes
 * (processRecipe, sslRecipe). A tracer takes a load only when its own recipe
 * is the same (lib/kernel/early.ts); anything that differs is closed unused
 * and loaded again as usual. Where the options cannot be known this early
 * (a --config file, flags after `--`, cgroups to resolve) nothing is begun.
 */
import { fromFlags, parseFlags, type OptionTable } from '../config/define';
import { agentTracerOptions, agentTracersOn, recordAgentOptions, type AgentOptions } from '../config/options';
import { AGENT_COMMAND_OPTIONS, PROCESS_COMMAND_OPTIONS, RECORD_COMMAND_OPTIONS, SSL_COMMAND_OPTIONS } from '../config/tables';
import { getBinding, type NativeBinding } from '../kernel/binding';
import { beginLoads } from '../kernel/early';
import { CRITICAL_LOAD_BOOST } from '../kernel/load';
import type { LoadRecipe } from '../kernel/recipe';
import { hasTracepoints, TRACEFS_DIRS } from '../kernel/tracefs';
import { isSelected } from '../tracers/rules';
import {
  fileHookWanted,
  fileHookWith,
  processRecipe,
  resolveProcessOptions,
  SYSCALL_OPEN_TRACEPOINTS,
  type ProcessTracerOptions,
} from '../tracers/process/spec';
import { resolveSslOptions, selectionProcessOptions, socketProgramsFor, sslRecipe, type SslTracerOptions } from '../tracers/ssl/spec';

/** The tracing commands' tables (main.ts gives the same to yargs). */
const TABLES: Record<string, OptionTable> = {
  process: PROCESS_COMMAND_OPTIONS,
  ssl: SSL_COMMAND_OPTIONS,
  agent: AGENT_COMMAND_OPTIONS,
  record: RECORD_COMMAND_OPTIONS,
};

/** The options the command will start its tracers with (the TLS tracer's null when it runs none), or null when not known yet. */
export function earlyTracerOptions(argv: readonly string[]): { process: ProcessTracerOptions; ssl: SslTracerOptions | null; verbose: boolean } | null {
  const command = argv[0];
  const table = TABLES[command];
  if (!table) return null;
  const dash = argv.indexOf('--');
  // record's command follows "--"; other commands' flags there (the pass-through form) are the CLI's to merge
  if (dash >= 0 && command !== 'record') return null;
  let o: AgentOptions & { config?: unknown };
  try {
    o = fromFlags(table, parseFlags(table, argv.slice(1, dash < 0 ? undefined : dash), command));
  } catch {
    return null; // the CLI says what is wrong
  }
  if (o.config !== undefined) return null;
  const verbose = o.verbose === true;
  if (command === 'process') return { process: o as ProcessTracerOptions, ssl: null, verbose };
  // the TLS tracer alone holds its selection with a process tracer of its own
  const alone = (ssl: SslTracerOptions) => ({ process: selectionProcessOptions(resolveSslOptions(ssl)), ssl, verbose });
  if (command === 'ssl') return alone(o as SslTracerOptions);
  // record's gated command is the whole selection: which pid does not change what is loaded
  const a = command === 'record' ? recordAgentOptions(o, process.pid) : o;
  const on = agentTracersOn(a);
  const t = agentTracerOptions(a);
  if (!on.process) return on.ssl ? alone(t.ssl) : null;
  return { process: t.process, ssl: on.ssl ? t.ssl : null, verbose };
}

/** The recipes of those tracers' objects, the TLS object's sharing the process object's map; null when not known yet. */
export function earlyRecipes(t: { process: ProcessTracerOptions; ssl: SslTracerOptions | null }, root = process.geteuid?.() === 0): LoadRecipe[] | null {
  const po = resolveProcessOptions(t.process);
  // how many cgroups are selected is known once they are resolved
  if (po.cgroup.length || po.container.length) return null;
  const wanted = fileHookWanted(po);
  // tracefs as the tracer will find it: listing the tracepoints, or mounted by root for the attach
  const tracefs = wanted === 'auto' && (root || TRACEFS_DIRS.some((d) => hasTracepoints(d, SYSCALL_OPEN_TRACEPOINTS)));
  const recipes = [processRecipe(po, fileHookWith(wanted, tracefs), 0)];
  if (t.ssl) {
    const so = resolveSslOptions(t.ssl);
    recipes.push(sslRecipe(so, isSelected(po), socketProgramsFor(so), so.uprobeLinks !== 'perf'));
  }
  return recipes;
}

/** Begin loading what a tracing command run as root will load (nothing otherwise); never throws. */
export function beginEarlyLoads(argv: readonly string[], binding?: NativeBinding): void {
  try {
    if (!binding && process.geteuid?.() !== 0) return;
    const t = earlyTracerOptions(argv);
    const recipes = t && earlyRecipes(t);
    if (!t || !recipes) return;
    const b = binding ?? getBinding();
    // --verbose: libbpf's messages about these loads are kept for the timeline, which does not exist yet
    if (t.verbose) b.libbpfVerbose?.(true);
    beginLoads(b, recipes, [0, CRITICAL_LOAD_BOOST]);
  } catch {
    // what fails here fails again where it is reported
  }
}
