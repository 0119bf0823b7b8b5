/**
 * CostAnalyzer: what each LLM call cost. Place it after LlmAnalyzer: every
 * `llm` event gets `cost_usd` and its split (`cost`: input, output, cache
 * read, cache write, the table entry it was priced as) when its model is in
 * the price table and its usage is known, else `cost_unpriced: true` with
 * `cost_unpriced_reason`. Never a guessed price (lib/cost/prices.ts).
 */
import { stepProcess, type AnalyzerContext, type Emit, type StepAnalyzer } from '../core/analyzer';
import type { Event } from '../core/event';
import { priceCall } from '../cost/cost';
import { Prices } from '../cost/prices';

export interface CostAnalyzerOptions {
  /** The price table (default: the shipped one). */
  prices?: Prices;
  /**
   * Price calls that already carry a cost again (a saved session priced with
   * a newer or an overriding table). Default false: a recorded cost stays.
   */
  reprice?: boolean;
}

export interface CostAnalyzerStats {
  priced: number;
  unpriced: number;
  /** Calls that already carried a cost and kept it. */
  kept: number;
}

export class CostAnalyzer implements StepAnalyzer {
  readonly name = 'cost';
  readonly prices: Prices;
  private readonly reprice: boolean;
  private readonly counters: CostAnalyzerStats = { priced: 0, unpriced: 0, kept: 0 };

  constructor(opts: CostAnalyzerOptions = {}) {
    this.prices = opts.prices ?? Prices.shipped();
    this.reprice = opts.reprice ?? false;
  }

  stats(): CostAnalyzerStats {
    return { ...this.counters };
  }

  /** The event with its cost fields (a new event; the input is not changed). */
  price(e: Event): Event {
    if (e.source !== 'llm' || e.data.event !== 'LLM_CALL') return e;
    if (!this.reprice && (typeof e.data.cost_usd === 'number' || e.data.cost_unpriced === true)) {
      this.counters.kept++;
      return e;
    }
    const { cost_usd: _c, cost: _s, cost_unpriced: _u, cost_unpriced_reason: _r, ...rest } = e.data;
    const c = priceCall(rest, this.prices);
    if ('cost_usd' in c) this.counters.priced++;
    else this.counters.unpriced++;
    return { ...e, data: { ...rest, ...c } };
  }

  process(input: AsyncIterable<Event>, _ctx: AnalyzerContext): AsyncGenerator<Event> {
    return stepProcess(this, input);
  }

  step(e: Event, emit: Emit): void {
    emit(this.price(e));
  }

  end(): void {}
}
