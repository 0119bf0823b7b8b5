/**
 * Agent sessions as OpenTelemetry traces, after the GenAI conventions. One
 * trace per session: a `record`, or under `agent` each selected process whose
 * parent is not selected (and, with no selection, each process that calls an
 * LLM API). The span tree:
 *
 *   invoke_agent {agent}          INTERNAL  the agent process, from exec to exit
 *   ├── chat {model}              CLIENT    one per LLM call, request start to answer end
 *   ├── execute_tool {tool}       INTERNAL  one per tool call, from its arrival to the exit
 *   │   └── exec {program}        INTERNAL    of the commands it caused (or to the request
 *   │       └── exec {program}                that carried its result back)
 *   └── exec {program}            INTERNAL  commands no tool call asked for
 *
 * Times are the kernel's (event times; a chat starts when its request's first
 * byte was written). Spans are planned as events arrive and handed to the SDK
 * (its Tracer and Span, one TracerProvider per session for the session's
 * resource) when they end, complete: their ids are drawn when they are
 * planned, so children can end, and be exported, before their parents.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes } from '@opentelemetry/api';
import { TracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Resource } from '@opentelemetry/resources';
import * as path from 'node:path';
import type { Event } from '../core/event';
import type { LlmCallData } from '../analyzers/llm';
import { agentName, chatAttributes, chatContent, chatMetricAttributes, exitAttributes, processAttributes, put, type ExecInfo } from './genai';
import { boundedValue } from './content';
import { sessionResource, userName } from './resource';
import { AS, ATTR, GEN_AI } from './semconv';
import { hr, MAX_EXECS, MAX_PIDS, MAX_REQUESTS, PlannedIds, remember, type Planned, type Session, type Tool } from './plan';

const VERSION: string = (require('../../package.json') as { version: string }).version;

/** What the metrics learn of one LLM call. */
export interface ChatMeasure {
  attrs: Attributes;
  durationS: number;
  inputTokens?: number;
  outputTokens?: number;
  ttfcS?: number;
}

export interface SessionSpansOptions {
  /** Where ended SDK spans go. */
  processor: SpanProcessor;
  /** The host's resource (sessions add theirs). */
  resource: Resource;
  /** host.name, for session ids. */
  hostName: string;
  /** Export prompts, answers and tool arguments/results. */
  content?: boolean;
  /** Characters per content attribute (default 256 KiB). */
  contentMaxChars?: number;
  /** Spans waiting for their end, at most (default 20000; beyond, the oldest process span ends early, marked incomplete). */
  maxOpenSpans?: number;
  /** Sessions followed at once (default 4096). */
  maxSessions?: number;
  onChat?: (m: ChatMeasure) => void;
}

export interface SessionSpansStats {
  sessions: number;
  spans: number;
  spans_incomplete: number;
  spans_evicted: number;
}

export class SessionSpans {
  private readonly ids = new PlannedIds();
  private readonly sessions = new Map<number, Session>();
  private readonly procSession = new Map<number, Session>();
  private readonly procSpan = new Map<number, Planned>();
  private readonly parents = new Map<number, number>();
  private readonly execs = new Map<number, ExecInfo>();
  private readonly tools = new Map<string, Tool>();
  /** request first byte (kernel ns) by conn_id#seq */
  private readonly requests = new Map<string, number>();
  private offset = -Infinity;
  private last = 0;
  private open = 0;
  private readonly maxOpen: number;
  private readonly maxSessions: number;
  private readonly contentMax: number;
  readonly stats: SessionSpansStats = { sessions: 0, spans: 0, spans_incomplete: 0, spans_evicted: 0 };

  constructor(private readonly o: SessionSpansOptions) {
    this.maxOpen = o.maxOpenSpans ?? 20_000;
    this.maxSessions = o.maxSessions ?? 4096;
    this.contentMax = o.contentMaxChars ?? 256 * 1024;
  }

  /** Epoch ms (fractional) of an event, from its kernel time. */
  private wall(e: Event): number {
    if (typeof e.mono_ns !== 'number') return e.timestamp;
    // timestamp is the floor of the wall-clock ms: the largest difference seen is the closest to the clock offset
    this.offset = Math.max(this.offset, e.timestamp - e.mono_ns / 1e6);
    return e.mono_ns / 1e6 + this.offset;
  }

  private monoToWall(ns: number): number {
    return Number.isFinite(this.offset) ? ns / 1e6 + this.offset : this.last;
  }

