/**
 * OpenAI Responses API: `POST /v1/responses` (OpenAI's hosts are listed with
 * Chat Completions). Streams: `event: response.*` with `type` in the data:
 * response.created, output items and their deltas, response.completed /
 * incomplete / failed.
 *
 * WebSocket transport: `GET /v1/responses` upgraded to WebSocket; the client
 * sends `{"type": "response.create", ...}` (the fields of the HTTP request
 * body), the server answers with the same event objects as the stream, one
 * text message each, until response.completed / failed / incomplete or an
 * `error`.
 */
import type { MergeTarget, TokenUsage } from './types';
import { defineProvider } from './types';
import { arr, emptyResponse, eventName, isObj, num, pathOnly, reported, requestBase, str, textOf, toolCall, toolInfo } from './util';

const usage = (u: unknown): TokenUsage | null => {
  if (!isObj(u)) return null;
  const id = isObj(u.input_tokens_details) ? u.input_tokens_details : {};
  const od = isObj(u.output_tokens_details) ? u.output_tokens_details : {};
  return reported({
    input_tokens: num(u.input_tokens),
    output_tokens: num(u.output_tokens),
    cache_read_input_tokens: num(id.cached_tokens),
    reasoning_tokens: num(od.reasoning_tokens),
    total_tokens: num(u.total_tokens),
  });
};

function responseMeta(r: unknown, into: MergeTarget): void {
  if (!isObj(r)) return;
  into.setModel(r.model);
  into.setResponseId(r.id);
}

export const openaiResponses = defineProvider({
  id: 'openai.responses',
  title: 'OpenAI Responses',
  vendor: 'openai',
  otel: { provider: 'openai', operation: 'chat', hosts: [] },
  inputExcludesCache: false,
  outputExcludesReasoning: false,

  matchRequest: (req) => (req.method === 'POST' && /\/responses$/.test(pathOnly(req.path)) ? {} : null),

  matchStream: (ev, obj) => eventName(ev, obj).startsWith('response.'),

  parseRequest(body) {
    const { b, out } = requestBase(body);
    out.system = str(b.instructions);
    if (typeof b.input === 'string') out.messages.push({ role: 'user', content: b.input });
    for (const it of arr(b.input)) {
      if (!isObj(it)) continue;
      if (it.type === 'function_call') out.messages.push({ role: 'assistant', content: '', tool_calls: [toolCall(it.call_id, it.name, it.arguments)] });
      else if (it.type === 'function_call_output')
        out.messages.push({
          role: 'tool',
          content: '',
          tool_results: [{ tool_call_id: str(it.call_id), content: typeof it.output === 'string' ? it.output : JSON.stringify(it.output) }],
        });
      else {
        const role = str(it.role) ?? 'user';
        if (role === 'system' || role === 'developer') out.system = [out.system, textOf(it.content)].filter(Boolean).join('\n');
        else out.messages.push({ role, content: textOf(it.content) });
      }
    }
    out.tools = arr(b.tools)
      .filter(isObj)
      .map((t) => toolInfo(str(t.name) ?? t.type, t.description));
    out.max_tokens = num(b.max_output_tokens);
    out.temperature = num(b.temperature);
    out.top_p = num(b.top_p);
    const previous = str(b.previous_response_id);
    if (previous) out.previous_response_id = previous;
    if (b.generate === false) out.generate = false;
    return out;
  },

  parseResponse(body) {
    const out = emptyResponse(body);
    if (!isObj(body)) return out;
    out.model = str(body.model);
    out.id = str(body.id);
    for (const it of arr(body.output).filter(isObj)) {
      if (it.type === 'message')
        out.text += arr(it.content)
          .filter(isObj)
          .map((c) => str(c.text) ?? '')
          .join('');
      else if (it.type === 'reasoning')
        out.thinking += arr(it.summary)
          .filter(isObj)
          .map((c) => str(c.text) ?? '')
          .join('\n');
      else if (it.type === 'function_call') out.tool_calls.push(toolCall(it.call_id, it.name, it.arguments));
    }
    out.finish = str(body.status);
    out.usage = usage(body.usage);
    return out;
  },

  usage,

  mergeEvent(ev, o, into) {
    const type = str(o.type) ?? ev.event;
    switch (type) {
      case 'response.created':
      case 'response.in_progress':
        responseMeta(o.response, into);
        break;
      case 'response.output_text.delta':
        into.appendText(o.delta);
        break;
      case 'response.refusal.delta':
        into.appendRefusal(o.delta);
        break;
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        into.appendThinking(o.delta);
        break;
      case 'response.output_item.added':
      case 'response.output_item.done': {
        const item = isObj(o.item) ? o.item : {};
        if (item.type !== 'function_call' && item.type !== 'custom_tool_call') break;
        const index = num(o.output_index) ?? 0;
        const t = into.tool(str(item.id) ?? `o${index}`, index);
        t.id = str(item.call_id) ?? t.id;
        t.name = str(item.name) ?? t.name;
        const args = str(item.arguments) ?? str(item.input);
        if (type === 'response.output_item.done' && args !== null) t.final = args;
        break;
      }
      case 'response.function_call_arguments.delta':
      case 'response.custom_tool_call_input.delta': {
        const index = num(o.output_index) ?? 0;
        into.appendArguments(into.tool(str(o.item_id) ?? `o${index}`, index), o.delta);
        break;
      }
      case 'response.function_call_arguments.done': {
        const index = num(o.output_index) ?? 0;
        const args = str(o.arguments);
        if (args !== null) into.tool(str(o.item_id) ?? `o${index}`, index).final = args;
        break;
      }
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed': {
        const r = isObj(o.response) ? o.response : {};
        responseMeta(r, into);
        const inc = isObj(r.incomplete_details) ? str(r.incomplete_details.reason) : null;
        into.setStopReason(inc ?? str(r.status) ?? type.slice('response.'.length));
        if (isObj(r.error)) into.addError(r.error);
        into.addUsage(usage(r.usage));
        into.setTerminal();
        break;
      }
      case 'error':
        into.addError(isObj(o.error) ? o.error : o);
        break;
    }
  },

  completesToolCall: (ev) => ev.event === 'response.output_item.done' || ev.event === 'response.function_call_arguments.done',

  websocket: {
    matchUpgrade: (req) => req.method === 'GET' && /\/responses$/.test(pathOnly(req.path)),
    message(m) {
      const o = m.json();
      if (!isObj(o)) return null;
      const type = str(o.type);
      if (m.from === 'client') {
        if (type !== 'response.create') return null;
        // the request's fields sit beside `type` (an older form nests them in `response`)
        const { type: _type, ...fields } = o;
        return { kind: 'request', body: isObj(o.response) && fields.model === undefined ? o.response : fields };
      }
      if (!type) return null;
      return { kind: 'event', event: { event: type, data: m.text }, final: type === 'error' };
    },
  },
});
