#!/usr/bin/env node
'use strict';
/**
 * A tiny tool-using LLM agent in Node, with nothing but `https` (so through
 * the OpenSSL linked into node). Same behaviour as demo/agent.py: it offers
 * the model a `bash` tool, runs the command the model asks for, sends the
 * output back and prints the final answer.
 *
 * Configuration, as the official SDKs take it:
 *   ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY      (--provider anthropic)
 *   OPENAI_BASE_URL (with /v1), OPENAI_API_KEY (--provider openai)
 *   NODE_EXTRA_CA_CERTS (or SSL_CERT_FILE)     extra CA to trust
 *   AGENT_PROVIDER, AGENT_STREAM=1|0, AGENT_MODEL  defaults for the options
 *
 * Usage: agent.js [--provider anthropic|openai] [--stream|--no-stream]
 *                 [--model M] [--max-turns N] [--accept-encoding gzip|deflate|br]
 *                 [--json] [PROMPT...]
 * One keep-alive connection carries every request. Exit status 0 on
 * success; 1 with a message on stderr on any error.
 */
const fs = require('node:fs');
const https = require('node:https');
const tls = require('node:tls');
const zlib = require('node:zlib');
const { spawnSync } = require('node:child_process');
const { parseArgs } = require('node:util');

const DEFAULT_PROMPT = 'What kernel is this machine running? run: uname -a';
const USER_AGENT = 'agentsight-demo-agent/1.0 (node https)';
const BASH_TOOL_DESCRIPTION = 'Run a shell command on this machine and return what it prints (stdout and stderr).';
const COMMAND_SCHEMA = {
  type: 'object',
  properties: { command: { type: 'string', description: 'The command line to run with /bin/sh' } },
  required: ['command'],
};

class AgentError extends Error {
  name = 'AgentError';
}

const log = (msg) => process.stderr.write(`agent: ${msg}\n`);

function makeAgent() {
  const opts = { keepAlive: true, maxSockets: 1 };
  // NODE_EXTRA_CA_CERTS is read by node at start-up; SSL_CERT_FILE is honoured here too.
  const extra = !process.env.NODE_EXTRA_CA_CERTS && process.env.SSL_CERT_FILE;
  if (extra) opts.ca = [...tls.rootCertificates, fs.readFileSync(extra, 'utf8')];
  return new https.Agent(opts);
}

function decode(res, buf) {
  const enc = (res.headers['content-encoding'] || 'identity').toLowerCase();
  if (enc === 'gzip') return zlib.gunzipSync(buf);
  if (enc === 'deflate') return zlib.inflateSync(buf);
  if (enc === 'br') return zlib.brotliDecompressSync(buf);
  if (enc === 'identity') return buf;
  throw new AgentError(`unsupported Content-Encoding: ${enc}`);
}

/** POST JSON; resolves with the response (status checked, errors thrown with the API's message). */
function post(agent, url, headers, body, { stream, acceptEncoding }) {
  const data = Buffer.from(JSON.stringify(body));
  const h = {
    'content-type': 'application/json',
    'content-length': data.length,
    'user-agent': USER_AGENT,
    accept: stream ? 'text/event-stream' : 'application/json',
    ...headers,
  };
  if (acceptEncoding && !stream) h['accept-encoding'] = acceptEncoding;
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', headers: h, agent, timeout: 60_000 }, (res) => {
      if (res.statusCode >= 200 && res.statusCode < 300) return resolve(res);
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let msg;
        try {
          const raw = decode(res, Buffer.concat(chunks)).toString('utf8');
          try {
            const j = JSON.parse(raw);
            msg = (j.error && j.error.message) || raw;
          } catch {
            msg = raw;
          }
        } catch (e) {
          msg = String(e.message);
        }
        reject(new AgentError(`HTTP ${res.statusCode} from ${url}: ${msg}`));
      });
    });
    req.on('timeout', () => req.destroy(new AgentError(`timeout waiting for ${url}`)));
    req.on('error', (e) => reject(e instanceof AgentError ? e : new AgentError(`cannot reach ${url}: ${e.message}`)));
    req.end(data);
  });
}

async function readJson(res) {
  const chunks = [];
  for await (const c of res) chunks.push(c);
  return JSON.parse(decode(res, Buffer.concat(chunks)).toString('utf8'));
}