  /** Follow one event (already masked). Never throws on bad data. */
  observe(e: Event): void {
    const at = this.wall(e);
    if (at > this.last) this.last = at;
    const d = e.data as Record<string, unknown>;
    if (e.source === 'process') {
      if (d.event === 'EXEC') this.onExec(e, d, at);
      else if (d.event === 'FORK') this.onFork(e, d);
      else if (d.event === 'EXIT') this.onExit(e, d, at);
    } else if (e.source === 'http' && d.type === 'request' && d.role !== 'server') {
      const first = (d.ssl as { first_mono_ns?: unknown } | undefined)?.first_mono_ns;
      remember(this.requests, `${d.conn_id}#${d.seq}`, typeof first === 'number' ? first : (e.mono_ns ?? 0), MAX_REQUESTS);
    } else if (e.source === 'llm' && d.event === 'LLM_CALL') this.onLlm(e, d as LlmCallData, at);
  }

  private execInfo(e: Event, d: Record<string, unknown>, at: number): ExecInfo {
    return {
      pid: e.pid,
      ppid: typeof d.ppid === 'number' ? d.ppid : 0,
      uid: typeof d.uid === 'number' ? d.uid : null,
      comm: e.comm,
      filename: typeof d.filename === 'string' ? d.filename : null,
      argv: Array.isArray(d.argv) ? d.argv.map(String) : [],
      commandLine: typeof d.full_command === 'string' ? d.full_command : '',
      container: e['container.id'] ?? null,
      pod: e['k8s.pod.uid'] ?? null,
      at,
    };
  }

  private onExec(e: Event, d: Record<string, unknown>, at: number): void {
    const info = this.execInfo(e, d, at);
    remember(this.parents, e.pid, info.ppid, MAX_PIDS);
    remember(this.execs, e.pid, info, MAX_EXECS);
    const session = this.procSession.get(e.pid) ?? this.procSession.get(info.ppid);
    if (!session) {
      // a selected process whose parent is not: the root of a session
      if (d.tracked === true) this.startSession(info, at);
      return;
    }
    if (e.pid === session.rootPid) {
      // the agent exec'd again (a wrapper script, a launcher): the root describes what runs now
      Object.assign(session.root.attrs, processAttributes(info));
      session.root.name = `invoke_agent ${agentName(info)}`;
      session.root.attrs[GEN_AI.AGENT_NAME] = agentName(info);
      return;
    }
    const have = this.procSpan.get(e.pid);
    if (have) {
      Object.assign(have.attrs, processAttributes(info));
      have.name = `exec ${path.basename(info.filename ?? info.comm)}`;
      return;
    }
    this.procSession.set(e.pid, session);
    const link = typeof d.llm_call_id === 'string' ? this.toolKey(d.llm_call_id, d.tool_call_id, null) : null;
    const ancestor = this.ancestorSpan(info.ppid, session);
    let tool: Tool | undefined;
    let parent: Planned = ancestor ?? session.root;
    if (link) {
      tool = this.tools.get(link) ?? this.planTool(session, link, at, typeof d.tool_name === 'string' ? d.tool_name : null, d.tool_call_id);
      tool.live.add(e.pid);
      tool.linked = true;
      if (ancestor?.tool !== tool) parent = tool.planned;
    }
    const p = this.plan(session, parent, `exec ${path.basename(info.filename ?? info.comm)}`, SpanKind.INTERNAL, at, processAttributes(info));
    p.tool = tool;
    // bounded by maxOpenSpans (plan() ends the oldest process span beyond it)
    this.procSpan.set(e.pid, p);
  }

  private onFork(e: Event, d: Record<string, unknown>): void {
    if (typeof d.ppid !== 'number') return;
    remember(this.parents, e.pid, d.ppid, MAX_PIDS);
    const s = this.procSession.get(d.ppid);
    if (s && !this.procSession.has(e.pid)) this.procSession.set(e.pid, s);
  }

  private onExit(e: Event, d: Record<string, unknown>, at: number): void {
    const session = this.procSession.get(e.pid);
    this.procSession.delete(e.pid);
    const p = this.procSpan.get(e.pid);
    if (p) {
      this.procSpan.delete(e.pid);
      const { attrs, error } = exitAttributes(d);
      Object.assign(p.attrs, attrs);
      if (error) p.error = error;
      this.emit(p, at);
      const tool = p.tool;
      if (tool && tool.live.delete(e.pid) && tool.live.size === 0) {
        tool.end = Math.max(tool.end ?? 0, at);
        this.maybeEndTool(tool);
      }
    }
    if (session && e.pid === session.rootPid && !session.rootDone) this.endSession(session, at, d);
  }

