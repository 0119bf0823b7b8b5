/**
 * The stand-in on the wire, seen with curl over real TLS: each API's
 * headers, event sequences, JSON bodies, content encodings (zstd too),
 * error shapes, recording and reproducibility; and the TLS material.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../lib/standin/cli';
import {
  createTlsMaterial,
  replyFor,
  startStandin,
  TEST_ANTHROPIC_API_KEY,
  TEST_GEMINI_API_KEY,
  TEST_OPENAI_API_KEY,
  zstdBackend,
  type Standin,
} from '../../lib/standin';
import { curl, parseSse } from '../support/run';

const ANTHROPIC = { 'x-api-key': TEST_ANTHROPIC_API_KEY, 'anthropic-version': '2023-06-01' };
const OPENAI = { authorization: `Bearer ${TEST_OPENAI_API_KEY}` };
const GEMINI = { 'x-goog-api-key': TEST_GEMINI_API_KEY };
const BASH = {
  name: 'bash',
  description: 'run a command',
  input_schema: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] },
};

let s: Standin;
beforeAll(async () => {
  s = await startStandin({ chunkDelayMs: 0 });
});
afterAll(async () => {
  await s?.close();
});

const lastRec = () => s.requests[s.requests.length - 1]!;
/** Event names with consecutive repeats folded. */
const folded = (names: (string | undefined)[]) => names.filter((n, i) => n !== names[i - 1]);

