import { describe, expect, it } from 'vitest';
import { HttpParser } from '../../lib/analyzers/http-parser';
import { SseProcessor } from '../../lib/analyzers/sse-processor';
import type { Event } from '../../lib/core/event';
import { UsageError } from '../../lib/core/errors';
import { chunked, connId, exec, exit, run, ssl } from '../support/events';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const W = require('../fixtures/wire-samples.js');

function exchange(request: Buffer, response: Buffer, opts: { conn?: string; readSize?: number; start?: number } = {}): Event[] {
  let mono = opts.start ?? 10_000_000_000;
  const out: Event[] = [ssl('WRITE/SEND', request, { conn: opts.conn, mono })];
  const n = opts.readSize ?? 300;
  for (let i = 0; i < response.length; i += n) out.push(ssl('READ/RECV', response.subarray(i, i + n), { conn: opts.conn, mono: (mono += 10_000_000) }));
  return out;
}

async function merged(events: Event[], opts = {}): Promise<Array<Record<string, any>>> {
  const out = await run([new HttpParser({ passThroughSsl: false }), new SseProcessor(opts)], events);
  return out.filter((e) => e.source === 'sse').map((e) => e.data);
}

const sseResponse = (body: string | Buffer, extra: string[] = []) =>
  Buffer.concat([
    Buffer.from(['HTTP/1.1 200 OK', 'Content-Type: text/event-stream', 'Transfer-Encoding: chunked', ...extra].join('\r\n') + '\r\n\r\n'),
    chunked([body]),
  ]);

describe('SseProcessor: Anthropic Messages', () => {
  it('merges text, thinking, tool use with input_json_delta, stop reason and usage incl. cache tokens', async () => {
    const rs: Buffer = W.anthropicStreamResponse({
      thinking: ['The user', ' wants weather.'],
      text: ['Checking', ' now.'],
      tool: { name: 'get_weather', pieces: ['{"location":', ' "San Francisco, CA"', ', "unit": "celsius"}'] },
    });
    const [m] = await merged(exchange(W.anthropicRequest({ tools: true }), rs, { readSize: 300 }));
    // reads are 300 bytes, 10 ms apart, the first 10 ms after the request: the first event completes in read n
    const firstEventEnd = rs.indexOf('\n\n', rs.indexOf('\r\n\r\n') + 4);
    const n = Math.floor(firstEventEnd / 300) + 1;
    expect(m.provider).toBe('anthropic');
    expect(m.api).toBe('anthropic.messages');
    expect(m.model).toBe('claude-sonnet-4-5-20250929');
    expect(m.response_id).toBe('msg_01XFDUDYJgAACzvnptvVoYEL');
    expect(m.text).toBe('Checking now.');
    expect(m.thinking).toBe('The user wants weather.');
    expect(m.tool_calls).toEqual([
      {
        index: 2,
        id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
        name: 'get_weather',
        arguments: { location: 'San Francisco, CA', unit: 'celsius' },
        arguments_raw: '{"location": "San Francisco, CA", "unit": "celsius"}',
      },
    ]);
    expect(m.stop_reason).toBe('tool_use');
    expect(m.usage).toEqual({ input_tokens: 14, output_tokens: 89, cache_read_input_tokens: 1536, cache_creation_input_tokens: 2048 });
    expect(m.end_reason).toBe('terminal');
    expect(m.terminal).toBe(true);
    expect(m.request).toEqual({ method: 'POST', path: '/v1/messages', host: 'api.anthropic.com', url: 'https://api.anthropic.com/v1/messages' });
    expect(m.status_code).toBe(200);
    expect(m.event_names.content_block_delta).toBe(9);
    expect(m.event_names.ping).toBe(1);
    expect(m.time_to_first_event_ms).toBe(n * 10);
    // merged as soon as message_stop arrived, not at the end of the body
    expect(m.duration_ms).toBe((Math.floor(rs.indexOf('\n\n', rs.lastIndexOf('message_stop')) / 300) + 1) * 10);
    expect(m.duration_ms).toBeGreaterThanOrEqual(m.time_to_first_event_ms);
  });

  it('reports an error event mid-stream (overloaded)', async () => {
    const body =
      'event: message_start\ndata: {"type":"message_start","message":{"model":"claude-opus-4-1-20250805","id":"msg_1","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}\n\n' +
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011CV"}\n\n';
    const [m] = await merged(exchange(W.anthropicRequest(), sseResponse(body)));
    expect(m.errors).toEqual([{ type: 'overloaded_error', message: 'Overloaded' }]);
    expect(m.end_reason).toBe('terminal');
  });
});

