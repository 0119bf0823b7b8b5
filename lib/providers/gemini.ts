/**
 * Gemini API (Google AI and Vertex AI): `POST .../models/{model}:generateContent`
 * and `:streamGenerateContent` (the model and streaming are in the path).
 * Streams (`alt=sse`): `data: {GenerateContentResponse}` chunks, function
 * calls whole in one chunk; without alt=sse the answer is a JSON array of
 * the same chunks.
 */
import type { LlmMessage, LlmResponse, TokenUsage, Json } from './types';
import { defineProvider } from './types';
import { arr, emptyResponse, isObj, num, pathOnly, reported, requestBase, str, textOf, toolCall, toolInfo } from './util';

const usage = (u: unknown): TokenUsage | null =>
  isObj(u)
    ? reported({
        input_tokens: num(u.promptTokenCount),
        output_tokens: num(u.candidatesTokenCount),
        cache_read_input_tokens: num(u.cachedContentTokenCount),
        reasoning_tokens: num(u.thoughtsTokenCount),
        total_tokens: num(u.totalTokenCount),
      })
    : null;

const PATH = /\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** One GenerateContentResponse. */
function parseOne(body: unknown): LlmResponse {
  const out = emptyResponse(body);
  if (!isObj(body)) return out;
  out.model = str(body.modelVersion);
  out.id = str(body.responseId);
  const c = arr(body.candidates).filter(isObj)[0];
  const parts = c && isObj(c.content) ? arr(c.content.parts).filter(isObj) : [];
  for (const p of parts) {
    if (isObj(p.functionCall)) out.tool_calls.push(toolCall(p.functionCall.id ?? null, p.functionCall.name, p.functionCall.args));
    else if (p.thought === true) out.thinking += str(p.text) ?? '';
    else out.text += str(p.text) ?? '';
  }
  out.finish = c ? str(c.finishReason) : null;
  out.usage = usage(body.usageMetadata);
  return out;
}

/** A response, or (streamGenerateContent without alt=sse) a JSON array of partial responses. */
function parseAny(body: unknown): LlmResponse {
  if (!Array.isArray(body)) return parseOne(body);
  const out = emptyResponse(body);
  for (const p of body.map(parseAny)) {
    out.model = p.model ?? out.model;
    out.id = p.id ?? out.id;
    out.text += p.text;
    out.thinking += p.thinking;
    out.tool_calls.push(...p.tool_calls);
    out.finish = p.finish ?? out.finish;
    out.usage = p.usage ?? out.usage;
    out.error = p.error ?? out.error;
  }
  return out;
}

export const gemini = defineProvider({
  id: 'gemini.generate_content',
  title: 'Gemini generateContent',
  vendor: 'gemini',
  otel: {
    provider: 'gcp.gemini',
    operation: 'generate_content',
    hosts: [
      ['aiplatform.googleapis.com', 'gcp.vertex_ai'],
      ['googleapis.com', 'gcp.gemini'],
    ],
  },
  inputExcludesCache: false,
  outputExcludesReasoning: true,

  matchRequest(req) {
    if (req.method !== 'POST') return null;
    const g = PATH.exec(pathOnly(req.path));
    return g ? { model: decoded(g[1]), stream: g[2] === 'streamGenerateContent' } : null;
  },

  matchStream: (_ev, obj) => isObj(obj) && (Array.isArray(obj.candidates) || isObj(obj.usageMetadata)),

  parseRequest(body) {
    const { b, out } = requestBase(body);
    out.system = isObj(b.systemInstruction) ? textOf(b.systemInstruction.parts) : null;
    for (const c of arr(b.contents)) {
      if (!isObj(c)) continue;
      const parts = arr(c.parts).filter(isObj);
      const msg: LlmMessage = {
        role: str(c.role) ?? 'user',
        content: parts
          .map((p) => str(p.text) ?? '')
          .filter(Boolean)
          .join('\n'),
      };
      const fcs = parts.filter((p) => isObj(p.functionCall)).map((p) => p.functionCall as Json);
      if (fcs.length) msg.tool_calls = fcs.map((f) => toolCall(f.id ?? null, f.name, f.args));
      const frs = parts.filter((p) => isObj(p.functionResponse)).map((p) => p.functionResponse as Json);
      if (frs.length) msg.tool_results = frs.map((f) => ({ tool_call_id: str(f.id) ?? str(f.name), content: JSON.stringify(f.response ?? null) }));
      out.messages.push(msg);
    }
    for (const t of arr(b.tools).filter(isObj)) for (const f of arr(t.functionDeclarations).filter(isObj)) out.tools.push(toolInfo(f.name, f.description));
    const gc = isObj(b.generationConfig) ? b.generationConfig : {};
    out.max_tokens = num(gc.maxOutputTokens);
    out.temperature = num(gc.temperature);
    out.top_p = num(gc.topP);
    return out;
  },

  parseResponse: parseAny,

  usage,

  mergeEvent(_ev, o, into) {
    if (isObj(o.error)) {
      into.addError(o.error);
      return;
    }
    into.setModel(o.modelVersion);
    into.setResponseId(o.responseId);
    for (const c of arr(o.candidates)) {
      if (!isObj(c) || (num(c.index) ?? 0) !== 0) continue;
      const content = isObj(c.content) ? c.content : {};
      for (const p of arr(content.parts)) {
        if (!isObj(p)) continue;
        if (p.thought === true) into.appendThinking(p.text);
        else into.appendText(p.text);
        if (isObj(p.functionCall)) {
          const fc = p.functionCall;
          const index = into.toolCount;
          const t = into.tool(`g${index}`, index);
          t.id = str(fc.id);
          t.name = str(fc.name);
          t.final = JSON.stringify(fc.args ?? {});
        }
      }
      into.setStopReason(c.finishReason);
    }
    into.addUsage(usage(o.usageMetadata));
  },

  // function calls come whole
  completesToolCall: (ev) => /"functionCall"\s*:/.test(ev.data),
});
