/** The LLM API registry (lib/providers): detection, usage mapping, names; and exec linking (analyzers/tool-links). */
import { describe, expect, it } from 'vitest';
import { ToolLinker, commandMatches } from '../../lib/analyzers/tool-links';
import type { Event } from '../../lib/core/event';
import { API_IDS, detectRequest, detectStream, getProvider, otelProviderName, PROVIDERS, type ApiId, type RequestInfo } from '../../lib/providers';
import type { SseEvent } from '../../lib/sse/parser';
import { toolCommand } from '../../lib/providers/util';

/** A request whose body must not be needed: detection by method and path reads no body. */
function req(method: string, path: string, host: string | null = null): RequestInfo & { bodyReads: number } {
  const r = {
    method,
    path,
    host,
    bodyReads: 0,
    json() {
      r.bodyReads++;
      return { model: 'm' };
    },
  };
  return r;
}

const detected = (method: string, path: string) => {
  const d = detectRequest(req(method, path));
  return d && { api: d.provider.id, model: d.model, stream: d.stream };
};

describe('provider registry', () => {
  it('lists the four APIs under their ids, and gets each by id', () => {
    expect(API_IDS).toEqual(['anthropic.messages', 'openai.chat_completions', 'openai.responses', 'gemini.generate_content']);
    for (const p of PROVIDERS) expect(getProvider(p.id)).toBe(p);
    expect(PROVIDERS.map((p) => [p.vendor, p.title, p.otel.operation])).toEqual([
      ['anthropic', 'Anthropic Messages', 'chat'],
      ['openai', 'OpenAI Chat Completions', 'chat'],
      ['openai', 'OpenAI Responses', 'chat'],
      ['gemini', 'Gemini generateContent', 'generate_content'],
    ]);
  });

  it('has no provider for an unknown id', () => {
    expect(getProvider('bedrock.converse')).toBeNull();
    expect(getProvider('messages')).toBeNull();
    expect(getProvider('')).toBeNull();
  });

  it('detects each API by method and path, under any prefix and with a query', () => {
    expect(detected('POST', '/v1/messages')).toEqual({ api: 'anthropic.messages', model: undefined, stream: undefined });
    expect(detected('POST', '/v1/messages?beta=true')?.api).toBe('anthropic.messages');
    expect(detected('POST', '/api/anthropic/v1/messages')?.api).toBe('anthropic.messages');
    expect(detected('POST', '/v1/chat/completions')?.api).toBe('openai.chat_completions');
    expect(detected('POST', '/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21')?.api).toBe('openai.chat_completions');
    expect(detected('POST', '/v1/responses')?.api).toBe('openai.responses');
  });

  it('takes the Gemini model and streaming from the path', () => {
    expect(detected('POST', '/v1beta/models/gemini-2.5-flash:generateContent')).toEqual({
      api: 'gemini.generate_content',
      model: 'gemini-2.5-flash',
      stream: false,
    });
    expect(detected('POST', '/v1/models/gemini-2.5-pro:streamGenerateContent?alt=sse')).toEqual({
      api: 'gemini.generate_content',
      model: 'gemini-2.5-pro',
      stream: true,
    });
    expect(detected('POST', '/v1/projects/p/locations/us-central1/publishers/google/models/gemini%2D2.0:generateContent')?.model).toBe('gemini-2.0');
    // a malformed escape is kept as it is rather than failing
    expect(detected('POST', '/v1beta/models/bad%E0:generateContent')?.model).toBe('bad%E0');
  });

  it('recognises no other request', () => {
    for (const [m, p] of [
      ['GET', '/v1/messages'],
      ['POST', '/v1/messages/count_tokens'],
      ['POST', '/v1beta/models/gemini-2.5-flash:countTokens'],
      ['GET', '/v1/models'],
      ['POST', '/v1/embeddings'],
      ['POST', '/v1/completions'],
      ['POST', '/health'],
      ['PUT', '/v1/responses'],
    ]) {
      const r = req(m, p);
      expect(detectRequest(r), `${m} ${p}`).toBeNull();
      expect(r.bodyReads).toBe(0);
    }
  });

  it('names the OpenTelemetry provider from the host, whatever the API, else from the API', () => {
    const chat = getProvider('openai.chat_completions');
    expect(otelProviderName(getProvider('anthropic.messages'), 'api.anthropic.com')).toBe('anthropic');
    expect(otelProviderName(chat, 'api.openai.com:443')).toBe('openai');
    expect(otelProviderName(chat, 'MyRes.OpenAI.Azure.com')).toBe('azure.ai.openai');
    expect(otelProviderName(chat, 'api.x.ai')).toBe('x_ai');
    expect(otelProviderName(chat, 'api.deepseek.com')).toBe('deepseek');
    expect(otelProviderName(chat, 'api.mistral.ai')).toBe('mistral_ai');
    expect(otelProviderName(chat, 'api.groq.com')).toBe('groq');
    // Google's OpenAI-compatible endpoint is Google's
    expect(otelProviderName(chat, 'generativelanguage.googleapis.com')).toBe('gcp.gemini');
    expect(otelProviderName(getProvider('gemini.generate_content'), 'us-central1-aiplatform.googleapis.com')).toBe('gcp.vertex_ai');
    // an unknown host (a local server): the API's own name
    expect(otelProviderName(chat, '127.0.0.1:8443')).toBe('openai');
    expect(otelProviderName(getProvider('openai.responses'), null)).toBe('openai');
    expect(otelProviderName(getProvider('anthropic.messages'), 'localhost')).toBe('anthropic');
    expect(otelProviderName(getProvider('gemini.generate_content'), 'proxy.internal')).toBe('gcp.gemini');
  });
});

