/**
 * Gemini API: `POST /v1beta/models/{model}:generateContent` and
 * `:streamGenerateContent` (`?alt=sse`: `data: {GenerateContentResponse}`
 * events separated by `\r\n\r\n`; without alt=sse: one JSON array written
 * element by element, as Google's servers do).
 *
 * Every chunk carries usageMetadata (the prompt count; the last one the
 * candidate and thought counts too), modelVersion and responseId; the last
 * one has finishReason "STOP". A function call comes whole in one chunk.
 */
import { countTokens, splitDeltas, stableId, type Conversation, type OfferedTool, type ScriptedReply } from '../script';
import { apiError } from '../errors';
import { commandArgKey, sse, type ApiModule, type RenderContext, type StreamWrite } from './types';

/** Gemini paths under each API version; `/v1/...` works as well as `/v1beta/...`. */
export const GEMINI_PATH = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;

function textParts(parts: unknown): string {
  if (!Array.isArray(parts)) return '';
  return parts
    .filter((p) => p && typeof p.text === 'string' && p.thought !== true)
    .map((p) => p.text as string)
    .join('');
}

function resultText(response: unknown): { output: string; isError: boolean } {
  if (typeof response === 'string') return { output: response, isError: false };
  if (!response || typeof response !== 'object') return { output: JSON.stringify(response ?? null), isError: false };
  const r = response as Record<string, unknown>;
  for (const k of ['output', 'result', 'content', 'stdout']) if (typeof r[k] === 'string') return { output: r[k] as string, isError: false };
  if (typeof r.error === 'string') return { output: r.error, isError: true };
  return { output: JSON.stringify(r), isError: 'error' in r };
}

const promptTokens = (body: any) =>
  countTokens(JSON.stringify(body.contents ?? []) + JSON.stringify(body.systemInstruction ?? '') + JSON.stringify(body.tools ?? []));

function usageMetadata(reply: ScriptedReply, body: any, final: boolean) {
  const prompt = promptTokens(body);
  const u: Record<string, unknown> = { promptTokenCount: prompt };
  if (!final) {
    u.totalTokenCount = prompt;
  } else {
    const cand = countTokens(reply.text + (reply.toolCall?.arguments ?? ''));
    const thoughts = reply.thinking ? countTokens(reply.thinking) : 0;
    u.candidatesTokenCount = cand;
    u.totalTokenCount = prompt + cand + thoughts;
    if (thoughts) u.thoughtsTokenCount = thoughts;
  }
  u.promptTokensDetails = [{ modality: 'TEXT', tokenCount: prompt }];
  return u;
}

const includeThoughts = (body: any) => body.generationConfig?.thinkingConfig?.includeThoughts === true;

/** The GenerateContentResponse chunks of a streamed reply, with what each carries. */
export function geminiChunks(
  conv: Conversation,
  reply: ScriptedReply,
  ctx: RenderContext,
): { chunk: Record<string, unknown>; carried: Omit<StreamWrite, 'data'> }[] {
  const responseId = stableId(ctx.seed + ':gemini', 22);
  const chunk = (parts: unknown[], final: boolean) => {
    const cand: Record<string, unknown> = { content: { parts, role: 'model' } };
    if (final) cand.finishReason = 'STOP';
    cand.index = 0;
    return { candidates: [cand], usageMetadata: usageMetadata(reply, ctx.body, final), modelVersion: conv.model, responseId };
  };
  const parts: [unknown[], Omit<StreamWrite, 'data'>][] = [];
  if (reply.thinking && includeThoughts(ctx.body)) {
    for (const p of splitDeltas(reply.thinking, ctx.deltaChars)) parts.push([[{ text: p, thought: true }], { thinking: p }]);
  }
  for (const p of splitDeltas(reply.text, ctx.deltaChars)) parts.push([[{ text: p }], { text: p }]);
  if (reply.toolCall) parts.push([[{ functionCall: { name: reply.toolCall.name, args: reply.toolCall.input } }], { args: reply.toolCall.arguments }]);
  if (parts.length === 0) parts.push([[{ text: '' }], {}]);
  return parts.map(([p, carried], i) => ({ chunk: chunk(p, i === parts.length - 1), carried }));
}