describe('TLS material', () => {
  it('is a private throwaway CA and a localhost certificate it signed', async () => {
    const t = await createTlsMaterial();
    try {
      expect(fs.statSync(t.dir).mode & 0o777).toBe(0o700);
      for (const f of fs.readdirSync(t.dir)) expect(fs.statSync(path.join(t.dir, f)).mode & 0o777).toBe(0o600);
      // The CA key is gone once the certificate is signed.
      expect(fs.readdirSync(t.dir).sort()).toEqual(['ca.pem', 'server.key', 'server.pem']);
      const ca = new X509Certificate(t.caCert);
      const leaf = new X509Certificate(t.cert);
      expect(ca.ca).toBe(true);
      expect(leaf.ca).toBe(false);
      expect(leaf.verify(ca.publicKey)).toBe(true);
      expect(leaf.checkIssued(ca)).toBe(true);
      expect(leaf.subjectAltName).toContain('DNS:localhost');
      expect(leaf.subjectAltName).toContain('IP Address:127.0.0.1');
      expect(leaf.checkHost('localhost')).toBe('localhost');
      expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
      expect(leaf.publicKey.asymmetricKeyType).toBe('ec');
      expect(fs.readFileSync(t.caFile, 'utf8')).toBe(t.caCert);
    } finally {
      await t.dispose();
    }
    expect(fs.existsSync(t.dir)).toBe(false);
  });

  it('in a given directory, removes only its own files', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-test-'));
    try {
      fs.writeFileSync(path.join(dir, 'keep.txt'), 'x');
      const t = await createTlsMaterial({ dir });
      expect(fs.existsSync(t.keyFile)).toBe(true);
      await t.dispose();
      expect(fs.readdirSync(dir)).toEqual(['keep.txt']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('server lifecycle', () => {
  it('listens on loopback only, and close() removes its certificates', async () => {
    await expect(startStandin({ host: '0.0.0.0' as '127.0.0.1' })).rejects.toThrow(/loopback/);
    const t = await startStandin();
    expect(t.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const h = await curl(t, '/health');
    expect(h.status).toBe(200);
    expect(JSON.parse(h.text)).toEqual({ status: 'ok' });
    await t.close();
    expect(fs.existsSync(t.tls.dir)).toBe(false);
    await expect(curl(t, '/health')).rejects.toThrow(/curl failed/);
  });

  it('rejects clients that do not trust its CA', async () => {
    const err = await new Promise<Error>((resolve) => {
      https.get(`${s.url}/health`, { ca: [] as string[] }, () => resolve(new Error('connected'))).on('error', resolve);
    });
    expect(String(err.message)).toMatch(/self[- ]signed|unable to (get|verify)/i);
  });

  it('runs from the command line entry point', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-cli-'));
    const out = new PassThrough();
    let printed = '';
    out.on('data', (c) => (printed += c));
    const cli = await runCli(['--json', '--tls-dir', dir, '--write-env', path.join(dir, 'env.sh')], out);
    try {
      const info = JSON.parse(printed);
      expect(info.url).toBe(cli.standin.url);
      expect(info.caFile).toBe(path.join(dir, 'ca.pem'));
      expect(info.env.NODE_EXTRA_CA_CERTS).toBe(info.caFile);
      expect(fs.readFileSync(path.join(dir, 'env.sh'), 'utf8')).toContain(`export OPENAI_BASE_URL='${cli.standin.url}/v1'`);
      expect((await curl(cli.standin, '/health')).status).toBe(200);
    } finally {
      await cli.stop();
    }
    expect(fs.readdirSync(dir)).toEqual(['env.sh']);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('Anthropic Messages', () => {
  const body = { model: 'claude-sonnet-4-6', max_tokens: 512, stream: true, tools: [BASH], messages: [{ role: 'user', content: 'run: uname -a' }] };

  it('streams the real event sequence with text and a split tool_use input', async () => {
    const r = await curl(s, '/v1/messages', { headers: ANTHROPIC, json: body, args: ['-N'] });
    const rec = lastRec();
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.headers['request-id']).toBe(rec.requestId);
    expect(r.headers['x-request-id']).toBe(rec.requestId);
    expect(r.body.equals(rec.response.body)).toBe(true);
    const events = parseSse(r.text);
    expect(folded(events.map((e) => e.event))).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const data = events.map((e) => JSON.parse(e.data));
    data.forEach((d, i) => expect(d.type).toBe(events[i]!.event));
    const text = data.filter((d) => d.delta?.type === 'text_delta').map((d) => d.delta.text);
    const json = data.filter((d) => d.delta?.type === 'input_json_delta').map((d) => d.delta.partial_json);
    expect(text.length).toBeGreaterThan(3);
    expect(text.join('')).toBe(s.expectedText(rec));
    expect(json[0]).toBe('');
    expect(json.length).toBeGreaterThan(3);
    expect(JSON.parse(json.join(''))).toEqual({ command: 'uname -a' });
    const start = data[0].message;
    expect(start).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [], stop_reason: null });
    expect(start.id).toMatch(/^msg_01[A-Za-z0-9]{22}$/);
    expect(start.usage).toMatchObject({ cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    const tool = data.find((d) => d.content_block?.type === 'tool_use').content_block;
    expect(tool).toMatchObject({ name: 'bash', input: {} });
    expect(tool.id).toMatch(/^toolu_01/);
    expect(data.at(-2)).toMatchObject({ delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: expect.any(Number) } });
  });

  it('streams thinking first, with a signature', async () => {
    await curl(s, '/v1/messages', { headers: ANTHROPIC, json: { ...body, thinking: { type: 'enabled', budget_tokens: 1024 } } });
    const data = lastRec().response.writes.map((w) => JSON.parse(parseSse(w)[0]!.data));
    expect(data[1].content_block).toEqual({ type: 'thinking', thinking: '', signature: '' });
    const deltas = data.filter((d) => d.type === 'content_block_delta' && d.index === 0).map((d) => d.delta.type);
    expect(folded(deltas)).toEqual(['thinking_delta', 'signature_delta']);
    expect(
      data
        .filter((d) => d.delta?.type === 'thinking_delta')
        .map((d) => d.delta.thinking)
        .join(''),
    ).toBe(lastRec().response.thinking);
  });

  it('answers non-streaming with JSON, gzip when accepted, and reports prompt caching', async () => {
    const cached = {
      model: 'claude-sonnet-4-6',
      max_tokens: 512,
      system: [{ type: 'text', text: 'You are terse. '.repeat(50), cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'hello there' }],
    };
    const r = await curl(s, '/v1/messages', { headers: ANTHROPIC, json: cached, args: ['--compressed'] });
    const rec = lastRec();
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(Number(r.headers['content-length'])).toBe(rec.response.encodedBody!.length);
    expect(zlib.gunzipSync(rec.response.encodedBody!).equals(r.body)).toBe(true);
    const msg = JSON.parse(r.text);
    expect(msg).toMatchObject({
      type: 'message',
      role: 'assistant',
      stop_reason: 'end_turn',
      stop_sequence: null,
      content: [{ type: 'text', text: s.expectedText(rec) }],
    });
    expect(msg.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(msg.usage.cache_read_input_tokens).toBe(0);
    const second = { ...cached, messages: [...cached.messages, { role: 'assistant', content: 'hi' }, { role: 'user', content: 'again' }] };
    const usage2 = JSON.parse((await curl(s, '/v1/messages', { headers: ANTHROPIC, json: second })).text).usage;
    expect(usage2.cache_read_input_tokens).toBe(msg.usage.cache_creation_input_tokens);
    expect(usage2.cache_creation_input_tokens).toBe(0);
  });

  it('rejects what the real API rejects, in its error shape', async () => {
    const noVersion = await curl(s, '/v1/messages', { headers: { 'x-api-key': 'k' }, json: body });
    expect(noVersion.status).toBe(400);
    expect(JSON.parse(noVersion.text)).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' },
    });
    const noKey = await curl(s, '/v1/messages', { headers: { 'anthropic-version': '2023-06-01' }, json: body });
    expect(noKey.status).toBe(401);
    expect(JSON.parse(noKey.text)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const noMax = await curl(s, '/v1/messages', { headers: ANTHROPIC, json: { model: 'x', messages: [] } });
    expect(JSON.parse(noMax.text).error).toEqual({ type: 'invalid_request_error', message: 'max_tokens: Field required' });
    const limited = await curl(s, '/v1/messages', { headers: ANTHROPIC, json: { ...body, model: 'error-429' } });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    expect(JSON.parse(limited.text)).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: expect.any(String) },
      request_id: limited.headers['request-id'],
    });
  });
});

describe('OpenAI Chat Completions', () => {
  it('streams tool_calls pieces, finish_reason, a usage chunk and [DONE]', async () => {
    const r = await curl(s, '/v1/chat/completions', {
      headers: OPENAI,
      json: {
        model: 'gpt-4o-mini',
        stream: true,
        stream_options: { include_usage: true },
        tools: [{ type: 'function', function: { name: 'shell', parameters: { type: 'object', properties: { command: { type: 'string' } } } } }],
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'please run: ls -1 /' },
        ],
      },
    });
    const rec = lastRec();
    expect(r.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(r.headers['x-request-id']).toBe(rec.requestId);
    const events = parseSse(r.text);
    expect(events.every((e) => e.event === undefined)).toBe(true);
    expect(events.at(-1)!.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    for (const c of chunks) expect(c).toMatchObject({ object: 'chat.completion.chunk', id: chunks[0].id, model: 'gpt-4o-mini' });
    expect(chunks[0].choices[0].delta).toMatchObject({
      role: 'assistant',
      tool_calls: [{ index: 0, type: 'function', function: { name: 'shell', arguments: '' } }],
    });
    expect(chunks[0].choices[0].delta.tool_calls[0].id).toMatch(/^call_/);
    const args = chunks.flatMap((c) => c.choices.flatMap((ch: any) => ch.delta.tool_calls ?? [])).map((t: any) => t.function.arguments);
    expect(args.length).toBeGreaterThan(3);
    expect(JSON.parse(args.join(''))).toEqual({ command: 'ls -1 /' });
    expect(chunks.at(-2).choices[0].finish_reason).toBe('tool_calls');
    expect(chunks.at(-1).choices).toEqual([]);
    expect(chunks.at(-1).usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), total_tokens: expect.any(Number) });
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
  });

  it('streams text in many content deltas that merge to the expected text', async () => {
    const r = await curl(s, '/v1/chat/completions', {
      headers: OPENAI,
      json: { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hello ✓' }] },
    });
    const chunks = parseSse(r.text)
      .slice(0, -1)
      .map((e) => JSON.parse(e.data));
    const pieces = chunks.map((c) => c.choices[0]?.delta.content).filter((x) => x);
    expect(pieces.length).toBeGreaterThan(10);
    expect(pieces.join('')).toBe(s.expectedText(lastRec()));
    expect(pieces.join('')).toContain('You said: "hello ✓"');
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
    expect(chunks.some((c) => 'usage' in c)).toBe(false);
  });

  it('answers non-streaming with pretty JSON and a content-length', async () => {
    const r = await curl(s, '/v1/chat/completions', { headers: OPENAI, json: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } });
    expect(r.headers['content-type']).toBe('application/json');
    expect(Number(r.headers['content-length'])).toBe(r.body.length);
    expect(r.text.startsWith('{\n  "id": "chatcmpl-')).toBe(true);
    const c = JSON.parse(r.text);
    expect(c).toMatchObject({
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: s.expectedText(lastRec()) }, finish_reason: 'stop' }],
    });
    expect(c.usage.completion_tokens_details).toHaveProperty('reasoning_tokens');
  });

  it('has the real error shapes', async () => {
    const noKey = await curl(s, '/v1/chat/completions', { json: { model: 'gpt-4o-mini', messages: [] } });
    expect(noKey.status).toBe(401);
    expect(JSON.parse(noKey.text)).toEqual({
      error: { message: expect.stringContaining("You didn't provide an API key"), type: 'invalid_request_error', param: null, code: null },
    });
    const missing = await curl(s, '/v1/chat/completions', { headers: OPENAI, json: { model: 'gpt-4o-mini' } });
    expect(JSON.parse(missing.text).error).toMatchObject({ param: 'messages', code: 'missing_required_parameter' });
    const limited = await curl(s, '/v1/chat/completions', { headers: OPENAI, json: { model: 'error-429', messages: [{ role: 'user', content: 'x' }] } });
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.text)).toEqual({ error: { message: expect.any(String), type: 'requests', param: null, code: 'rate_limit_exceeded' } });
    const bad = await curl(s, '/v1/chat/completions', {
      method: 'POST',
      headers: { ...OPENAI, 'content-type': 'application/json' },
      args: ['--data-binary', '{not json'],
    });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error.type).toBe('invalid_request_error');
  });
});

