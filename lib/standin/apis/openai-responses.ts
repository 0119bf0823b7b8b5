/**
 * OpenAI Responses API: `POST /v1/responses`.
 *
 * Streaming: `event: <type>` + `data: {type, sequence_number, ...}`:
 * response.created, response.in_progress, then per output item
 * response.output_item.added, its content events
 * (reasoning_summary_* for a reasoning summary, content_part.added +
 * output_text.delta* + output_text.done + content_part.done for a message,
 * function_call_arguments.delta* + .done for a function call),
 * response.output_item.done; finally response.completed with usage
 * (input/output tokens, cached and reasoning token details).
 * `generate: false` (Codex's warm-up over WebSocket) gets no output items:
 * response.created, response.in_progress and response.completed with the
 * input tokens counted and none put out.
 */
import { countTokens, splitDeltas, splitJson, stableId, type Conversation, type OfferedTool, type ScriptedReply } from '../script';
import { OPENAI_SERVER_ERROR } from '../errors';
import { commandArgIsArray, commandArgKey, sse, SSE_CONTENT_TYPE, textOf, type ApiModule, type RenderContext, type StreamWrite } from './types';

const ids = (ctx: RenderContext) => ({
  response: 'resp_' + stableId(ctx.seed + ':resp', 50, 'hex'),
  reasoning: 'rs_' + stableId(ctx.seed + ':rs', 50, 'hex'),
  message: 'msg_' + stableId(ctx.seed + ':msg', 50, 'hex'),
  functionCall: 'fc_' + stableId(ctx.seed + ':fc', 50, 'hex'),
  call: 'call_' + stableId(ctx.seed + ':call', 24),
});

function usage(reply: ScriptedReply, body: any) {
  const input = countTokens(JSON.stringify(body.input ?? '') + JSON.stringify(body.instructions ?? '') + JSON.stringify(body.tools ?? []));
  const reasoning = reply.thinking ? countTokens(reply.thinking) : 0;
  const output = reply.kind === 'none' ? 0 : countTokens(reply.text + (reply.toolCall?.arguments ?? '')) + reasoning;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: input + output,
  };
}

type Item = Record<string, any>;

/** The output items of a reply, completed. */
function items(reply: ScriptedReply, ctx: RenderContext): Item[] {
  const id = ids(ctx);
  const out: Item[] = [];
  if (reply.thinking) {
    const wantSummary = typeof ctx.body.reasoning?.summary === 'string';
    out.push({ id: id.reasoning, type: 'reasoning', summary: wantSummary ? [{ type: 'summary_text', text: reply.thinking }] : [] });
  }
  if (reply.text) {
    out.push({
      id: id.message,
      type: 'message',
      status: 'completed',
      content: [{ type: 'output_text', annotations: [], logprobs: [], text: reply.text }],
      role: 'assistant',
    });
  }
  if (reply.toolCall) {
    out.push({
      id: id.functionCall,
      type: 'function_call',
      status: 'completed',
      arguments: reply.toolCall.arguments,
      call_id: id.call,
      name: reply.toolCall.name,
    });
  }
  return out;
}

function responseObject(conv: Conversation, ctx: RenderContext, status: 'in_progress' | 'completed', output: Item[], u: unknown) {
  const b = ctx.body;
  return {
    id: ids(ctx).response,
    object: 'response',
    created_at: ctx.created,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: b.instructions ?? null,
    max_output_tokens: b.max_output_tokens ?? null,
    model: conv.model,
    output,
    parallel_tool_calls: b.parallel_tool_calls ?? true,
    previous_response_id: b.previous_response_id ?? null,
    reasoning: { effort: b.reasoning?.effort ?? null, summary: b.reasoning?.summary ?? null },
    service_tier: 'default',
    store: b.store ?? true,
    temperature: b.temperature ?? 1,
    text: { format: { type: 'text' } },
    tool_choice: b.tool_choice ?? 'auto',
    tools: b.tools ?? [],
    top_p: b.top_p ?? 1,
    truncation: 'disabled',
    usage: u,
    user: null,
    metadata: b.metadata ?? {},
  };
}

