/**
 * The agentsight command line. bin/agentsight.js only calls main().
 *
 * The CLI maps yargs onto the library's option tables (lib/config): each
 * command declares which tables it takes, yargs parses them, and the flag
 * values become typed options with fromFlags(); everything after that is
 * the library's.
 */
import yargsFactory from 'yargs/yargs';
import type { Argv } from 'yargs';
import { AgentsightError, UsageError } from '../core/errors';
import { Timeline } from '../core/timeline';
import type { Analyzer } from '../core/analyzer';
import { tlsAnalyzers } from '../analyzers/chains';
import { Redactor } from '../analyzers/redactor';
import { summaryText } from '../analyzers/summary';
import { closeUntaken } from '../kernel/early';
import { fromFlags, mergeFlags, parseFlags, toYargs, type FlagValues, type OptionTable } from '../config/define';
import {
  AGENT_COMMAND_OPTIONS,
  CONFIG_OPTIONS,
  DEMO_OPTIONS,
  EXPORT_OPTIONS,
  FILE_OPTIONS,
  OTLP_OPTIONS,
  PRICE_OPTIONS,
  PROCESS_COMMAND_OPTIONS,
  PROCESS_OPTIONS,
  RECORD_COMMAND_OPTIONS,
  RECORD_OPTIONS,
  REPORT_OPTIONS,
  SSL_COMMAND_OPTIONS,
  SSL_TRACER_OPTIONS,
  UI_OPTIONS,
} from '../config/tables';
import {
  chainOptions,
  type AgentOptions,
  type ChainOptions,
  type ConsoleOptions,
  type DemoOptions,
  type ExportCliOptions,
  type FileOutputOptions,
  type OtlpOptions,
  type RecordCliOptions,
  type ReportCliOptions,
  type UiCliOptions,
  type UiSessionOptions,
} from '../config/options';
import { givenFlags, loadConfigFile, withConfigFile } from '../config/file';
import { resolveOtlp } from '../otel/config';
import type { OtlpSink } from '../otel/sink';
import { ProcessRunner } from '../runners/process-runner';
import { SslRunner } from '../runners/ssl-runner';
import type { Runner } from '../runners/runner';
import { buildAgent } from '../session/agent';
import { EXIT_OUTPUT_FAILED, outputFailed, runSession, sinkReports, summaryLines, type SessionIo } from '../session/run';
import { openFileLogger, type FileLogger } from '../sinks/file-logger';
import { OutputAnalyzer } from '../sinks/output';
import type { ProcessTracerOptions } from '../tracers/process-tracer';
import type { SslTracerOptions } from '../tracers/ssl-tracer';
import { printable, printableLines, writeLine } from '../render/safe-text';
import { openDefaultRecordFile, runRecord } from './record';

/*
 * What only some commands use is loaded when they use it: the OTLP exporter (~90 ms of
 * requires), the web UI, the demo, report and export stay out of the tracing commands' start-up.
 */
const sessionUi = async (o: UiSessionOptions, file: FileLogger | null, io: SessionIo) => (o.ui ? (await import('./ui')).sessionUi(o, file, io) : null);

const VERSION: string = (require('../../package.json') as { version: string }).version;

interface CommandSpec<T extends object = Record<string, unknown>> {
  name: string;
  describe: string;
  /** Usage line, when it is not just the command name. */
  usage?: string;
  /** Everything after `--` is a command to run, not options. */
  commandAfterDash?: boolean;
  /** Words after the command (files): passed to run() as its third argument. */
  positional?: { name: string; describe: string; required: boolean };
  /** Options of the command itself. */
  options: OptionTable;
  /** Options also accepted after `--` (the original's pass-through form). */
  passThrough?: OptionTable;
  examples: [string, string][];
  /** Run with the typed options (and the command after `--`, for commandAfterDash, or the positional words). */
  run(options: T, io: SessionIo, command: string[]): Promise<number>;
}

type ConsoleAndFile = ConsoleOptions & FileOutputOptions;

/** The sinks of a tracing command: the file (when --output is given) and the console, and what stops the run when stdout's reader goes away. */
interface Outputs {
  sinks: Analyzer[];
  /** The --output file's logger. */
  file: FileLogger | null;
  /** Aborted when stdout is closed by its reader (`agentsight agent | head -1`). */
  stdoutClosed: AbortSignal;
}