describe('OpenAI Responses', () => {
  it('streams typed events with sequence numbers, function-call argument deltas and reasoning usage', async () => {
    const r = await curl(s, '/v1/responses', {
      headers: OPENAI,
      json: { model: 'o4-mini', stream: true, reasoning: { effort: 'low' }, input: 'run: whoami', tools: [{ type: 'function', name: 'bash', parameters: {} }] },
    });
    const events = parseSse(r.text);
    const data = events.map((e) => JSON.parse(e.data));
    data.forEach((d, i) => {
      expect(d.type).toBe(events[i]!.event);
      expect(d.sequence_number).toBe(i);
    });
    expect(folded(events.map((e) => e.event))).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(data[0].response).toMatchObject({ object: 'response', status: 'in_progress', output: [], usage: null });
    const args = data
      .filter((d) => d.type === 'response.function_call_arguments.delta')
      .map((d) => d.delta)
      .join('');
    expect(JSON.parse(args)).toEqual({ command: 'whoami' });
    const done = data.at(-1).response;
    expect(done.status).toBe('completed');
    expect(done.output.map((o: any) => o.type)).toEqual(['reasoning', 'function_call']);
    expect(done.output[1]).toMatchObject({ type: 'function_call', status: 'completed', name: 'bash', arguments: args });
    expect(done.usage.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(done.usage.total_tokens).toBe(done.usage.input_tokens + done.usage.output_tokens);
  });

  it('streams output_text deltas that merge to the expected text', async () => {
    const r = await curl(s, '/v1/responses', {
      headers: OPENAI,
      json: { model: 'gpt-4.1', stream: true, input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }] },
    });
    const data = parseSse(r.text).map((e) => JSON.parse(e.data));
    const text = data.filter((d) => d.type === 'response.output_text.delta').map((d) => d.delta);
    expect(text.length).toBeGreaterThan(10);
    expect(text.join('')).toBe(s.expectedText(lastRec()));
    expect(data.find((d) => d.type === 'response.output_text.done').text).toBe(text.join(''));
  });

  it('continues from previous_response_id', async () => {
    const first = JSON.parse(
      (
        await curl(s, '/v1/responses', {
          headers: OPENAI,
          json: { model: 'gpt-4.1', input: 'run: pwd', tools: [{ type: 'function', name: 'bash', parameters: {} }] },
        })
      ).text,
    );
    const call = first.output.find((o: any) => o.type === 'function_call');
    const second = JSON.parse(
      (
        await curl(s, '/v1/responses', {
          headers: OPENAI,
          json: { model: 'gpt-4.1', previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '/srv\n' }] },
        })
      ).text,
    );
    expect(second.output[0].content[0].text).toContain('The command `pwd` finished. Its output was:\n\n/srv\n');
  });

  it('answers generate: false (a warm-up) without output: created, in_progress, completed with no output tokens', async () => {
    const r = await curl(s, '/v1/responses', {
      headers: OPENAI,
      json: {
        model: 'gpt-5',
        stream: true,
        generate: false,
        input: [{ role: 'user', content: 'run: uname -a' }],
        tools: [{ type: 'function', name: 'bash', parameters: {} }],
      },
    });
    const data = parseSse(r.text).map((e) => JSON.parse(e.data));
    expect(data.map((d) => d.type)).toEqual(['response.created', 'response.in_progress', 'response.completed']);
    const done = data[2].response;
    expect(done.output).toEqual([]);
    expect(done.usage).toMatchObject({ output_tokens: 0, total_tokens: done.usage.input_tokens });
    expect(done.usage.input_tokens).toBeGreaterThan(0);
    expect(lastRec().reply?.kind).toBe('none');
    expect(s.expectedText(lastRec())).toBe('');
    expect(lastRec().response.toolCall).toBeUndefined();
  });
});

