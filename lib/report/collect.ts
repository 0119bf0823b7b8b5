/**
 * A report of saved sessions: what was called, what it cost, which tool
 * calls ran which commands, what was written and contacted, what went wrong.
 * Built from the events of one or more NDJSON files (several sessions
 * appended to one file are told apart by their `summary` events), in one
 * pass and bounded memory: lists stop growing at their limit and say how
 * many they left out.
 */
import { callModel, type Event } from '../core/event';
import { roundUsd } from '../cost/format';
import { pricedTokens } from '../cost/cost';
import { lossSummary } from '../session/run';
import type { TokenUsage } from '../providers/types';

/** p50/p90/p99 (nearest rank) and max of a list of durations, ms; null when there were none. */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ReportModel {
  provider: string;
  model: string;
  calls: number;
  errors: number;
  /** Input tokens neither read from nor written to the cache (every API counted the same way). */
  input_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  /** Output tokens as billed (reasoning included). */
  output_tokens: number;
  reasoning_tokens: number;
  /** What its priced calls cost; unpriced_calls were not priced. */
  cost_usd: number;
  unpriced_calls: number;
  latency_ms: Percentiles | null;
  /** Time to the first streamed chunk (or the first response byte). */
  ttft_ms: Percentiles | null;
}

export interface ReportCommand {
  pid: number;
  ppid: number;
  command: string;
  time: number;
  exit_code?: number | null;
  signal?: string | null;
  duration_ms?: number;
  llm_call_id?: string;
  tool_call_id?: string | null;
  tool_name?: string | null;
}

export interface ReportToolCall {
  llm_call_id: string;
  tool_call_id: string | null;
  name: string | null;
  /** What a shell-like tool was asked to run. */
  command: string | null;
  time: number;
  /** pids of the commands linked to it (see commands). */
  pids: number[];
}

export interface ReportTool {
  name: string;
  calls: number;
  /** Calls that ran at least one command. */
  ran_commands: number;
}

export interface ReportFileWritten {
  path: string;
  opens: number;
  /** Opens that failed (error is the first one's). */
  failed: number;
  error?: string;
  pids: number[];
  flags: string[];
  first_time: number;
}

export interface ReportHost {
  host: string;
  requests: number;
  llm_calls: number;
}

export type ReportErrorKind = 'http' | 'llm' | 'incomplete' | 'loss' | 'diagnostic' | 'damaged_line';

export interface ReportError {
  kind: ReportErrorKind;
  time: number | null;
  message: string;
}

export interface SessionReport {
  files: { path: string; events: number; damaged_lines: number }[];
  sessions: number;
  events: number;
  events_by_source: Record<string, number>;
  damaged_lines: number;
  start: number | null;
  end: number | null;
  totals: {
    calls: number;
    errors: number;
    input_tokens: number;
    cache_read_tokens: number;
    cache_write_tokens: number;
    output_tokens: number;
    reasoning_tokens: number;
    cost_usd: number;
    unpriced_calls: number;
  };
  models: ReportModel[];
  tools: ReportTool[];
  tool_calls: ReportToolCall[];
  tool_calls_not_listed: number;
  commands: ReportCommand[];
  commands_not_listed: number;
  files_written: ReportFileWritten[];
  files_written_not_listed: number;
  hosts: ReportHost[];
  errors: ReportError[];
  errors_not_listed: number;
  /** Drop and truncation counters of the tracers (stats FINAL) and analyzers, summed. */
  losses: Record<string, number>;
}

export interface ReportLimits {
  /** Commands listed (default 1000). */
  commands?: number;
  toolCalls?: number;
  filesWritten?: number;
  errors?: number;
}

const WRITE_FLAGS = /\b(O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND)\b/;
/** Counters of analyzer stats that say something was lost, cut or could not be read. */
const LOSS_COUNTER = /lost|drop|trunc|evict|discard|gap|malformed|invalid|oversize|unanswered|not_written|errors?$/;

/** Nearest-rank percentiles of a list of numbers. */
export function percentiles(values: readonly number[]): Percentiles | null {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const at = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))];
  return { count: v.length, p50: at(50), p90: at(90), p99: at(99), max: v[v.length - 1] };
}