describe('stream detection', () => {
  const ev = (event: string, data: string): SseEvent => ({ event, data });
  const detect = (e: SseEvent) => {
    let obj: unknown;
    try {
      obj = JSON.parse(e.data);
    } catch {
      obj = undefined;
    }
    return detectStream(e, obj)?.id ?? null;
  };

  it('tells each API from its events: event names, or the data when the name is missing', () => {
    const cases: Array<[SseEvent, ApiId]> = [
      [ev('message_start', '{"type":"message_start","message":{}}'), 'anthropic.messages'],
      [ev('message', '{"type":"content_block_delta","index":0,"delta":{}}'), 'anthropic.messages'],
      [ev('message', '{"id":"c","object":"chat.completion.chunk","choices":[]}'), 'openai.chat_completions'],
      [ev('message', '{"choices":[{"index":0,"delta":{"content":"x"}}]}'), 'openai.chat_completions'],
      [ev('message', '[DONE]'), 'openai.chat_completions'],
      [ev('response.created', '{"type":"response.created","response":{}}'), 'openai.responses'],
      [ev('message', '{"type":"response.output_text.delta","delta":"x"}'), 'openai.responses'],
      [ev('message', '{"candidates":[{"content":{"parts":[{"text":"x"}]}}]}'), 'gemini.generate_content'],
      [ev('message', '{"usageMetadata":{"promptTokenCount":3}}'), 'gemini.generate_content'],
    ];
    for (const [e, id] of cases) expect(detect(e), e.data).toBe(id);
  });

  it('leaves events that do not tell, and other streams, undecided', () => {
    for (const e of [
      ev('ping', '{"type":"ping"}'),
      ev('error', '{"type":"error","error":{"type":"overloaded_error"}}'),
      ev('message', '{"error":{"message":"quota"}}'),
      ev('message', '{"progress":0.5}'),
      ev('update', 'plain text'),
      ev('message', ''),
    ])
      expect(detect(e), e.data).toBeNull();
  });

  it('knows per API which event completes a tool call', () => {
    const done = (id: ApiId, e: SseEvent) => getProvider(id).completesToolCall(e);
    expect(done('anthropic.messages', ev('content_block_stop', '{"type":"content_block_stop","index":1}'))).toBe(true);
    expect(done('anthropic.messages', ev('content_block_delta', '{"type":"content_block_delta"}'))).toBe(false);
    expect(done('openai.chat_completions', ev('message', '{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}'))).toBe(true);
    expect(done('openai.chat_completions', ev('message', '{"choices":[{"index":0,"delta":{},"finish_reason":null}]}'))).toBe(false);
    expect(done('openai.chat_completions', ev('message', '[DONE]'))).toBe(true);
    expect(done('openai.responses', ev('response.function_call_arguments.done', '{}'))).toBe(true);
    expect(done('openai.responses', ev('response.output_item.done', '{}'))).toBe(true);
    expect(done('openai.responses', ev('response.function_call_arguments.delta', '{}'))).toBe(false);
    expect(done('gemini.generate_content', ev('message', '{"candidates":[{"content":{"parts":[{"functionCall":{"name":"bash","args":{}}}]}}]}'))).toBe(true);
    expect(done('gemini.generate_content', ev('message', '{"candidates":[{"content":{"parts":[{"text":"x"}]}}]}'))).toBe(false);
  });
});