describe('Gemini', () => {
  const tools = [{ functionDeclarations: [{ name: 'run_shell_command', parameters: { type: 'object', properties: { command: { type: 'string' } } } }] }];

  it('streams SSE events separated by CRLF CRLF, a function call, then text', async () => {
    const path1 = '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse';
    const r = await curl(s, path1, { headers: GEMINI, json: { contents: [{ role: 'user', parts: [{ text: 'run: hostname' }] }], tools } });
    expect(r.headers['content-type']).toBe('text/event-stream');
    expect(r.text.endsWith('\r\n\r\n')).toBe(true);
    expect(
      r.text
        .split('\r\n\r\n')
        .filter(Boolean)
        .every((e) => e.startsWith('data: ')),
    ).toBe(true);
    const events = parseSse(r.text).map((e) => JSON.parse(e.data));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      candidates: [
        { content: { role: 'model', parts: [{ functionCall: { name: 'run_shell_command', args: { command: 'hostname' } } }] }, finishReason: 'STOP' },
      ],
      usageMetadata: { promptTokenCount: expect.any(Number), candidatesTokenCount: expect.any(Number), totalTokenCount: expect.any(Number) },
      modelVersion: 'gemini-2.5-flash',
    });
    const follow = {
      contents: [
        { role: 'user', parts: [{ text: 'run: hostname' }] },
        { role: 'model', parts: [{ functionCall: { name: 'run_shell_command', args: { command: 'hostname' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'run_shell_command', response: { output: 'box\n' } } }] },
      ],
      tools,
    };
    const r2 = await curl(s, `/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=${TEST_GEMINI_API_KEY}`, { json: follow });
    const ev2 = parseSse(r2.text).map((e) => JSON.parse(e.data));
    expect(ev2.length).toBeGreaterThan(10);
    const text = ev2.map((e) => e.candidates[0].content.parts.map((p: any) => p.text).join('')).join('');
    expect(text).toBe(s.expectedText(lastRec()));
    expect(text).toContain('Its output was:\n\nbox\n');
    expect(ev2.slice(0, -1).every((e) => e.candidates[0].finishReason === undefined)).toBe(true);
    expect(ev2.at(-1).candidates[0].finishReason).toBe('STOP');
  });

  it('streams a JSON array without alt=sse, and answers generateContent with JSON', async () => {
    const body = { contents: [{ parts: [{ text: 'hello' }] }] };
    const arr = await curl(s, '/v1beta/models/gemini-2.5-pro:streamGenerateContent', { headers: GEMINI, json: body });
    expect(arr.headers['content-type']).toBe('application/json; charset=UTF-8');
    const parsed = JSON.parse(arr.text) as any[];
    expect(parsed.length).toBeGreaterThan(5);
    const text = parsed.map((c) => c.candidates[0].content.parts[0].text).join('');
    const one = JSON.parse((await curl(s, '/v1beta/models/gemini-2.5-pro:generateContent', { headers: GEMINI, json: body })).text);
    expect(one.candidates[0].content.parts[0].text).toBe(text);
    expect(one.modelVersion).toBe('gemini-2.5-pro');
  });

  it('has Google error shapes', async () => {
    const body = { contents: [{ parts: [{ text: 'x' }] }] };
    const noKey = await curl(s, '/v1beta/models/gemini-2.5-flash:generateContent', { json: body });
    expect(noKey.status).toBe(403);
    expect(JSON.parse(noKey.text)).toEqual({ error: { code: 403, message: expect.any(String), status: 'PERMISSION_DENIED' } });
    const limited = await curl(s, '/v1beta/models/error-429:generateContent', { headers: GEMINI, json: body });
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.text)).toEqual({
      error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' },
    });
    const empty = await curl(s, '/v1beta/models/gemini-2.5-flash:generateContent', { headers: GEMINI, json: {} });
    expect(JSON.parse(empty.text).error.status).toBe('INVALID_ARGUMENT');
  });
});

