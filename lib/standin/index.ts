/**
 * Local HTTPS stand-ins for the LLM APIs, for tests and the demo.
 * See docs/standin.md.
 */
export { startStandin, replyFor, FIXED_CREATED } from './server';
export type { Standin, StandinOptions, RecordedRequest, RecordedResponse } from './server';
export type { SentUsage } from './apis/types';
export { createTlsMaterial } from './tls';
export type { TlsMaterial, TlsMaterialOptions } from './tls';
export {
  scriptReply,
  commandFromPrompt,
  pickTool,
  splitDeltas,
  finalText,
  plainText,
  toolCallText,
  thinkingText,
  DEFAULT_COMMAND,
  SHELL_TOOL_NAMES,
} from './script';
export type { ApiKind, Conversation, ScriptedReply, ScriptedToolCall, ToolResult, OfferedTool } from './script';
export { apiError, KNOB_STATUSES } from './errors';
export type { Provider, ApiErrorReply } from './errors';
export { ENCODINGS, negotiate, encodeBody, zstdBackend } from './encoding';
export type { Encoding } from './encoding';
export { TEST_ANTHROPIC_API_KEY, TEST_OPENAI_API_KEY, TEST_GEMINI_API_KEY, TEST_API_KEYS, API_KEY_PATTERNS } from './keys';