describe('SseProcessor: OpenAI Chat Completions', () => {
  it('merges content, finish_reason and usage (cached and reasoning tokens), ending at [DONE]', async () => {
    const [m] = await merged(exchange(W.openaiChatRequest(), W.openaiChatStreamResponse()));
    expect(m.provider).toBe('openai');
    expect(m.api).toBe('openai.chat_completions');
    expect(m.text).toBe('Hello! How can I help you today?');
    expect(m.model).toBe('gpt-4o-mini-2024-07-18');
    expect(m.response_id).toBe('chatcmpl-CXq2bV0d5Wb1KzFTc1xZr1k9aR3Tn');
    expect(m.stop_reason).toBe('stop');
    expect(m.usage).toEqual({ input_tokens: 9, output_tokens: 12, cache_read_input_tokens: 0, reasoning_tokens: 0, total_tokens: 21 });
    expect(m.end_reason).toBe('terminal');
    expect(m.event_count).toBe(8);
  });

  it('reassembles parallel tool calls by index; keeps unparseable arguments raw', async () => {
    const [m] = await merged(
      exchange(
        W.openaiChatRequest({ tools: true }),
        W.openaiChatStreamResponse({
          toolCalls: [
            { id: 'call_A', name: 'get_weather', pieces: ['{"loc', 'ation": "Paris"}'] },
            { id: 'call_B', name: 'get_time', pieces: ['{"tz": "Europe/Par'] },
          ],
        }),
      ),
    );
    expect(m.stop_reason).toBe('tool_calls');
    expect(m.tool_calls[0]).toEqual({ index: 0, id: 'call_A', name: 'get_weather', arguments: { location: 'Paris' }, arguments_raw: '{"location": "Paris"}' });
    expect(m.tool_calls[1].id).toBe('call_B');
    expect(m.tool_calls[1].arguments).toBeNull();
    expect(m.tool_calls[1].arguments_raw).toBe('{"tz": "Europe/Par');
    expect(m.tool_calls[1].arguments_error).toMatch(/JSON/);
  });

  it('merges a stream without a usage object (no include_usage)', async () => {
    const chunks = W.openaiChatChunks().filter((c: string) => !c.includes('"usage":{'));
    const [m] = await merged(exchange(W.openaiChatRequest(), sseResponse(chunks.join(''))));
    expect(m.text).toBe('Hello! How can I help you today?');
    expect(m.usage).toBeNull();
    expect(m.end_reason).toBe('terminal');
  });
});

