/**
 * LlmAnalyzer: one `llm` event per LLM API call, built from the HTTP request
 * (HttpParser), and the merged stream (SseProcessor) or the JSON response;
 * or, for an API spoken over a WebSocket, from the request message and the
 * answer's event messages (./llm-messages, merged as a stream is).
 * What each API looks like is the business of its provider (lib/providers):
 * this analyzer pairs requests with their answers and builds the event.
 * Attribute names follow the OpenTelemetry GenAI semantic conventions where
 * one exists.
 *
 * It also relates what the model asked for to what happened (./tool-links):
 * when a process of the calling agent's tree execs a command that a tool
 * call of an earlier response asked to run, the EXEC event is annotated with
 * that call.
 *
 * Place it after HttpParser and SseProcessor, on a stream that also carries
 * the process events (AgentRunner's global analyzers).
 */
import { stepProcess, type AnalyzerContext, type Emit, type StepAnalyzer } from '../core/analyzer';
import { derivedEvent, statsEvent, type Event } from '../core/event';
import { detectRequest, otelProviderName, type ApiId, type Provider } from '../providers';
import type { LlmMessage, LlmRequest, LlmResponse, LlmToolCall, TokenUsage } from '../providers/types';
import { errorOf, isObj, str, toolCall } from '../providers/util';
import { StreamMerger } from '../sse/stream-merger';
import { SseParser, type SseEvent } from '../sse/parser';
import { MessageCalls, type CallOutcome } from './llm-messages';
import { parsedChunk } from './sse-processor';
import { PendingExchanges, requestRef, type PendingCounters, type PendingEntry, type PendingLimits, type RequestRef } from './llm-pending';
import { ToolLinker, type ToolLinkCounters } from './tool-links';
import type { CallCost } from '../cost/cost';

/** The API of a call: the provider id. */
export type LlmApi = ApiId;
export type { LlmMessage, LlmToolCall };
/** Token usage; only fields the API reported are present. */
export type LlmUsage = TokenUsage;

export interface LlmCallData extends Record<string, unknown> {
  event: 'LLM_CALL';
  call_id: string;
  api: ApiId;
  'gen_ai.provider.name': string;
  'gen_ai.operation.name': string;
  'gen_ai.request.model': string | null;
  'gen_ai.response.model'?: string | null;
  'gen_ai.response.id'?: string | null;
  'gen_ai.response.finish_reasons': string[];
  'gen_ai.usage.input_tokens'?: number;
  'gen_ai.usage.output_tokens'?: number;
  'gen_ai.usage.cache_read.input_tokens'?: number;
  'gen_ai.usage.cache_creation.input_tokens'?: number;
  'gen_ai.request.max_tokens'?: number;
  'gen_ai.request.temperature'?: number;
  'gen_ai.request.top_p'?: number;
  'server.address': string | null;
  'server.port'?: number;
  'http.response.status_code': number | null;
  'error.type'?: string;
  streaming: boolean;
  /** How the call travelled: an HTTP exchange, or messages of a WebSocket. */
  transport: 'http' | 'websocket';
  endpoint: { method: string; host: string | null; path: string };
  request: {
    system: string | null;
    messages: LlmMessage[];
    tools: { name: string; description?: string }[];
    previous_response_id?: string;
    generate?: false;
  };
  response: { text: string; thinking: string; tool_calls: LlmToolCall[] };
  /** usage as the API reported it (input_tokens excludes cache tokens for Anthropic) */
  usage: LlmUsage | null;
  error?: { type: string | null; message: string | null };
  latency_ms: number | null;
  time_to_first_chunk_ms: number | null;
  conn_id: string;
  /** the HTTP exchange (for a WebSocket: its upgrade request) */
  http_seq: number;
  /** WebSocket: `index` of the request message on the connection */
  websocket_index?: number;
  /** the stream ended without its terminal event (idle timeout, connection closed, ...) */
  incomplete?: string;
  /** What the call cost, when its model is priced (CostAnalyzer, lib/cost). */
  cost_usd?: number;
  cost?: CallCost['cost'];
  /** Its model has no price, or its usage is not known. */
  cost_unpriced?: true;
  cost_unpriced_reason?: string;
}