  private onLlm(e: Event, d: LlmCallData, at: number): void {
    const session = this.procSession.get(e.pid) ?? this.sessionFor(e, at);
    const firstByte = this.requests.get(`${d.conn_id}#${d.http_seq}`);
    const latency = typeof d.latency_ms === 'number' ? d.latency_ms : 0;
    const requestEnd = at - latency;
    const start = firstByte !== undefined ? Math.min(this.monoToWall(firstByte), requestEnd) : requestEnd;
    const parent = e.pid === session.rootPid ? session.root : (this.procSpan.get(e.pid) ?? this.ancestorSpan(e.pid, session) ?? session.root);
    const attrs = chatAttributes(d, requestEnd - start);
    if (this.o.content) Object.assign(attrs, chatContent(d, this.contentMax));
    const model = d['gen_ai.request.model'] ?? d['gen_ai.response.model'];
    const op = String(d['gen_ai.operation.name'] ?? 'chat');
    const chat = this.plan(session, parent, model ? `${op} ${model}` : op, SpanKind.CLIENT, start, attrs);
    if (d['error.type']) chat.error = d.error?.message ?? String(d['error.type']);
    this.emit(chat, at);
    this.account(session, d);
    this.o.onChat?.({
      attrs: chatMetricAttributes(d),
      durationS: Math.max(0, at - start) / 1000,
      inputTokens: d['gen_ai.usage.input_tokens'],
      outputTokens: d['gen_ai.usage.output_tokens'],
      ...(d.streaming && typeof d.time_to_first_chunk_ms === 'number' ? { ttfcS: (d.time_to_first_chunk_ms + requestEnd - start) / 1000 } : {}),
    });
    this.toolResults(session, d, start);
    (d.response?.tool_calls ?? []).forEach((t, i) => {
      const key = this.toolKey(d.call_id, t.id, i);
      const tool = this.tools.get(key) ?? this.planTool(session, key, at, t.name, t.id);
      tool.llmSeen = true;
      if (t.name) tool.planned.attrs[GEN_AI.TOOL_NAME] = t.name;
      if (this.o.content && t.arguments !== undefined) {
        const v = boundedValue(t.arguments, this.contentMax);
        tool.planned.attrs[GEN_AI.TOOL_CALL_ARGUMENTS] = v.text;
        if (v.truncated) tool.planned.attrs[AS.CONTENT_TRUNCATED] = true;
      }
      if (tool.end !== null && tool.live.size === 0) this.endTool(tool, tool.end);
    });
  }

  /** The results a request carries end the tool calls that were waiting for them. */
  private toolResults(session: Session, d: LlmCallData, sentAt: number): void {
    if (this.tools.size === 0) return;
    for (const m of d.request?.messages ?? []) {
      for (const r of m.tool_results ?? []) {
        const tool = r.tool_call_id ? session.toolsById.get(r.tool_call_id) : undefined;
        if (!tool || tool.planned.done) continue;
        if (this.o.content) {
          const v = boundedValue(r.content, this.contentMax);
          tool.planned.attrs[GEN_AI.TOOL_CALL_RESULT] = v.text;
          if (v.truncated) tool.planned.attrs[AS.CONTENT_TRUNCATED] = true;
        }
        if (r.is_error) tool.planned.error = 'the tool reported an error';
        tool.result = true;
        if (!tool.linked) tool.end = sentAt;
        this.maybeEndTool(tool);
      }
    }
    // tool calls without an id cannot be matched: the next request of their session carries their results
    for (const tool of [...this.tools.values()]) {
      if (tool.planned.session !== session || tool.planned.done || tool.planned.attrs[GEN_AI.TOOL_CALL_ID] !== undefined) continue;
      if (!tool.llmSeen || tool.planned.start > sentAt) continue;
      tool.result = true;
      if (!tool.linked) tool.end = sentAt;
      this.maybeEndTool(tool);
    }
  }

  /**
   * A tool call ends once its answer was seen and it is over: the commands it
   * caused have exited, or (no command) its result went back to the model.
   * With content, a call whose commands exited waits for its result too.
   */
  private maybeEndTool(tool: Tool): void {
    if (!tool.llmSeen || tool.end === null || tool.live.size > 0) return;
    if (tool.linked && this.o.content && !tool.result) return;
    this.endTool(tool, tool.end);
  }

  private toolKey(callId: string, toolCallId: unknown, index: number | null): string {
    return typeof toolCallId === 'string' && toolCallId ? `${callId}\0${toolCallId}` : `${callId}\0#${index ?? 0}`;
  }

