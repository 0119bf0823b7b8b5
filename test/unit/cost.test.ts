/**
 * Prices and cost: resolution of model names (aliases, dated snapshots,
 * provider prefixes, nothing guessed), the token split of each API, the
 * recorded fixtures priced to the exact amounts their usage gives, and
 * the --prices override.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CostAnalyzer } from '../../lib/analyzers/cost';
import { SessionSummary, summaryText } from '../../lib/analyzers/summary';
import { chain } from '../../lib/core/analyzer';
import type { Event } from '../../lib/core/event';
import { UsageError } from '../../lib/core/errors';
import { priceCall } from '../../lib/cost/cost';
import { formatUsd } from '../../lib/cost/format';
import { Prices } from '../../lib/cost/prices';
import { fixtureNames, sessionEvents, tempDir } from '../support/sessions';

const prices = Prices.shipped();
const tmp = tempDir();
afterAll(() => tmp.remove());

const llm = (data: Record<string, unknown>): Event => ({
  timestamp: 1,
  source: 'llm',
  pid: 1,
  comm: 'a',
  data: { event: 'LLM_CALL', call_id: 'llm-1-1', ...data },
});

describe('price resolution', () => {
  const cases: [string, string, string | null][] = [
    ['anthropic', 'claude-sonnet-4-5', 'claude-sonnet-4-5'],
    ['anthropic', 'claude-sonnet-4-5-20250929', 'claude-sonnet-4-5'],
    ['anthropic', 'claude-sonnet-4-5@20250929', 'claude-sonnet-4-5'],
    ['anthropic', 'anthropic/claude-haiku-4-5', 'claude-haiku-4-5'],
    ['anthropic', 'claude-opus-4-20250514', 'claude-opus-4-0'],
    ['anthropic', 'claude-opus-4-5-20251101', 'claude-opus-4-5'],
    ['anthropic', 'Claude-Sonnet-4-6', 'claude-sonnet-4-6'],
    ['anthropic', 'claude-3-5-haiku-latest', 'claude-3-5-haiku'],
    ['openai', 'gpt-4o-2024-08-06', 'gpt-4o'],
    ['openai', 'gpt-4o-2024-05-13', 'gpt-4o-2024-05-13'],
    ['openai', 'gpt-4o-mini-2024-07-18', 'gpt-4o-mini'],
    ['openai', 'gpt-4.1-2025-04-14', 'gpt-4.1'],
    ['openai', 'openai/gpt-5-mini', 'gpt-5-mini'],
    ['openai', 'o3-2025-04-16', 'o3'],
    ['gcp.gemini', 'models/gemini-2.5-flash', 'gemini-2.5-flash'],
    ['gcp.gemini', 'gemini-2.0-flash-001', 'gemini-2.0-flash'],
    ['gcp.gemini', 'gemini-2.5-pro', 'gemini-2.5-pro'],
    // never a guess
    ['openai', 'gpt-4o-custom', null],
    ['openai', 'gpt-4', null],
    ['openai', 'llama3', null],
    ['openai', 'gpt-4o-mini-tts', null],
    ['gcp.gemini', 'gemini-2.5-flash-preview-09-2025', null],
    ['azure.ai.openai', 'gpt-4o', null],
    ['openai', 'claude-sonnet-4-5', null],
    ['openai', 'anthropic/claude-sonnet-4-5', null],
    ['anthropic', '', null],
  ];
  for (const [provider, model, want] of cases)
    it(`${provider} ${model || '(none)'} -> ${want ?? 'unpriced'}`, () => {
      expect(prices.resolve(provider, model)?.model ?? null).toBe(want);
    });

  it('every shipped price has a date and a source URL, and the required models are there', () => {
    for (const [provider, p] of Object.entries(prices.providers))
      for (const [model, m] of Object.entries(p.models)) {
        expect(m.as_of, `${provider}/${model}`).toMatch(/^20\d\d-\d\d-\d\d$/);
        expect(m.source, `${provider}/${model}`).toMatch(/^https:\/\//);
      }
    expect(prices.resolve('anthropic', 'claude-sonnet-4-5')?.price).toMatchObject({ input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 });
    for (const [pr, m] of [
      ['anthropic', 'claude-opus-4-1'],
      ['anthropic', 'claude-haiku-4-5'],
      ['openai', 'gpt-4.1'],
      ['openai', 'gpt-4o'],
      ['openai', 'gpt-5'],
      ['openai', 'gpt-5-mini'],
      ['openai', 'o3'],
      ['openai', 'o4-mini'],
      ['gcp.gemini', 'gemini-2.5-pro'],
      ['gcp.gemini', 'gemini-2.5-flash'],
    ])
      expect(prices.resolve(pr, m), `${pr} ${m}`).not.toBeNull();
  });

  it('package.json ships the table', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('data/');
  });
});

describe('cost of a call', () => {
  it('Anthropic: input_tokens excludes cache reads and writes, each priced apart', () => {
    const c = priceCall(
      {
        api: 'anthropic.messages',
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.response.model': 'claude-sonnet-4-5-20250929',
        usage: { input_tokens: 1000, output_tokens: 500, cache_read_input_tokens: 20000, cache_creation_input_tokens: 3000 },
      },
      prices,
    );
    expect(c).toEqual({
      cost_usd: 0.02775,
      cost: {
        input_usd: 0.003,
        output_usd: 0.0075,
        cache_read_usd: 0.006,
        cache_write_usd: 0.01125,
        priced_as: 'anthropic/claude-sonnet-4-5',
        price_as_of: '2025-11-24',
      },
    });
  });

  it('OpenAI: prompt tokens include the cached ones', () => {
    const c = priceCall(
      {
        api: 'openai.chat_completions',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        usage: { input_tokens: 10000, cache_read_input_tokens: 8000, output_tokens: 100 },
      },
      prices,
    );
    expect(c).toMatchObject({ cost_usd: 0.016, cost: { input_usd: 0.005, cache_read_usd: 0.01, output_usd: 0.001, cache_write_usd: 0 } });
  });

  it('Gemini: thinking tokens are billed as output; the long-prompt tier applies above 200k input tokens', () => {
    const small = priceCall(
      {
        api: 'gemini.generate_content',
        'gen_ai.provider.name': 'gcp.gemini',
        'gen_ai.request.model': 'gemini-2.5-flash',
        usage: { input_tokens: 1000, output_tokens: 100, reasoning_tokens: 50 },
      },
      prices,
    );
    expect(small).toMatchObject({ cost_usd: 0.000675, cost: { input_usd: 0.0003, output_usd: 0.000375 } });
    const big = priceCall(
      {
        api: 'gemini.generate_content',
        'gen_ai.provider.name': 'gcp.gemini',
        'gen_ai.response.model': 'gemini-2.5-pro',
        usage: { input_tokens: 300000, cache_read_input_tokens: 100000, output_tokens: 1000, reasoning_tokens: 2000 },
      },
      prices,
    );
    expect(big).toMatchObject({ cost_usd: 0.57, cost: { input_usd: 0.5, cache_read_usd: 0.025, output_usd: 0.045, tier_above_input_tokens: 200000 } });
  });

  it('the response model is tried first, then the request model', () => {
    const c = priceCall(
      {
        api: 'openai.responses',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4.1',
        'gen_ai.response.model': 'my-deployment',
        usage: { input_tokens: 1e6 },
      },
      prices,
    );
    expect(c).toMatchObject({ cost_usd: 2, cost: { priced_as: 'openai/gpt-4.1' } });
  });

  it('an unpriced model or an unknown usage gets no number, and says why', () => {
    expect(
      priceCall({ api: 'openai.chat_completions', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'llama3', usage: { input_tokens: 5 } }, prices),
    ).toEqual({
      cost_unpriced: true,
      cost_unpriced_reason: 'no price for model llama3 of provider openai',
    });
    expect(
      priceCall({ api: 'anthropic.messages', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-haiku-4-5', usage: null }, prices),
    ).toEqual({
      cost_unpriced: true,
      cost_unpriced_reason: 'no token usage reported',
    });
  });

  it('CostAnalyzer adds the fields to llm events, keeps a recorded cost unless asked to price again', () => {
    const e = llm({
      api: 'anthropic.messages',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-haiku-4-5',
      usage: { input_tokens: 1e6, output_tokens: 1e6 },
    });
    const a = new CostAnalyzer();
    const priced = a.price(e);
    expect(priced.data.cost_usd).toBe(6);
    expect(e.data.cost_usd).toBeUndefined();
    const recorded = { ...e, data: { ...e.data, cost_usd: 1 } };
    expect(a.price(recorded).data.cost_usd).toBe(1);
    expect(new CostAnalyzer({ reprice: true }).price(recorded).data.cost_usd).toBe(6);
    const other = { ...e, data: { ...e.data, 'gen_ai.request.model': 'claude-next' } };
    const un = a.price(other).data;
    expect(un.cost_usd).toBeUndefined();
    expect(un.cost_unpriced).toBe(true);
    expect(a.stats()).toEqual({ priced: 1, unpriced: 1, kept: 1 });
  });

  it('formats amounts for people', () => {
    expect([0, 0.000582, 0.0123, 1.5, 123.456].map(formatUsd)).toEqual(['$0.00', '$0.000582', '$0.0123', '$1.50', '$123.46']);
  });
});

/** What each fixture's calls cost by hand: tokens x list price per million. */
const FIXTURE_COST: Record<string, number> = {
  'curl-anthropic-gzip': (11 * 3 + 63 * 15) / 1e6,
  'curl-gemini-sse': (13 * 0.3 + 64 * 2.5) / 1e6,
  'python-anthropic-stream': (84 * 3 + 22 * 15 + 177 * 3 + 71 * 15) / 1e6,
  'python-openai-json': (91 * 0.15 + 5 * 0.6 + 198 * 0.15 + 107 * 0.6) / 1e6,
  'sdk-anthropic-json': (80 * 3 + 20 * 15 + 170 * 3 + 69 * 15) / 1e6,
  'sdk-anthropic-stream-thinking': (87 * 3 + 56 * 15 + 258 * 3 + 93 * 15) / 1e6,
  'sdk-openai-chat-stream': (87 * 0.15 + 5 * 0.6 + 151 * 0.15 + 69 * 0.6) / 1e6,
  'sdk-openai-responses-stream': (91 * 2 + 7 * 8 + 146 * 2 + 69 * 8) / 1e6,
};