describe('usage mapping', () => {
  const usage = (id: ApiId, raw: unknown) => getProvider(id).usage(raw);

  it('Anthropic: input excludes cache reads and writes, which are reported apart', () => {
    expect(
      usage('anthropic.messages', {
        input_tokens: 14,
        output_tokens: 89,
        cache_read_input_tokens: 1536,
        cache_creation_input_tokens: 2048,
        service_tier: 'standard',
      }),
    ).toEqual({
      input_tokens: 14,
      output_tokens: 89,
      cache_read_input_tokens: 1536,
      cache_creation_input_tokens: 2048,
    });
    expect(usage('anthropic.messages', { output_tokens: 7 })).toEqual({ output_tokens: 7 });
    expect(getProvider('anthropic.messages').inputExcludesCache).toBe(true);
  });

  it('OpenAI Chat Completions: prompt/completion tokens and their details', () => {
    expect(
      usage('openai.chat_completions', {
        prompt_tokens: 120,
        completion_tokens: 30,
        total_tokens: 150,
        prompt_tokens_details: { cached_tokens: 64, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 12 },
      }),
    ).toEqual({ input_tokens: 120, output_tokens: 30, cache_read_input_tokens: 64, reasoning_tokens: 12, total_tokens: 150 });
    expect(getProvider('openai.chat_completions').inputExcludesCache).toBe(false);
  });

  it('OpenAI Responses: input/output tokens and their details', () => {
    expect(
      usage('openai.responses', {
        input_tokens: 200,
        input_tokens_details: { cached_tokens: 128 },
        output_tokens: 40,
        output_tokens_details: { reasoning_tokens: 16 },
        total_tokens: 240,
      }),
    ).toEqual({ input_tokens: 200, output_tokens: 40, cache_read_input_tokens: 128, reasoning_tokens: 16, total_tokens: 240 });
  });

  it('Gemini: usageMetadata counts', () => {
    expect(
      usage('gemini.generate_content', {
        promptTokenCount: 9,
        candidatesTokenCount: 21,
        cachedContentTokenCount: 4,
        thoughtsTokenCount: 7,
        totalTokenCount: 41,
        promptTokensDetails: [],
      }),
    ).toEqual({ input_tokens: 9, output_tokens: 21, cache_read_input_tokens: 4, reasoning_tokens: 7, total_tokens: 41 });
  });

  it('keeps only numbers the API reported; null when there are none', () => {
    for (const id of API_IDS) {
      expect(usage(id, null)).toBeNull();
      expect(usage(id, {})).toBeNull();
      expect(usage(id, [1, 2])).toBeNull();
    }
    expect(usage('openai.chat_completions', { prompt_tokens: '5', completion_tokens: Number.NaN, total_tokens: 3 })).toEqual({ total_tokens: 3 });
    expect(usage('gemini.generate_content', { promptTokenCount: Infinity })).toBeNull();
  });
});