  private planTool(session: Session, key: string, at: number, name: string | null, toolCallId: unknown): Tool {
    const attrs: Attributes = { [GEN_AI.OPERATION]: 'execute_tool', [GEN_AI.TOOL_TYPE]: 'function' };
    put(attrs, GEN_AI.TOOL_NAME, name ?? undefined);
    put(attrs, GEN_AI.TOOL_CALL_ID, typeof toolCallId === 'string' ? toolCallId : undefined);
    const planned = this.plan(session, session.root, `execute_tool ${name ?? 'tool'}`, SpanKind.INTERNAL, at, attrs);
    const tool: Tool = { key, planned, llmSeen: false, live: new Set(), linked: false, end: null, result: false };
    this.tools.set(key, tool);
    if (typeof toolCallId === 'string' && toolCallId) session.toolsById.set(toolCallId, tool);
    return tool;
  }

  private endTool(tool: Tool, at: number): void {
    this.tools.delete(tool.key);
    const id = tool.planned.attrs[GEN_AI.TOOL_CALL_ID];
    if (typeof id === 'string') tool.planned.session.toolsById.delete(id);
    const name = tool.planned.attrs[GEN_AI.TOOL_NAME];
    if (typeof name === 'string') tool.planned.name = `execute_tool ${name}`;
    this.emit(tool.planned, at);
  }

  /** The session of a process that calls an LLM API outside any session (no selection): it becomes the root of one. */
  private sessionFor(e: Event, at: number): Session {
    const info = this.execs.get(e.pid) ?? {
      pid: e.pid,
      ppid: 0,
      uid: null,
      comm: e.comm,
      filename: null,
      argv: [],
      commandLine: '',
      container: e['container.id'] ?? null,
      pod: e['k8s.pod.uid'] ?? null,
      at,
    };
    const latency = typeof (e.data as { latency_ms?: unknown }).latency_ms === 'number' ? (e.data as { latency_ms: number }).latency_ms : 0;
    return this.startSession(info, Math.min(info.at, at - latency));
  }