describe('cost of the recorded fixtures', () => {
  it('covers every fixture', () => expect(Object.keys(FIXTURE_COST).sort()).toEqual(fixtureNames()));
  for (const name of fixtureNames())
    it(name, async () => {
      const events = await sessionEvents(name);
      const calls = events.filter((e) => e.source === 'llm');
      expect(calls.length).toBeGreaterThan(0);
      for (const c of calls) {
        const p = prices.resolve(c.data['gen_ai.provider.name'], c.data['gen_ai.response.model']);
        expect(p).not.toBeNull();
        const u = c.data.usage;
        expect(c.data.cost_usd).toBeCloseTo((u.input_tokens * p!.price.input + u.output_tokens * p!.price.output) / 1e6, 12);
        expect(c.data.cost.input_usd + c.data.cost.output_usd + c.data.cost.cache_read_usd + c.data.cost.cache_write_usd).toBeCloseTo(c.data.cost_usd, 12);
      }
      const summary = events.find((e) => e.source === 'summary')!.data;
      expect(summary.cost_usd).toBeCloseTo(FIXTURE_COST[name], 12);
      expect(summary.unpriced_calls).toBe(0);
      expect(summary.models[0].cost_usd).toBeCloseTo(FIXTURE_COST[name], 12);
      expect(summaryText(summary as never).join('\n')).toContain(`cost: ${formatUsd(FIXTURE_COST[name])}`);
    });
});

