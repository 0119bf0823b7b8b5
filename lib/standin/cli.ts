#!/usr/bin/env node
/**
 * Run the LLM API stand-in on its own (for the demo):
 *
 *   node dist/standin/cli.js [--port N] [--tls-dir DIR] [--delay-ms N] [--write-env FILE] [--log FILE]
 *
 * Prints the URL, the CA file and the environment a client needs, then
 * serves until SIGINT/SIGTERM, when it removes the certificates it made.
 */
import fs from 'node:fs';
import yargs from 'yargs';
import { printable } from '../render/safe-text';
import { openOwnFile, type SafeFile } from '../sinks/safe-file';
import { startStandin, type Standin } from './server';

export interface CliRun {
  standin: Standin;
  /** Close the stand-in (what SIGINT/SIGTERM do). */
  stop(): Promise<void>;
}

/**
 * Parse `args`, start the stand-in and print how to reach it to `out`.
 * Signal handlers are installed only when `handleSignals` is set (the
 * command-line entry point does).
 */
export async function runCli(args: string[], out: NodeJS.WritableStream = process.stdout, handleSignals = false): Promise<CliRun> {
  const argv = await yargs(args)
    .scriptName('agentsight-standin')
    .usage('$0 [options]: local HTTPS stand-in for the Anthropic, OpenAI and Gemini APIs (loopback only)')
    .option('port', { type: 'number', default: 0, describe: 'port to listen on (0: any free one)' })
    .option('host', { choices: ['127.0.0.1', '::1'] as const, default: '127.0.0.1' as const, describe: 'loopback address' })
    .option('tls-dir', { type: 'string', describe: 'directory for the CA and server certificate (default: a private temp dir)' })
    .option('delay-ms', { type: 'number', default: 20, describe: 'pause between streamed writes, ms' })
    .option('delta-chars', { type: 'number', default: 12, describe: 'characters per text delta' })
    .option('command', { type: 'string', describe: 'command the scripted model asks for when the prompt names none' })
    .option('write-env', { type: 'string', describe: 'also write the client environment as shell exports to this file' })
    .option('log', { type: 'string', describe: 'append one JSON line per request to this file (stderr: to standard error)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the startup information as one JSON line' })
    .strict()
    .exitProcess(handleSignals)
    .help()
    .parse();

  // files it writes are opened as --output is (sinks/safe-file.ts): never through a link, never someone else's
  const log: SafeFile | null = argv.log && argv.log !== 'stderr' && argv.log !== '-' ? await openOwnFile(argv.log, { what: '--log' }) : null;
  const s = await startStandin({
    port: argv.port,
    host: argv.host,
    tlsDir: argv['tls-dir'],
    chunkDelayMs: argv['delay-ms'],
    deltaChars: argv['delta-chars'],
    defaultCommand: argv.command,
    onRequest: argv.log
      ? (r) => {
          const line =
            JSON.stringify({
              seq: r.seq,
              request_id: r.requestId,
              connection: r.connection,
              method: r.method,
              url: r.url,
              route: r.route,
              status: r.response.status,
              stream: r.response.stream,
              encoding: r.response.encoding ?? null,
              reply: r.reply?.kind ?? null,
              tool_call: r.response.toolCall ?? null,
              text: r.response.text,
              complete: r.response.complete,
            }) + '\n';
          if (argv.log === 'stderr' || argv.log === '-') process.stderr.write(line);
          else if (log) fs.writeSync(log.fh.fd, line);
        }
      : undefined,
  }).catch(async (err: unknown) => {
    await log?.fh.close().catch(() => undefined);
    throw err;
  });
  const env = s.env();
  const exports = Object.entries(env)
    .map(([k, v]) => `export ${k}='${v}'`)
    .join('\n');
  if (argv['write-env']) {
    const f = await openOwnFile(argv['write-env'], { what: '--write-env' });
    try {
      await f.fh.truncate(0);
      await f.fh.writeFile(exports + '\n', 'utf8');
    } finally {
      await f.fh.close();
    }
  }
  if (argv.json) {
    out.write(JSON.stringify({ url: s.url, port: s.port, caFile: s.caFile, env }) + '\n');
  } else {
    out.write(`agentsight stand-in listening on ${s.url}\nCA certificate: ${s.caFile}\n\n# client environment:\n${exports}\n`);
  }
  const stop = async () => {
    await s.close();
    await log?.fh.close().catch(() => undefined);
  };

  if (handleSignals) {
    let stopping = false;
    const onSignal = (sig: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`stand-in: ${sig}, closing\n`);
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    // Last resort: never leave the key behind, however the process ends.
    process.on('exit', () => s.tls.disposeSync());
  }
  return { standin: s, stop };
}

if (require.main === module) {
  runCli(process.argv.slice(2), process.stdout, true).catch((err) => {
    process.stderr.write(`agentsight-standin: ${printable(err instanceof Error ? err.message : String(err))}\n`);
    process.exit(1);
  });
}
