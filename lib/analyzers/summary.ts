import { stepProcess, type AnalyzerContext, type Emit, type StepAnalyzer } from '../core/analyzer';
import { callModel, ownEvent, type Event } from '../core/event';
import { printable } from '../render/safe-text';
import { formatUsd, roundUsd } from '../cost/format';

export interface ModelUsage {
  provider: string;
  model: string;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  reasoning_tokens: number;
  errors: number;
  /** What the priced calls cost (USD). */
  cost_usd: number;
  /** Calls without a price (model not in the table, or usage unknown). */
  unpriced_calls: number;
}

export interface CommandRun {
  pid: number;
  ppid: number;
  command: string;
  exit_code?: number | null;
  signal?: string | null;
  duration_ms?: number;
  llm_call_id?: string;
  tool_call_id?: string | null;
  tool_name?: string | null;
}

/** A secret a request to an LLM API carried (from `exposure` events; never the secret itself). */
export interface ExposureSummary {
  kind: string;
  where: string;
  field: string | null;
  fingerprint: string;
  /** The llm call, when known, else the HTTP exchange (conn_id#seq). */
  call_id: string | null;
  conn_id: string;
  seq: number;
  pid: number;
  comm: string;
  api: string;
  /** Requests that carried it again (the same kind, place and fingerprint in the same process). */
  count: number;
}

export interface SessionSummaryData extends Record<string, unknown> {
  event: 'SUMMARY';
  llm_calls: number;
  llm_errors: number;
  /** What the priced calls cost (USD); unpriced_calls says how many could not be priced. */
  cost_usd: number;
  unpriced_calls: number;
  models: ModelUsage[];
  commands: CommandRun[];
  /** commands beyond the kept list */
  commands_not_listed: number;
  tool_calls_requested: number;
  tool_calls_linked: number;
  /** Secrets sent to LLM APIs (`exposure` events), folded by kind, place, fingerprint and process. */
  exposures: ExposureSummary[];
  /** exposure events in all (including those beyond the kept list). */
  exposures_total: number;
  events: Record<string, number>;
}

export interface SessionSummaryOptions {
  /** Commands kept for the summary (default 200). */
  maxCommands?: number;
  /** Distinct exposures kept for the summary (default 100). */
  maxExposures?: number;
  /** Emit the summary as a final `summary` event (default true). */
  emit?: boolean;
}

/**
 * Collects what a session did: LLM calls and tokens per model, the commands
 * run (with the tool call that asked for them), counts per event source.
 * Passes every event on; at the end yields one `summary` event.
 */
export class SessionSummary implements StepAnalyzer {
  readonly name = 'summary';
  private readonly models = new Map<string, ModelUsage>();
  private readonly commands = new Map<number, CommandRun>();
  private notListed = 0;
  private llmCalls = 0;
  private llmErrors = 0;
  private toolCalls = 0;
  private readonly linkedCalls = new Set<string>();
  private readonly counts: Record<string, number> = {};
  private readonly exposures = new Map<string, ExposureSummary>();
  private exposuresTotal = 0;
  private readonly maxExposures: number;
  private readonly max: number;
  private readonly emitEvent: boolean;
  result: SessionSummaryData | null = null;

  constructor(opts: SessionSummaryOptions = {}) {
    this.max = opts.maxCommands ?? 200;
    this.maxExposures = opts.maxExposures ?? 100;
    this.emitEvent = opts.emit ?? true;
  }

  process(input: AsyncIterable<Event>, _ctx: AnalyzerContext): AsyncGenerator<Event> {
    return stepProcess(this, input);
  }

  step(e: Event, emit: Emit): void {
    this.observe(e);
    emit(e);
  }

  end(emit: Emit): void {
    this.result = this.data();
    if (this.emitEvent) emit(ownEvent('summary', this.result));
  }

  private observe(e: Event): void {
    this.counts[e.source] = (this.counts[e.source] ?? 0) + 1;
    const d = e.data as Record<string, any>;
    if (e.source === 'llm' && d.event === 'LLM_CALL') {
      this.llmCalls++;
      const { provider, model } = callModel(d);
      const key = `${provider}\0${model}`;
      let m = this.models.get(key);
      if (!m) {
        m = {
          provider,
          model,
          calls: 0,
          input_tokens: 0,
          output_tokens: 0,
          cache_read_input_tokens: 0,
          cache_creation_input_tokens: 0,
          reasoning_tokens: 0,
          errors: 0,
          cost_usd: 0,
          unpriced_calls: 0,
        };
        this.models.set(key, m);
      }
      m.calls++;
      const u = (d.usage ?? {}) as Record<string, number | undefined>;
      m.input_tokens += u.input_tokens ?? 0;
      m.output_tokens += u.output_tokens ?? 0;
      m.cache_read_input_tokens += u.cache_read_input_tokens ?? 0;
      m.cache_creation_input_tokens += u.cache_creation_input_tokens ?? 0;
      m.reasoning_tokens += u.reasoning_tokens ?? 0;
      if (typeof d.cost_usd === 'number') m.cost_usd = roundUsd(m.cost_usd + d.cost_usd);
      else m.unpriced_calls++;
      if (d.error) {
        m.errors++;
        this.llmErrors++;
      }
      this.toolCalls += Array.isArray(d.response?.tool_calls) ? d.response.tool_calls.length : 0;
      return;
    }
    if (e.source === 'exposure') {
      this.exposuresTotal++;
      const key = `${e.pid}\0${d.kind}\0${d.where}\0${d.fingerprint}`;
      const seen = this.exposures.get(key);
      if (seen) seen.count++;
      else if (this.exposures.size < this.maxExposures) {
        this.exposures.set(key, {
          kind: String(d.kind),
          where: String(d.where),
          field: typeof d.field === 'string' ? d.field : null,
          fingerprint: String(d.fingerprint),
          call_id: typeof d.call_id === 'string' ? d.call_id : null,
          conn_id: String(d.conn_id),
          seq: Number(d.seq),
          pid: e.pid,
          comm: e.comm,
          api: String(d.api),
          count: 1,
        });
      }
      return;
    }
    if (e.source !== 'process') return;
    if (d.event === 'EXEC') {
      if (d.llm_call_id) this.linkedCalls.add(`${d.llm_call_id}\0${d.tool_call_id}`);
      if (this.commands.size >= this.max) {
        this.notListed++;
        return;
      }
      const c: CommandRun = { pid: e.pid, ppid: d.ppid, command: String(d.full_command || d.filename) };
      if (d.llm_call_id) Object.assign(c, { llm_call_id: d.llm_call_id, tool_call_id: d.tool_call_id ?? null, tool_name: d.tool_name ?? null });
      this.commands.set(e.pid, c);
    } else if (d.event === 'EXIT') {
      const c = this.commands.get(e.pid);
      if (c) Object.assign(c, { exit_code: d.exit_code, signal: d.signal, duration_ms: d.duration_ms });
    }
  }