describe('SseProcessor: OpenAI Responses', () => {
  it('merges reasoning summary, function call arguments and usage from response.completed', async () => {
    const [m] = await merged(exchange(W.openaiResponsesRequest(), W.openaiResponsesStreamResponse()));
    expect(m.provider).toBe('openai');
    expect(m.api).toBe('openai.responses');
    expect(m.model).toBe('gpt-5-mini-2025-08-07');
    expect(m.response_id).toBe('resp_0c1a2b3c4d5e6f708192a3b4c5d6e7f8');
    expect(m.thinking).toBe('**Checking weather**\n\nThe user wants the weather in Paris.');
    expect(m.tool_calls).toEqual([
      { index: 1, id: 'call_Vq3xYz9AbCdEf', name: 'get_weather', arguments: { location: 'Paris, France' }, arguments_raw: '{"location":"Paris, France"}' },
    ]);
    expect(m.usage).toEqual({ input_tokens: 61, output_tokens: 87, cache_read_input_tokens: 0, reasoning_tokens: 64, total_tokens: 148 });
    expect(m.stop_reason).toBe('completed');
    expect(m.end_reason).toBe('terminal');
  });

  it('merges output_text deltas', async () => {
    const ev = (o: { type: string; [k: string]: unknown }) => `event: ${o.type}\ndata: ${JSON.stringify(o)}\n\n`;
    const body = [
      ev({
        type: 'response.created',
        sequence_number: 0,
        response: { id: 'resp_1', object: 'response', status: 'in_progress', model: 'gpt-4.1-2025-04-14', output: [], usage: null },
      }),
      ev({
        type: 'response.output_item.added',
        sequence_number: 1,
        output_index: 0,
        item: { id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] },
      }),
      ev({ type: 'response.output_text.delta', sequence_number: 2, item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hi', logprobs: [] }),
      ev({ type: 'response.output_text.delta', sequence_number: 3, item_id: 'msg_1', output_index: 0, content_index: 0, delta: ' there!', logprobs: [] }),
      ev({
        type: 'response.completed',
        sequence_number: 4,
        response: {
          id: 'resp_1',
          object: 'response',
          status: 'completed',
          model: 'gpt-4.1-2025-04-14',
          output: [],
          usage: {
            input_tokens: 5,
            input_tokens_details: { cached_tokens: 2 },
            output_tokens: 3,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: 8,
          },
        },
      }),
    ].join('');
    const [m] = await merged(exchange(W.openaiResponsesRequest(), sseResponse(body)));
    expect(m.text).toBe('Hi there!');
    expect(m.usage.cache_read_input_tokens).toBe(2);
  });
});

describe('SseProcessor: Gemini', () => {
  it('merges text and thought parts, finishReason and usageMetadata at the end of the body', async () => {
    const [m] = await merged(exchange(W.geminiRequest(), W.geminiStreamResponse()));
    expect(m.provider).toBe('gemini');
    expect(m.api).toBe('gemini.generate_content');
    expect(m.model).toBe('gemini-2.5-flash');
    expect(m.text).toBe('Blue waves meet the shore,\nwhispering old salty tales—\nfoam forgets the sand.');
    expect(m.thinking).toBe('**Composing the haiku**\n\nWaves, salt, horizon.');
    expect(m.stop_reason).toBe('STOP');
    expect(m.usage).toEqual({ input_tokens: 8, output_tokens: 19, reasoning_tokens: 82, cache_read_input_tokens: 4, total_tokens: 109 });
    expect(m.end_reason).toBe('end_of_body');
    expect(m.terminal).toBe(false);
  });

  it('takes functionCall parts as complete tool calls', async () => {
    const body =
      'data: {"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather","args": {"location": "Paris"}}}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 30,"candidatesTokenCount": 5,"totalTokenCount": 35},"modelVersion": "gemini-2.5-pro"}\r\n\r\n';
    const [m] = await merged(exchange(W.geminiRequest(), sseResponse(body)));
    expect(m.tool_calls).toEqual([{ index: 0, id: null, name: 'get_weather', arguments: { location: 'Paris' }, arguments_raw: '{"location":"Paris"}' }]);
  });
});

describe('SseProcessor: generic streams, errors, endings', () => {
  it('merges an unknown stream generically and counts event names', async () => {
    const body = 'event: progress\ndata: 10%\n\nevent: progress\ndata: 50%\n\n: keep-alive\n\nevent: done\ndata: ok\n\n';
    const req = Buffer.from('GET /jobs/42/events HTTP/1.1\r\nHost: internal.example\r\nAccept: text/event-stream\r\n\r\n');
    const [m] = await merged(exchange(req, sseResponse(body)));
    expect(m.provider).toBe('unknown');
    expect(m.api).toBe('generic');
    expect(m.data).toBe('10%\n50%\nok');
    expect(m.event_names).toEqual({ progress: 2, done: 1 });
    expect(m.end_reason).toBe('end_of_body');
  });

  it('counts and reports malformed lines and invalid JSON without losing the rest', async () => {
    const chunks = W.openaiChatChunks();
    const body = chunks[0] + 'this line is not sse\n' + 'retry: soon\n\n' + 'data: {"broken json\n\n' + chunks.slice(1).join('');
    const [m] = await merged(exchange(W.openaiChatRequest(), sseResponse(body)));
    expect(m.text).toBe('Hello! How can I help you today?');
    expect(m.malformed_lines).toBe(2);
    expect(m.malformed_samples).toEqual(['this line is not sse', 'retry: soon']);
    expect(m.invalid_json).toBe(1);
  });

  it('reports a stream cut by the connection closing as incomplete', async () => {
    const rs: Buffer = W.anthropicStreamResponse();
    const [m] = await merged([...exchange(W.anthropicRequest(), rs.subarray(0, rs.indexOf('text_delta') + 120)), exit({ pid: 4242 })]);
    expect(m.end_reason).toBe('incomplete');
    expect(m.terminal).toBe(false);
    expect(m.text.length).toBeGreaterThan(0);
  });

  it('reports an idle stream as timed out (event time) and counts chunks after that as late', async () => {
    const rs: Buffer = W.anthropicStreamResponse();
    const half = Math.floor(rs.length / 2);
    const sse = new SseProcessor({ idleTimeoutMs: 1000 });
    const events = [
      ssl('WRITE/SEND', W.anthropicRequest(), { mono: 1e9 }),
      ssl('READ/RECV', rs.subarray(0, half), { mono: 1.1e9 }),
      exec({ pid: 1, comm: 'x', mono: 9e9 }),
      ssl('READ/RECV', rs.subarray(half), { mono: 9.5e9 }),
    ];
    const out = await run([new HttpParser(), sse], events);
    const ms = out.filter((e) => e.source === 'sse');
    expect(ms).toHaveLength(1);
    expect(ms[0].data.end_reason).toBe('idle_timeout');
    // reported when the clock passed the limit, before the late bytes
    expect(out.indexOf(ms[0])).toBeLessThan(out.indexOf(events[3]));
    expect(sse.stats().late_chunks).toBeGreaterThan(0);
    expect(sse.stats().by_end_reason.idle_timeout).toBe(1);
  });

  it('handles an event stream the parser did not stream (delivered whole in the response)', async () => {
    const out = await run(
      [new HttpParser({ passThroughSsl: false, streamingContentTypes: [] }), new SseProcessor()],
      exchange(W.openaiChatRequest(), W.openaiChatStreamResponse()),
    );
    expect(out.filter((e) => e.data.type === 'body_chunk')).toHaveLength(0);
    const [m] = out.filter((e) => e.source === 'sse');
    expect(m.data.text).toBe('Hello! How can I help you today?');
  });

  it('keeps several streams on several connections apart', async () => {
    const a = exchange(W.anthropicRequest(), W.anthropicStreamResponse(), { conn: 'A', readSize: 97 });
    const b = exchange(W.openaiChatRequest(), W.openaiChatStreamResponse(), { conn: 'B', readSize: 113 });
    const mixed: Event[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i]) mixed.push(a[i]);
      if (b[i]) mixed.push(b[i]);
    }
    const ms = await merged(mixed);
    expect(ms.map((m) => [m.conn_id, m.provider, m.text])).toEqual(
      expect.arrayContaining([
        [connId('A'), 'anthropic', 'The capital of France is **Paris**.'],
        [connId('B'), 'openai', 'Hello! How can I help you today?'],
      ]),
    );
  });

  it('rejects bad options', () => {
    expect(() => new SseProcessor({ idleTimeoutMs: 0 })).toThrow(UsageError);
  });
});

