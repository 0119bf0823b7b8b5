/**
 * Anthropic Messages API: `POST /v1/messages` (and Anthropic-compatible
 * servers under any prefix). Streams: `message_start`, per content block
 * `content_block_start` / `content_block_delta`* / `content_block_stop`,
 * `message_delta` (stop reason, output usage), `message_stop`; `ping` and
 * `error` events may come in between.
 */
import type { LlmMessage, TokenUsage, Json } from './types';
import { defineProvider } from './types';
import { arr, emptyResponse, eventName, isObj, num, pathOnly, reported, requestBase, str, textOf, toolCall, toolInfo } from './util';

const usage = (u: unknown): TokenUsage | null =>
  isObj(u)
    ? reported({
        input_tokens: num(u.input_tokens),
        output_tokens: num(u.output_tokens),
        cache_read_input_tokens: num(u.cache_read_input_tokens),
        cache_creation_input_tokens: num(u.cache_creation_input_tokens),
      })
    : null;

const blocks = (content: unknown, type: string) => arr(content).filter((p) => isObj(p) && p.type === type) as Json[];

export const anthropicMessages = defineProvider({
  id: 'anthropic.messages',
  title: 'Anthropic Messages',
  vendor: 'anthropic',
  otel: { provider: 'anthropic', operation: 'chat', hosts: [['anthropic.com', 'anthropic']] },
  inputExcludesCache: true,
  outputExcludesReasoning: false,

  matchRequest: (req) => (req.method === 'POST' && /\/messages$/.test(pathOnly(req.path)) ? {} : null),

  matchStream: (ev, obj) => /^(message_start|content_block_|message_delta|message_stop)/.test(eventName(ev, obj)),

  parseRequest(body) {
    const { b, out } = requestBase(body);
    out.system = typeof b.system === 'string' ? b.system : b.system ? textOf(b.system) : null;
    for (const m of arr(b.messages)) {
      if (!isObj(m)) continue;
      const msg: LlmMessage = { role: str(m.role) ?? '?', content: typeof m.content === 'string' ? m.content : textOf(blocks(m.content, 'text')) };
      const uses = blocks(m.content, 'tool_use');
      if (uses.length) msg.tool_calls = uses.map((u) => toolCall(u.id, u.name, u.input));
      const results = blocks(m.content, 'tool_result');
      if (results.length)
        msg.tool_results = results.map((r) => ({
          tool_call_id: str(r.tool_use_id),
          content: textOf(r.content),
          ...(r.is_error === true ? { is_error: true } : {}),
        }));
      out.messages.push(msg);
    }
    out.tools = arr(b.tools)
      .filter(isObj)
      .map((t) => toolInfo(t.name, t.description));
    out.max_tokens = num(b.max_tokens);
    out.temperature = num(b.temperature);
    out.top_p = num(b.top_p);
    return out;
  },

  parseResponse(body) {
    const out = emptyResponse(body);
    if (!isObj(body)) return out;
    out.model = str(body.model);
    out.id = str(body.id);
    for (const b of arr(body.content).filter(isObj)) {
      if (b.type === 'text') out.text += str(b.text) ?? '';
      else if (b.type === 'thinking') out.thinking += str(b.thinking) ?? '';
      else if (b.type === 'tool_use') out.tool_calls.push(toolCall(b.id, b.name, b.input));
    }
    out.finish = str(body.stop_reason);
    out.usage = usage(body.usage);
    return out;
  },

  usage,

  mergeEvent(ev, o, into) {
    switch (str(o.type) ?? ev.event) {
      case 'message_start': {
        const m = isObj(o.message) ? o.message : {};
        into.setModel(m.model);
        into.setResponseId(m.id);
        into.addUsage(usage(m.usage));
        break;
      }
      case 'content_block_start': {
        const b = isObj(o.content_block) ? o.content_block : {};
        const index = num(o.index) ?? 0;
        const bt = str(b.type);
        if (bt === 'text') into.appendText(b.text);
        else if (bt === 'thinking') into.appendThinking(b.thinking);
        else if (bt === 'tool_use' || bt === 'server_tool_use' || bt === 'mcp_tool_use') {
          const t = into.tool(`b${index}`, index);
          t.id = str(b.id);
          t.name = str(b.name);
          if (isObj(b.input) && Object.keys(b.input).length) t.final = JSON.stringify(b.input);
        }
        break;
      }
      case 'content_block_delta': {
        const d = isObj(o.delta) ? o.delta : {};
        const index = num(o.index) ?? 0;
        const dt = str(d.type);
        if (dt === 'text_delta') into.appendText(d.text);
        else if (dt === 'thinking_delta') into.appendThinking(d.thinking);
        else if (dt === 'input_json_delta') {
          const t = into.tool(`b${index}`, index);
          t.final = null;
          into.appendArguments(t, d.partial_json);
        }
        break;
      }
      case 'message_delta': {
        const d = isObj(o.delta) ? o.delta : {};
        into.setStopReason(d.stop_reason);
        into.addUsage(usage(o.usage));
        break;
      }
      case 'message_stop':
        into.setTerminal();
        break;
      case 'error':
        into.addError(isObj(o.error) ? o.error : o);
        into.setTerminal();
        break;
    }
  },

  // a content block (tool_use among them) ended
  completesToolCall: (ev) => ev.event === 'content_block_stop',
});
