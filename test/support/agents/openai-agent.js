#!/usr/bin/env node
'use strict';
/**
 * Tool-using agent on the official `openai` SDK, configured the normal way
 * (OPENAI_BASE_URL, OPENAI_API_KEY, NODE_EXTRA_CA_CERTS).
 *
 *   openai-agent.js stream|nostream [--api chat|responses] [--reasoning] [common options] [PROMPT...]
 *
 * Chat Completions streaming iterates the raw chunks (with
 * stream_options.include_usage) and rebuilds the tool calls from their
 * pieces; Responses streaming iterates the typed events and takes the
 * final response from response.completed. See ./common.js for options.
 */
const OpenAI = require('openai');
const { BASH_TOOL_DESCRIPTION, COMMAND_SCHEMA, parse, runCommand, finish, fail } = require('./common');

async function chatTurn(client, params, stream, report) {
  if (!stream) {
    const c = await client.chat.completions.create(params);
    report.request_ids.push(c._request_id);
    report.usage.push(c.usage);
    return { message: c.choices[0].message, finish: c.choices[0].finish_reason };
  }
  const s = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  const message = { role: 'assistant', content: null };
  const calls = [];
  let finishReason = null;
  for await (const chunk of s) {
    report.chunks = (report.chunks || 0) + 1;
    if (chunk.usage) report.usage.push(chunk.usage);
    for (const ch of chunk.choices) {
      if (ch.delta.content) message.content = (message.content || '') + ch.delta.content;
      for (const tc of ch.delta.tool_calls || []) {
        const c = (calls[tc.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
        if (tc.id) c.id = tc.id;
        if (tc.function?.name) c.function.name += tc.function.name;
        if (tc.function?.arguments) c.function.arguments += tc.function.arguments;
      }
      if (ch.finish_reason) finishReason = ch.finish_reason;
    }
  }
  if (calls.length) message.tool_calls = calls;
  return { message, finish: finishReason };
}

async function chatAgent(client, stream, values, prompt, report) {
  const messages = [{ role: 'user', content: prompt }];
  for (let turn = 0; turn < 4; turn++) {
    const params = {
      model: values.model || 'gpt-4o-mini',
      messages,
      tools: [{ type: 'function', function: { name: 'bash', description: BASH_TOOL_DESCRIPTION, parameters: COMMAND_SCHEMA } }],
    };
    const { message, finish: reason } = await chatTurn(client, params, stream, report);
    report.stop_reasons.push(reason);
    messages.push({ role: 'assistant', content: message.content, ...(message.tool_calls ? { tool_calls: message.tool_calls } : {}) });
    if (reason !== 'tool_calls' || !message.tool_calls) return message.content;
    for (const c of message.tool_calls) {
      const input = JSON.parse(c.function.arguments);
      const { output, code } = runCommand(input.command);
      report.tool_calls.push({ id: c.id, name: c.function.name, input, output, exit_code: code });
      messages.push({ role: 'tool', tool_call_id: c.id, content: output });
    }
  }
  throw new Error('no final answer after 4 turns');
}

async function responsesAgent(client, stream, values, prompt, report) {
  const input = [{ role: 'user', content: prompt }];
  for (let turn = 0; turn < 4; turn++) {
    const params = {
      model: values.model || 'gpt-4.1',
      input,
      tools: [{ type: 'function', name: 'bash', description: BASH_TOOL_DESCRIPTION, parameters: COMMAND_SCHEMA, strict: false }],
    };
    if (values.reasoning) params.reasoning = { effort: 'low', summary: 'auto' };
    let response;
    if (stream) {
      const s = await client.responses.create({ ...params, stream: true });
      for await (const ev of s) {
        report.event_types[ev.type] = (report.event_types[ev.type] || 0) + 1;
        if (ev.type === 'response.completed') response = ev.response;
      }
      if (!response) throw new Error('stream ended without response.completed');
    } else {
      response = await client.responses.create(params);
      report.request_ids.push(response._request_id);
    }
    report.usage.push(response.usage);
    report.stop_reasons.push(response.status);
    const calls = response.output.filter((o) => o.type === 'function_call');
    for (const o of response.output) if (o.type === 'reasoning') for (const s of o.summary) report.thinking += s.text;
    if (calls.length === 0)
      return (
        response.output_text ??
        response.output
          .filter((o) => o.type === 'message')
          .flatMap((o) => o.content.map((c) => c.text))
          .join('')
      );
    for (const c of calls) {
      input.push({ type: 'function_call', call_id: c.call_id, name: c.name, arguments: c.arguments });
      const args = JSON.parse(c.arguments);
      const { output, code } = runCommand(args.command);
      report.tool_calls.push({ id: c.call_id, name: c.name, input: args, output, exit_code: code });
      input.push({ type: 'function_call_output', call_id: c.call_id, output });
    }
  }
  throw new Error('no final answer after 4 turns');
}

async function main() {
  const { stream, values, clientOptions, prompt } = parse({ api: { type: 'string', default: 'chat' }, reasoning: { type: 'boolean', default: false } });
  if (values.api !== 'chat' && values.api !== 'responses') throw new Error(`--api must be chat or responses, not ${values.api}`);
  const client = new OpenAI(clientOptions);
  const report = {
    sdk: 'openai',
    api: values.api,
    stream,
    tool_calls: [],
    final: null,
    request_ids: [],
    stop_reasons: [],
    usage: [],
    event_types: {},
    thinking: '',
  };
  report.final = await (values.api === 'chat' ? chatAgent : responsesAgent)(client, stream, values, prompt, report);
  finish(report, values.json);
}

main().catch(fail);
