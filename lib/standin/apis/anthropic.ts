/**
 * Anthropic Messages API: `POST /v1/messages`.
 *
 * Streaming event sequence (as the real API sends it):
 *   message_start, then per content block content_block_start
 *   (the first one followed by ping), content_block_delta* (text_delta,
 *   thinking_delta + signature_delta, input_json_delta starting with an empty
 *   partial_json), content_block_stop; then message_delta (stop_reason,
 *   usage.output_tokens) and message_stop.
 */
import { countTokens, splitDeltas, splitJson, stableId, type Conversation, type OfferedTool, type ScriptedReply, type ScriptedToolCall } from '../script';
import { commandArgKey, sse, SSE_CONTENT_TYPE, textOf, type ApiModule, type RenderContext, type StreamWrite } from './types';

interface Usage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
  service_tier: string;
}

function usage(conv: Conversation, body: any, reply: ScriptedReply): Usage {
  const total = countTokens(JSON.stringify(body.messages ?? []) + JSON.stringify(body.system ?? '') + JSON.stringify(body.tools ?? []));
  // Prompt caching, deterministically: the system prompt and tools form the
  // cached prefix; a first turn writes it, later turns read it.
  let creation = 0;
  let read = 0;
  if (conv.cacheControl) {
    const prefix = Math.min(total - 1, countTokens(JSON.stringify(body.system ?? '') + JSON.stringify(body.tools ?? [])));
    if (conv.turns > 1) read = prefix;
    else creation = prefix;
  }
  const out = countTokens((reply.thinking ?? '') + reply.text + (reply.toolCall?.arguments ?? ''));
  return {
    input_tokens: total - creation - read,
    cache_creation_input_tokens: creation,
    cache_read_input_tokens: read,
    output_tokens: out,
    service_tier: 'standard',
  };
}

const ids = (ctx: RenderContext) => ({
  message: 'msg_01' + stableId(ctx.seed + ':msg', 22),
  tool: 'toolu_01' + stableId(ctx.seed + ':toolu', 22),
  signature: Buffer.from(stableId(ctx.seed + ':sig', 96)).toString('base64'),
});

/** The real API writes this one with a space (Python's json.dumps). */
const PING = '{"type": "ping"}';

type Block =
  | { type: 'thinking'; thinking: string }
  | { type: 'text'; text: string }
  | { type: 'tool_use'; name: string; input: ScriptedToolCall['input']; arguments: string };

function blocks(reply: ScriptedReply): Block[] {
  const out: Block[] = [];
  if (reply.thinking) out.push({ type: 'thinking', thinking: reply.thinking });
  if (reply.text) out.push({ type: 'text', text: reply.text });
  if (reply.toolCall) out.push({ type: 'tool_use', name: reply.toolCall.name, input: reply.toolCall.input, arguments: reply.toolCall.arguments });
  return out;
}