/** The OTLP sink, when --otlp or --otlp-endpoint asks for one (first among the sinks: its stats events reach the file and the console). */
export async function otlpSink(o: OtlpOptions & { statsIntervalMs?: number }, io: SessionIo, metrics = true): Promise<OtlpSink | null> {
  const cfg = resolveOtlp(o, process.env, metrics);
  if (!cfg) return null;
  const { OtlpSink } = await import('../otel/sink');
  return new OtlpSink(cfg, { statsIntervalMs: o.statsIntervalMs ?? 10_000, onNotice: (m) => writeLine(io.stderr, `agentsight: ${m}`) });
}

async function outputs(o: ConsoleAndFile & OtlpOptions, io: SessionIo): Promise<Outputs> {
  const otlp = await otlpSink(o, io);
  const file = await openFileLogger(o);
  const closed = new AbortController();
  const console = new OutputAnalyzer({ stream: io.stdout, format: o.format ?? 'auto', quiet: o.quiet ?? false, onBroken: () => closed.abort() });
  return { sinks: [...(otlp ? [otlp] : []), ...(file ? [file] : []), console], file, stdoutClosed: closed.signal };
}

async function runWithSummary(runner: Runner, io: SessionIo, out: Outputs, before: () => string[] = () => []): Promise<number> {
  runner.validate();
  const r = await runSession(runner, io, { signal: out.stdoutClosed, sinks: out.sinks });
  for (const l of before()) writeLine(io.stderr, `agentsight: ${l}`);
  for (const l of sinkReports(out.sinks)) writeLine(io.stderr, `agentsight: ${l}`);
  for (const l of summaryLines(r)) writeLine(io.stderr, l);
  return outputFailed(r.losses) ? EXIT_OUTPUT_FAILED : 0;
}

const processCommand: CommandSpec<ProcessTracerOptions & ConsoleAndFile & Pick<ChainOptions, 'redact'>> = {
  name: 'process',
  describe: 'Trace process lifecycle: EXEC, EXIT, FORK and file opens',
  options: PROCESS_COMMAND_OPTIONS,
  passThrough: PROCESS_OPTIONS,
  examples: [
    ['$0 process', 'every exec and exit on the machine'],
    ['$0 process --comm python --comm node', 'python* and node* processes, their children and file opens'],
    ['$0 process -- --pid 1234 --duration 1000', 'the original pass-through form'],
  ],
  async run(o, io) {
    const out = await outputs(o, io);
    const runner = new ProcessRunner(o)
      // argv and paths can carry credentials too
      .withAnalyzers(o.redact === false ? [] : [new Redactor()])
      .withAnalyzers(out.sinks);
    return runWithSummary(runner, io, out);
  },
};

const sslCommand: CommandSpec<SslTracerOptions & Partial<ChainOptions> & ConsoleAndFile> = {
  name: 'ssl',
  describe: 'Capture TLS plaintext (every read and write of OpenSSL, BoringSSL, GnuTLS, NSS)',
  options: SSL_COMMAND_OPTIONS,
  passThrough: SSL_TRACER_OPTIONS,
  examples: [
    ['$0 ssl', 'TLS traffic of every process'],
    ['$0 ssl --http-parser --sse-merge', 'HTTP exchanges and whole streamed answers'],
    ['$0 ssl --comm python --port 443', 'python* processes talking to port 443'],
    ['$0 ssl --http-parser --http-filter "GET /health" --ssl-filter "handshake"', 'with noise filtered out'],
    ['$0 ssl -- --pid 1234 --port 443', 'the original pass-through form'],
  ],
  async run(o, io) {
    const out = await outputs(o, io);
    const runner = new SslRunner(o).withAnalyzers(tlsAnalyzers(chainOptions(o))).withAnalyzers(out.sinks);
    return runWithSummary(runner, io, out);
  },
};