  data(): SessionSummaryData {
    return {
      event: 'SUMMARY',
      llm_calls: this.llmCalls,
      llm_errors: this.llmErrors,
      cost_usd: roundUsd([...this.models.values()].reduce((a, m) => a + m.cost_usd, 0)),
      unpriced_calls: [...this.models.values()].reduce((a, m) => a + m.unpriced_calls, 0),
      models: [...this.models.values()],
      commands: [...this.commands.values()],
      commands_not_listed: this.notListed,
      tool_calls_requested: this.toolCalls,
      tool_calls_linked: this.linkedCalls.size,
      exposures: [...this.exposures.values()].map((x) => ({ ...x })),
      exposures_total: this.exposuresTotal,
      events: { ...this.counts },
    };
  }
}

/**
 * The summary for people (stderr at exit). Each line is one line, safe to
 * print: the commands, models and tool names in it are captured text, shown
 * through printable() (render/safe-text.ts).
 */
export function summaryText(s: SessionSummaryData): string[] {
  const out: string[] = [];
  out.push(`LLM calls: ${s.llm_calls}${s.llm_errors ? ` (${s.llm_errors} failed)` : ''}`);
  for (const m of s.models) {
    const cache =
      m.cache_read_input_tokens || m.cache_creation_input_tokens ? `, cache read ${m.cache_read_input_tokens} / written ${m.cache_creation_input_tokens}` : '';
    const reasoning = m.reasoning_tokens ? `, reasoning ${m.reasoning_tokens}` : '';
    const cost = m.unpriced_calls === m.calls ? ', unpriced' : `, ${formatUsd(m.cost_usd)}${m.unpriced_calls ? ` (${m.unpriced_calls} call(s) unpriced)` : ''}`;
    out.push(`  ${m.provider} ${m.model}: ${m.calls} call(s), ${m.input_tokens} input / ${m.output_tokens} output tokens${cache}${reasoning}${cost}`);
  }
  if (s.llm_calls > 0) out.push(`cost: ${formatUsd(s.cost_usd)}${s.unpriced_calls ? ` (${s.unpriced_calls} call(s) without a price not included)` : ''}`);
  out.push(`tool calls requested: ${s.tool_calls_requested}, linked to commands: ${s.tool_calls_linked}`);
  const exposures = s.exposures ?? [];
  if (s.exposures_total) {
    out.push(`secrets sent to LLM APIs: ${s.exposures_total} (masked in the output; the calls' own API keys are not counted)`);
    for (const x of exposures.slice(0, 20)) {
      const call = x.call_id ?? `${x.conn_id}#${x.seq}`;
      const times = x.count > 1 ? ` (${x.count} requests)` : '';
      out.push(`  ${x.kind} in ${x.where}${x.field ? ` ${x.field}` : ''} of ${call}, ${x.comm}[${x.pid}], fingerprint ${x.fingerprint}${times}`);
    }
    if (exposures.length > 20) out.push(`  … and ${exposures.length - 20} more`);
  }
  out.push(`commands run: ${s.commands.length + s.commands_not_listed}`);
  for (const c of s.commands.slice(0, 50)) {
    const status = c.signal ? `killed by ${c.signal}` : c.exit_code === undefined ? 'running' : `exit ${c.exit_code}`;
    const link = c.llm_call_id ? `  <- ${c.tool_name ?? 'tool'} call ${c.tool_call_id ?? '?'} of ${c.llm_call_id}` : '';
    const full = printable(c.command);
    const cmd = full.length > 100 ? `${full.slice(0, 99)}…` : full;
    out.push(`  [${c.pid}] ${cmd} (${status})${link}`);
  }
  if (s.commands.length > 50 || s.commands_not_listed)
    out.push(`  … and ${s.commands.length - 50 > 0 ? s.commands.length - 50 + s.commands_not_listed : s.commands_not_listed} more`);
  return out.map(printable);
}
