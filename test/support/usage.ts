/** Token counts of an llm event against what the stand-in sent. */
import { expect } from 'vitest';
import type { SentUsage } from '../../lib/standin';

/**
 * The llm event's token counts are exactly those the stand-in reported:
 * input with the cached tokens (OpenTelemetry's rule), output, and the cache
 * read / write counts when the API reports them (absent otherwise).
 */
export function expectSentUsage(d: Record<string, any>, sent: SentUsage | null | undefined, what: string): void {
  expect(sent, `${what}: the stand-in reported no usage`).toBeTruthy();
  expect(
    {
      input: d['gen_ai.usage.input_tokens'],
      output: d['gen_ai.usage.output_tokens'],
      cacheRead: d['gen_ai.usage.cache_read.input_tokens'],
      cacheWrite: d['gen_ai.usage.cache_creation.input_tokens'],
    },
    `${what}: token counts`,
  ).toStrictEqual({ input: sent?.input, output: sent?.output, cacheRead: sent?.cacheRead, cacheWrite: sent?.cacheWrite });
}
