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
import type { Analyzer } from '../core/analyzer';
import { tlsAnalyzers } from '../analyzers/chains';
import { Redactor } from '../analyzers/redactor';
import { summaryText } from '../analyzers/summary';
import { fromFlags, mergeFlags, parseFlags, toYargs, type FlagValues, type OptionTable } from '../config/define';
import {
  AGENT_OPTIONS,
  ANALYSIS_OPTIONS,
  CONFIG_OPTIONS,
  DEMO_OPTIONS,
  EXPORT_OPTIONS,
  FILE_OPTIONS,
  OTLP_OPTIONS,
  OUTPUT_OPTIONS,
  PROCESS_OPTIONS,
  RECORD_OPTIONS,
  SELECTION_OPTIONS,
  SSL_TRACER_OPTIONS,
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
} from '../config/options';
import { givenFlags, loadConfigFile, withConfigFile } from '../config/file';
import { OtlpSink } from '../otel/sink';
import { resolveOtlp } from '../otel/config';
import { ProcessRunner } from '../runners/process-runner';
import { SslRunner } from '../runners/ssl-runner';
import type { Runner } from '../runners/runner';
import { buildAgent } from '../session/agent';
import { EXIT_OUTPUT_FAILED, outputFailed, runSession, sinkReports, summaryLines, type SessionIo } from '../session/run';
import { openFileLogger } from '../sinks/file-logger';
import { OutputAnalyzer } from '../sinks/output';
import type { ProcessTracerOptions } from '../tracers/process-tracer';
import type { SslTracerOptions } from '../tracers/ssl-tracer';
import { runDemo } from './demo';
import { openDefaultRecordFile, runRecord } from './record';
import { runExport } from './export';

const VERSION: string = (require('../../package.json') as { version: string }).version;

interface CommandSpec<T extends object = Record<string, unknown>> {
  name: string;
  describe: string;
  /** Usage line, when it is not just the command name. */
  usage?: string;
  /** Everything after `--` is a command to run, not options. */
  commandAfterDash?: boolean;
  /** Words after the command name (e.g. files), given to run() as its command argument. */
  positional?: { name: string; describe: string };
  /** Options of the command itself. */
  options: OptionTable;
  /** Options also accepted after `--` (the original's pass-through form). */
  passThrough?: OptionTable;
  examples: [string, string][];
  /** Run with the typed options (and the command after `--`, for commandAfterDash). */
  run(options: T, io: SessionIo, command: string[]): Promise<number>;
}

type ConsoleAndFile = ConsoleOptions & FileOutputOptions;

/** The sinks of a tracing command: the file (when --output is given) and the console, and what stops the run when stdout's reader goes away. */
interface Outputs {
  sinks: Analyzer[];
  /** Aborted when stdout is closed by its reader (`agentsight agent | head -1`). */
  stdoutClosed: AbortSignal;
}

/** The OTLP sink, when --otlp or --otlp-endpoint asks for one (first in the sinks: its stats events reach the file and the console). */
export function otlpSink(o: OtlpOptions & { statsIntervalMs?: number }, io: SessionIo, metrics = true): OtlpSink | null {
  const cfg = resolveOtlp(o, process.env, metrics);
  if (!cfg) return null;
  return new OtlpSink(cfg, { statsIntervalMs: o.statsIntervalMs ?? 10_000, onNotice: (m) => io.stderr.write(`agentsight: ${m}\n`) });
}

async function outputs(o: ConsoleAndFile & OtlpOptions, io: SessionIo): Promise<Outputs> {
  const otlp = otlpSink(o, io);
  const file = await openFileLogger(o);
  const closed = new AbortController();
  const console = new OutputAnalyzer({ stream: io.stdout, format: o.format ?? 'auto', quiet: o.quiet ?? false, onBroken: () => closed.abort() });
  return { sinks: [...(otlp ? [otlp] : []), ...(file ? [file] : []), console], stdoutClosed: closed.signal };
}