describe('request and answer parsing', () => {
  it('normalises each API request to the same shape', () => {
    expect(
      getProvider('anthropic.messages').parseRequest({
        model: 'claude-sonnet-4-6',
        max_tokens: 1024,
        temperature: 0.2,
        system: [{ type: 'text', text: 'Be brief.' }],
        tools: [{ name: 'bash', description: 'Run a command' }],
        messages: [
          { role: 'user', content: 'run: ls' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'bash', input: { command: 'ls' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'a\nb', is_error: true }] },
        ],
      }),
    ).toEqual({
      model: 'claude-sonnet-4-6',
      system: 'Be brief.',
      stream: false,
      max_tokens: 1024,
      temperature: 0.2,
      top_p: undefined,
      tools: [{ name: 'bash', description: 'Run a command' }],
      messages: [
        { role: 'user', content: 'run: ls' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'toolu_1', name: 'bash', arguments: { command: 'ls' }, command: 'ls' }] },
        { role: 'user', content: '', tool_results: [{ tool_call_id: 'toolu_1', content: 'a\nb', is_error: true }] },
      ],
    });
    const chat = getProvider('openai.chat_completions').parseRequest({
      model: 'gpt-5',
      stream: true,
      max_completion_tokens: 50,
      messages: [
        { role: 'system', content: 'S1' },
        { role: 'developer', content: 'S2' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'shell', arguments: '{"cmd":["ls","-l"]}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'total 0' },
      ],
    });
    expect(chat.system).toBe('S1\nS2');
    expect(chat.stream).toBe(true);
    expect(chat.max_tokens).toBe(50);
    expect(chat.messages[0].tool_calls).toEqual([{ id: 'call_1', name: 'shell', arguments: { cmd: ['ls', '-l'] }, command: 'ls -l' }]);
    expect(chat.messages[1].tool_results).toEqual([{ tool_call_id: 'call_1', content: 'total 0' }]);
    const gem = getProvider('gemini.generate_content').parseRequest({
      systemInstruction: { parts: [{ text: 'G' }] },
      contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
      generationConfig: { maxOutputTokens: 64, temperature: 1, topP: 0.9 },
    });
    expect([gem.model, gem.system, gem.max_tokens, gem.temperature, gem.top_p, gem.messages]).toEqual([
      null,
      'G',
      64,
      1,
      0.9,
      [{ role: 'user', content: 'hi' }],
    ]);
  });

  it('Responses: keeps previous_response_id (the earlier turns are in that response) and a warm-up generate: false', () => {
    const responses = getProvider('openai.responses');
    // Codex CLI over WebSocket: a warm-up, then from the second turn on only the new input
    const warm = responses.parseRequest({ type: 'response.create', model: 'gpt-5', generate: false, input: [{ role: 'developer', content: 'D' }] });
    expect(warm).toMatchObject({ model: 'gpt-5', system: 'D', messages: [], generate: false });
    expect(warm.previous_response_id).toBeUndefined();
    const next = responses.parseRequest({
      model: 'gpt-5',
      previous_response_id: 'resp_1',
      input: [{ type: 'function_call_output', call_id: 'call_1', output: 'Linux' }],
    });
    expect(next.previous_response_id).toBe('resp_1');
    expect(next.messages).toEqual([{ role: 'tool', content: '', tool_results: [{ tool_call_id: 'call_1', content: 'Linux' }] }]);
    expect('generate' in next).toBe(false);
    // not sent, not set; only false means a warm-up
    const plain = responses.parseRequest({ model: 'gpt-5', input: 'hi', generate: true, previous_response_id: '' });
    expect('previous_response_id' in plain || 'generate' in plain).toBe(false);
  });

  it('parses a Gemini answer streamed as a JSON array into one answer', () => {
    const r = getProvider('gemini.generate_content').parseResponse([
      { candidates: [{ content: { parts: [{ text: 'Hel' }] } }], modelVersion: 'gemini-2.5-flash', responseId: 'r1' },
      {
        candidates: [{ content: { parts: [{ text: 'lo' }, { functionCall: { name: 'bash', args: { command: 'id' } } }] }, finishReason: 'STOP' }],
        usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2 },
      },
    ]);
    expect(r).toEqual({
      model: 'gemini-2.5-flash',
      id: 'r1',
      text: 'Hello',
      thinking: '',
      tool_calls: [{ id: null, name: 'bash', arguments: { command: 'id' }, command: 'id' }],
      finish: 'STOP',
      usage: { input_tokens: 3, output_tokens: 2 },
      error: undefined,
    });
  });

  it('reports the error of an error answer in each shape', () => {
    expect(getProvider('anthropic.messages').parseResponse({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }).error).toEqual({
      type: 'overloaded_error',
      message: 'Overloaded',
    });
    expect(getProvider('openai.responses').parseResponse({ error: { message: 'Rate limit', type: 'requests', code: 'rate_limit_exceeded' } }).error).toEqual({
      type: 'requests',
      message: 'Rate limit',
    });
    expect(getProvider('gemini.generate_content').parseResponse({ error: { code: 503, message: 'busy', status: 'UNAVAILABLE' } }).error).toEqual({
      type: 'UNAVAILABLE',
      message: 'busy',
    });
    expect(getProvider('openai.chat_completions').parseResponse({ error: { code: 429, message: 'slow down' } }).error).toEqual({
      type: '429',
      message: 'slow down',
    });
  });
});

