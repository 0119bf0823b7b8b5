/**
 * The spans of a session while they are planned: what SessionSpans
 * (lib/otel/spans.ts) knows of each until it ends and is handed to the SDK.
 */
import type { Attributes, HrTime, SpanKind, Tracer } from '@opentelemetry/api';
import { RandomIdGenerator, type IdGenerator } from '@opentelemetry/sdk-trace';

export interface Session {
  id: string;
  traceId: string;
  rootPid: number;
  root: Planned;
  tracer: Tracer;
  user: string | null;
  open: number;
  rootDone: boolean;
  usage: { input: number; output: number; cacheRead: number; cacheWrite: number; reasoning: number; cost: number; calls: number; costed: number };
  providers: Map<string, number>;
  models: Set<string>;
  /** tool calls of this session not ended, by tool call id */
  toolsById: Map<string, Tool>;
}

export interface Planned {
  spanId: string;
  session: Session;
  parent: Planned | null;
  name: string;
  kind: SpanKind;
  start: number;
  attrs: Attributes;
  error?: string;
  /** the tool call a process span belongs to */
  tool?: Tool;
  done: boolean;
}

export interface Tool {
  key: string;
  planned: Planned;
  llmSeen: boolean;
  /** linked processes still running */
  live: Set<number>;
  linked: boolean;
  /** when it is known to have ended (last linked exit, or its result sent back) */
  end: number | null;
  /** its result was seen in a later request */
  result: boolean;
}

/** Ids drawn when a span is planned and given to the SDK when it is made. */
export class PlannedIds implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  next: { traceId: string; spanId: string } | null = null;
  generateTraceId(): string {
    return this.next?.traceId ?? this.random.generateTraceId();
  }
  generateSpanId(): string {
    return this.next?.spanId ?? this.random.generateSpanId();
  }
  newTraceId(): string {
    return this.random.generateTraceId();
  }
  newSpanId(): string {
    return this.random.generateSpanId();
  }
}

export function hr(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.min(999_999_999, Math.max(0, Math.round((ms - s * 1000) * 1e6)))];
}

export const MAX_PIDS = 65_536;
/** Execs remembered outside sessions (the agent a later LLM call makes a session root): argv is kept, so fewer. */
export const MAX_EXECS = 4096;
export const MAX_REQUESTS = 4096;

/** Bounded insertion-ordered map: the oldest entry goes first. */
export function remember<K, V>(m: Map<K, V>, k: K, v: V, max: number): void {
  m.delete(k);
  m.set(k, v);
  if (m.size > max) m.delete(m.keys().next().value as K);
}
