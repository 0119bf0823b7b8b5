/**
 * The agentsight command line. bin/agentsight.js only calls main().
 */
import yargsFactory from 'yargs/yargs';
import type { Argv } from 'yargs';
import { AgentsightError, UsageError } from '../core/errors';
import { OutputAnalyzer, type OutputFormat } from '../sinks/output';
import { ProcessRunner } from '../runners/process-runner';
import { SslRunner } from '../runners/ssl-runner';
import type { Runner } from '../runners/runner';
import { AGENT_OPTIONS, FILE_OPTIONS, SELECTION_OPTIONS } from './options';
import { ANALYZER_OPTIONS, chainOptions, tlsAnalyzers } from './chains';
import { buildAgent, consoleOutput } from './agent';
import { runRecord } from './record';
import { fileSink, sinks } from './sinks';
import { runDemo } from './demo';
import { UsageError as Usage } from '../core/errors';
import {
  mergeArgs,
  OUTPUT_OPTIONS,
  parseArgs,
  PROCESS_OPTIONS,
  processTracerOptions,
  SSL_TRACER_OPTIONS,
  sslTracerOptions,
  defined,
  toYargs,
  type OptionTable,
  type ParsedArgs,
} from './options';
import { runSession, summaryLines, type SessionIo } from '../session/run';
import { summaryText } from '../analyzers/summary';
import { Redactor } from '../analyzers/redactor';

const VERSION: string = (require('../../package.json') as { version: string }).version;

interface CommandSpec {
  name: string;
  describe: string;
  /** Usage line, when it is not just the command name. */
  usage?: string;
  /** Everything after `--` is a command to run, not options. */
  commandAfterDash?: boolean;
  /** Options of the command itself. */
  options: OptionTable;
  /** Options also accepted after `--` (the original's pass-through form). */
  passThrough?: OptionTable;
  examples: [string, string][];
  run(args: ParsedArgs, io: SessionIo): Promise<number>;
}

function outputAnalyzer(args: ParsedArgs, io: SessionIo): OutputAnalyzer {
  return new OutputAnalyzer({ stream: io.stdout, format: args.format as OutputFormat, quiet: Boolean(args.quiet) });
}

async function runWithSummary(runner: Runner, io: SessionIo): Promise<number> {
  runner.validate();
  const r = await runSession(runner, io);
  for (const l of summaryLines(r)) io.stderr.write(`${l}\n`);
  return 0;
}

const processCommand: CommandSpec = {
  name: 'process',
  describe: 'Trace process lifecycle: EXEC, EXIT, FORK and file opens',
  options: { ...PROCESS_OPTIONS, 'disable-auth-removal': ANALYZER_OPTIONS['disable-auth-removal'], ...FILE_OPTIONS, ...OUTPUT_OPTIONS },
  passThrough: PROCESS_OPTIONS,
  examples: [
    ['$0 process', 'every exec and exit on the machine'],
    ['$0 process --comm python --comm node', 'python* and node* processes, their children and file opens'],
    ['$0 process -- --pid 1234 --duration 1000', 'the original pass-through form'],
  ],
  async run(args, io) {
    const runner = new ProcessRunner({
      ...defined(processTracerOptions(args)),
      statsIntervalMs: Number(args['stats-interval'] ?? 10) * 1000,
    })
      // argv and paths can carry credentials too
      .withAnalyzers(args['disable-auth-removal'] ? [] : [new Redactor()])
      .withAnalyzers(sinks(await fileSink(args), outputAnalyzer(args, io)));
    return runWithSummary(runner, io);
  },
};

const sslCommand: CommandSpec = {
  name: 'ssl',
  describe: 'Capture TLS plaintext (every read and write of OpenSSL, BoringSSL, GnuTLS, NSS)',
  options: { ...SSL_TRACER_OPTIONS, ...ANALYZER_OPTIONS, ...FILE_OPTIONS, ...OUTPUT_OPTIONS },
  passThrough: SSL_TRACER_OPTIONS,
  examples: [
    ['$0 ssl', 'TLS traffic of every process'],
    ['$0 ssl --http-parser --sse-merge', 'HTTP exchanges and whole streamed answers'],
    ['$0 ssl --comm python --port 443', 'python* processes talking to port 443'],
    ['$0 ssl --http-parser --http-filter "GET /health" --ssl-filter "handshake"', 'with noise filtered out'],
    ['$0 ssl -- --pid 1234 --port 443', 'the original pass-through form'],
  ],
  async run(args, io) {
    const chain = tlsAnalyzers(chainOptions(args));
    const runner = new SslRunner({
      ...defined(sslTracerOptions(args)),
      statsIntervalMs: Number(args['stats-interval'] ?? 10) * 1000,
    })
      .withAnalyzers(chain)
      .withAnalyzers(sinks(await fileSink(args), outputAnalyzer(args, io)));
    return runWithSummary(runner, io);
  },
};

