'use strict';
/**
 * Shared bits of the SDK test agents: argument parsing, running the
 * command the model asked for, and the report they print.
 *
 * Common arguments: `stream` | `nostream` (first positional), then
 *   --model M           model name (error-429 etc. make the stand-in fail)
 *   --encoding ENC      ask the stand-in for Content-Encoding ENC (x-standin-encoding)
 *   --max-retries N     the SDK's maxRetries (default: the SDK's own)
 *   --json              print a JSON report instead of the bare final answer
 *   the rest: the prompt (default: "What kernel is this? run: uname -a")
 */
const { spawnSync } = require('node:child_process');
const { parseArgs } = require('node:util');

const DEFAULT_PROMPT = 'What kernel is this machine running? run: uname -a';
const BASH_TOOL_DESCRIPTION = 'Run a shell command on this machine and return what it prints (stdout and stderr).';
const COMMAND_SCHEMA = {
  type: 'object',
  properties: { command: { type: 'string', description: 'The command line to run with /bin/sh' } },
  required: ['command'],
};

function parse(extra = {}) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      encoding: { type: 'string' },
      'max-retries': { type: 'string' },
      json: { type: 'boolean', default: false },
      ...extra,
    },
  });
  const mode = positionals[0];
  if (mode !== 'stream' && mode !== 'nostream') {
    throw new Error(`first argument must be "stream" or "nostream", not ${JSON.stringify(mode)}`);
  }
  const clientOptions = {};
  if (values['max-retries'] !== undefined) clientOptions.maxRetries = Number(values['max-retries']);
  if (values.encoding) clientOptions.defaultHeaders = { 'x-standin-encoding': values.encoding };
  return { stream: mode === 'stream', values, clientOptions, prompt: positionals.slice(1).join(' ') || DEFAULT_PROMPT };
}

function runCommand(command) {
  process.stderr.write(`agent: running: ${command}\n`);
  const p = spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', timeout: 60_000 });
  if (p.error) throw p.error;
  return { output: (p.stdout || '') + (p.stderr || ''), code: p.status ?? 128 };
}

function finish(report, json) {
  process.stdout.write((json ? JSON.stringify(report) : report.final) + '\n');
}

/** Print an SDK error the way the tests read it, and fail. */
function fail(err) {
  const status = err && typeof err.status === 'number' ? ` ${err.status}` : '';
  process.stderr.write(`agent: error: ${(err && err.constructor && err.constructor.name) || 'Error'}${status}: ${err && err.message}\n`);
  if (err && err.error !== undefined) process.stderr.write(`agent: error body: ${JSON.stringify(err.error)}\n`);
  process.exitCode = 1;
}

module.exports = { DEFAULT_PROMPT, BASH_TOOL_DESCRIPTION, COMMAND_SCHEMA, parse, runCommand, finish, fail };