/** (event, data) pairs of a text/event-stream response, as they arrive. */
async function* sseEvents(res) {
  res.setEncoding('utf8'); // a StringDecoder: multi-byte characters split across reads stay whole
  let buf = '';
  let event;
  let data = [];
  for await (const piece of res) {
    buf += piece;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      if (line === '') {
        if (data.length) yield { event, data: data.join('\n') };
        event = undefined;
        data = [];
      } else if (line.startsWith(':')) continue;
      else if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
    }
  }
  if (data.length) yield { event, data: data.join('\n') };
}

function runCommand(command) {
  log(`running: ${command}`);
  const p = spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', timeout: 60_000 });
  if (p.error) throw new AgentError(`cannot run ${command}: ${p.error.message}`);
  return { output: (p.stdout || '') + (p.stderr || ''), code: p.status ?? 128 };
}

// -- Anthropic Messages -------------------------------------------------------

async function anthropicTurn(args, agent, messages) {
  const base = (process.env.ANTHROPIC_BASE_URL || 'https://api.anthropic.com').replace(/\/+$/, '');
  const key = process.env.ANTHROPIC_API_KEY;
  if (!key) throw new AgentError('ANTHROPIC_API_KEY is not set');
  const body = {
    model: args.model || 'claude-sonnet-4-6',
    max_tokens: 1024,
    tools: [{ name: 'bash', description: BASH_TOOL_DESCRIPTION, input_schema: COMMAND_SCHEMA }],
    messages,
  };
  if (args.stream) body.stream = true;
  const res = await post(agent, `${base}/v1/messages`, { 'x-api-key': key, 'anthropic-version': '2023-06-01' }, body, args);
  if (!args.stream) {
    const msg = await readJson(res);
    return { content: msg.content, stopReason: msg.stop_reason };
  }
  const blocks = [];
  const partial = [];
  let stopReason = null;
  let stopped = false;
  for await (const { data } of sseEvents(res)) {
    const ev = JSON.parse(data);
    if (ev.type === 'error') throw new AgentError(`stream error: ${ev.error && ev.error.message}`);
    if (ev.type === 'content_block_start') {
      blocks[ev.index] = { ...ev.content_block };
      partial[ev.index] = '';
    } else if (ev.type === 'content_block_delta') {
      const d = ev.delta;
      const b = blocks[ev.index];
      if (d.type === 'text_delta') b.text += d.text;
      else if (d.type === 'thinking_delta') b.thinking += d.thinking;
      else if (d.type === 'signature_delta') b.signature = d.signature;
      else if (d.type === 'input_json_delta') partial[ev.index] += d.partial_json;
    } else if (ev.type === 'content_block_stop') {
      const b = blocks[ev.index];
      if (b.type === 'tool_use') b.input = JSON.parse(partial[ev.index] || '{}');
    } else if (ev.type === 'message_delta') stopReason = ev.delta.stop_reason;
    else if (ev.type === 'message_stop') stopped = true;
  }
  // Read to the end of the response (not just to message_stop) so the connection stays reusable.
  if (!stopped) throw new AgentError('stream ended without message_stop');
  return { content: blocks.filter(Boolean), stopReason };
}

async function anthropicAgent(args, agent, prompt, report) {
  const messages = [{ role: 'user', content: prompt }];
  for (let turn = 0; turn < args.maxTurns; turn++) {
    const { content, stopReason } = await anthropicTurn(args, agent, messages);
    messages.push({ role: 'assistant', content });
    const calls = content.filter((b) => b.type === 'tool_use');
    if (stopReason !== 'tool_use' || calls.length === 0)
      return content
        .filter((b) => b.type === 'text')
        .map((b) => b.text)
        .join('');
    const results = [];
    for (const c of calls) {
      const { output, code } = runCommand(c.input.command);
      report.tool_calls.push({ name: c.name, input: c.input, output, exit_code: code });
      results.push({ type: 'tool_result', tool_use_id: c.id, content: output, is_error: code !== 0 });
    }
    messages.push({ role: 'user', content: results });
  }
  throw new AgentError(`no final answer after ${args.maxTurns} turns`);
}

// -- OpenAI Chat Completions ---------------------------------------------------

