#!/usr/bin/env node
'use strict';
/**
 * Tool-using agent on the OpenAI Responses API's WebSocket transport, with
 * the official `openai` SDK (ResponsesWS over the `ws` package), configured
 * the normal way (OPENAI_BASE_URL, OPENAI_API_KEY, NODE_EXTRA_CA_CERTS).
 *
 *   openai-ws-agent.js stream [--deflate] [common options] [PROMPT...]
 *
 * Each turn sends a response.create (the next turn with previous_response_id
 * and the tool's output) and waits for response.completed; the connection
 * stays open for the whole conversation. --deflate offers permessage-deflate.
 */
const OpenAI = require('openai');
const { ResponsesWS } = require('openai/resources/responses/ws');
const { BASH_TOOL_DESCRIPTION, COMMAND_SCHEMA, parse, runCommand, finish, fail } = require('./common');

async function main() {
  const { values, clientOptions, prompt } = parse({ deflate: { type: 'boolean', default: false } });
  const client = new OpenAI(clientOptions);
  const rws = new ResponsesWS(client, { perMessageDeflate: values.deflate });
  const report = { sdk: 'openai', api: 'responses', transport: 'websocket', tool_calls: [], final: null, response_ids: [], stop_reasons: [], usage: [], event_types: {} };
  const waiting = [];
  rws.on('error', (e) => {
    const w = waiting.shift();
    if (w) w.reject(e);
    else fail(e);
  });
  rws.on('event', (ev) => {
    report.event_types[ev.type] = (report.event_types[ev.type] || 0) + 1;
    if (ev.type === 'response.completed') waiting.shift()?.resolve(ev.response);
  });
  const turn = (body) =>
    new Promise((resolve, reject) => {
      waiting.push({ resolve, reject });
      rws.send({ type: 'response.create', ...body });
    });
  const tools = [{ type: 'function', name: 'bash', description: BASH_TOOL_DESCRIPTION, parameters: COMMAND_SCHEMA, strict: false }];
  let body = { model: values.model || 'gpt-4.1', input: [{ role: 'user', content: prompt }], tools };
  for (let i = 0; i < 4 && report.final === null; i++) {
    const response = await turn(body);
    report.response_ids.push(response.id);
    report.usage.push(response.usage);
    report.stop_reasons.push(response.status);
    const calls = response.output.filter((o) => o.type === 'function_call');
    if (calls.length === 0) {
      report.final = response.output
        .filter((o) => o.type === 'message')
        .flatMap((o) => o.content.map((c) => c.text))
        .join('');
      break;
    }
    const input = [];
    for (const c of calls) {
      const args = JSON.parse(c.arguments);
      const { output, code } = runCommand(args.command);
      report.tool_calls.push({ id: c.call_id, name: c.name, input: args, output, exit_code: code });
      input.push({ type: 'function_call_output', call_id: c.call_id, output });
    }
    body = { model: body.model, previous_response_id: response.id, input, tools };
  }
  if (report.final === null) throw new Error('no final answer after 4 turns');
  await new Promise((resolve) => {
    rws.socket.on('close', () => resolve());
    rws.close({ code: 1000, reason: 'done' });
  });
  finish(report, values.json);
}

main().catch(fail);