export const anthropicMessages: ApiModule = {
  api: 'anthropic.messages',
  provider: 'anthropic',

  route(path) {
    if (path === '/v1/messages') return { kind: 'call' };
    if (path === '/v1/messages/count_tokens') return { kind: 'count_tokens' };
    return null;
  },

  visibleThinking: (_body, reply) => reply.thinking ?? '',

  streamed(conv, reply, ctx) {
    return {
      contentType: SSE_CONTENT_TYPE,
      writes: this.stream(conv, reply, ctx),
      errorWrite: () => sse('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
    };
  },

  validate(body) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return { status: 400, message: 'Request body must be a JSON object' };
    if (typeof body.model !== 'string') return { status: 400, message: 'model: Field required' };
    if (typeof body.max_tokens !== 'number') return { status: 400, message: 'max_tokens: Field required' };
    if (!Array.isArray(body.messages)) return { status: 400, message: 'messages: Field required' };
    if (body.messages.length === 0) return { status: 400, message: 'messages: at least one message is required' };
    return undefined;
  },

  parse(body, model) {
    const messages: any[] = body.messages;
    const tools: OfferedTool[] = (Array.isArray(body.tools) ? body.tools : [])
      .filter((t: any) => t && typeof t.name === 'string')
      .map((t: any) => ({ name: t.name, argKey: commandArgKey(t.input_schema) }));
    let lastUserText = '';
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i];
      if (m?.role !== 'user') continue;
      const t = textOf(m.content, ['text']);
      if (t) {
        lastUserText = t;
        break;
      }
    }
    const conv: Conversation = {
      api: 'anthropic.messages',
      model,
      stream: body.stream === true,
      lastUserText,
      tools,
      toolChoiceNone: body.tool_choice?.type === 'none',
      thinking: body.thinking?.type === 'enabled' || body.thinking?.type === 'adaptive',
      cacheControl: JSON.stringify(body).includes('"cache_control"'),
      turns: messages.length,
      includeUsage: false,
    };
    // The last turn of the conversation: messages with other roles (some clients append a
    // `system` reminder after a tool result) are not turns.
    const last = [...messages].reverse().find((m: any) => m?.role === 'user' || m?.role === 'assistant');
    if (last?.role === 'user' && Array.isArray(last.content)) {
      const tr = last.content.find((b: any) => b?.type === 'tool_result');
      if (tr) {
        conv.toolResult = { callId: tr.tool_use_id, output: textOf(tr.content, ['text']), isError: tr.is_error === true };
        for (let i = messages.length - 2; i >= 0 && !conv.answeredCall; i--) {
          const m = messages[i];
          if (m?.role !== 'assistant' || !Array.isArray(m.content)) continue;
          const tu = m.content.find((b: any) => b?.type === 'tool_use' && b.id === tr.tool_use_id);
          if (tu) {
            conv.answeredCall = { name: tu.name, input: tu.input };
            conv.toolResult.name = tu.name;
          }
        }
      }
    }
    return conv;
  },

  usage(conv, reply, ctx) {
    const u = usage(conv, ctx.body, reply);
    return {
      input: u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens,
      output: u.output_tokens,
      cacheRead: u.cache_read_input_tokens,
      cacheWrite: u.cache_creation_input_tokens,
    };
  },

  json(conv, reply, ctx) {
    const id = ids(ctx);
    return {
      id: id.message,
      type: 'message',
      role: 'assistant',
      model: conv.model,
      content: blocks(reply).map((b) =>
        b.type === 'thinking'
          ? { type: 'thinking', thinking: b.thinking, signature: id.signature }
          : b.type === 'text'
            ? { type: 'text', text: b.text }
            : { type: 'tool_use', id: id.tool, name: b.name, input: b.input },
      ),
      stop_reason: reply.toolCall ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage: usage(conv, ctx.body, reply),
    };
  },

  stream(conv, reply, ctx) {
    const id = ids(ctx);
    const u = usage(conv, ctx.body, reply);
    const out: StreamWrite[] = [];
    const push = (data: string, carried: Omit<StreamWrite, 'data'> = {}) => out.push({ data, ...carried });
    push(
      sse('message_start', {
        type: 'message_start',
        message: {
          id: id.message,
          type: 'message',
          role: 'assistant',
          model: conv.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...u, output_tokens: 1 },
        },
      }),
    );
    blocks(reply).forEach((b, index) => {
      const delta = (d: unknown) => sse('content_block_delta', { type: 'content_block_delta', index, delta: d });
      if (b.type === 'thinking') {
        push(sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } }));
        if (index === 0) push(sse('ping', PING));
        for (const p of splitDeltas(b.thinking, ctx.deltaChars)) push(delta({ type: 'thinking_delta', thinking: p }), { thinking: p });
        push(delta({ type: 'signature_delta', signature: id.signature }));
      } else if (b.type === 'text') {
        push(sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }));
        if (index === 0) push(sse('ping', PING));
        for (const p of splitDeltas(b.text, ctx.deltaChars)) push(delta({ type: 'text_delta', text: p }), { text: p });
      } else {
        push(sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: id.tool, name: b.name, input: {} } }));
        if (index === 0) push(sse('ping', PING));
        push(delta({ type: 'input_json_delta', partial_json: '' }));
        for (const p of splitJson(b.arguments, ctx.argChars)) push(delta({ type: 'input_json_delta', partial_json: p }), { args: p });
      }
      push(sse('content_block_stop', { type: 'content_block_stop', index }));
    });
    push(
      sse('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: reply.toolCall ? 'tool_use' : 'end_turn', stop_sequence: null },
        usage: { output_tokens: u.output_tokens },
      }),
    );
    push(sse('message_stop', { type: 'message_stop' }));
    return out;
  },
};
