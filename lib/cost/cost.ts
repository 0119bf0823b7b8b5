/**
 * What an LLM call cost: its token counts, split the way prices are
 * (uncached input, cache reads, cache writes, output), times the price of
 * its model. The split follows each API's own accounting (lib/providers):
 * Anthropic's `input_tokens` excludes cache reads and writes, OpenAI's and
 * Gemini's prompt counts include cached tokens; Gemini's output count
 * excludes thinking tokens, which are billed as output.
 */
import { getProvider } from '../providers';
import type { TokenUsage } from '../providers/types';
import { roundUsd } from './format';
import type { ModelPrice, Prices } from './prices';

/** Tokens as they are priced. */
export interface PricedTokens {
  /** Input tokens neither read from nor written to the cache. */
  input: number;
  cache_read: number;
  cache_write: number;
  /** Output tokens, reasoning included. */
  output: number;
}

/** The cost fields of an `llm` event when its model is priced and its usage known. */
export interface CallCost {
  cost_usd: number;
  cost: {
    input_usd: number;
    output_usd: number;
    cache_read_usd: number;
    cache_write_usd: number;
    /** The table entry: `provider/model`. */
    priced_as: string;
    /** Date of the price. */
    price_as_of: string;
    /** Set when a long-input tier applied: its threshold in input tokens. */
    tier_above_input_tokens?: number;
  };
}

/** The fields of an `llm` event that cannot be priced. */
export interface Unpriced {
  cost_unpriced: true;
  /** Why, for people. */
  cost_unpriced_reason: string;
}

/** What pricing needs of an `llm` event's data. */
export interface PricedCall {
  api?: unknown;
  'gen_ai.provider.name'?: unknown;
  'gen_ai.request.model'?: unknown;
  'gen_ai.response.model'?: unknown;
  usage?: unknown;
}

/** The usage of a call split as prices are; null for an API this package does not know. */
export function pricedTokens(api: string, u: TokenUsage): PricedTokens | null {
  const p = getProvider(api);
  if (!p) return null;
  const cacheRead = u.cache_read_input_tokens ?? 0;
  const cacheWrite = u.cache_creation_input_tokens ?? 0;
  const reported = u.input_tokens ?? 0;
  const input = p.inputExcludesCache ? reported : Math.max(0, reported - cacheRead - cacheWrite);
  const output = (u.output_tokens ?? 0) + (p.outputExcludesReasoning ? (u.reasoning_tokens ?? 0) : 0);
  return { input, cache_read: cacheRead, cache_write: cacheWrite, output };
}

/** The cost of priced tokens at a model's price (its long-input tier when the input exceeds it). */
export function costOf(t: PricedTokens, price: ModelPrice, pricedAs: string): CallCost {
  const totalInput = t.input + t.cache_read + t.cache_write;
  const tier = price.above && totalInput > price.above.input_tokens ? price.above : undefined;
  const input = tier?.input ?? price.input;
  const rate = {
    input,
    output: tier?.output ?? price.output,
    cache_read: tier?.cache_read ?? price.cache_read ?? input,
    cache_write: tier?.cache_write ?? price.cache_write ?? input,
  };
  const part = (n: number, perMillion: number) => roundUsd((n * perMillion) / 1e6);
  const cost: CallCost['cost'] = {
    input_usd: part(t.input, rate.input),
    output_usd: part(t.output, rate.output),
    cache_read_usd: part(t.cache_read, rate.cache_read),
    cache_write_usd: part(t.cache_write, rate.cache_write),
    priced_as: pricedAs,
    price_as_of: price.as_of,
  };
  if (tier) cost.tier_above_input_tokens = tier.input_tokens;
  return { cost_usd: roundUsd(cost.input_usd + cost.output_usd + cost.cache_read_usd + cost.cache_write_usd), cost };
}

/** The cost fields of a call (`llm` event data): priced, or unpriced with the reason. */
export function priceCall(d: PricedCall, prices: Prices): CallCost | Unpriced {
  const provider = typeof d['gen_ai.provider.name'] === 'string' ? d['gen_ai.provider.name'] : null;
  const models = [d['gen_ai.response.model'], d['gen_ai.request.model']].filter((m): m is string => typeof m === 'string' && m !== '');
  let resolved = null;
  for (const m of models) if ((resolved = prices.resolve(provider, m))) break;
  if (!resolved) {
    const what = models[0] ? `model ${models[0]}` : 'a call without a model name';
    return { cost_unpriced: true, cost_unpriced_reason: `no price for ${what} of provider ${provider ?? '?'}` };
  }
  const usage = d.usage;
  if (typeof usage !== 'object' || usage === null) return { cost_unpriced: true, cost_unpriced_reason: 'no token usage reported' };
  const tokens = pricedTokens(String(d.api ?? ''), usage as TokenUsage);
  if (!tokens) return { cost_unpriced: true, cost_unpriced_reason: `unknown API ${String(d.api)}` };
  return costOf(tokens, resolved.price, `${resolved.provider}/${resolved.model}`);
}