const agentCommand: CommandSpec = {
  name: 'agent',
  describe: 'Watch agents: TLS (HTTP, streamed answers, LLM calls) and processes under one selection',
  options: { ...SELECTION_OPTIONS, ...AGENT_OPTIONS, ...ANALYZER_OPTIONS, ...FILE_OPTIONS, ...OUTPUT_OPTIONS },
  examples: [
    ['$0 agent --comm python', 'python* processes and everything they start'],
    ['$0 agent --pid 1234 --ssl-uid 1000 --http-filter "POST /api"', 'one agent, filtered'],
    ['$0 agent --process false', 'TLS only'],
    ['$0 agent --output /var/log/agent.ndjson --quiet', 'to a file only'],
  ],
  async run(args, io) {
    const sel = { ...defined({ comm: (args.comm as unknown[] | undefined)?.map(String), pid: (args.pid as unknown[] | undefined)?.map(Number) }) };
    const { runner, summary } = buildAgent(args, sel, sinks(await fileSink(args), outputAnalyzer(args, io)));
    runner.validate();
    const r = await runSession(runner, io);
    if (summary.result) for (const l of summaryText(summary.result)) io.stderr.write(`agentsight: ${l}\n`);
    for (const l of summaryLines(r)) io.stderr.write(`${l}\n`);
    return 0;
  },
};

function defaultRecordFile(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `agentsight-record-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}.ndjson`;
}

const RECORD_OPTIONS: OptionTable = {
  live: { type: 'boolean', describe: 'Show events as they happen (on stderr, readable form; stdout stays the command\'s)' },
  quiet: { type: 'boolean', alias: 'q', describe: 'No summary on stderr' },
  'stats-interval': OUTPUT_OPTIONS['stats-interval'],
};

const recordCommand: CommandSpec = {
  name: 'record',
  usage: '$0 record [options] -- <command> [args...]',
  describe: 'Launch a command and trace it and all its descendants from its first instruction',
  options: { ...AGENT_OPTIONS, ...ANALYZER_OPTIONS, ...FILE_OPTIONS, ...RECORD_OPTIONS },
  commandAfterDash: true,
  examples: [
    ['$0 record -- python3 agent.py', 'session written to agentsight-record-<time>.ndjson, summary at exit'],
    ['sudo $0 record --live -- claude -p "fix the tests"', 'run as the invoking user, events shown live'],
    ['$0 record -o session.ndjson --process false -- node agent.js', 'TLS only, to a chosen file'],
  ],
  async run(args, io) {
    const command = ((args['--'] as unknown[]) ?? []).map(String);
    if (command.length === 0) throw new Usage('record needs a command: agentsight record [options] -- <command> [args...]');
    const file = (args.output as string | undefined) ?? defaultRecordFile();
    const logger = await fileSink({ ...args, output: file });
    const r = await runRecord(command, args, io, { sinks: sinks(logger), file: logger?.path ?? null });
    if (!args.quiet) for (const l of r.summary) io.stderr.write(`agentsight: ${l}\n`);
    return r.status.status;
  },
};

const demoCommand: CommandSpec = {
  name: 'demo',
  describe: 'Run the bundled demo: a local LLM API stand-in, a small tool-using agent, recorded',
  options: {
    agent: { type: 'string', choices: ['python', 'node'], default: 'python', describe: 'Which demo agent to run (python: urllib/libssl; node: https/node)' },
    provider: { type: 'string', choices: ['anthropic', 'openai'], default: 'anthropic', describe: 'Which API the agent talks to' },
    stream: { type: 'boolean', default: true, describe: 'Streamed answers (SSE) or plain JSON' },
    ...FILE_OPTIONS,
    ...RECORD_OPTIONS,
  },
  examples: [['$0 demo', 'record the demo agent asking for and running a tool, then show what was captured']],
  async run(args, io) {
    return runDemo(args, io);
  },
};

export const COMMANDS: CommandSpec[] = [processCommand, sslCommand, agentCommand, recordCommand, demoCommand];

/** Options of a command as parsed by yargs, with the `--` part merged in. */
function collectArgs(spec: CommandSpec, argv: ParsedArgs): ParsedArgs {
  const own: ParsedArgs = {};
  for (const k of Object.keys(spec.options)) if (argv[k] !== undefined) own[k] = argv[k];
  const rest = (argv['--'] as (string | number)[] | undefined)?.map(String) ?? [];
  if (spec.commandAfterDash) return { ...own, '--': rest };
  if (rest.length === 0) return own;
  if (!spec.passThrough) throw new UsageError(`${spec.name} takes no arguments after --`);
  const passed = parseArgs(spec.passThrough, rest, `${spec.name} arguments after --`);
  return mergeArgs(own, passed, spec.options);
}

function build(argv: string[], io: SessionIo, chosen: { spec?: CommandSpec; args?: ParsedArgs }): Argv {
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
      spec.name,
      spec.describe,
      (cy) => {
        let c = cy.options(toYargs(spec.options));
        if (spec.usage) c = c.usage(spec.usage);
        for (const [cmd, what] of spec.examples) c = c.example(cmd, what);
        if (spec.passThrough)
          c = c.epilog(`Options of this command can also be given after "--" (e.g. agentsight ${spec.name} -- --comm python).`);
        return c;
      },
      (parsed) => {
        chosen.spec = spec;
        chosen.args = collectArgs(spec, parsed as ParsedArgs);
      },
    );
  }
  return y;
}

/** Run the CLI; resolves to the process exit code. */
export async function main(argv: string[] = process.argv.slice(2), io: SessionIo = process): Promise<number> {
  const chosen: { spec?: CommandSpec; args?: ParsedArgs } = {};
  try {
    let printed = '';
    await build(argv, io, chosen).parseAsync(argv, {}, (err, _argv, output) => {
      if (err) throw err;
      printed = output;
    });
    if (!chosen.spec || !chosen.args) {
      // --help / --version
      if (printed) io.stdout.write(`${printed}\n`);
      return 0;
    }
    return await chosen.spec.run(chosen.args, io);
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