async function openaiTurn(args, agent, messages) {
  const base = (process.env.OPENAI_BASE_URL || 'https://api.openai.com/v1').replace(/\/+$/, '');
  const key = process.env.OPENAI_API_KEY;
  if (!key) throw new AgentError('OPENAI_API_KEY is not set');
  const body = {
    model: args.model || 'gpt-4o-mini',
    messages,
    tools: [{ type: 'function', function: { name: 'bash', description: BASH_TOOL_DESCRIPTION, parameters: COMMAND_SCHEMA } }],
  };
  if (args.stream) Object.assign(body, { stream: true, stream_options: { include_usage: true } });
  const res = await post(agent, `${base}/chat/completions`, { authorization: `Bearer ${key}` }, body, args);
  if (!args.stream) {
    const choice = (await readJson(res)).choices[0];
    return { message: choice.message, finish: choice.finish_reason };
  }
  const message = { role: 'assistant', content: null };
  const calls = [];
  let finish = null;
  let done = false;
  for await (const { data } of sseEvents(res)) {
    if (data === '[DONE]') {
      done = true;
      continue; // read to the end of the response so the connection stays reusable
    }
    const chunk = JSON.parse(data);
    if (chunk.error) throw new AgentError(`stream error: ${chunk.error.message}`);
    for (const ch of chunk.choices || []) {
      const d = ch.delta || {};
      if (d.content) message.content = (message.content || '') + d.content;
      for (const tc of d.tool_calls || []) {
        const c = (calls[tc.index] ??= { id: null, type: 'function', function: { name: '', arguments: '' } });
        if (tc.id) c.id = tc.id;
        if (tc.function && tc.function.name) c.function.name += tc.function.name;
        if (tc.function && tc.function.arguments) c.function.arguments += tc.function.arguments;
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  if (!done) throw new AgentError('stream ended without [DONE]');
  if (calls.length) message.tool_calls = calls.filter(Boolean);
  return { message, finish };
}

async function openaiAgent(args, agent, prompt, report) {
  const messages = [{ role: 'user', content: prompt }];
  for (let turn = 0; turn < args.maxTurns; turn++) {
    const { message, finish } = await openaiTurn(args, agent, messages);
    messages.push({ role: 'assistant', content: message.content, ...(message.tool_calls ? { tool_calls: message.tool_calls } : {}) });
    const calls = message.tool_calls || [];
    if (finish !== 'tool_calls' || calls.length === 0) return message.content || '';
    for (const c of calls) {
      const input = JSON.parse(c.function.arguments || '{}');
      const { output, code } = runCommand(input.command);
      report.tool_calls.push({ name: c.function.name, input, output, exit_code: code });
      messages.push({ role: 'tool', tool_call_id: c.id, content: output });
    }
  }
  throw new AgentError(`no final answer after ${args.maxTurns} turns`);
}

async function main() {
  const envStream = !['0', 'false', 'no', ''].includes(process.env.AGENT_STREAM ?? '1');
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      provider: { type: 'string', default: process.env.AGENT_PROVIDER || 'anthropic' },
      stream: { type: 'boolean' },
      'no-stream': { type: 'boolean' },
      model: { type: 'string', default: process.env.AGENT_MODEL },
      'max-turns': { type: 'string', default: '4' },
      'accept-encoding': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!['anthropic', 'openai'].includes(values.provider)) throw new AgentError(`--provider must be anthropic or openai, not ${values.provider}`);
  const args = {
    provider: values.provider,
    stream: values['no-stream'] ? false : values.stream ? true : envStream,
    model: values.model,
    maxTurns: Number(values['max-turns']) || 4,
    acceptEncoding: values['accept-encoding'],
  };
  const prompt = positionals.join(' ') || DEFAULT_PROMPT;
  const report = { provider: args.provider, stream: args.stream, tool_calls: [], final: null };
  const agent = makeAgent();
  try {
    report.final = await (args.provider === 'anthropic' ? anthropicAgent : openaiAgent)(args, agent, prompt, report);
  } finally {
    agent.destroy();
  }
  process.stdout.write((values.json ? JSON.stringify(report) : report.final) + '\n');
}

main().catch((err) => {
  process.stderr.write(`agent: error: ${err.name || 'Error'}: ${err.message}\n`);
  process.exitCode = 1;
});