describe('summary with unpriced calls', () => {
  it('totals the priced calls and counts the others', async () => {
    const s = new SessionSummary();
    const events = [
      llm({ api: 'anthropic.messages', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-haiku-4-5', usage: { input_tokens: 1e6 } }),
      llm({ api: 'openai.chat_completions', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'local-model', usage: { input_tokens: 10 } }),
    ];
    async function* src() {
      yield* events;
    }
    for await (const _ of chain(src(), [new CostAnalyzer(), s], { signal: new AbortController().signal })) void _;
    expect(s.result).toMatchObject({ cost_usd: 1, unpriced_calls: 1 });
    const text = summaryText(s.result!).join('\n');
    expect(text).toContain('anthropic claude-haiku-4-5: 1 call(s), 1000000 input / 0 output tokens, $1.00');
    expect(text).toContain('openai local-model: 1 call(s), 10 input / 0 output tokens, unpriced');
    expect(text).toContain('cost: $1.00 (1 call(s) without a price not included)');
  });
});

describe('--prices FILE', () => {
  const write = (name: string, v: unknown) => {
    const f = path.join(tmp.dir, name);
    fs.writeFileSync(f, typeof v === 'string' ? v : JSON.stringify(v));
    return f;
  };

  it('is merged over the shipped table: new providers and models, replaced prices', () => {
    const f = write('ok.json', {
      providers: {
        anthropic: { models: { 'claude-sonnet-4-5': { input: 2, output: 10, as_of: '2026-12-01', source: 'contract 42' } } },
        local: {
          match: ['openai'],
          source: 'https://example.invalid/prices',
          as_of: '2026-12-01',
          models: { llama3: { input: 0.1, output: 0.2, aliases: ['llama3:8b'] } },
        },
      },
    });
    const p = Prices.load(f);
    expect(p.resolve('anthropic', 'claude-sonnet-4-5-20250929')?.price).toMatchObject({ input: 2, output: 10, source: 'contract 42' });
    expect(p.resolve('anthropic', 'claude-haiku-4-5')?.price.input).toBe(1);
    expect(p.resolve('openai', 'llama3:8b')?.model).toBe('llama3');
    expect(p.resolve('openai', 'gpt-4o')?.provider).toBe('openai');
  });

  const bad: [string, unknown, RegExp][] = [
    ['not JSON', '{', /not JSON/],
    ['no providers', { models: {} }, /expected \{"providers"/],
    [
      'a negative price',
      { providers: { openai: { models: { x: { input: -1, output: 1, as_of: '2026-01-01', source: 's' } } } } },
      /models\.x: input: expected a price/,
    ],
    ['no date', { providers: { openai: { models: { x: { input: 1, output: 1, source: 's' } } } } }, /as_of/],
    ['a new provider without match', { providers: { mine: { models: {} } } }, /providers\.mine: match/],
    [
      'an alias naming two models',
      { providers: { openai: { models: { x: { input: 1, output: 1, as_of: '2026-01-01', source: 's', aliases: ['gpt-4o'] } } } } },
      /"gpt-4o" names both/,
    ],
    ['another format', { format: 'v9', providers: {} }, /format/],
  ];
  for (const [what, v, msg] of bad)
    it(`${what} is a usage error`, () => {
      const f = write(`${what.replace(/\W+/g, '-')}.json`, v);
      expect(() => Prices.load(f)).toThrow(UsageError);
      expect(() => Prices.load(f)).toThrow(msg);
    });

  it('a missing file is a usage error naming it', () => {
    expect(() => Prices.load(path.join(tmp.dir, 'nope.json'))).toThrow(/--prices .*nope\.json: cannot read it/);
  });
});