async function runWithSummary(runner: Runner, io: SessionIo, out: Outputs, before: () => string[] = () => []): Promise<number> {
  runner.validate();
  const r = await runSession(runner, io, { signal: out.stdoutClosed, sinks: out.sinks });
  for (const l of before()) io.stderr.write(`agentsight: ${l}\n`);
  for (const l of sinkReports(out.sinks)) io.stderr.write(`agentsight: ${l}\n`);
  for (const l of summaryLines(r)) io.stderr.write(`${l}\n`);
  return outputFailed(r.losses) ? EXIT_OUTPUT_FAILED : 0;
}

const processCommand: CommandSpec<ProcessTracerOptions & ConsoleAndFile & Pick<ChainOptions, 'redact'>> = {
  name: 'process',
  describe: 'Trace process lifecycle: EXEC, EXIT, FORK and file opens',
  options: { ...PROCESS_OPTIONS, 'disable-auth-removal': ANALYSIS_OPTIONS['disable-auth-removal'], ...FILE_OPTIONS, ...OUTPUT_OPTIONS },
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
  options: { ...SSL_TRACER_OPTIONS, ...ANALYSIS_OPTIONS, ...FILE_OPTIONS, ...OUTPUT_OPTIONS },
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

const agentCommand: CommandSpec<AgentOptions & ConsoleAndFile & OtlpOptions> = {
  name: 'agent',
  describe: 'Watch agents: TLS (HTTP, streamed answers, LLM calls) and processes under one selection',
  options: { ...SELECTION_OPTIONS, ...AGENT_OPTIONS, ...ANALYSIS_OPTIONS, ...FILE_OPTIONS, ...OUTPUT_OPTIONS, ...OTLP_OPTIONS, ...CONFIG_OPTIONS },
  examples: [
    ['$0 agent --comm python', 'python* processes and everything they start'],
    ['$0 agent --pid 1234 --ssl-uid 1000 --http-filter "POST /api"', 'one agent, filtered'],
    ['$0 agent --process false', 'TLS only'],
    ['$0 agent --output /var/log/agent.ndjson --quiet', 'to a file only'],
    ['$0 agent --container 3f2a9c --otlp-endpoint http://collector:4318 --quiet', "one container's agents, as OpenTelemetry traces"],
    ['$0 agent --config /etc/agentsight/agent.json', 'as a service, options from a file'],
  ],
  async run(o, io) {
    const out = await outputs(o, io);
    const { runner, summary } = buildAgent(o, out.sinks);
    return runWithSummary(runner, io, out, () => (summary.result ? summaryText(summary.result) : []));
  },
};

const recordCommand: CommandSpec<AgentOptions & FileOutputOptions & RecordCliOptions & OtlpOptions> = {
  name: 'record',
  usage: '$0 record [options] -- <command> [args...]',
  describe: 'Launch a command and trace it and all its descendants from its first instruction',
  options: { ...AGENT_OPTIONS, ...ANALYSIS_OPTIONS, ...FILE_OPTIONS, ...RECORD_OPTIONS, ...OTLP_OPTIONS, ...CONFIG_OPTIONS },
  commandAfterDash: true,
  examples: [
    ['$0 record -- python3 agent.py', 'session written to agentsight-record-<time>.ndjson, summary at exit'],
    ['sudo $0 record --live -- claude -p "fix the tests"', 'run as the invoking user, events shown live'],
    ['$0 record -o session.ndjson --process false -- node agent.js', 'TLS only, to a chosen file'],
    ['$0 record --otlp-endpoint http://localhost:4318 -- python3 agent.py', 'also sent as an OpenTelemetry trace'],
  ],
  async run(o, io, command) {
    if (command.length === 0) throw new UsageError('record needs a command: agentsight record [options] -- <command> [args...]');
    const otlp = otlpSink(o, io);
    const logger = o.output !== undefined ? await openFileLogger(o) : await openDefaultRecordFile(o);
    const r = await runRecord(command, o, io, { sinks: [...(otlp ? [otlp] : []), ...(logger ? [logger] : [])], file: logger?.path ?? null });
    // a failed write is said even with --quiet
    const lines = o.quiet ? r.summary.filter((l) => /^WARNING|^exit status/.test(l)) : r.summary;
    for (const l of lines) io.stderr.write(`agentsight: ${l}\n`);
    return r.exitCode;
  },
};

const demoCommand: CommandSpec<DemoOptions & FileOutputOptions & RecordCliOptions & OtlpOptions> = {
  name: 'demo',
  describe: 'Run the bundled demo: a local LLM API stand-in, a small tool-using agent, recorded',
  options: { ...DEMO_OPTIONS, ...FILE_OPTIONS, ...RECORD_OPTIONS, ...OTLP_OPTIONS },
  examples: [
    ['$0 demo', 'record the demo agent asking for and running a tool, then show what was captured'],
    ['$0 demo --otlp-endpoint http://localhost:4318', 'and send the session to an OpenTelemetry collector'],
  ],
  async run(o, io) {
    return runDemo(o, io, otlpSink(o, io));
  },
};

const exportCommand: CommandSpec<ExportCliOptions> = {
  name: 'export',
  usage: '$0 export [options] <file...>',
  describe: 'Send saved sessions (NDJSON files of record or agent) to an OpenTelemetry receiver as OTLP traces',
  options: { ...OTLP_OPTIONS, ...EXPORT_OPTIONS, ...CONFIG_OPTIONS },
  positional: { name: 'file', describe: 'NDJSON session files' },
  examples: [
    ['$0 export --otlp-endpoint http://localhost:4318 session.ndjson', 'one saved session as a trace'],
    [
      'OTEL_EXPORTER_OTLP_ENDPOINT=https://cloud.langfuse.com/api/public/otel $0 export --otlp *.ndjson',
      'every session of a directory, endpoint from the environment',
    ],
  ],
  async run(o, io, files) {
    return runExport(files, o, io);
  },
};

export const COMMANDS = [processCommand, sslCommand, agentCommand, recordCommand, demoCommand, exportCommand] as CommandSpec[];

/** A command's flag values as parsed by yargs, with the `--` part merged in (or split off as the command to run). */
function collectFlags(spec: CommandSpec, argv: FlagValues): { flags: FlagValues; command: string[] } {
  const own: FlagValues = {};
  for (const k of Object.keys(spec.options)) if (argv[k] !== undefined) own[k] = argv[k];
  const rest = (argv['--'] as (string | number)[] | undefined)?.map(String) ?? [];
  if (spec.positional) return { flags: own, command: [...((argv[spec.positional.name] as unknown[] | undefined) ?? []).map(String), ...rest] };
  if (spec.commandAfterDash) return { flags: own, command: rest };
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

function build(argv: string[], chosen: Chosen): Argv {
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
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  for (const spec of COMMANDS) {
    y = y.command(
      spec.positional ? `${spec.name} <${spec.positional.name}..>` : spec.name,
      spec.describe,
      (cy) => {
        let c = cy.options(toYargs(spec.options));
        if (spec.positional) c = c.positional(spec.positional.name, { describe: spec.positional.describe, type: 'string' });
        if (spec.usage) c = c.usage(spec.usage);
        for (const [cmd, what] of spec.examples) c = c.example(cmd, what);
        if (spec.passThrough) c = c.epilog(`Options of this command can also be given after "--" (e.g. agentsight ${spec.name} -- --comm python).`);
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
    let typed: Record<string, unknown> = fromFlags(spec.options, flags);
    if (typeof flags.config === 'string') {
      typed = withConfigFile(typed, loadConfigFile(flags.config, spec.options), givenFlags(argv, spec.options), spec.options);
      delete typed.config;
    }
    return await spec.run(typed, io, chosen.command ?? []);
  } catch (err) {
    return reportError(err, io, chosen.spec?.name ?? COMMANDS.find((c) => c.name === argv[0])?.name);
  }
}

export function reportError(err: unknown, io: SessionIo, command?: string): number {
  if (err instanceof UsageError || (err instanceof Error && err.name === 'YError')) {
    io.stderr.write(`agentsight: ${err.message}\nRun "agentsight ${command ?? ''}${command ? ' ' : ''}--help" for usage.\n`);
    return 2;
  }
  if (err instanceof AgentsightError) {
    io.stderr.write(`agentsight: ${err.message}\n`);
    if (process.env.AGENTSIGHT_DEBUG && err.log) io.stderr.write(`--- libbpf log ---\n${err.log}\n`);
    return 1;
  }
  io.stderr.write(`agentsight: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