describe('routes, models and errors', () => {
  it("lists models in each provider's shape", async () => {
    const a = JSON.parse((await curl(s, '/v1/models', { headers: ANTHROPIC })).text);
    expect(a).toMatchObject({ data: expect.any(Array), has_more: false });
    expect(a.data[0]).toMatchObject({ type: 'model', id: expect.any(String), display_name: expect.any(String) });
    const o = JSON.parse((await curl(s, '/v1/models', { headers: OPENAI })).text);
    expect(o).toMatchObject({ object: 'list' });
    expect(o.data[0]).toMatchObject({ object: 'model', owned_by: 'system' });
    const g = JSON.parse((await curl(s, '/v1beta/models', { headers: GEMINI })).text);
    expect(g.models[0].name).toMatch(/^models\/gemini-/);
    expect((await curl(s, '/v1/models/gpt-4o-mini', { headers: OPENAI })).status).toBe(200);
  });

  it('answers unknown paths with 404 in the shape of the API the client speaks', async () => {
    const o = await curl(s, '/v1/nope', { headers: OPENAI, json: {} });
    expect(o.status).toBe(404);
    expect(JSON.parse(o.text)).toEqual({ error: { message: 'Invalid URL (POST /v1/nope)', type: 'invalid_request_error', param: null, code: null } });
    const a = await curl(s, '/v1/nope', { headers: ANTHROPIC });
    expect(JSON.parse(a.text)).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: 'Not Found' } });
    const g = await curl(s, '/v1beta/nope', { headers: GEMINI });
    expect(JSON.parse(g.text).error).toMatchObject({ code: 404, status: 'NOT_FOUND' });
    const m = await curl(s, '/v1/chat/completions', { headers: OPENAI });
    expect(m.status).toBe(405);
  });
});

