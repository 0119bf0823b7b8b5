/**
 * OpenAI Chat Completions: `POST /v1/chat/completions`, and the many
 * OpenAI-compatible servers (Azure OpenAI, xAI, DeepSeek, Mistral, Groq,
 * local servers) under any prefix. Streams: `data: {chat.completion.chunk}`
 * with `choices[].delta`, a usage chunk when asked for, then `data: [DONE]`.
 */
import type { LlmMessage, TokenUsage, Json } from './types';
import { defineProvider } from './types';
import { arr, emptyResponse, isObj, num, pathOnly, reported, requestBase, str, textOf, toolCall, toolInfo } from './util';

const usage = (u: unknown): TokenUsage | null => {
  if (!isObj(u)) return null;
  const pd = isObj(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  const cd = isObj(u.completion_tokens_details) ? u.completion_tokens_details : {};
  return reported({
    input_tokens: num(u.prompt_tokens),
    output_tokens: num(u.completion_tokens),
    cache_read_input_tokens: num(pd.cached_tokens),
    reasoning_tokens: num(cd.reasoning_tokens),
    total_tokens: num(u.total_tokens),
  });
};

const fnCall = (t: Json) => toolCall(t.id, isObj(t.function) ? t.function.name : null, isObj(t.function) ? t.function.arguments : null);

export const openaiChat = defineProvider({
  id: 'openai.chat_completions',
  title: 'OpenAI Chat Completions',
  vendor: 'openai',
  otel: {
    provider: 'openai',
    operation: 'chat',
    hosts: [
      ['openai.azure.com', 'azure.ai.openai'],
      ['openai.com', 'openai'],
      ['x.ai', 'x_ai'],
      ['deepseek.com', 'deepseek'],
      ['mistral.ai', 'mistral_ai'],
      ['groq.com', 'groq'],
    ],
  },
  inputExcludesCache: false,
  outputExcludesReasoning: false,

  matchRequest: (req) => (req.method === 'POST' && /\/chat\/completions$/.test(pathOnly(req.path)) ? {} : null),

  matchStream: (ev, obj) => ev.data === '[DONE]' || (isObj(obj) && (obj.object === 'chat.completion.chunk' || Array.isArray(obj.choices))),

  parseRequest(body) {
    const { b, out } = requestBase(body);
    const sys: string[] = [];
    for (const m of arr(b.messages)) {
      if (!isObj(m)) continue;
      const role = str(m.role) ?? '?';
      if (role === 'system' || role === 'developer') {
        sys.push(textOf(m.content));
        continue;
      }
      const msg: LlmMessage = { role, content: textOf(m.content) };
      const tcs = arr(m.tool_calls).filter(isObj);
      if (tcs.length) msg.tool_calls = tcs.map(fnCall);
      if (role === 'tool') msg.tool_results = [{ tool_call_id: str(m.tool_call_id), content: textOf(m.content) }];
      out.messages.push(msg);
    }
    out.system = sys.length ? sys.join('\n') : null;
    out.tools = arr(b.tools)
      .filter(isObj)
      .map((t) => (isObj(t.function) ? t.function : t))
      .map((f) => toolInfo(f.name, f.description));
    out.max_tokens = num(b.max_completion_tokens) ?? num(b.max_tokens);
    out.temperature = num(b.temperature);
    out.top_p = num(b.top_p);
    return out;
  },

  parseResponse(body) {
    const out = emptyResponse(body);
    if (!isObj(body)) return out;
    out.model = str(body.model);
    out.id = str(body.id);
    const ch = arr(body.choices).filter(isObj)[0];
    const m = ch && isObj(ch.message) ? ch.message : {};
    out.text = textOf(m.content);
    out.thinking = str(m.reasoning_content) ?? str(m.reasoning) ?? '';
    out.tool_calls = arr(m.tool_calls).filter(isObj).map(fnCall);
    out.finish = ch ? str(ch.finish_reason) : null;
    out.usage = usage(body.usage);
    return out;
  },

  usage,

  mergeEvent(_ev, o, into) {
    if (isObj(o.error)) {
      into.addError(o.error);
      return;
    }
    into.setModel(o.model);
    into.setResponseId(o.id);
    for (const c of arr(o.choices)) {
      // Only the first choice is merged (n > 1 is rare for agents); others are counted by event_count.
      if (!isObj(c) || (num(c.index) ?? 0) !== 0) continue;
      const d = isObj(c.delta) ? c.delta : {};
      into.appendText(d.content);
      into.appendThinking(d.reasoning_content ?? d.reasoning);
      into.appendRefusal(d.refusal);
      for (const tc of arr(d.tool_calls)) {
        if (!isObj(tc)) continue;
        const index = num(tc.index) ?? 0;
        const t = into.tool(`c${index}`, index);
        t.id = str(tc.id) ?? t.id;
        const f = isObj(tc.function) ? tc.function : {};
        t.name = str(f.name) ?? t.name;
        into.appendArguments(t, f.arguments);
      }
      into.setStopReason(c.finish_reason);
    }
    into.addUsage(usage(o.usage));
  },

  // the end, or a chunk with a non-null finish reason
  completesToolCall: (ev) => ev.data === '[DONE]' || /"finish_reason"\s*:\s*"/.test(ev.data),
});