interface ModelAcc extends Omit<ReportModel, 'latency_ms' | 'ttft_ms'> {
  latency: number[];
  ttft: number[];
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Collects a report from events, one at a time. */
export class ReportBuilder {
  private readonly limits: Required<ReportLimits>;
  private readonly files: SessionReport['files'] = [];
  private session = 0;
  private events = 0;
  private readonly bySource: Record<string, number> = {};
  private damaged = 0;
  private start: number | null = null;
  private end: number | null = null;
  private readonly models = new Map<string, ModelAcc>();
  private readonly toolCalls = new Map<string, ReportToolCall>();
  private toolCallsNotListed = 0;
  private readonly tools = new Map<string, ReportTool>();
  private readonly toolsRan = new Set<string>();
  /** Commands by session and pid (the latest exec of a pid is the one its exit ends). */
  private readonly commands: ReportCommand[] = [];
  private readonly running = new Map<string, ReportCommand>();
  private commandsNotListed = 0;
  private readonly written = new Map<string, ReportFileWritten>();
  private writtenNotListed = 0;
  private readonly hosts = new Map<string, ReportHost>();
  private readonly errors: ReportError[] = [];
  private errorsNotListed = 0;
  private readonly finals: Event[] = [];
  private readonly analyzerLosses: Record<string, number> = {};

  constructor(limits: ReportLimits = {}) {
    this.limits = {
      commands: limits.commands ?? 1000,
      toolCalls: limits.toolCalls ?? 1000,
      filesWritten: limits.filesWritten ?? 1000,
      errors: limits.errors ?? 200,
    };
  }

  /** Events from here on come from this file. */
  file(path: string): void {
    this.files.push({ path, events: 0, damaged_lines: 0 });
    this.endSegment();
  }

  /** Sessions ended so far, and whether the current one has events of its own. */
  private segments = 0;
  private segmentOpen = false;
  private endSegment(): void {
    if (this.segmentOpen) this.segments++;
    this.segmentOpen = false;
    this.session++;
  }

  private error(kind: ReportErrorKind, time: number | null, message: string): void {
    if (this.errors.length >= this.limits.errors) this.errorsNotListed++;
    else this.errors.push({ kind, time, message });
  }

  add(e: Event): void {
    this.events++;
    const f = this.files[this.files.length - 1];
    if (f) f.events++;
    this.bySource[e.source] = (this.bySource[e.source] ?? 0) + 1;
    const d = e.data as Record<string, any>;
    const own = e.source === 'stats' || e.source === 'diagnostic' || e.source === 'summary';
    if (!own) this.segmentOpen = true;
    if (!own && typeof e.timestamp === 'number') {
      if (this.start === null || e.timestamp < this.start) this.start = e.timestamp;
      if (this.end === null || e.timestamp > this.end) this.end = e.timestamp;
    }
    switch (e.source) {
      case 'llm':
        if (d.event === 'LLM_CALL') this.call(e, d);
        break;
      case 'process':
        this.process(e, d);
        break;
      case 'http':
        this.http(e, d);
        break;
      case 'stats':
        if (d.event === 'FINAL') this.finals.push(e);
        else if (d.event === 'ANALYZER') {
          for (const [k, v] of Object.entries(d))
            if (typeof v === 'number' && v > 0 && LOSS_COUNTER.test(k))
              this.analyzerLosses[`${d.analyzer}.${k}`] = (this.analyzerLosses[`${d.analyzer}.${k}`] ?? 0) + v;
        }
        break;
      case 'diagnostic':
        if (d.type === 'ndjson_error') {
          this.damaged++;
          if (f) f.damaged_lines++;
          this.error('damaged_line', null, String(d.message));
        } else this.error('diagnostic', e.timestamp, `${d.level ?? 'warning'}: ${d.message ?? d.type}`);
        break;
      case 'summary':
        // a summary ends a session: what follows in the same file is another one
        this.segmentOpen = true;
        this.endSegment();
        break;
    }
  }

