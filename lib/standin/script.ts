/**
 * The stand-in's "model": a pure, deterministic function from a request body
 * to a reply. Nothing here depends on time, randomness or earlier requests,
 * so the same request always gets the same reply, byte for byte.
 *
 * Rules (the same for every API):
 *  1. The last turn carries a tool result → a final text that quotes the
 *     tool's output verbatim ({@link finalText}).
 *  2. Tools are offered (and tool choice is not "none") → a call of the
 *     offered shell-like tool (`bash`, `run_command`, `shell`, ... else the
 *     first one) with `{"command": "<cmd>"}`; `<cmd>` is taken from the last
 *     user text (`run: <cmd>` up to the end of the line, or run `<cmd>` in
 *     backticks), else the default command `echo agentsight-demo`.
 *  3. Otherwise → a fixed greeting that quotes the prompt ({@link plainText}).
 * Thinking (Anthropic `thinking`, OpenAI `reasoning`, Gemini `thinkingConfig`)
 * adds a deterministic thinking text ({@link thinkingText}).
 */
import { createHash } from 'node:crypto';
import { getProvider, type ApiId } from '../providers';

/** The API a request is for: the provider id of lib/providers. */
export type ApiKind = ApiId;

export const DEFAULT_COMMAND = 'echo agentsight-demo';

/** Tool names preferred for the scripted tool call, in order. */
export const SHELL_TOOL_NAMES = ['bash', 'run_command', 'shell', 'exec_command', 'execute_command', 'run_shell_command', 'exec', 'terminal', 'run'];

export interface OfferedTool {
  name: string;
  /** The argument that carries the command line (`command` unless the schema says otherwise). */
  argKey: string;
  /** The argument is an argv array (Codex's `shell` tool): the command is sent as `["bash", "-lc", "<cmd>"]`. */
  argArray?: boolean;
}

export interface ToolResult {
  /** tool_use_id / tool_call_id / call_id, when the API has one. */
  callId?: string;
  /** Name of the tool that produced it, when known. */
  name?: string;
  /** The result text as the client sent it. */
  output: string;
  isError: boolean;
}

/** The parts of a request that decide the reply. */
export interface Conversation {
  api: ApiKind;
  model: string;
  stream: boolean;
  /** Text of the most recent user message that has text (not only tool results). */
  lastUserText: string;
  tools: OfferedTool[];
  /** tool_choice "none" (or Gemini mode NONE): never call a tool. */
  toolChoiceNone: boolean;
  /** Present when the last turn is a tool result. */
  toolResult?: ToolResult;
  /** The assistant's tool call that the tool result answers, when the request carries it. */
  answeredCall?: { name: string; input: unknown };
  /** Thinking / reasoning asked for. */
  thinking: boolean;
  /** Anthropic prompt caching asked for (a cache_control marker anywhere). */
  cacheControl: boolean;
  /** Number of turns (messages / input items / contents). */
  turns: number;
  /** OpenAI chat `stream_options.include_usage`. */
  includeUsage: boolean;
  /** Structured output asked for (a JSON schema, or true for any JSON object): the answer is JSON. */
  responseSchema?: unknown;
  /** Responses `generate: false` (a warm-up that only prepares the request state): the response has no output. */
  noOutput?: boolean;
}

export interface ScriptedToolCall {
  name: string;
  /** The argument object. */
  input: Record<string, string | string[]>;
  /** JSON text of `input` as sent on the wire (JSON.stringify). */
  arguments: string;
  command: string;
}

export interface ScriptedReply {
  /** `none`: a warm-up answered without output (Responses `generate: false`). */
  kind: 'tool_call' | 'final' | 'plain' | 'none';
  /** Thinking text, when thinking was asked for. */
  thinking?: string;
  /** Assistant text ('' when the reply is only a tool call). */
  text: string;
  toolCall?: ScriptedToolCall;
}

export interface ScriptOptions {
  /** Command used when the prompt names none (default {@link DEFAULT_COMMAND}). */
  defaultCommand?: string;
}

// ---------------------------------------------------------------------------
// Reply texts (documented in docs/standin.md; tests assert equality with them)