const agentCommand: CommandSpec<AgentOptions & ConsoleAndFile & UiSessionOptions & OtlpOptions> = {
  name: 'agent',
  describe: 'Watch agents: TLS (HTTP, streamed answers, LLM calls) and processes under one selection',
  options: AGENT_COMMAND_OPTIONS,
  examples: [
    ['$0 agent --comm python', 'python* processes and everything they start'],
    ['$0 agent --pid 1234 --ssl-uid 1000 --http-filter "POST /api"', 'one agent, filtered'],
    ['$0 agent --process false', 'TLS only'],
    ['$0 agent --output /var/log/agent.ndjson --quiet', 'to a file only'],
    ['$0 agent --comm claude -o session.ndjson --ui --quiet', 'watched in the browser'],
    ['$0 agent --container 3f2a9c --otlp-endpoint http://collector:4318 --quiet', "one container's agents, as OpenTelemetry traces"],
    ['$0 agent --config /etc/agentsight/agent.json', 'as a service, options from a file'],
  ],
  async run(o, io) {
    const out = await outputs(o, io);
    const ui = await sessionUi(o, out.file, io);
    const { runner, summary } = buildAgent(o, ui ? [...out.sinks, ui.sink] : out.sinks);
    const code = await runWithSummary(runner, io, out, () => (summary.result ? summaryText(summary.result) : []));
    await ui?.linger();
    return code;
  },
};

const recordCommand: CommandSpec<AgentOptions & FileOutputOptions & RecordCliOptions & UiSessionOptions & OtlpOptions> = {
  name: 'record',
  usage: '$0 record [options] -- <command> [args...]',
  describe: 'Launch a command and trace it and all its descendants from its first instruction',
  options: RECORD_COMMAND_OPTIONS,
  commandAfterDash: true,
  examples: [
    ['$0 record -- python3 agent.py', 'session written to agentsight-record-<time>.ndjson, summary at exit'],
    ['sudo $0 record --live -- claude -p "fix the tests"', 'run as the invoking user, events shown live'],
    ['$0 record -o session.ndjson --process false -- node agent.js', 'TLS only, to a chosen file'],
    ['$0 record --ui -- claude', 'watched live in the browser'],
    ['$0 record --otlp-endpoint http://localhost:4318 -- python3 agent.py', 'also sent as an OpenTelemetry trace'],
  ],
  async run(o, io, command) {
    if (command.length === 0) throw new UsageError('record needs a command: agentsight record [options] -- <command> [args...]');
    const otlp = await otlpSink(o, io);
    const logger = o.output !== undefined ? await openFileLogger(o) : await openDefaultRecordFile(o);
    const ui = await sessionUi(o, logger, io);
    const sinks: Analyzer[] = [...(otlp ? [otlp] : []), ...(logger ? [logger] : []), ...(ui ? [ui.sink] : [])];
    const r = await runRecord(command, o, io, { sinks, file: logger?.path ?? null });
    // a failed write is said even with --quiet
    const lines = o.quiet ? r.summary.filter((l) => /^WARNING|^exit status/.test(l)) : r.summary;
    for (const l of lines) writeLine(io.stderr, `agentsight: ${l}`);
    await ui?.linger();
    return r.exitCode;
  },
};

const demoCommand: CommandSpec<DemoOptions & FileOutputOptions & RecordCliOptions & OtlpOptions> = {
  name: 'demo',
  describe: 'Run the bundled demo: a local LLM API stand-in, a small tool-using agent, recorded',
  options: { ...DEMO_OPTIONS, ...PRICE_OPTIONS, ...FILE_OPTIONS, ...RECORD_OPTIONS, ...OTLP_OPTIONS },
  examples: [
    ['$0 demo', 'record the demo agent asking for and running a tool, then show what was captured'],
    ['$0 demo --otlp-endpoint http://localhost:4318', 'and send the session to an OpenTelemetry collector'],
  ],
  async run(o, io) {
    return (await import('./demo')).runDemo(o, io, await otlpSink(o, io));
  },
};

