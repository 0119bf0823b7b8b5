/**
 * OpenAI Chat Completions: `POST /v1/chat/completions`.
 *
 * Streaming: `data: {chat.completion.chunk}` events: a first chunk with the
 * role (and, for a tool call, the call's index/id/name with empty
 * arguments), content or tool_calls argument pieces, a chunk with
 * finish_reason, a usage chunk with empty choices when
 * `stream_options.include_usage` is set, then `data: [DONE]`.
 */
import { countTokens, splitDeltas, splitJson, stableId, type Conversation, type OfferedTool, type ScriptedReply } from '../script';
import { OPENAI_SERVER_ERROR } from '../errors';
import { commandArgKey, sse, SSE_CONTENT_TYPE, textOf, type ApiModule, type RenderContext, type StreamWrite } from './types';

function usage(reply: ScriptedReply, body: any) {
  const prompt = countTokens(JSON.stringify(body.messages ?? []) + JSON.stringify(body.tools ?? body.functions ?? []));
  const reasoning = reply.thinking ? countTokens(reply.thinking) : 0;
  const completion = countTokens(reply.text + (reply.toolCall?.arguments ?? '')) + reasoning;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: reasoning, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

const ids = (ctx: RenderContext) => ({
  completion: 'chatcmpl-' + stableId(ctx.seed + ':chatcmpl', 29),
  call: 'call_' + stableId(ctx.seed + ':call', 24),
  fingerprint: 'fp_' + stableId(ctx.seed + ':fp', 10, 'hex'),
});

function parseArgs(s: unknown): unknown {
  if (typeof s !== 'string') return s;
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

export const openaiChat: ApiModule = {
  api: 'openai.chat_completions',
  provider: 'openai',

  route: (path) => (path === '/v1/chat/completions' ? { kind: 'call' } : null),

  // Chat Completions never shows reasoning in the body
  visibleThinking: () => '',

  streamed(conv, reply, ctx) {
    return {
      contentType: SSE_CONTENT_TYPE,
      writes: this.stream(conv, reply, ctx),
      errorWrite: () => sse(undefined, { error: { message: OPENAI_SERVER_ERROR, type: 'server_error', param: null, code: null } }),
    };
  },

  validate(body) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return { status: 400, message: 'We could not parse the JSON body of your request.' };
    if (typeof body.model !== 'string') return { status: 400, message: 'you must provide a model parameter' };
    if (!Array.isArray(body.messages))
      return { status: 400, message: "Missing required parameter: 'messages'.", param: 'messages', code: 'missing_required_parameter' };
    if (body.messages.length === 0)
      return {
        status: 400,
        message: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        param: 'messages',
        code: 'empty_array',
      };
    return undefined;
  },

  parse(body, model) {
    const messages: any[] = body.messages;
    const decl: any[] = Array.isArray(body.tools) ? body.tools.map((t: any) => t?.function) : Array.isArray(body.functions) ? body.functions : [];
    const tools: OfferedTool[] = decl.filter((f) => f && typeof f.name === 'string').map((f) => ({ name: f.name, argKey: commandArgKey(f.parameters) }));
    let lastUserText = '';
    for (let i = messages.length - 1; i >= 0; i--) {
      if (messages[i]?.role === 'user') {
        lastUserText = textOf(messages[i].content);
        if (lastUserText) break;
      }
    }
    const conv: Conversation = {
      api: 'openai.chat_completions',
      model,
      stream: body.stream === true,
      lastUserText,
      tools,
      toolChoiceNone: body.tool_choice === 'none' || body.function_call === 'none',
      thinking: typeof body.reasoning_effort === 'string' && body.reasoning_effort !== 'none',
      cacheControl: false,
      turns: messages.length,
      includeUsage: body.stream_options?.include_usage === true,
    };
    const rf = body.response_format;
    if (rf?.type === 'json_schema') conv.responseSchema = rf.json_schema?.schema ?? true;
    else if (rf?.type === 'json_object') conv.responseSchema = true;
    const last = messages[messages.length - 1];
    if (last?.role === 'tool' || last?.role === 'function') {
      const callId: string | undefined = last.tool_call_id;
      conv.toolResult = { callId, name: last.name, output: textOf(last.content), isError: false };
      for (let i = messages.length - 2; i >= 0 && !conv.answeredCall; i--) {
        const m = messages[i];
        if (m?.role !== 'assistant') continue;
        const tc = Array.isArray(m.tool_calls) ? m.tool_calls.find((c: any) => c?.id === callId) : undefined;
        if (tc) conv.answeredCall = { name: tc.function?.name, input: parseArgs(tc.function?.arguments) };
        else if (m.function_call) conv.answeredCall = { name: m.function_call.name, input: parseArgs(m.function_call.arguments) };
        if (conv.answeredCall) conv.toolResult.name ??= conv.answeredCall.name;
      }
    }
    return conv;
  },

  usage(conv, reply, ctx) {
    if (conv.stream && !conv.includeUsage) return null;
    const u = usage(reply, ctx.body);
    return { input: u.prompt_tokens, output: u.completion_tokens, cacheRead: u.prompt_tokens_details.cached_tokens };
  },

  json(conv, reply, ctx) {
    const id = ids(ctx);
    const message: Record<string, unknown> = { role: 'assistant', content: reply.toolCall && !reply.text ? null : reply.text };
    if (reply.toolCall) {
      message.tool_calls = [{ id: id.call, type: 'function', function: { name: reply.toolCall.name, arguments: reply.toolCall.arguments } }];
    }
    message.refusal = null;
    message.annotations = [];
    return {
      id: id.completion,
      object: 'chat.completion',
      created: ctx.created,
      model: conv.model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: reply.toolCall ? 'tool_calls' : 'stop' }],
      usage: usage(reply, ctx.body),
      service_tier: 'default',
      system_fingerprint: id.fingerprint,
    };
  },

  stream(conv, reply, ctx) {
    const id = ids(ctx);
    const chunk = (delta: unknown, finish: string | null = null) => {
      const c: Record<string, unknown> = {
        id: id.completion,
        object: 'chat.completion.chunk',
        created: ctx.created,
        model: conv.model,
        service_tier: 'default',
        system_fingerprint: id.fingerprint,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      };
      if (conv.includeUsage) c.usage = null;
      return sse(undefined, c);
    };
    const out: StreamWrite[] = [];
    const push = (data: string, carried: Omit<StreamWrite, 'data'> = {}) => out.push({ data, ...carried });
    const pieces = splitDeltas(reply.text, ctx.deltaChars);
    if (reply.toolCall) {
      push(
        chunk({
          role: 'assistant',
          content: reply.text ? '' : null,
          tool_calls: [{ index: 0, id: id.call, type: 'function', function: { name: reply.toolCall.name, arguments: '' } }],
          refusal: null,
        }),
      );
      for (const p of pieces) push(chunk({ content: p }), { text: p });
      for (const p of splitJson(reply.toolCall.arguments, ctx.argChars)) push(chunk({ tool_calls: [{ index: 0, function: { arguments: p } }] }), { args: p });
    } else {
      push(chunk({ role: 'assistant', content: '', refusal: null }));
      for (const p of pieces) push(chunk({ content: p }), { text: p });
    }
    push(chunk({}, reply.toolCall ? 'tool_calls' : 'stop'));
    if (conv.includeUsage) {
      push(
        sse(undefined, {
          id: id.completion,
          object: 'chat.completion.chunk',
          created: ctx.created,
          model: conv.model,
          service_tier: 'default',
          system_fingerprint: id.fingerprint,
          choices: [],
          usage: usage(reply, ctx.body),
        }),
      );
    }
    push(sse(undefined, '[DONE]'));
    return out;
  },
};