/** Text that goes with a tool call (only Anthropic sends text before tool_use). */
export function toolCallText(api: ApiKind, call: ScriptedToolCall): string {
  return api === 'anthropic.messages' ? `I'll run \`${call.command}\` with the ${call.name} tool and report what it prints.` : '';
}

/** The final answer after a tool result: quotes the output verbatim. */
export function finalText(api: ApiKind, command: string, result: ToolResult): string {
  const what = result.isError ? 'failed' : 'finished';
  return (
    `The command \`${command}\` ${what}. Its output was:\n\n${result.output}\n\n` +
    `That is the complete result — quoted above without changes. ` +
    `This answer comes from the agentsight stand-in for the ${getProvider(api).title} API; ` +
    `it is streamed in many small pieces so that a tracer has to reassemble it.`
  );
}

/** The reply to a prompt without tools. */
export function plainText(api: ApiKind, prompt: string): string {
  const quoted = prompt.length > 200 ? prompt.slice(0, 200) + '…' : prompt;
  return (
    `Hello from the agentsight stand-in for the ${getProvider(api).title} API. You said: "${quoted}". ` +
    `This reply is scripted and deterministic — the same request always gets the same bytes — ` +
    `so tests can compare what a tracer reassembled with what was sent.`
  );
}

/** The thinking text (Anthropic thinking_delta, Responses reasoning, Gemini thoughts). */
export function thinkingText(reply: Pick<ScriptedReply, 'kind' | 'toolCall'>, command?: string): string {
  if (reply.kind === 'tool_call' && reply.toolCall) {
    return `The user wants the output of \`${reply.toolCall.command}\`. The ${reply.toolCall.name} tool can run it; I will call it and then quote what it prints.`;
  }
  if (reply.kind === 'final') return `The tool has returned the output of \`${command ?? ''}\`. I will quote it exactly.`;
  return 'No tool is needed here. I will answer with the scripted greeting.';
}

// ---------------------------------------------------------------------------

