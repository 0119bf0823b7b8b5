/**
 * API keys for tests and the demo: obviously fake (they spell out
 * "AgentSightFakeKey" and never worked anywhere) but shaped exactly like the
 * real ones, so that redaction can be tested on them. The stand-in accepts
 * any non-empty key.
 */

const pad = (s: string, len: number, fill = '0') => (s + fill.repeat(len)).slice(0, len);

/** Anthropic: `sk-ant-api03-` + 93 characters + `AA` (108 in all). */
export const TEST_ANTHROPIC_API_KEY = 'sk-ant-api03-' + pad('AgentSightFakeKey-DoNotUse-StandinOnly_', 93, 'x') + 'AA';

/** OpenAI project key: `sk-proj-` + 74 + `T3BlbkFJ` + 74 characters. */
export const TEST_OPENAI_API_KEY = 'sk-proj-' + pad('AgentSightFakeKey-DoNotUse-StandinOnly_', 74, 'x') + 'T3BlbkFJ' + pad('AgentSightFakeKey_', 74, 'x');

/** Google AI Studio: `AIza` + 35 characters (39 in all). */
export const TEST_GEMINI_API_KEY = 'AIza' + pad('SyAgentSightFakeKey_DoNotUse', 35, 'x');

/** All of them, for redaction tests. */
export const TEST_API_KEYS = [TEST_ANTHROPIC_API_KEY, TEST_OPENAI_API_KEY, TEST_GEMINI_API_KEY] as const;

/** What secret scanners match for these key kinds (for asserting redaction). */
export const API_KEY_PATTERNS = {
  anthropic: /sk-ant-api03-[A-Za-z0-9_-]{93}AA/g,
  openai: /sk-proj-[A-Za-z0-9_-]{74}T3BlbkFJ[A-Za-z0-9_-]{74}/g,
  gemini: /AIza[0-9A-Za-z_-]{35}/g,
} as const;