export const openaiResponses: ApiModule = {
  api: 'openai.responses',
  provider: 'openai',

  route: (path) => (path === '/v1/responses' ? { kind: 'call' } : null),

  visibleThinking: (body, reply) => (reply.thinking && typeof body.reasoning?.summary === 'string' ? reply.thinking : ''),

  streamed(conv, reply, ctx) {
    return {
      contentType: SSE_CONTENT_TYPE,
      writes: this.stream(conv, reply, ctx),
      errorWrite: (kept) => sse('error', { type: 'error', sequence_number: kept, code: 'server_error', message: OPENAI_SERVER_ERROR, param: null }),
    };
  },

  // the response's function call, as json() and stream() render it
  remember(_conv, reply, ctx) {
    if (!reply.toolCall) return undefined;
    const id = ids(ctx);
    return { responseId: id.response, calls: new Map([[id.call, { name: reply.toolCall.name, input: reply.toolCall.input }]]) };
  },

  validate(body) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return { status: 400, message: 'We could not parse the JSON body of your request.' };
    if (typeof body.model !== 'string')
      return { status: 400, message: "Missing required parameter: 'model'.", param: 'model', code: 'missing_required_parameter' };
    if (typeof body.input !== 'string' && !Array.isArray(body.input)) {
      return { status: 400, message: "Missing required parameter: 'input'.", param: 'input', code: 'missing_required_parameter' };
    }
    return undefined;
  },

  parse(body, model, lookup) {
    const input: any[] = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : body.input;
    const tools: OfferedTool[] = (Array.isArray(body.tools) ? body.tools : [])
      .filter((t: any) => t?.type === 'function' && typeof t.name === 'string')
      .map((t: any) => {
        const argKey = commandArgKey(t.parameters);
        return commandArgIsArray(t.parameters, argKey) ? { name: t.name, argKey, argArray: true } : { name: t.name, argKey };
      });
    let lastUserText = '';
    for (let i = input.length - 1; i >= 0; i--) {
      const it = input[i];
      if (it?.role === 'user' && (it.type === undefined || it.type === 'message')) {
        lastUserText = textOf(it.content);
        if (lastUserText) break;
      }
    }
    const conv: Conversation = {
      api: 'openai.responses',
      model,
      stream: body.stream === true,
      lastUserText,
      tools,
      toolChoiceNone: body.tool_choice === 'none',
      thinking: body.reasoning != null && typeof body.reasoning === 'object' && body.reasoning.effort !== 'none',
      cacheControl: false,
      turns: input.length,
      includeUsage: false,
    };
    const fmt = body.text?.format;
    if (body.generate === false) conv.noOutput = true;
    if (fmt?.type === 'json_schema') conv.responseSchema = fmt.schema ?? true;
    else if (fmt?.type === 'json_object') conv.responseSchema = true;
    const last = input[input.length - 1];
    if (last?.type === 'function_call_output') {
      const output = typeof last.output === 'string' ? last.output : textOf(last.output);
      conv.toolResult = { callId: last.call_id, output, isError: false };
      const fc = input.find((it) => it?.type === 'function_call' && it.call_id === last.call_id);
      let call: { name: string; input: unknown } | undefined;
      if (fc) {
        let args: unknown;
        try {
          args = JSON.parse(fc.arguments);
        } catch {
          args = undefined;
        }
        call = { name: fc.name, input: args };
      } else if (typeof body.previous_response_id === 'string' && lookup) {
        call = lookup(body.previous_response_id, last.call_id);
      }
      if (call) {
        conv.answeredCall = call;
        conv.toolResult.name = call.name;
      }
    }
    return conv;
  },

  usage(_conv, reply, ctx) {
    const u = usage(reply, ctx.body);
    return { input: u.input_tokens, output: u.output_tokens, cacheRead: u.input_tokens_details.cached_tokens };
  },

  json(conv, reply, ctx) {
    return responseObject(conv, ctx, 'completed', items(reply, ctx), usage(reply, ctx.body));
  },

  stream(conv, reply, ctx) {
    const out: StreamWrite[] = [];
    let seq = 0;
    const ev = (type: string, fields: Record<string, unknown>, carried: Omit<StreamWrite, 'data'> = {}) =>
      out.push({ data: sse(type, { type, sequence_number: seq++, ...fields }), ...carried });
    const inProgress = responseObject(conv, ctx, 'in_progress', [], null);
    ev('response.created', { response: inProgress });
    ev('response.in_progress', { response: inProgress });
    const done = items(reply, ctx);
    done.forEach((item, output_index) => {
      const item_id = item.id;
      if (item.type === 'reasoning') {
        ev('response.output_item.added', { output_index, item: { ...item, summary: [] } });
        item.summary.forEach((part: { text: string }, summary_index: number) => {
          ev('response.reasoning_summary_part.added', { item_id, output_index, summary_index, part: { type: 'summary_text', text: '' } });
          for (const p of splitDeltas(part.text, ctx.deltaChars))
            ev('response.reasoning_summary_text.delta', { item_id, output_index, summary_index, delta: p }, { thinking: p });
          ev('response.reasoning_summary_text.done', { item_id, output_index, summary_index, text: part.text });
          ev('response.reasoning_summary_part.done', { item_id, output_index, summary_index, part: { type: 'summary_text', text: part.text } });
        });
      } else if (item.type === 'message') {
        const text: string = item.content[0].text;
        ev('response.output_item.added', { output_index, item: { id: item_id, type: 'message', status: 'in_progress', content: [], role: 'assistant' } });
        ev('response.content_part.added', { item_id, output_index, content_index: 0, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } });
        for (const p of splitDeltas(text, ctx.deltaChars))
          ev('response.output_text.delta', { item_id, output_index, content_index: 0, delta: p, logprobs: [] }, { text: p });
        ev('response.output_text.done', { item_id, output_index, content_index: 0, text, logprobs: [] });
        ev('response.content_part.done', { item_id, output_index, content_index: 0, part: item.content[0] });
      } else {
        ev('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', arguments: '' } });
        for (const p of splitJson(item.arguments, ctx.argChars)) ev('response.function_call_arguments.delta', { item_id, output_index, delta: p }, { args: p });
        ev('response.function_call_arguments.done', { item_id, output_index, arguments: item.arguments });
      }
      ev('response.output_item.done', { output_index, item });
    });
    ev('response.completed', { response: responseObject(conv, ctx, 'completed', done, usage(reply, ctx.body)) });
    return out;
  },
};