  private call(e: Event, d: Record<string, any>): void {
    const { provider, model } = callModel(d);
    const key = `${provider}\0${model}`;
    let m = this.models.get(key);
    if (!m) {
      m = {
        provider,
        model,
        calls: 0,
        errors: 0,
        input_tokens: 0,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        output_tokens: 0,
        reasoning_tokens: 0,
        cost_usd: 0,
        unpriced_calls: 0,
        latency: [],
        ttft: [],
      };
      this.models.set(key, m);
    }
    m.calls++;
    const u = (d.usage ?? null) as TokenUsage | null;
    const t = u ? pricedTokens(String(d.api ?? ''), u) : null;
    if (t) {
      m.input_tokens += t.input;
      m.cache_read_tokens += t.cache_read;
      m.cache_write_tokens += t.cache_write;
      m.output_tokens += t.output;
    }
    m.reasoning_tokens += u?.reasoning_tokens ?? 0;
    if (typeof d.cost_usd === 'number') m.cost_usd = roundUsd(m.cost_usd + d.cost_usd);
    else m.unpriced_calls++;
    const lat = num(d.latency_ms);
    if (lat !== null) m.latency.push(lat);
    const ttft = num(d.time_to_first_chunk_ms);
    if (ttft !== null) m.ttft.push(ttft);
    const status = num(d['http.response.status_code']);
    if (d.error) {
      m.errors++;
      const err = d.error as { type?: string | null; message?: string | null };
      this.error(
        'llm',
        e.timestamp,
        `${d.call_id}: ${model}${status !== null ? ` HTTP ${status}` : ''}: ${[err.type, err.message].filter(Boolean).join(': ') || 'error'}`,
      );
    } else if (d.incomplete) this.error('incomplete', e.timestamp, `${d.call_id}: ${model}: the answer ended without its end (${d.incomplete})`);
    const host = d['server.address'] ? `${d['server.address']}${d['server.port'] ? `:${d['server.port']}` : ''}` : null;
    if (host) this.host(host).llm_calls++;
    for (const tc of (Array.isArray(d.response?.tool_calls) ? d.response.tool_calls : []) as { id?: string | null; name?: string | null; command?: string }[]) {
      const name = tc.name ?? '?';
      const tool = this.tools.get(name) ?? { name, calls: 0, ran_commands: 0 };
      tool.calls++;
      this.tools.set(name, tool);
      if (this.toolCalls.size >= this.limits.toolCalls) {
        this.toolCallsNotListed++;
        continue;
      }
      const k = `${this.session}\0${d.call_id}\0${tc.id ?? ''}`;
      this.toolCalls.set(k, {
        llm_call_id: String(d.call_id),
        tool_call_id: tc.id ?? null,
        name: tc.name ?? null,
        command: tc.command ?? null,
        time: e.timestamp,
        pids: [],
      });
    }
  }

  private process(e: Event, d: Record<string, any>): void {
    const key = `${this.session}\0${e.pid}`;
    if (d.event === 'EXEC') {
      const c: ReportCommand = { pid: e.pid, ppid: Number(d.ppid ?? 0), command: String(d.full_command || d.filename || ''), time: e.timestamp };
      if (d.llm_call_id) {
        Object.assign(c, { llm_call_id: String(d.llm_call_id), tool_call_id: d.tool_call_id ?? null, tool_name: d.tool_name ?? null });
        const k = `${this.session}\0${d.llm_call_id}\0${d.tool_call_id ?? ''}`;
        const tc = this.toolCalls.get(k);
        if (tc && tc.pids.length < 100 && !tc.pids.includes(e.pid)) tc.pids.push(e.pid);
        if (!this.toolsRan.has(k)) {
          this.toolsRan.add(k);
          const tool = this.tools.get(String(d.tool_name ?? '?'));
          if (tool) tool.ran_commands++;
        }
      }
      this.running.set(key, c);
      if (this.commands.length >= this.limits.commands) this.commandsNotListed++;
      else this.commands.push(c);
    } else if (d.event === 'EXIT') {
      const c = this.running.get(key);
      if (c) {
        Object.assign(c, { exit_code: d.exit_code ?? null, signal: d.signal ?? null, duration_ms: d.duration_ms });
        this.running.delete(key);
      }
    } else if (d.event === 'FILE_OPEN') {
      const flags = String(d.flags ?? '');
      if (!WRITE_FLAGS.test(flags)) return;
      const path = String(d.filepath ?? d.path_arg ?? '?');
      let w = this.written.get(path);
      if (!w) {
        if (this.written.size >= this.limits.filesWritten) {
          this.writtenNotListed++;
          return;
        }
        w = { path, opens: 0, failed: 0, pids: [], flags: [], first_time: e.timestamp };
        this.written.set(path, w);
      }
      const n = typeof d.count === 'number' && d.count > 0 ? d.count : 1;
      w.opens += n;
      if (d.error) {
        w.failed += n;
        w.error ??= String(d.error);
      }
      if (w.pids.length < 20 && !w.pids.includes(e.pid)) w.pids.push(e.pid);
      if (w.flags.length < 8 && !w.flags.includes(flags)) w.flags.push(flags);
    }
  }

