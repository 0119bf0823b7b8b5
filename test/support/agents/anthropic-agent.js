#!/usr/bin/env node
'use strict';
/**
 * Tool-using agent on the official @anthropic-ai/sdk, configured the normal
 * way (ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY, NODE_EXTRA_CA_CERTS).
 *
 *   anthropic-agent.js stream|nostream [--thinking] [--cache] [common options] [PROMPT...]
 *
 * --cache marks the tool definitions for prompt caching (cache_control), as
 * agents with long system prompts do: the first turn writes the cache, the
 * next ones read it.
 *
 * Streaming uses client.messages.stream() (the SDK's accumulator, which
 * checks the event sequence) and counts the event types it saw;
 * non-streaming uses client.messages.create(). See ./common.js for options.
 */
const Anthropic = require('@anthropic-ai/sdk');
const { BASH_TOOL_DESCRIPTION, COMMAND_SCHEMA, parse, runCommand, finish, fail } = require('./common');

async function main() {
  const { stream, values, clientOptions, prompt } = parse({ thinking: { type: 'boolean', default: false }, cache: { type: 'boolean', default: false } });
  const client = new Anthropic(clientOptions);
  const report = { sdk: '@anthropic-ai/sdk', stream, tool_calls: [], final: null, request_ids: [], stop_reasons: [], usage: [], event_types: {}, thinking: '' };
  const messages = [{ role: 'user', content: prompt }];
  for (let turn = 0; turn < 4; turn++) {
    const params = {
      model: values.model || 'claude-sonnet-4-6',
      max_tokens: 2048,
      tools: [{ name: 'bash', description: BASH_TOOL_DESCRIPTION, input_schema: COMMAND_SCHEMA, ...(values.cache ? { cache_control: { type: 'ephemeral' } } : {}) }],
      messages,
    };
    if (values.thinking) params.thinking = { type: 'enabled', budget_tokens: 1024 };
    let message;
    if (stream) {
      const s = client.messages.stream(params);
      for await (const ev of s) report.event_types[ev.type] = (report.event_types[ev.type] || 0) + 1;
      message = await s.finalMessage();
      report.request_ids.push(s.request_id);
    } else {
      message = await client.messages.create(params);
      report.request_ids.push(message._request_id);
    }
    report.stop_reasons.push(message.stop_reason);
    report.usage.push(message.usage);
    for (const b of message.content) if (b.type === 'thinking') report.thinking += b.thinking;
    messages.push({ role: 'assistant', content: message.content });
    const calls = message.content.filter((b) => b.type === 'tool_use');
    if (message.stop_reason !== 'tool_use' || calls.length === 0) {
      report.final = message.content
        .filter((b) => b.type === 'text')
        .map((b) => b.text)
        .join('');
      return finish(report, values.json);
    }
    const results = [];
    for (const c of calls) {
      const { output, code } = runCommand(c.input.command);
      report.tool_calls.push({ id: c.id, name: c.name, input: c.input, output, exit_code: code });
      results.push({ type: 'tool_result', tool_use_id: c.id, content: output, is_error: code !== 0 });
    }
    messages.push({ role: 'user', content: results });
  }
  throw new Error('no final answer after 4 turns');
}

main().catch(fail);