describe('exec linking', () => {
  let mono = 1e9;
  const proc = (event: string, pid: number, ppid: number, full_command = ''): Event =>
    ({ timestamp: 0, mono_ns: (mono += 1e6), source: 'process', pid, comm: 'x', data: { event, ppid, full_command } }) as unknown as Event;

  it('links an exec of the agent tree that runs the command a tool call asked for, and its children', () => {
    const links = new ToolLinker(60e9);
    links.expect('llm-100-1', { id: 'toolu_1', name: 'bash', arguments: { command: 'ls -la /tmp' }, command: 'ls -la /tmp' }, 100, mono);
    const other = proc('EXEC', 300, 1, 'ls -la /tmp');
    expect(links.onProcess(other)).toBe(false); // not in the agent's tree
    expect(other.data.llm_call_id).toBeUndefined();
    links.onProcess(proc('FORK', 101, 100));
    const sh = proc('EXEC', 101, 100, "/bin/bash -c 'ls -la /tmp'");
    expect(links.onProcess(sh)).toBe(true);
    expect(sh.data).toMatchObject({ llm_call_id: 'llm-100-1', tool_call_id: 'toolu_1', tool_name: 'bash' });
    links.onProcess(proc('FORK', 102, 101));
    const child = proc('EXEC', 102, 101, 'whatever');
    expect(links.onProcess(child)).toBe(true);
    expect(child.data.tool_call_id).toBe('toolu_1');
  });

  it("links Codex CLI's tools: exec_command {cmd} through its process-setup helper, and shell with an argv array", () => {
    expect(toolCommand({ cmd: 'uname -a', workdir: '/tmp' })).toBe('uname -a');
    expect(toolCommand('{"command":["bash","-lc","uname -a"]}')).toBe('bash -lc uname -a');
    const links = new ToolLinker(60e9);
    links.expect('llm-200-1', { id: 'call_1', name: 'exec_command', arguments: { cmd: 'uname -a' }, command: toolCommand({ cmd: 'uname -a' }) }, 200, mono);
    links.onProcess(proc('FORK', 201, 200));
    // codex re-execs itself to set the process up, with the command line as its last arguments
    const setup = proc('EXEC', 201, 200, '/proc/self/exe --codex-run-as-process-setup 49 200 pipe  /tmp /bin/bash /bin/bash -lc uname -a');
    expect(links.onProcess(setup)).toBe(true);
    const sh = proc('EXEC', 201, 200, '/bin/bash -lc uname -a');
    expect(links.onProcess(sh)).toBe(true);
    expect(sh.data).toMatchObject({ llm_call_id: 'llm-200-1', tool_call_id: 'call_1', tool_name: 'exec_command' });
    links.expect('llm-200-2', { id: 'call_2', name: 'shell', arguments: {}, command: toolCommand({ command: ['bash', '-lc', 'ls -la'] }) }, 200, mono);
    links.onProcess(proc('FORK', 202, 200));
    const argv = proc('EXEC', 202, 200, 'bash -lc ls -la');
    expect(links.onProcess(argv)).toBe(true);
    expect(argv.data.tool_call_id).toBe('call_2');
  });

  it('forgets tool calls older than the window', () => {
    const links = new ToolLinker(1e6);
    links.expect('llm-100-2', { id: 'c', name: 'bash', arguments: {}, command: 'uname -a' }, 100, mono);
    links.onProcess(proc('FORK', 110, 100));
    mono += 5e6;
    expect(links.onProcess(proc('EXEC', 110, 100, 'uname -a'))).toBe(false);
  });

  it('matches command lines at word boundaries, ignoring one level of quoting', () => {
    expect(commandMatches('/bin/sh -c "git status"', 'git status')).toBe(true);
    expect(commandMatches('gitk', 'git status')).toBe(false);
    expect(commandMatches('git status', 'cd repo && git status')).toBe(true);
    expect(commandMatches('/usr/bin/lsblk', 'ls')).toBe(false);
    expect(commandMatches('', 'ls')).toBe(false);
  });
});
