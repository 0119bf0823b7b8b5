/**
 * The event every tracer and analyzer speaks. NDJSON output is one of these
 * per line; field names follow the original AgentSight collector.
 *
 * `Event` is the open shape (an analyzer may yield any source); the events
 * this package produces are the `AgentsightEvent` union, told apart by
 * `source`. Derived and self-describing events are made with the
 * constructors below, never as hand-built literals.
 */
import type { HttpEventData } from '../http/types';
import type { WebSocketEventData } from '../http/ws/types';
import type { ProcessEventData } from '../kernel/process-decode';
import type { SslData } from '../kernel/ssl-decode';
import type { LlmCallData } from '../analyzers/llm';
import type { SseMergedData } from '../analyzers/sse-processor';
import type { SessionSummaryData } from '../analyzers/summary';
import type { ExposureData } from '../redact/exposure';

export interface Event<D extends object = Record<string, any>> {
  /** Wall-clock time, Unix epoch milliseconds (integer). */
  timestamp: number;
  /**
   * CLOCK_MONOTONIC nanoseconds of the kernel event, for exact ordering of
   * events within one machine (present on events that come from the kernel
   * and on events derived from them).
   */
  mono_ns?: number;
  /** "process" | "ssl" | "http" | "websocket" | "sse" | "llm" | "exposure" | "stats" | "diagnostic" | "summary" | ... */
  source: string;
  pid: number;
  comm: string;
  /**
   * The exact bytes of `comm` in base64, present only when they are not
   * valid UTF-8 (`comm` then shows U+FFFD in their place); see
   * docs/events.md, lossless text.
   */
  comm_b64?: string;
  /** The container the process runs in (decoded from its cgroup); absent when it is in none. */
  'container.id'?: string;
  /** The Kubernetes pod of that container, when its cgroup path says. */
  'k8s.pod.uid'?: string;
  data: D;
}

/** An event of one source with its data type. */
export type EventOf<S extends string, D extends object> = Event<D> & { source: S };

/** `stats` data: a tracer's counters (periodic or final) or an analyzer's (at the end of its input). */
export type StatsData =
  | ({ event: 'STATS' | 'FINAL'; tracer: string } & Record<string, unknown>)
  | ({ event: 'ANALYZER'; analyzer: string } & Record<string, unknown>)
  | ({ event: 'EXPORT'; exporter: string; final: boolean } & Record<string, unknown>);

/** `diagnostic` data: something about the run a user must know, said once. */
export interface DiagnosticData extends Record<string, unknown> {
  /** What kind of problem (`tls_discovery`, `ndjson_error`, `file_logger_error`, ...). */
  type: string;
  level: 'warning' | 'error';
  /** One sentence for people. */
  message: string;
}

export type ProcessEvent = EventOf<'process', ProcessEventData>;
export type SslEvent = EventOf<'ssl', SslData>;
export type HttpEvent = EventOf<'http', HttpEventData>;
export type WebSocketEvent = EventOf<'websocket', WebSocketEventData>;
export type SseEvent = EventOf<'sse', SseMergedData>;
export type LlmEvent = EventOf<'llm', LlmCallData>;
export type StatsEvent = EventOf<'stats', StatsData>;
export type DiagnosticEvent = EventOf<'diagnostic', DiagnosticData>;
export type SummaryEvent = EventOf<'summary', SessionSummaryData>;
export type ExposureEvent = EventOf<'exposure', ExposureData>;

/** Every event this package produces. */
export type AgentsightEvent =
  ProcessEvent | SslEvent | HttpEvent | WebSocketEvent | SseEvent | LlmEvent | ExposureEvent | StatsEvent | DiagnosticEvent | SummaryEvent;

/** Event sources produced by this package. */
export const SOURCES = [
  'process',
  'ssl',
  'http',
  'websocket',
  'sse',
  'llm',
  'exposure',
  'stats',
  'diagnostic',
  'summary',
] as const satisfies readonly AgentsightEvent['source'][];

