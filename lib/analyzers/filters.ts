/**
 * HttpFilter (`--http-filter`) and SslFilter (`--ssl-filter`): exclusion
 * filters. An event that matches any of the expressions is dropped; every
 * other event passes unchanged and in order. Grammar: docs/filters.md.
 */
import { stepProcess, type Emit, type StepAnalyzer } from '../core/analyzer';
import type { Event } from '../core/event';
import { UsageError } from '../core/errors';
import { httpDialect, httpField, sslDialect, sslField } from '../filter/dialects';
import type { FieldValue } from '../filter/dialects';
import { evaluate } from '../filter/eval';
import { Dialect, Expr, parseExpr, printExpr } from '../filter/expr';

/** Counters of a filter. */
export interface FilterStats {
  /** Events the filter looked at (its source only). */
  evaluated: number;
  /** Events dropped in all. */
  dropped: number;
  /** Events dropped by each expression (same order as given). */
  dropped_by_expression: number[];
  /** HTTP only: events dropped because an earlier event of the same exchange matched. */
  dropped_with_exchange?: number;
}

abstract class ExclusionFilter implements StepAnalyzer {
  abstract readonly name: string;
  /** The parsed expressions. */
  readonly expressions: readonly Expr[];
  protected readonly counters: FilterStats;

  protected constructor(filters: readonly string[] | string, dialect: Dialect) {
    const list = typeof filters === 'string' ? [filters] : filters;
    if (!Array.isArray(list)) throw new UsageError(`${dialect.flag}: expected a list of expressions`);
    this.expressions = list.map((f) => {
      if (typeof f !== 'string') throw new UsageError(`${dialect.flag}: expression must be a string`);
      return parseExpr(f, dialect);
    });
    this.counters = { evaluated: 0, dropped: 0, dropped_by_expression: list.map(() => 0) };
  }

  /** Canonical text of each expression (what the filter understood). */
  describe(): string[] {
    return this.expressions.map(printExpr);
  }

  /** Counters. */
  stats(): FilterStats {
    return { ...this.counters, dropped_by_expression: [...this.counters.dropped_by_expression] };
  }

  /** Index of the first expression the event matches, or -1. */
  protected match(e: Event, get: (ev: Event, field: string) => FieldValue): number {
    for (let i = 0; i < this.expressions.length; i++) if (evaluate(this.expressions[i], e, get)) return i;
    return -1;
  }

  /** True when the event is to be dropped. */
  abstract drops(e: Event): boolean;

  process(input: AsyncIterable<Event>): AsyncIterable<Event> {
    return stepProcess(this, input);
  }

  step(e: Event, emit: Emit): void {
    if (!this.drops(e)) emit(e);
  }

  end(): void {}
}

/**
 * Drops http (and sse) events matching any expression. When one event of an
 * exchange (connection + seq) matches, the exchange's later events
 * (response_headers, body_chunk, response, merged sse) are dropped too.
 */
export class HttpFilter extends ExclusionFilter {
  readonly name = 'http_filter';
  private readonly droppedExchanges = new Map<string, true>();
  private readonly maxRemembered: number;

  /** @param filters one expression or several (an event matching any is dropped). */
  constructor(filters: readonly string[] | string, options: { maxRememberedExchanges?: number } = {}) {
    super(filters, httpDialect);
    this.maxRemembered = options.maxRememberedExchanges ?? 10_000;
    this.counters.dropped_with_exchange = 0;
  }

  drops(e: Event): boolean {
    if (e.source !== 'http' && e.source !== 'sse') return false;
    this.counters.evaluated++;
    const d = e.data as { conn_id?: unknown; seq?: unknown };
    const key = typeof d.conn_id === 'string' && typeof d.seq === 'number' ? `${d.conn_id}#${d.seq}` : null;
    if (key !== null && this.droppedExchanges.has(key)) {
      this.counters.dropped++;
      this.counters.dropped_with_exchange! += 1;
      return true;
    }
    const i = this.match(e, httpField);
    if (i === -1) return false;
    this.counters.dropped++;
    this.counters.dropped_by_expression[i]++;
    if (key !== null) {
      this.droppedExchanges.set(key, true);
      if (this.droppedExchanges.size > this.maxRemembered) this.droppedExchanges.delete(this.droppedExchanges.keys().next().value as string);
    }
    return true;
  }
}

/** Drops ssl events matching any expression. */
export class SslFilter extends ExclusionFilter {
  readonly name = 'ssl_filter';

  /** @param filters one expression or several (an event matching any is dropped). */
  constructor(filters: readonly string[] | string) {
    super(filters, sslDialect);
  }

  drops(e: Event): boolean {
    if (e.source !== 'ssl') return false;
    this.counters.evaluated++;
    const i = this.match(e, sslField);
    if (i === -1) return false;
    this.counters.dropped++;
    this.counters.dropped_by_expression[i]++;
    return true;
  }
}