/** The command a prompt asks for: `run: <cmd>` (to end of line) or run `<cmd>`. */
export function commandFromPrompt(text: string): string | undefined {
  const colon = /\b(?:run|execute|exec)\s*:\s*(.+?)\s*$/im.exec(text);
  if (colon && colon[1]) return colon[1].replace(/^`(.*)`$/, '$1');
  const tick = /\b(?:run|execute|exec)\s+`([^`\n]+)`/i.exec(text);
  if (tick && tick[1]) return tick[1];
  return undefined;
}

/** Pick the tool the scripted model calls. */
export function pickTool(tools: readonly OfferedTool[]): OfferedTool | undefined {
  for (const pref of SHELL_TOOL_NAMES) {
    const t = tools.find((x) => x.name.toLowerCase() === pref);
    if (t) return t;
  }
  return tools[0];
}

export function scriptReply(conv: Conversation, opts: ScriptOptions = {}): ScriptedReply {
  const defaultCommand = opts.defaultCommand ?? DEFAULT_COMMAND;
  let reply: ScriptedReply;
  if (conv.noOutput) return { kind: 'none', text: '' };
  if (conv.toolResult) {
    const ans = conv.answeredCall;
    let command: string | undefined;
    if (ans && ans.input && typeof ans.input === 'object') {
      const inp = ans.input as Record<string, unknown>;
      const v = inp.command ?? inp.cmd ?? Object.values(inp).find((x) => typeof x === 'string');
      if (typeof v === 'string') command = v;
      // an argv array asked for as ["bash", "-lc", "<cmd>"]: the command is its last element
      else if (Array.isArray(v) && v.length > 0 && typeof v[v.length - 1] === 'string') command = v[v.length - 1] as string;
    }
    command ??= commandFromPrompt(conv.lastUserText) ?? defaultCommand;
    reply = { kind: 'final', text: finalText(conv.api, command, conv.toolResult) };
    if (conv.thinking) reply.thinking = thinkingText(reply, command);
    return reply;
  }
  if (conv.responseSchema !== undefined && conv.tools.length === 0) {
    reply = { kind: 'plain', text: JSON.stringify(exampleFor(conv.responseSchema)) };
    return reply;
  }
  const tool = conv.toolChoiceNone ? undefined : pickTool(conv.tools);
  if (tool) {
    const command = commandFromPrompt(conv.lastUserText) ?? defaultCommand;
    const input = { [tool.argKey]: tool.argArray ? ['bash', '-lc', command] : command };
    const call: ScriptedToolCall = { name: tool.name, input, arguments: JSON.stringify(input), command };
    reply = { kind: 'tool_call', text: toolCallText(conv.api, call), toolCall: call };
  } else {
    reply = { kind: 'plain', text: plainText(conv.api, conv.lastUserText) };
  }
  if (conv.thinking) reply.thinking = thinkingText(reply);
  return reply;
}

/**
 * A deterministic value that satisfies a JSON schema (as the APIs take them:
 * JSON Schema, or Gemini's OpenAPI subset with upper-case types): enums give
 * their first value, strings a short text, numbers 10, objects every
 * required property.
 */
export function exampleFor(schema: unknown, depth = 0): unknown {
  if (schema === true || schema === null || typeof schema !== 'object' || depth > 8) return {};
  const sc = schema as Record<string, any>;
  if (Array.isArray(sc.enum) && sc.enum.length) return sc.enum[0];
  if ('const' in sc) return sc.const;
  if (sc.default !== undefined) return sc.default;
  for (const k of ['anyOf', 'oneOf', 'allOf']) if (Array.isArray(sc[k]) && sc[k].length) return exampleFor(sc[k][0], depth + 1);
  const type = String(Array.isArray(sc.type) ? sc.type[0] : (sc.type ?? (sc.properties ? 'object' : 'string'))).toLowerCase();
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = (sc.properties ?? {}) as Record<string, unknown>;
      const req: string[] = Array.isArray(sc.required) ? sc.required : Object.keys(props);
      for (const k of req) out[k] = exampleFor(props[k] ?? {}, depth + 1);
      return out;
    }
    case 'array':
      return sc.minItems ? [exampleFor(sc.items ?? {}, depth + 1)] : [];
    case 'integer':
      return Math.max(Number(sc.minimum ?? 10), 10) <= Number(sc.maximum ?? Infinity) ? Math.max(Number(sc.minimum ?? 10), 10) : Number(sc.minimum ?? 0);
    case 'number':
      return Number(sc.minimum ?? 10);
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      return 'agentsight stand-in';
  }
}

// ---------------------------------------------------------------------------
// Helpers shared by the API renderers

/** A rough, deterministic token count (4 UTF-8 bytes a token, at least 1). */
export function countTokens(text: string): number {
  return Math.max(1, Math.ceil(Buffer.byteLength(text, 'utf8') / 4));
}

/**
 * Split text into stream deltas: whole words (with their leading white
 * space) grouped up to `size` characters; longer words are cut between code
 * points (never inside a surrogate pair). Concatenating the pieces gives the
 * text back exactly.
 */
export function splitDeltas(text: string, size: number): string[] {
  const max = Math.max(1, Math.floor(size));
  const words = text.match(/\s*\S+|\s+/g) ?? [];
  const out: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + w.length > max) {
      out.push(cur);
      cur = '';
    }
    if (w.length <= max) {
      cur += w;
      continue;
    }
    const cps = Array.from(w);
    for (let i = 0; i < cps.length; i += max) {
      const piece = cps.slice(i, i + max).join('');
      if (i + max < cps.length) out.push(piece);
      else cur = piece;
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** Split a JSON text into pieces of about `size` characters (for argument deltas). */
export function splitJson(json: string, size: number): string[] {
  const cps = Array.from(json);
  const max = Math.max(1, Math.floor(size));
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += max) out.push(cps.slice(i, i + max).join(''));
  return out;
}

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Deterministic id material: `len` base62 (or hex) characters from a seed. */
export function stableId(seed: string, len: number, alphabet: 'b62' | 'hex' = 'b62'): string {
  let out = '';
  let n = 0;
  while (out.length < len) {
    const h = createHash('sha256').update(`${n++}:${seed}`).digest();
    if (alphabet === 'hex') out += h.toString('hex');
    else for (const b of h) out += B62[b % 62];
  }
  return out.slice(0, len);
}