/** Narrow an event to one of this package's sources. */
export function isSource<S extends AgentsightEvent['source']>(e: Event, source: S): e is Extract<AgentsightEvent, { source: S }> {
  return e.source === source;
}

/** When an event happened: wall clock and, when known, kernel time. */
export type EventTime = Pick<Event, 'timestamp' | 'mono_ns'>;

/**
 * The head of a new event: time, source, process. Built as one literal and
 * then extended in the fields' order (no object spread: spreading a fresh
 * object into another costs microseconds per event and leaves a slow shape
 * behind, and these are made for every derived event).
 */
function eventHead(at: EventTime | undefined, source: string, pid: number, comm: string): Omit<Event, 'data'> {
  if (!at) return { timestamp: Date.now(), mono_ns: Number(process.hrtime.bigint()), source, pid, comm };
  return typeof at.mono_ns === 'number' ? { timestamp: at.timestamp, mono_ns: at.mono_ns, source, pid, comm } : { timestamp: at.timestamp, source, pid, comm };
}

/** The container of the process an event is about: carried by `who` when it is an event, else by `at` (same process). */
function containerSource(who: Partial<Event>, at: Partial<Event> | undefined): Partial<Event> | null {
  if (typeof who['container.id'] === 'string') return who;
  if (typeof at?.['container.id'] === 'string') return at;
  return null;
}

/**
 * The provider and model an llm call is counted under: the model that
 * answered, else the one asked for ('?' when neither is known).
 */
export function callModel(d: Record<string, unknown>): { provider: string; model: string } {
  return { provider: String(d['gen_ai.provider.name'] ?? '?'), model: String(d['gen_ai.response.model'] ?? d['gen_ai.request.model'] ?? '?') };
}

/**
 * An event derived from others (http from ssl, sse from http, llm from
 * both): it carries the time of the event that completed it (`at`) and the
 * process it is about.
 */
export function derivedEvent<S extends string, D extends object>(
  source: S,
  at: EventTime | undefined,
  who: { pid: number; comm: string; comm_b64?: string },
  data: D,
): EventOf<S, D> {
  const e = eventHead(at, source, who.pid, who.comm) as EventOf<S, D>;
  if (who.comm_b64 !== undefined) e.comm_b64 = who.comm_b64;
  const c = containerSource(who as Partial<Event>, at as Partial<Event> | undefined);
  if (c) {
    e['container.id'] = c['container.id'];
    if (typeof c['k8s.pod.uid'] === 'string') e['k8s.pod.uid'] = c['k8s.pod.uid'];
  }
  e.data = data;
  return e;
}

/** An event agentsight makes about itself: its own pid, `comm` "agentsight", now or at the time given. */
export function ownEvent<S extends string, D extends object>(source: S, data: D, at?: EventTime): EventOf<S, D> {
  const e = eventHead(at, source, process.pid, 'agentsight') as EventOf<S, D>;
  e.data = data;
  return e;
}

/** A websocket event derived from the ssl event `at` that completed it (lib/http/parser/websocket.ts). */
export function webSocketEvent(at: EventTime | undefined, who: { pid: number; comm: string }, data: WebSocketEventData): WebSocketEvent {
  return derivedEvent('websocket', at, who, data);
}

export function statsEvent(data: StatsData, at?: EventTime): StatsEvent {
  return ownEvent('stats', data, at);
}

export function diagnosticEvent(data: DiagnosticData, at?: EventTime): DiagnosticEvent {
  return ownEvent('diagnostic', data, at);
}

/** A secret that a request to an LLM API carried (at the time of the request, about its process). */
export function exposureEvent(at: EventTime | undefined, who: { pid: number; comm: string }, data: ExposureData): ExposureEvent {
  return derivedEvent('exposure', at, who, data);
}

/** Order two events by kernel time when both have it, else by wall clock. */
export function compareEvents(a: Event, b: Event): number {
  if (a.mono_ns !== undefined && b.mono_ns !== undefined) return a.mono_ns - b.mono_ns;
  return a.timestamp - b.timestamp;
}