  private startSession(info: ExecInfo, at: number): Session {
    if (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.values().next().value as Session;
      this.stats.spans_evicted += oldest.open;
      this.endSession(oldest, this.last, null);
    }
    const name = agentName(info);
    const user = info.uid === null ? null : userName(info.uid);
    const id = `${this.o.hostName}-${info.pid}-${Math.round(at)}`;
    const res: Attributes = { [ATTR.SESSION_ID]: id, [ATTR.PROCESS_PID]: info.pid };
    put(res, ATTR.PROCESS_EXE_NAME, info.filename ? path.basename(info.filename) : info.comm);
    put(res, ATTR.PROCESS_EXE_PATH, info.filename ?? undefined);
    put(res, ATTR.PROCESS_OWNER, user ?? undefined);
    put(res, ATTR.CONTAINER_ID, info.container ?? undefined);
    put(res, ATTR.K8S_POD_UID, info.pod ?? undefined);
    const provider = new TracerProvider({ resource: sessionResource(this.o.resource, res), idGenerator: this.ids, spanProcessors: [this.o.processor] });
    const session = {
      id,
      traceId: this.ids.newTraceId(),
      rootPid: info.pid,
      tracer: provider.getTracer('agentsight', VERSION),
      user,
      open: 0,
      rootDone: false,
      usage: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0, cost: 0, calls: 0, costed: 0 },
      providers: new Map(),
      models: new Set(),
      toolsById: new Map(),
      // the root is planned just below: it needs the session
    } as unknown as Session;
    const attrs: Attributes = { [GEN_AI.OPERATION]: 'invoke_agent', [GEN_AI.AGENT_NAME]: name, ...processAttributes(info) };
    session.root = this.plan(session, null, `invoke_agent ${name}`, SpanKind.INTERNAL, at, attrs);
    this.sessions.set(info.pid, session);
    this.procSession.set(info.pid, session);
    this.stats.sessions++;
    return session;
  }

  private account(s: Session, d: LlmCallData): void {
    const u = s.usage;
    u.calls++;
    u.input += d['gen_ai.usage.input_tokens'] ?? 0;
    u.output += d['gen_ai.usage.output_tokens'] ?? 0;
    u.cacheRead += d['gen_ai.usage.cache_read.input_tokens'] ?? 0;
    u.cacheWrite += d['gen_ai.usage.cache_creation.input_tokens'] ?? 0;
    u.reasoning += d.usage?.reasoning_tokens ?? 0;
    const cost = (d as Record<string, unknown>).cost_usd;
    if (typeof cost === 'number') {
      u.cost += cost;
      u.costed++;
    }
    const p = d['gen_ai.provider.name'];
    if (p) s.providers.set(p, (s.providers.get(p) ?? 0) + 1);
    const m = d['gen_ai.response.model'] ?? d['gen_ai.request.model'];
    if (m) s.models.add(m);
  }

  private endSession(s: Session, at: number, exit: Record<string, unknown> | null): void {
    s.rootDone = true;
    this.sessions.delete(s.rootPid);
    // tool calls still waiting end with the agent
    for (const t of [...this.tools.values()]) if (t.planned.session === s && t.live.size === 0) this.endTool(t, t.end ?? at);
    const a = s.root.attrs;
    const u = s.usage;
    const provider = [...s.providers].sort((x, y) => y[1] - x[1])[0]?.[0];
    put(a, GEN_AI.PROVIDER, provider);
    if (s.models.size === 1) a[GEN_AI.REQUEST_MODEL] = [...s.models][0];
    if (u.calls) {
      Object.assign(a, { [GEN_AI.USAGE_INPUT]: u.input, [GEN_AI.USAGE_OUTPUT]: u.output, [AS.LLM_CALLS]: u.calls });
      if (u.cacheRead) a[GEN_AI.USAGE_CACHE_READ] = u.cacheRead;
      if (u.cacheWrite) a[GEN_AI.USAGE_CACHE_WRITE] = a[GEN_AI.USAGE_CACHE_CREATION] = u.cacheWrite;
      if (u.reasoning) a[GEN_AI.USAGE_REASONING] = u.reasoning;
      if (u.costed) a[AS.COST_USD] = Math.round(u.cost * 1e6) / 1e6;
    }
    if (exit) {
      const { attrs, error } = exitAttributes(exit);
      Object.assign(a, attrs);
      if (error) s.root.error = error;
    } else a[AS.INCOMPLETE] = 'still running';
    this.emit(s.root, at);
  }

  private plan(session: Session, parent: Planned | null, name: string, kind: SpanKind, start: number, attrs: Attributes): Planned {
    if (this.open >= this.maxOpen) this.evictOne();
    this.open++;
    session.open++;
    return { spanId: this.ids.newSpanId(), session, parent, name, kind, start, attrs, done: false };
  }

  private evictOne(): void {
    const [pid, p] = this.procSpan.entries().next().value ?? [];
    if (p === undefined || pid === undefined) return;
    this.procSpan.delete(pid);
    this.stats.spans_evicted++;
    p.attrs[AS.INCOMPLETE] = 'evicted';
    this.emit(p, this.last);
  }

  /** The nearest ancestor of `pid` (itself included) that has a span in this session. */
  private ancestorSpan(pid: number, session: Session): Planned | null {
    let p: number | undefined = pid;
    for (let i = 0; i < 64 && p !== undefined && p > 1; i++) {
      const s = this.procSpan.get(p);
      if (s && s.session === session) return s;
      if (p === session.rootPid) return null;
      p = this.parents.get(p);
    }
    return null;
  }

  /** Make the SDK span of a planned one, with its final attributes, and end it. */
  private emit(p: Planned, end: number): void {
    if (p.done) return;
    p.done = true;
    this.open--;
    const s = p.session;
    s.open--;
    p.attrs[ATTR.SESSION_ID] = s.id;
    if (s.user) p.attrs[ATTR.USER_ID] = s.user;
    if (p.attrs[AS.INCOMPLETE] !== undefined) this.stats.spans_incomplete++;
    const ctx = p.parent ? trace.setSpanContext(ROOT_CONTEXT, { traceId: s.traceId, spanId: p.parent.spanId, traceFlags: TraceFlags.SAMPLED }) : ROOT_CONTEXT;
    this.ids.next = { traceId: s.traceId, spanId: p.spanId };
    try {
      const span = s.tracer.startSpan(p.name, { kind: p.kind, startTime: hr(p.start), attributes: p.attrs }, ctx);
      if (p.error) span.setStatus({ code: SpanStatusCode.ERROR, message: p.error });
      span.end(hr(Math.max(end, p.start)));
    } finally {
      this.ids.next = null;
    }
    this.stats.spans++;
  }

  /** The input ended: every span still open ends now, marked incomplete. */
  end(): void {
    const at = this.last;
    for (const t of [...this.tools.values()]) {
      if (t.end === null || t.live.size > 0) t.planned.attrs[AS.INCOMPLETE] = 'session ended';
      this.endTool(t, t.end ?? at);
    }
    for (const [pid, p] of [...this.procSpan]) {
      this.procSpan.delete(pid);
      p.attrs[AS.INCOMPLETE] = 'still running';
      this.emit(p, at);
    }
    for (const s of [...this.sessions.values()]) this.endSession(s, at, null);
  }
}