export const gemini: ApiModule = {
  api: 'gemini.generate_content',
  provider: 'gemini',

  route(path) {
    const m = GEMINI_PATH.exec(path);
    if (!m) return null;
    const model = decodeURIComponent(m[2]!);
    return m[3] === 'countTokens' ? { kind: 'count_tokens', model } : { kind: 'call', model, stream: m[3] === 'streamGenerateContent' };
  },

  visibleThinking: (body, reply) => (reply.thinking && includeThoughts(body) ? reply.thinking : ''),

  // alt=sse: SSE events; else one JSON array written element by element
  streamed(conv, reply, ctx, query) {
    const overloaded = apiError('gemini', 503).body;
    if (query.alt === 'sse') {
      return { contentType: 'text/event-stream', writes: this.stream(conv, reply, ctx), errorWrite: () => sse(undefined, overloaded, '\r\n') };
    }
    return {
      contentType: 'application/json; charset=UTF-8',
      writes: geminiJsonArrayWrites(conv, reply, ctx),
      errorWrite: () => ',\r\n' + JSON.stringify(overloaded, null, 2) + '\n]',
    };
  },

  validate(body) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return { status: 400, message: 'Invalid JSON payload received.' };
    if (!Array.isArray(body.contents) || body.contents.length === 0)
      return { status: 400, message: '* GenerateContentRequest.contents: contents is not specified\n' };
    return undefined;
  },

  parse(body, model) {
    const contents: any[] = body.contents;
    const tools: OfferedTool[] = [];
    for (const t of Array.isArray(body.tools) ? body.tools : []) {
      for (const f of Array.isArray(t?.functionDeclarations) ? t.functionDeclarations : []) {
        if (f && typeof f.name === 'string') tools.push({ name: f.name, argKey: commandArgKey(f.parameters ?? f.parametersJsonSchema) });
      }
    }
    let lastUserText = '';
    for (let i = contents.length - 1; i >= 0; i--) {
      const c = contents[i];
      if (c?.role === 'model') continue;
      lastUserText = textParts(c?.parts);
      if (lastUserText) break;
    }
    const tc = body.generationConfig?.thinkingConfig;
    const conv: Conversation = {
      api: 'gemini.generate_content',
      model,
      stream: false,
      lastUserText,
      tools,
      toolChoiceNone: body.toolConfig?.functionCallingConfig?.mode === 'NONE',
      thinking: tc != null && typeof tc === 'object' && tc.thinkingBudget !== 0,
      cacheControl: false,
      turns: contents.length,
      includeUsage: false,
    };
    const gc = body.generationConfig ?? {};
    if (gc.responseMimeType === 'application/json') conv.responseSchema = gc.responseJsonSchema ?? gc.responseSchema ?? true;
    const last = contents[contents.length - 1];
    const fr = Array.isArray(last?.parts) ? last.parts.find((p: any) => p?.functionResponse) : undefined;
    if (fr) {
      const { output, isError } = resultText(fr.functionResponse.response);
      conv.toolResult = { callId: fr.functionResponse.id, name: fr.functionResponse.name, output, isError };
      for (let i = contents.length - 2; i >= 0 && !conv.answeredCall; i--) {
        const c = contents[i];
        if (c?.role !== 'model' || !Array.isArray(c.parts)) continue;
        const call = c.parts.find((p: any) => p?.functionCall && p.functionCall.name === fr.functionResponse.name);
        if (call) conv.answeredCall = { name: call.functionCall.name, input: call.functionCall.args };
      }
    }
    return conv;
  },

  usage(_conv, reply, ctx) {
    const u = usageMetadata(reply, ctx.body, true);
    return { input: u.promptTokenCount as number, output: u.candidatesTokenCount as number };
  },

  json(conv, reply, ctx) {
    const parts: unknown[] = [];
    if (reply.thinking && includeThoughts(ctx.body)) parts.push({ text: reply.thinking, thought: true });
    if (reply.text) parts.push({ text: reply.text });
    if (reply.toolCall) parts.push({ functionCall: { name: reply.toolCall.name, args: reply.toolCall.input } });
    return {
      candidates: [{ content: { parts, role: 'model' }, finishReason: 'STOP', index: 0 }],
      usageMetadata: usageMetadata(reply, ctx.body, true),
      modelVersion: conv.model,
      responseId: stableId(ctx.seed + ':gemini', 22),
    };
  },

  stream(conv, reply, ctx) {
    return geminiChunks(conv, reply, ctx).map(({ chunk, carried }) => ({ data: sse(undefined, chunk, '\r\n'), ...carried }));
  },
};

/** The non-SSE stream (`:streamGenerateContent` without alt=sse): a JSON array, one write per element. */
export function geminiJsonArrayWrites(conv: Conversation, reply: ScriptedReply, ctx: RenderContext): StreamWrite[] {
  const chunks = geminiChunks(conv, reply, ctx);
  return chunks.map(({ chunk, carried }, i) => ({
    data: (i === 0 ? '[' : ',\r\n') + JSON.stringify(chunk, null, 2) + (i === chunks.length - 1 ? '\n]' : '\n'),
    ...carried,
  }));
}