const exportCommand: CommandSpec<ExportCliOptions> = {
  name: 'export',
  describe: 'Send saved sessions (NDJSON files of record or agent) to an OpenTelemetry receiver as OTLP traces',
  positional: { name: 'files', describe: 'Session files (NDJSON, as written by record or --output), sent one after another', required: true },
  options: { ...OTLP_OPTIONS, ...EXPORT_OPTIONS, ...CONFIG_OPTIONS },
  examples: [
    ['$0 export --otlp-endpoint http://localhost:4318 session.ndjson', 'one saved session as a trace'],
    [
      'OTEL_EXPORTER_OTLP_ENDPOINT=https://cloud.langfuse.com/api/public/otel $0 export --otlp *.ndjson',
      'every session of a directory, endpoint from the environment',
    ],
  ],
  async run(o, io, files) {
    return (await import('./export')).runExport(files, o, io);
  },
};

const reportCommand: CommandSpec<ReportCliOptions> = {
  name: 'report',
  describe: 'Report on saved sessions: calls, tokens and cost per model, latency, tool calls and their commands, files written, hosts, errors',
  positional: { name: 'files', describe: 'Session files (NDJSON, as written by record or --output); several are read one after another', required: true },
  options: REPORT_OPTIONS,
  examples: [
    ['$0 report agentsight-record-20261128-101502.ndjson', 'tables for a terminal'],
    ['$0 report --format markdown session.ndjson >> "$GITHUB_STEP_SUMMARY"', 'in a CI job summary'],
    ['$0 report --format json a.ndjson b.ndjson | jq .totals.cost_usd', 'for scripts'],
    ['$0 report --prices my-prices.json session.ndjson', 'priced with other prices'],
  ],
  async run(o, io, files) {
    const { buildReport, renderReport } = await import('../report');
    const prices = (await import('../cost/prices')).Prices.load(o.prices);
    const r = await buildReport(files, { prices, reprice: o.prices !== undefined, redact: o.redact });
    io.stdout.write(renderReport(r, o.format ?? 'text'));
    return 0;
  },
};

const uiCommand: CommandSpec<UiCliOptions> = {
  name: 'ui',
  describe: 'Look at saved sessions in a local web UI: timeline, LLM calls, process tree, files, events, totals',
  positional: { name: 'files', describe: 'Session files (default: the newest agentsight-record-*.ndjson here)', required: false },
  options: UI_OPTIONS,
  examples: [
    ['$0 ui session.ndjson', 'prints the URL to open (with its access token); Ctrl-C stops it'],
    ['$0 ui --port 8377 a.ndjson b.ndjson', 'several files, a fixed port'],
  ],
  async run(o, io, files) {
    return (await import('./ui')).runUi(files, o, io);
  },
};

export const COMMANDS = [processCommand, sslCommand, agentCommand, recordCommand, demoCommand, reportCommand, uiCommand, exportCommand] as CommandSpec[];

/** A command's flag values as parsed by yargs, with the `--` part merged in (or split off as the command to run). */
function collectFlags(spec: CommandSpec, argv: FlagValues): { flags: FlagValues; command: string[] } {
  const own: FlagValues = {};
  for (const k of Object.keys(spec.options)) if (argv[k] !== undefined) own[k] = argv[k];
  const rest = (argv['--'] as (string | number)[] | undefined)?.map(String) ?? [];
  if (spec.commandAfterDash) return { flags: own, command: rest };
  if (spec.positional) {
    const words = ((argv[spec.positional.name] as (string | number)[] | undefined) ?? []).map(String);
    return { flags: own, command: [...words, ...rest] };
  }
  if (rest.length === 0) return { flags: own, command: [] };
  if (!spec.passThrough) throw new UsageError(`${spec.name} takes no arguments after --`);
  const passed = parseFlags(spec.passThrough, rest, `${spec.name} arguments after --`);
  return { flags: mergeFlags(own, passed, spec.options), command: [] };
}

interface Chosen {
  spec?: CommandSpec;
  flags?: FlagValues;
  command?: string[];
}

/** The part of yargs' internals (yargs 17) that lays out a command's help when it has run. */
interface YargsInternals {
  getInternalMethods(): { getUsageInstance(): { cacheHelpMessage(): void } };
}