export interface LlmAnalyzerOptions {
  /** How long after a response its tool calls can be linked to execs (ms, default 10 min). */
  linkWindowMs?: number;
  /** Characters kept per message / text field (default 1 MiB). */
  maxTextChars?: number;
  /** Requests waiting for their answers: how long and how many (./llm-pending). */
  pending?: PendingLimits;
  /** Emit a final `stats` event with the analyzer's counters when the input ends. Default true. */
  emitStats?: boolean;
}

/** Counters of the LLM analyzer (its final `stats` event). */
export interface LlmAnalyzerStats extends PendingCounters, ToolLinkCounters {
  /** LLM_CALL events */
  calls: number;
  /** EXEC events linked to a tool call */
  linked_execs: number;
  /** requests never answered, whatever the reason (the sum of the requests_* counters and websocket_calls_dropped) */
  unanswered: number;
  /** requests whose body was not JSON */
  unparsed_bodies: number;
  /** calls over a WebSocket forgotten with their connection (beyond the connections followed at once) */
  websocket_calls_dropped: number;
  /** requests waiting now, and the bytes of their bodies */
  pending: number;
  pending_bytes: number;
  /** tool calls waiting for their exec now */
  tool_calls_waiting: number;
}

function parseBody(d: Record<string, unknown>): unknown {
  if (typeof d.body !== 'string' || d.body === '') return undefined;
  const text = d.body_encoding === 'base64' ? Buffer.from(d.body, 'base64').toString('utf8') : d.body;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface Pending extends PendingEntry {
  /** assigned when the request is seen, so tool calls can be linked while the answer still streams */
  callId: string;
  req: RequestRef;
  bodyBytes: number;
  provider: Provider;
  /**
   * Incremental view of a streamed answer: tool calls become known as soon as
   * they are complete (parser: the SSE text of the body; none when the events
   * come as messages, and the merger then holds the whole answer).
   */
  early?: { parser: SseParser | null; merger: StreamMerger; registered: Set<string>; shared?: boolean };
  transport: LlmCallData['transport'];
  /** For a call over messages: the connection, the upgrade's exchange, the request message. */
  link?: { connId: string; httpSeq: number; index: number };
  parsed: LlmRequest;
  host: string | null;
  path: string;
  method: string;
  streamedResponse: boolean;
}

/** How an answer ended, besides its content. */
interface Outcome extends CallOutcome {
  status: number | null;
}

/** The key of an http/sse event's exchange in the pending table (what PendingExchanges.getExchange() looks up). */
const exchangeKey = (d: Record<string, unknown>) => `${d.conn_id}#${d.seq}`;
const isEventStream = (d: Record<string, unknown>) => String(d.content_type ?? '').includes('text/event-stream');
const numberOrNull = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** The answer a merged stream (`sse` event) carries. */
function fromMerged(d: Record<string, unknown>): LlmResponse {
  const tool_calls = (Array.isArray(d.tool_calls) ? d.tool_calls : []).filter(isObj).map((t) => toolCall(t.id, t.name, t.arguments ?? t.arguments_raw));
  const errors = Array.isArray(d.errors) ? d.errors : [];
  const r: LlmResponse = {
    model: str(d.model),
    id: str(d.response_id),
    text: str(d.text) ?? '',
    thinking: str(d.thinking) ?? '',
    tool_calls,
    finish: str(d.stop_reason),
    usage: isObj(d.usage) ? (d.usage as TokenUsage) : null,
  };
  if (errors.length)
    r.error = errorOf(isObj(errors[0]) && isObj(errors[0].error) ? errors[0] : { error: errors[0] }) ?? { type: null, message: JSON.stringify(errors[0]) };
  return r;
}

export class LlmAnalyzer implements StepAnalyzer {
  readonly name = 'llm';
  private readonly pending: PendingExchanges<Pending>;
  private readonly links: ToolLinker;
  private calls = 0;
  private readonly maxText: number;
  private readonly emitStats: boolean;
  private readonly counters = { calls: 0, linked_execs: 0, unparsed_bodies: 0 };
  /** Calls over the messages of a connection (WebSocket). */
  private readonly messages = new MessageCalls<Pending & { terminal: boolean }>({
    open: (e, provider, body, link) => this.openMessageCall(e, provider, body, link),
    merge: (p, e, ev) => this.feedEvents(p, e, [ev]),
    finish: (at, p, o) => this.build(at, p, fromMerged(p.early?.merger.result() as unknown as Record<string, unknown>), { status: null, ...o }),
  });

  constructor(opts: LlmAnalyzerOptions = {}) {
    this.links = new ToolLinker((opts.linkWindowMs ?? 600_000) * 1e6);
    this.maxText = opts.maxTextChars ?? 1 << 20;
    this.pending = new PendingExchanges(opts.pending);
    this.emitStats = opts.emitStats ?? true;
  }

  /** Counters and what is held now. */
  get stats(): LlmAnalyzerStats {
    const p = this.pending.counters;
    const ws = this.messages.droppedCalls;
    return {
      ...this.counters,
      unanswered: p.requests_expired + p.requests_process_exited + p.requests_evicted + p.requests_unanswered_at_end + ws,
      ...p,
      websocket_calls_dropped: ws,
      ...this.links.counters,
      pending: this.pending.size,
      pending_bytes: this.pending.bytes,
      tool_calls_waiting: this.links.waiting,
    };
  }

  /** The counters that say something was left out, when not zero (the `lost` of the stats event). */
  lost(): Record<string, number> {
    const s = this.stats;
    const out: Record<string, number> = {};
    for (const k of [
      'requests_expired',
      'requests_process_exited',
      'requests_evicted',
      'requests_unanswered_at_end',
      'websocket_calls_dropped',
      'tool_calls_dropped',
    ] as const)
      if (s[k]) out[k] = s[k];
    return out;
  }

  process(input: AsyncIterable<Event>, _ctx: AnalyzerContext): AsyncGenerator<Event> {
    return stepProcess(this, input);
  }

  /** The last input event (the time of the final events). */
  private last: Event | undefined;

  step(e: Event, emit: Emit): void {
    this.last = e;
    if (typeof e.mono_ns === 'number') this.pending.sweep(e.mono_ns);
    if (e.source === 'process') {
      if (this.links.onProcess(e)) this.counters.linked_execs++;
      if (e.data.event === 'EXIT' && typeof e.mono_ns === 'number') this.pending.exited(e.pid, e.mono_ns);
      emit(e);
      return;
    }
    if (e.source === 'websocket') {
      emit(e);
      for (const m of this.messages.onEvent(e)) emit(m);
      return;
    }
    // a request is registered before it is passed on, so what follows can ask for its call (callIdFor)
    const llm = this.onEvent(e);
    emit(e);
    if (llm) emit(llm);
  }

  end(emit: Emit): void {
    const last = this.last;
    for (const m of this.messages.finish(last)) emit(m);
    this.pending.end();
    if (this.emitStats) emit(statsEvent({ event: 'ANALYZER', analyzer: this.name, ...this.stats, lost: this.lost() }, last));
  }

  /** The call_id of the llm event an HTTP exchange (connection, request number) is waiting for, if any. */
  callIdFor(connId: string, seq: number): string | null {
    return this.pending.peek(`${connId}#${seq}`)?.callId ?? null;
  }

  private clip(s: string): string {
    return s.length > this.maxText ? `${s.slice(0, this.maxText)}…[${s.length - this.maxText} more characters]` : s;
  }

  private onEvent(e: Event): Event | null {
    if (e.source !== 'http' && e.source !== 'sse') return null;
    const d = e.data as Record<string, unknown>;
    if (e.source === 'http' && d.type === 'request' && d.role !== 'server') {
      this.onRequest(e, d);
      return null;
    }
    const p = this.pending.getExchange(d.conn_id, d.seq, e.mono_ns ?? 0);
    if (!p) return null;
    if (e.source === 'sse') {
      if (d.type !== 'merged') return null;
      this.pending.take(exchangeKey(d));
      const incomplete = d.end_reason !== 'terminal' && d.end_reason !== 'end_of_body' ? String(d.end_reason) : undefined;
      return this.build(e, p, fromMerged(d), {
        status: numberOrNull(d.status_code),
        latency: numberOrNull(d.duration_ms),
        ttfc: numberOrNull(d.time_to_first_event_ms),
        incomplete,
      });
    }
    switch (d.type) {
      case 'response_headers':
        p.answered = true;
        p.exitDeadlineNs = undefined;
        if (isEventStream(d)) {
          p.streamedResponse = true;
          p.early = { parser: new SseParser(), merger: new StreamMerger(p.path), registered: new Set() };
        }
        return null;
      case 'body_chunk':
        if (p.early) this.onChunk(p, e, d);
        return null;
      case 'response': {
        const status = numberOrNull(d.status_code);
        if (isEventStream(d)) {
          // the merged stream (sse event) carries the answer; keep the status for an error without a stream
          p.streamedResponse = true;
          if (status === null || status < 400) return null;
          this.pending.take(exchangeKey(d));
          return this.build(e, p, p.provider.parseResponse(parseBody(d)), { status, latency: numberOrNull(d.latency_ms), ttfc: numberOrNull(d.ttfb_ms) });
        }
        this.pending.take(exchangeKey(d));
        const incomplete = d.incomplete ? String(d.incomplete_reason ?? 'incomplete') : undefined;
        return this.build(e, p, p.provider.parseResponse(parseBody(d)), {
          status,
          latency: numberOrNull(d.latency_ms),
          ttfc: numberOrNull(d.ttfb_ms),
          incomplete,
        });
      }
    }
    return null;
  }

  private onRequest(e: Event, d: Record<string, unknown>): void {
    const method = String(d.method ?? '');
    const path = String(d.path ?? '');
    const host = (d.host as string | null) ?? null;
    let body: { v: unknown } | undefined;
    const json = () => (body ??= { v: parseBody(d) }).v;
    const det = detectRequest({ method, path, host, json });
    if (!det) return;
    if (json() === undefined) this.counters.unparsed_bodies++;
    const parsed = det.provider.parseRequest(json());
    if (det.model && !parsed.model) parsed.model = det.model;
    if (det.stream !== undefined) parsed.stream = det.stream;
    this.calls++;
    const req = requestRef(e);
    const bodyBytes = typeof d.body === 'string' ? d.body.length : 0;
    this.pending.add(exchangeKey(d), {
      connId: req.conn_id,
      pid: e.pid,
      bytes: bodyBytes,
      bodyBytes,
      lastNs: e.mono_ns ?? 0,
      answered: false,
      callId: `llm-${e.pid}-${this.calls}`,
      req,
      provider: det.provider,
      parsed,
      host,
      path,
      method,
      streamedResponse: false,
      transport: 'http',
    });
  }

  /** A call asked for by a message (lib/analyzers/llm-messages.ts): its answer is merged from the messages that follow. */
  private openMessageCall(
    e: Event,
    provider: Provider,
    body: unknown,
    link: { connId: string; httpSeq: number; index: number; host: string | null; path: string },
  ) {
    if (body === undefined) this.counters.unparsed_bodies++;
    this.calls++;
    const merger = new StreamMerger(link.path);
    return {
      connId: link.connId,
      pid: e.pid,
      bytes: 0,
      bodyBytes: 0,
      lastNs: e.mono_ns ?? 0,
      answered: true,
      callId: `llm-${e.pid}-${this.calls}`,
      req: requestRef(e),
      provider,
      parsed: provider.parseRequest(body),
      host: link.host,
      path: link.path,
      method: 'GET',
      streamedResponse: true,
      transport: 'websocket' as const,
      link: { connId: link.connId, httpSeq: link.httpSeq, index: link.index },
      early: { parser: null, merger, registered: new Set<string>() },
      get terminal() {
        return merger.terminal;
      },
    };
  }

  private build(at: Event, p: Pending, r: LlmResponse, o: Outcome): Event {
    this.counters.calls++;
    const req = p.req;
    const u = r.usage;
    const hostPort = (p.host ?? '').split(':');
    const data: LlmCallData = {
      event: 'LLM_CALL',
      call_id: p.callId,
      api: p.provider.id,
      'gen_ai.provider.name': otelProviderName(p.provider, p.host),
      'gen_ai.operation.name': p.provider.otel.operation,
      'gen_ai.request.model': p.parsed.model,
      'gen_ai.response.model': r.model,
      'gen_ai.response.id': r.id,
      'gen_ai.response.finish_reasons': r.finish ? [r.finish] : [],
      'server.address': hostPort[0] || null,
      'http.response.status_code': o.status,
      streaming: p.streamedResponse || p.parsed.stream,
      transport: p.transport,
      endpoint: { method: p.method, host: p.host, path: p.path },
      request: {
        system: p.parsed.system === null ? null : this.clip(p.parsed.system),
        messages: p.parsed.messages.map((m) => ({ ...m, content: this.clip(m.content) })),
        tools: p.parsed.tools,
        ...(p.parsed.previous_response_id ? { previous_response_id: p.parsed.previous_response_id } : {}),
        ...(p.parsed.generate === false ? { generate: false as const } : {}),
      },
      response: { text: this.clip(r.text), thinking: this.clip(r.thinking), tool_calls: r.tool_calls },
      usage: u,
      latency_ms: o.latency,
      time_to_first_chunk_ms: o.ttfc,
      conn_id: p.link?.connId ?? req.conn_id,
      http_seq: p.link?.httpSeq ?? req.seq,
    };
    if (p.link) data.websocket_index = p.link.index;
    if (hostPort[1]) data['server.port'] = Number(hostPort[1]);
    if (u) {
      // OpenTelemetry: input_tokens includes cached tokens (some APIs report them apart)
      const cached = p.provider.inputExcludesCache ? (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0) : 0;
      if (u.input_tokens !== undefined) data['gen_ai.usage.input_tokens'] = u.input_tokens + cached;
      if (u.output_tokens !== undefined) data['gen_ai.usage.output_tokens'] = u.output_tokens;
      if (u.cache_read_input_tokens !== undefined) data['gen_ai.usage.cache_read.input_tokens'] = u.cache_read_input_tokens;
      if (u.cache_creation_input_tokens !== undefined) data['gen_ai.usage.cache_creation.input_tokens'] = u.cache_creation_input_tokens;
    }
    if (p.parsed.max_tokens !== undefined) data['gen_ai.request.max_tokens'] = p.parsed.max_tokens;
    if (p.parsed.temperature !== undefined) data['gen_ai.request.temperature'] = p.parsed.temperature;
    if (p.parsed.top_p !== undefined) data['gen_ai.request.top_p'] = p.parsed.top_p;
    if (r.error || (o.status !== null && o.status >= 400)) {
      data.error = r.error ?? { type: null, message: null };
      data['error.type'] = r.error?.type ?? String(o.status);
    }
    if (o.incomplete) data.incomplete = o.incomplete;
    const monoNs = at.mono_ns ?? 0;
    r.tool_calls.forEach((t, i) => {
      if (!p.early?.registered.has(t.id ?? `#${i}`)) this.links.expect(p.callId, t, req.pid, monoNs);
    });
    return derivedEvent('llm', at, req, data);
  }

  /**
   * Follow a streamed answer as it arrives: a tool call is registered for
   * linking as soon as its provider says it is complete, because agents
   * (Claude Code among them) start running a tool before the rest of the
   * answer arrives. When an SseProcessor before it parsed and merged the
   * stream from its first chunk, its merger is followed (not parsed again).
   */
  private onChunk(p: Pending, e: Event, d: Record<string, unknown>): void {
    const early = p.early as NonNullable<Pending['early']>;
    const sh = parsedChunk(e);
    if (early.shared === undefined && early.parser !== null) [early.shared, early.merger] = sh ? [true, sh.merger] : [false, early.merger];
    if (!early.shared) this.feedEarly(p, e, d.data_encoding === 'base64' ? Buffer.from(String(d.data), 'base64').toString('utf8') : String(d.data ?? ''));
    else if (sh?.merger === early.merger) {
      if (sh.events.some((ev) => (early.merger.provider ?? p.provider).completesToolCall(ev))) this.register(p, e);
      this.pending.resize(p, p.bodyBytes + early.merger.bufferedChars);
    }
  }

  private feedEarly(p: Pending, e: Event, text: string): void {
    const early = p.early as NonNullable<Pending['early']>;
    let events: SseEvent[];
    try {
      events = early.parser?.push(text) ?? [];
    } catch {
      return;
    }
    this.feedEvents(p, e, events);
    this.pending.resize(p, p.bodyBytes + (early.parser?.bufferedChars ?? 0) + early.merger.bufferedChars);
  }

  /** Merge stream events of an answer, registering each tool call as soon as it is complete. */
  private feedEvents(p: Pending, e: Event, events: readonly SseEvent[]): void {
    const early = p.early as NonNullable<Pending['early']>;
    for (const ev of events) {
      early.merger.add(ev);
      if ((early.merger.provider ?? p.provider).completesToolCall(ev)) this.register(p, e);
    }
  }

  /** Register each complete tool call of the answer so far for linking (once). */
  private register(p: Pending, e: Event): void {
    const early = p.early as NonNullable<Pending['early']>;
    early.merger.result().tool_calls.forEach((t, i) => {
      const key = t.id ?? `#${i}`;
      if (early.registered.has(key) || t.arguments === null || t.name === null) return;
      early.registered.add(key);
      this.links.expect(p.callId, toolCall(t.id, t.name, t.arguments), p.req.pid, e.mono_ns ?? 0);
    });
  }
}