describe('content encodings', () => {
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'compress me' }] };

  it('sends zstd on request, which curl decodes', async () => {
    expect(zstdBackend()).not.toBeNull();
    const r = await curl(s, '/v1/chat/completions', { headers: { ...OPENAI, 'x-standin-encoding': 'zstd' }, json: body, args: ['--compressed'] });
    const rec = lastRec();
    expect(r.headers['content-encoding']).toBe('zstd');
    expect(rec.response.encoding).toBe('zstd');
    expect(rec.response.encodedBody!.subarray(0, 4).toString('hex')).toBe('28b52ffd'); // zstd frame magic
    expect(r.body.equals(rec.response.body)).toBe(true);
    expect(JSON.parse(r.text).choices[0].message.content).toBe(s.expectedText(rec));
  });

  it('sends each encoding as forced, identity when not accepted, and refuses unknown ones', async () => {
    const plain = await curl(s, '/v1/chat/completions', { headers: OPENAI, json: body });
    expect(plain.headers['content-encoding']).toBeUndefined();
    for (const enc of ['gzip', 'deflate', 'br']) {
      const r = await curl(s, '/v1/chat/completions', { headers: { ...OPENAI, 'x-standin-encoding': enc }, json: body, args: ['--compressed'] });
      expect(r.headers['content-encoding']).toBe(enc);
      expect(r.body.equals(plain.body)).toBe(true);
    }
    const bad = await curl(s, '/v1/chat/completions', { headers: { ...OPENAI, 'x-standin-encoding': 'lzma' }, json: body });
    expect(bad.status).toBe(400);
  });

  it('decodes compressed request bodies', async () => {
    const gz = zlib.gzipSync(Buffer.from(JSON.stringify(body)));
    const file = path.join(s.tls.dir, 'req.gz');
    fs.writeFileSync(file, gz, { mode: 0o600 });
    try {
      const r = await curl(s, '/v1/chat/completions', {
        method: 'POST',
        headers: { ...OPENAI, 'content-type': 'application/json', 'content-encoding': 'gzip' },
        args: ['--data-binary', `@${file}`],
      });
      expect(r.status).toBe(200);
      expect(lastRec().json).toEqual(body);
    } finally {
      fs.rmSync(file);
    }
  });
});

