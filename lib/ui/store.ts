/**
 * What the web UI knows of a session, in bounded memory: compact indexes of
 * the LLM calls, processes, files and errors (each list capped, what it
 * left out counted), running totals, a report (lib/report) and the events
 * themselves through EventDetail (a ring, then the session file). Changes
 * since the last look are collected for the live stream.
 */
import { callModel, type Event } from '../core/event';
import { pricedTokens } from '../cost/cost';
import { roundUsd } from '../cost/format';
import type { TokenUsage } from '../providers/types';
import { ReportBuilder } from '../report/collect';
import { EventDetail, type DetailOptions, type EventLocation, type FileSet } from './detail';
import type { UiCall, UiError, UiFile, UiInfo, UiProc, UiSnapshot, UiTotals, UiUpdate } from './types';

export interface StoreLimits {
  calls?: number;
  procs?: number;
  files?: number;
  errors?: number;
  /** Times of file opens kept per process (for the timeline). */
  opensPerProc?: number;
}

export interface StoreOptions extends DetailOptions {
  limits?: StoreLimits;
  /** The session files, for events that left memory (null: memory only). */
  files?: FileSet | null;
  info?: Partial<UiInfo>;
}

const PREVIEW = 240;
const WRITE = /\b(O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND)\b/;
const clip = (s: unknown, n = PREVIEW) => {
  const t = typeof s === 'string' ? s : '';
  return t.length > n ? `${t.slice(0, n)}…` : t;
};
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export class SessionStore {
  readonly detail: EventDetail;
  private readonly lim: Required<StoreLimits>;
  private seq = 0;
  private info: UiInfo;
  private readonly totals: UiTotals = {
    events: 0,
    by_source: {},
    calls: 0,
    call_errors: 0,
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    cost_usd: 0,
    unpriced_calls: 0,
    models: [],
    commands: 0,
    files: 0,
    errors: 0,
    start: null,
    end: null,
    not_indexed: { calls: 0, procs: 0, files: 0, errors: 0 },
  };
  private readonly calls = new Map<number, UiCall>();
  private readonly procs = new Map<number, UiProc>();
  private readonly procByPid = new Map<number, UiProc>();
  private readonly files = new Map<string, UiFile>();
  private readonly errors: UiError[] = [];
  /** HTTP exchange (conn#seq) -> the events of it, for a call's raw HTTP. */
  private readonly http = new Map<string, { request?: number; response?: number; sse?: number }>();
  private readonly callHttp = new Map<number, { request?: number; response?: number; sse?: number }>();
  private readonly models = new Map<string, UiTotals['models'][number]>();
  readonly report = new ReportBuilder();
  private dirty = { calls: new Set<number>(), procs: new Set<number>(), files: new Set<string>(), errors: [] as UiError[], any: false };
  private listeners = new Set<() => void>();

  constructor(opts: StoreOptions = {}) {
    this.detail = new EventDetail(opts.files ?? null, opts);
    const l = opts.limits ?? {};
    this.lim = { calls: l.calls ?? 20_000, procs: l.procs ?? 20_000, files: l.files ?? 20_000, errors: l.errors ?? 2000, opensPerProc: l.opensPerProc ?? 32 };
    this.info = { title: 'agentsight', live: false, ended: false, files: [], detail_from_file: this.detail.fromFile, ...opts.info };
  }

  /** Call when something changed (the server batches them). */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private touch(): void {
    if (this.dirty.any) return;
    this.dirty.any = true;
    for (const fn of this.listeners) fn();
  }

  /** The session is over: nothing more will be added. */
  end(): void {
    this.info = { ...this.info, ended: true };
    this.touch();
  }

  /** Events added so far (the next one's number). */
  get size(): number {
    return this.seq;
  }

  add(e: Event, loc?: EventLocation): void {
    const seq = this.seq++;
    const d = e.data as Record<string, any>;
    const pin = e.source === 'llm' || (e.source === 'http' && (d.type === 'request' || d.type === 'response')) || e.source === 'sse';
    this.detail.add(seq, e, loc, pin);
    this.report.add(e);
    const t = this.totals;
    t.events++;
    t.by_source[e.source] = (t.by_source[e.source] ?? 0) + 1;
    if (e.source !== 'stats' && e.source !== 'diagnostic' && e.source !== 'summary') {
      if (t.start === null || e.timestamp < t.start) t.start = e.timestamp;
      if (t.end === null || e.timestamp > t.end) t.end = e.timestamp;
    }
    switch (e.source) {
      case 'llm':
        if (d.event === 'LLM_CALL') this.call(seq, e, d);
        break;
      case 'process':
        this.process(seq, e, d);
        break;
      case 'http':
        if (d.type === 'request' || d.type === 'response') this.exchange(`${d.conn_id}#${d.seq}`)[d.type as 'request' | 'response'] = seq;
        if (d.type === 'response' && typeof d.status_code === 'number' && d.status_code >= 400)
          this.error(
            seq,
            e,
            'http',
            `HTTP ${d.status_code}${d.status_text ? ` ${d.status_text}` : ''}: ${d.request?.method ?? ''} ${d.request?.url ?? ''}`.trim(),
          );
        break;
      case 'sse':
        this.exchange(`${d.conn_id}#${d.seq}`).sse = seq;
        break;
      case 'diagnostic':
        this.error(seq, e, 'diagnostic', String(d.message ?? d.type));
        break;
      case 'stats':
        if (d.event === 'FINAL') {
          const lost = Object.entries((d.kernel ?? {}) as Record<string, number>).filter(([, v]) => v > 0);
          if (lost.length) this.error(seq, e, 'loss', `${d.tracer}: ${lost.map(([k, v]) => `${k}=${v}`).join(', ')}`);
        }
        break;
    }
    this.touch();
  }

  private exchange(key: string) {
    let x = this.http.get(key);
    if (!x) {
      if (this.http.size >= this.lim.calls * 2) this.http.delete(this.http.keys().next().value as string);
      x = {};
      this.http.set(key, x);
    }
    return x;
  }

  private error(seq: number, e: Event, kind: UiError['kind'], message: string): void {
    this.totals.errors++;
    if (this.errors.length >= this.lim.errors) {
      this.totals.not_indexed.errors++;
      return;
    }
    const err: UiError = { seq, t: e.timestamp, kind, message: clip(message, 1000) };
    this.errors.push(err);
    this.dirty.errors.push(err);
  }

  private call(seq: number, e: Event, d: Record<string, any>): void {
    const t = this.totals;
    t.calls++;
    const u = (d.usage ?? null) as TokenUsage | null;
    const tok = u ? pricedTokens(String(d.api ?? ''), u) : null;
    const { provider, model } = callModel(d);
    const cost = num(d.cost_usd);
    if (tok) {
      t.input_tokens += tok.input;
      t.output_tokens += tok.output;
      t.cache_read_tokens += tok.cache_read;
      t.cache_write_tokens += tok.cache_write;
    }
    if (cost !== null) t.cost_usd = roundUsd(t.cost_usd + cost);
    else t.unpriced_calls++;
    const mk = `${provider}\0${model}`;
    let m = this.models.get(mk);
    if (!m) {
      m = { provider, model, calls: 0, cost_usd: 0, unpriced_calls: 0, input_tokens: 0, output_tokens: 0 };
      this.models.set(mk, m);
      t.models.push(m);
    }
    m.calls++;
    if (cost !== null) m.cost_usd = roundUsd(m.cost_usd + cost);
    else m.unpriced_calls++;
    m.input_tokens += tok ? tok.input + tok.cache_read + tok.cache_write : 0;
    m.output_tokens += tok?.output ?? 0;
    const status = num(d['http.response.status_code']);
    const failed = Boolean(d.error);
    if (failed) {
      t.call_errors++;
      this.error(
        seq,
        e,
        'llm',
        `${d.call_id}: ${model}${status !== null ? ` HTTP ${status}` : ''}: ${[d.error?.type, d.error?.message].filter(Boolean).join(': ')}`,
      );
    }
    const x = this.http.get(`${d.conn_id}#${d.http_seq}`);
    if (x) this.callHttp.set(seq, { ...x });
    if (this.calls.size >= this.lim.calls) {
      t.not_indexed.calls++;
      return;
    }
    const latency = num(d.latency_ms);
    const t1 = e.timestamp;
    const t0 = latency !== null ? t1 - latency : t1;
    const ttfc = num(d.time_to_first_chunk_ms);
    const messages = Array.isArray(d.request?.messages) ? (d.request.messages as { role?: string; content?: string }[]) : [];
    const lastUser = [...messages].reverse().find((msg) => msg.role === 'user' && msg.content);
    const c: UiCall = {
      seq,
      id: String(d.call_id ?? `call-${seq}`),
      t0,
      t1,
      ttft: ttfc !== null ? t0 + ttfc : null,
      pid: e.pid,
      comm: e.comm,
      provider,
      model,
      status,
      error: failed ? clip([d.error?.type, d.error?.message].filter(Boolean).join(': ') || 'error') : null,
      incomplete: d.incomplete ? String(d.incomplete) : null,
      streaming: d.streaming === true,
      input_tokens: tok?.input ?? null,
      cache_read_tokens: tok?.cache_read ?? null,
      cache_write_tokens: tok?.cache_write ?? null,
      output_tokens: tok?.output ?? null,
      cost_usd: cost,
      unpriced: d.cost_unpriced ? String(d.cost_unpriced_reason ?? 'unpriced') : null,
      tools: (Array.isArray(d.response?.tool_calls) ? d.response.tool_calls : []).slice(0, 50).map((tc: Record<string, unknown>) => ({
        id: typeof tc.id === 'string' ? tc.id : null,
        name: typeof tc.name === 'string' ? tc.name : null,
        command: typeof tc.command === 'string' ? clip(tc.command) : null,
      })),
      answer: clip(d.response?.text),
      prompt: clip(lastUser?.content),
    };
    this.calls.set(seq, c);
    this.dirty.calls.add(seq);
  }

  private process(seq: number, e: Event, d: Record<string, any>): void {
    const cur = this.procByPid.get(e.pid);
    if (d.event === 'EXEC' || d.event === 'FORK') {
      if (d.event === 'EXEC') this.totals.commands++;
      const link = d.llm_call_id ? { call: String(d.llm_call_id), tool: d.tool_call_id ?? null, name: d.tool_name ?? null } : null;
      if (d.event === 'EXEC' && cur && cur.fork && cur.t1 === null) {
        // a forked child that now runs a program of its own: the same process, one row
        Object.assign(cur, { fork: false, cmd: clip(String(d.full_command || d.filename || ''), 2000), comm: e.comm, link: link ?? cur.link, t0: cur.t0 });
        this.dirty.procs.add(cur.seq);
        return;
      }
      if (cur && cur.t1 === null) {
        // exec'd again (or a reused pid): the earlier row ends here
        cur.t1 = e.timestamp;
        cur.replaced = true;
        this.dirty.procs.add(cur.seq);
      }
      if (this.procs.size >= this.lim.procs) {
        this.totals.not_indexed.procs++;
        this.procByPid.delete(e.pid);
        return;
      }
      const ppid = Number(d.ppid ?? 0);
      const parent = this.procByPid.get(ppid);
      const p: UiProc = {
        seq,
        pid: e.pid,
        ppid,
        parent: parent ? parent.seq : null,
        comm: e.comm,
        cmd: d.event === 'FORK' ? (parent?.cmd ?? e.comm) : clip(String(d.full_command || d.filename || ''), 2000),
        fork: d.event === 'FORK',
        t0: e.timestamp,
        t1: null,
        exit: null,
        signal: null,
        replaced: false,
        link: link ?? (d.event === 'FORK' ? (parent?.link ?? null) : null),
        opens: 0,
        writes: 0,
        open_times: [],
      };
      this.procs.set(seq, p);
      this.procByPid.set(e.pid, p);
      this.dirty.procs.add(seq);
    } else if (d.event === 'EXIT') {
      if (cur && cur.t1 === null) {
        Object.assign(cur, { t1: e.timestamp, exit: d.exit_code ?? null, signal: d.signal ?? null });
        this.dirty.procs.add(cur.seq);
      }
    } else if (d.event === 'FILE_OPEN') {
      const n = typeof d.count === 'number' && d.count > 0 ? d.count : 1;
      const write = WRITE.test(String(d.flags ?? ''));
      if (cur) {
        cur.opens += n;
        if (write) cur.writes += n;
        if (cur.open_times.length < this.lim.opensPerProc) cur.open_times.push(e.timestamp);
        this.dirty.procs.add(cur.seq);
      }
      const path = String(d.filepath ?? d.path_arg ?? '?');
      let f = this.files.get(path);
      if (!f) {
        this.totals.files++;
        if (this.files.size >= this.lim.files) {
          this.totals.not_indexed.files++;
          return;
        }
        f = { path, opens: 0, writes: 0, failed: 0, error: null, pids: [], t0: e.timestamp, t1: e.timestamp, seq };
        this.files.set(path, f);
      }
      f.opens += n;
      if (write) f.writes += n;
      if (d.error) {
        f.failed += n;
        f.error ??= String(d.error);
      }
      if (f.pids.length < 16 && !f.pids.includes(e.pid)) f.pids.push(e.pid);
      f.t1 = e.timestamp;
      f.seq = seq;
      this.dirty.files.add(path);
    }
  }

  /** The HTTP exchange of a call (event numbers of its request, response and merged stream). */
  httpOf(callSeq: number): { request?: number; response?: number; sse?: number } | null {
    return this.callHttp.get(callSeq) ?? null;
  }

  private totalsNow(): UiTotals {
    return {
      ...this.totals,
      by_source: { ...this.totals.by_source },
      models: this.totals.models.map((m) => ({ ...m })),
      not_indexed: { ...this.totals.not_indexed },
    };
  }

  snapshot(): UiSnapshot {
    return {
      info: this.info,
      seq: this.seq,
      totals: this.totalsNow(),
      calls: [...this.calls.values()],
      procs: [...this.procs.values()],
      files: [...this.files.values()],
      errors: [...this.errors],
      memory: this.detail.usage(),
    };
  }

  /** What changed since the last call (null when nothing did). */
  takeUpdate(): UiUpdate | null {
    if (!this.dirty.any) return null;
    const dt = this.dirty;
    this.dirty = { calls: new Set(), procs: new Set(), files: new Set(), errors: [], any: false };
    return {
      info: this.info,
      seq: this.seq,
      totals: this.totalsNow(),
      calls: [...dt.calls].map((s) => this.calls.get(s)).filter((c): c is UiCall => c !== undefined),
      procs: [...dt.procs].map((s) => this.procs.get(s)).filter((p): p is UiProc => p !== undefined),
      files: [...dt.files].map((p) => this.files.get(p)).filter((f): f is UiFile => f !== undefined),
      errors: dt.errors,
    };
  }
}