describe('SseProcessor: events from another producer', () => {
  it('a body_chunk or response whose data is not a string is left out and counted, not thrown on', async () => {
    const body = 'event: message_start\ndata: {"type":"message_start","message":{"model":"m"}}\n\ndata: {"type":"ping"}\n\n';
    const req = Buffer.from('POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}');
    const http = (await run([new HttpParser({ passThroughSsl: false })], exchange(req, sseResponse(body), { readSize: 40 }))).filter(
      (e) => e.source === 'http',
    );
    const chunks = http.filter((e) => e.data.type === 'body_chunk');
    expect(chunks.length).toBeGreaterThan(2);
    (chunks[1].data as Record<string, unknown>).data = 42;
    (chunks[2].data as Record<string, unknown>).data = undefined;
    const whole = {
      ...http.find((e) => e.data.type === 'response')!,
      data: { ...http.find((e) => e.data.type === 'response')!.data, streamed: false, body: null, conn_id: 'other' },
    } as Event;
    const out = await run([new SseProcessor()], [...http, whole]);
    const stats = out.find((e) => e.source === 'stats' && e.data.event === 'ANALYZER');
    expect((stats?.data as { lost: Record<string, number> }).lost).toEqual({ invalid_chunks: 3 });
    expect(out.filter((e) => e.source === 'sse')).toHaveLength(1);
  });
});