describe('recording and reproducibility', () => {
  it('records the request as sent and what was sent back', async () => {
    const json = { model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'record me' }] };
    await curl(s, '/v1/messages?beta=true', { headers: { ...ANTHROPIC, 'x-custom': 'yes' }, json });
    const rec = lastRec();
    expect(rec).toMatchObject({
      method: 'POST',
      path: '/v1/messages',
      url: '/v1/messages?beta=true',
      query: { beta: 'true' },
      route: 'anthropic.messages',
      provider: 'anthropic',
    });
    expect(rec.headers['x-custom']).toBe('yes');
    expect(rec.rawHeaders).toContain('x-custom');
    expect(rec.body.toString()).toBe(JSON.stringify(json));
    expect(rec.json).toEqual(json);
    expect(rec.reply).toEqual(replyFor('anthropic.messages', json));
    expect(rec.response.complete).toBe(true);
  });

  it('sends byte-identical bodies for identical requests, streamed or not', async () => {
    for (const stream of [true, false]) {
      const json = { model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: `same ${stream}` }] };
      const a = await curl(s, '/v1/chat/completions', { headers: OPENAI, json });
      const b = await curl(s, '/v1/chat/completions', { headers: OPENAI, json });
      expect(a.body.equals(b.body)).toBe(true);
      expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
    }
  });

  it('makes every delta a separate chunked write, sized by x-standin-delta-chars', async () => {
    const json = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'sizes' }] };
    await curl(s, '/v1/chat/completions', { headers: { ...OPENAI, 'x-standin-delta-chars': '4' }, json });
    const small = lastRec().response.writes.length;
    await curl(s, '/v1/chat/completions', { headers: { ...OPENAI, 'x-standin-delta-chars': '40' }, json });
    const big = lastRec().response.writes.length;
    expect(small).toBeGreaterThan(big * 2);
    expect(lastRec().response.text).toBe(replyFor('openai.chat_completions', json).text);
  });
});