  private host(name: string): ReportHost {
    let h = this.hosts.get(name);
    if (!h) {
      h = { host: name, requests: 0, llm_calls: 0 };
      if (this.hosts.size < 1000) this.hosts.set(name, h);
    }
    return h;
  }

  private http(e: Event, d: Record<string, any>): void {
    if (d.type === 'request' && d.role !== 'server' && d.host) this.host(String(d.host)).requests++;
    if (d.type === 'response' && typeof d.status_code === 'number' && d.status_code >= 400) {
      const r = d.request as { method?: string; url?: string; host?: string; path?: string } | null;
      const what = r ? `${r.method ?? ''} ${r.url ?? `${r.host ?? ''}${r.path ?? ''}`}`.trim() : `connection ${d.conn_id}`;
      this.error('http', e.timestamp, `HTTP ${d.status_code}${d.status_text ? ` ${d.status_text}` : ''}: ${what}`);
    }
  }

  result(): SessionReport {
    const models: ReportModel[] = [...this.models.values()].map(({ latency, ttft, ...m }) => ({
      ...m,
      latency_ms: percentiles(latency),
      ttft_ms: percentiles(ttft),
    }));
    const sum = (k: keyof ReportModel) => models.reduce((a, m) => a + (m[k] as number), 0);
    const { lost } = lossSummary(this.finals);
    const losses: Record<string, number> = { ...lost };
    for (const [k, v] of Object.entries(this.analyzerLosses)) losses[k] = (losses[k] ?? 0) + v;
    const errors = [...this.errors];
    for (const [k, v] of Object.entries(losses)) errors.push({ kind: 'loss', time: null, message: `${k}: ${v}` });
    return {
      files: this.files.map((f) => ({ ...f })),
      sessions: this.segments + (this.segmentOpen ? 1 : 0),
      events: this.events,
      events_by_source: { ...this.bySource },
      damaged_lines: this.damaged,
      start: this.start,
      end: this.end,
      totals: {
        calls: sum('calls'),
        errors: sum('errors'),
        input_tokens: sum('input_tokens'),
        cache_read_tokens: sum('cache_read_tokens'),
        cache_write_tokens: sum('cache_write_tokens'),
        output_tokens: sum('output_tokens'),
        reasoning_tokens: sum('reasoning_tokens'),
        cost_usd: roundUsd(sum('cost_usd')),
        unpriced_calls: sum('unpriced_calls'),
      },
      models,
      tools: [...this.tools.values()].sort((a, b) => b.calls - a.calls || a.name.localeCompare(b.name)),
      tool_calls: [...this.toolCalls.values()],
      tool_calls_not_listed: this.toolCallsNotListed,
      commands: this.commands.map((c) => ({ ...c })),
      commands_not_listed: this.commandsNotListed,
      files_written: [...this.written.values()],
      files_written_not_listed: this.writtenNotListed,
      hosts: [...this.hosts.values()].sort((a, b) => b.requests + b.llm_calls - (a.requests + a.llm_calls) || a.host.localeCompare(b.host)),
      errors,
      errors_not_listed: this.errorsNotListed,
      losses,
    };
  }
}