function build(argv: string[], chosen: Chosen): Argv {
  const helpAsked = argv.some((a) => a === '--help' || a === '-h');
  let y = yargsFactory(argv)
    .scriptName('agentsight')
    .usage('$0 <command> [options]\n\nWatch AI agents from the kernel: LLM API traffic (TLS plaintext) and the processes they run.')
    .parserConfiguration({ 'populate--': true })
    .strict()
    .demandCommand(1, 'Choose a command (see --help).')
    .recommendCommands()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    // yargs lays out the help text of the chosen command before running it (~40 ms for record's):
    // wrapped to the terminal only when it is asked for
    .wrap(helpAsked ? Math.min(110, process.stdout.columns || 100) : null)
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  for (const spec of COMMANDS) {
    const pos = spec.positional;
    y = y.command(
      pos ? `${spec.name} ${pos.required ? `<${pos.name}..>` : `[${pos.name}..]`}` : spec.name,
      spec.describe,
      (cy) => {
        let c = cy.options(toYargs(spec.options));
        if (pos) c = c.positional(pos.name, { describe: pos.describe, type: 'string', array: true });
        if (spec.usage) c = c.usage(spec.usage);
        for (const [cmd, what] of spec.examples) c = c.example(cmd, what);
        if (spec.passThrough) c = c.epilog(`Options of this command can also be given after "--" (e.g. agentsight ${spec.name} -- --comm python).`);
        // yargs lays out the chosen command's help after running its handler, to show it should the
        // handler fail later; ours only notes what was chosen, and failures are reported without help
        if (!helpAsked) (c as unknown as YargsInternals).getInternalMethods().getUsageInstance().cacheHelpMessage = () => undefined;
        return c;
      },
      (parsed) => {
        chosen.spec = spec;
        Object.assign(chosen, collectFlags(spec, parsed as FlagValues));
      },
    );
  }
  return y;
}

/** Run the CLI; resolves to the process exit code. */
export async function main(argv: string[] = process.argv.slice(2), io: SessionIo = process): Promise<number> {
  const chosen: Chosen = {};
  try {
    let printed = '';
    await build(argv, chosen).parseAsync(argv, {}, (err, _argv, output) => {
      if (err) throw err;
      printed = output;
    });
    const { spec, flags } = chosen;
    if (!spec || !flags) {
      // --help / --version
      if (printed) io.stdout.write(`${printed}\n`);
      return 0;
    }
    let options = fromFlags<Record<string, unknown>>(spec.options, flags);
    if (typeof flags.config === 'string') {
      // options from a file, under those given on the command line
      options = withConfigFile(options, loadConfigFile(flags.config, spec.options), givenFlags(argv, spec.options), spec.options);
      delete options.config;
    }
    if (options.verbose) {
      // --verbose: one timeline for every step from here, its first mark the start-up of node and agentsight
      const tl = new Timeline();
      tl.mark('agentsight loaded, command line read (since the process started)', 0);
      options.timeline = tl;
    }
    return await spec.run(options, io, chosen.command ?? []);
  } catch (err) {
    return reportError(err, io, chosen.spec?.name ?? COMMANDS.find((c) => c.name === argv[0])?.name);
  } finally {
    // loads begun at the start (early-load.ts) that no tracer took
    await closeUntaken();
  }
}

export function reportError(err: unknown, io: SessionIo, command?: string): number {
  if (err instanceof UsageError || (err instanceof Error && err.name === 'YError')) {
    writeLine(io.stderr, `agentsight: ${err.message}`);
    writeLine(io.stderr, `Run "agentsight ${command ?? ''}${command ? ' ' : ''}--help" for usage.`);
    return 2;
  }
  if (err instanceof AgentsightError) {
    writeLine(io.stderr, `agentsight: ${err.message}`);
    if (process.env.AGENTSIGHT_DEBUG && err.log) io.stderr.write(`--- libbpf log ---\n${printableLines(err.log)}\n`);
    return 1;
  }
  io.stderr.write(`agentsight: unexpected error: ${unexpected(err)}\n`);
  return 1;
}

/** An unexpected error for stderr: its message on one escaped line, then its stack frames (their own line breaks kept). */
function unexpected(err: unknown): string {
  if (!(err instanceof Error)) return printable(String(err));
  const head = `${err.name}: ${err.message}`;
  const stack = err.stack ?? '';
  if (!stack.startsWith(head)) return printable(err.message);
  return printable(head) + printableLines(stack.slice(head.length));
}
