/**
 * One-line-per-event rendering for a terminal. NDJSON is the machine
 * contract; this is only for people watching.
 */
import type { Event } from '../core/event';
import { preview, renderHttpEvent } from './http';

export { preview };

export interface RenderOptions {
  color?: boolean;
}

type Renderer = (e: Event, c: Colors, opts: RenderOptions) => string;

export interface Colors {
  dim(s: string): string;
  bold(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  blue(s: string): string;
  magenta(s: string): string;
  cyan(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;
const COLORS: Colors = {
  dim: wrap(2, 22),
  bold: wrap(1, 22),
  red: wrap(31, 39),
  green: wrap(32, 39),
  yellow: wrap(33, 39),
  blue: wrap(34, 39),
  magenta: wrap(35, 39),
  cyan: wrap(36, 39),
};
const id = (s: string) => s;
const PLAIN: Colors = { dim: id, bold: id, red: id, green: id, yellow: id, blue: id, magenta: id, cyan: id };

const renderers = new Map<string, Renderer>();

/** Register the renderer of a source (the last registration wins). */
export function registerRenderer(source: string, r: Renderer): void {
  renderers.set(source, r);
}

export function clock(ts: number): string {
  const d = new Date(ts);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function renderEvent(e: Event, opts: RenderOptions = {}): string {
  const c = opts.color ? COLORS : PLAIN;
  const r = renderers.get(e.source);
  const body = r ? r(e, c, opts) : `${c.bold(e.source.toUpperCase())} ${preview(JSON.stringify(e.data), 160)}`;
  return `${c.dim(clock(e.timestamp))} ${body}`;
}

const who = (e: Event, c: Colors) => `${c.bold(e.comm)}[${e.pid}]`;

registerRenderer('process', (e, c) => {
  const d = e.data;
  switch (d.event) {
    case 'EXEC': {
      const link = d.llm_call_id ? c.cyan(`  <- ${d.tool_name ?? 'tool'} call of ${d.llm_call_id}`) : '';
      return `${c.green('EXEC ')} ${who(e, c)} ppid=${d.ppid} ${preview(String(d.full_command || d.filename), 140)}${d.argv_truncated ? c.yellow(' [argv truncated]') : ''}${link}`;
    }
    case 'EXIT': {
      const how = d.signal ? c.red(`killed by ${d.signal}`) : d.exit_code === 0 ? 'exit 0' : c.red(`exit ${d.exit_code}`);
      return `${c.blue('EXIT ')} ${who(e, c)} ${how} after ${d.duration_ms} ms`;
    }
    case 'FORK':
      return `${c.cyan('FORK ')} ${who(e, c)} from ppid=${d.ppid}`;
    case 'FILE_OPEN': {
      const res = d.error ? c.red(String(d.error)) : `fd=${d.fd}`;
      const n = d.repeat ? c.yellow(` ×${d.count} more in ${d.window_ms} ms`) : '';
      return `${c.magenta('OPEN ')} ${who(e, c)} ${d.filepath} ${c.dim(String(d.flags))} ${res}${n}`;
    }
    default:
      return `${c.bold(String(d.event))} ${who(e, c)} ${preview(JSON.stringify(d), 120)}`;
  }
});

function nonZero(obj: unknown): string {
  if (!obj || typeof obj !== 'object') return '';
  return Object.entries(obj as Record<string, number>)
    .filter(([, v]) => typeof v === 'number' && v !== 0)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

registerRenderer('stats', (e, c) => {
  const d = e.data;
  if (d.event === 'ANALYZER') {
    const { event: _e, analyzer, ...rest } = d;
    return `${c.yellow('STATS')} ${analyzer} ${preview(nonZero(rest) || 'nothing to report', 140)}`;
  }
  if (d.event === 'EXPORT') {
    const q = (d.queue ?? {}) as Record<string, number>;
    const dropped = nonZero({ queue_full: q.dropped_queue_full, rejected: q.dropped_rejected, not_sent: q.dropped_not_sent });
    return `${c.yellow(d.final ? 'FINAL' : 'STATS')} ${d.exporter} spans sent=${q.exported ?? 0} pending=${q.pending ?? 0}${dropped ? ' dropped ' + c.red(dropped) : ''}${q.last_error ? ` last error: ${preview(String(q.last_error), 60)}` : ''}`;
  }
  const kernel = nonZero(d.kernel);
  const label = d.event === 'FINAL' ? 'FINAL' : 'STATS';
  return `${c.yellow(label)} ${d.tracer ?? ''} records=${d.records ?? 0} events=${d.events ?? 0}${kernel ? ' ' + c.red(kernel) : ' no drops'}`;
});

// http and sse events: lib/render-http.ts (several lines for a merged answer)
const httpLike: Renderer = (e, _c, opts) => {
  const lines = renderHttpEvent(e, { color: opts.color });
  return lines.length ? lines.join('\n             ') : `${e.source.toUpperCase()} ${preview(JSON.stringify(e.data), 140)}`;
};
registerRenderer('http', httpLike);
registerRenderer('sse', httpLike);

registerRenderer('diagnostic', (e, c) => `${c.yellow('NOTE ')} ${String(e.data.message ?? JSON.stringify(e.data))}`);

registerRenderer('llm', (e, c) => {
  const d = e.data;
  const model = d['gen_ai.response.model'] ?? d['gen_ai.request.model'] ?? '?';
  const tok = `${d['gen_ai.usage.input_tokens'] ?? '?'}→${d['gen_ai.usage.output_tokens'] ?? '?'} tok`;
  const status = d.error
    ? c.red(`${d['http.response.status_code']} ${d.error.type ?? ''} ${d.error.message ?? ''}`.trim())
    : String(d['http.response.status_code']);
  const tools = (d.response?.tool_calls ?? []) as { name: string; command?: string }[];
  const what = tools.length
    ? c.cyan(`tool ${tools.map((t) => `${t.name}${t.command ? `(${preview(t.command, 60)})` : ''}`).join(', ')}`)
    : preview(String(d.response?.text ?? ''), 100);
  return `${c.magenta('LLM  ')} ${c.bold(e.comm)}[${e.pid}] ${d['gen_ai.provider.name']} ${model} ${status} ${d.latency_ms ?? '?'} ms ${tok} ${what}`;
});

registerRenderer('summary', (e, c) => {
  const d = e.data;
  return `${c.yellow('SUMMARY')} ${d.llm_calls} LLM call(s), ${d.commands?.length ?? 0} command(s), ${d.tool_calls_linked}/${d.tool_calls_requested} tool call(s) linked`;
});
