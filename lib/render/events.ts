/**
 * One-line-per-event rendering for a terminal. NDJSON is the machine
 * contract; this is only for people watching. Captured fields are shown
 * through printable() and every line is checked by terminalLine() before it
 * is returned (render/safe-text.ts): nothing captured is ever interpreted by
 * the terminal, and no line break is there that is not agentsight's own.
 */
import { callModel, type Event } from '../core/event';
import { preview, renderHttpEvent } from './http';
import { printable as t, terminalLine } from './safe-text';
import { formatUsd } from '../cost/format';

export { preview };

export interface RenderOptions {
  color?: boolean;
}

/** A renderer returns one line, or several (shown indented under the first). */
type Renderer = (e: Event, c: Colors, opts: RenderOptions) => string | string[];

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

/** Continuation lines of a multi-line event start under the first line's text. */
const INDENT = '\n             ';

export function renderEvent(e: Event, opts: RenderOptions = {}): string {
  const c = opts.color ? COLORS : PLAIN;
  return `${c.dim(clock(e.timestamp))} ${renderEventBody(e, opts)}`;
}

/** An event's lines without its time (the web UI shows the time apart), every one safe for a terminal. */
export function renderEventBody(e: Event, opts: RenderOptions = {}): string {
  const color = opts.color ?? false;
  const c = color ? COLORS : PLAIN;
  const r = renderers.get(e.source);
  const body = r ? r(e, c, opts) : `${c.bold(t(String(e.source).toUpperCase()))} ${preview(JSON.stringify(e.data), 160)}`;
  const lines = (Array.isArray(body) ? body : [body]).map((l) => terminalLine(String(l), color));
  return lines.join(INDENT);
}

const who = (e: Event, c: Colors) => `${c.bold(t(e.comm))}[${e.pid}]`;

registerRenderer('process', (e, c) => {
  const d = e.data;
  switch (d.event) {
    case 'EXEC': {
      const link = d.llm_call_id ? c.cyan(`  <- ${t(d.tool_name ?? 'tool')} call of ${t(d.llm_call_id)}`) : '';
      // escaped before the cut: a newline in an argument shows as \n, not as a space
      return `${c.green('EXEC ')} ${who(e, c)} ppid=${t(d.ppid)} ${cut(t(String(d.full_command || d.filename)), 140)}${d.argv_truncated ? c.yellow(' [argv truncated]') : ''}${link}`;
    }
    case 'EXIT': {
      const how = d.signal ? c.red(`killed by ${t(d.signal)}`) : d.exit_code === 0 ? 'exit 0' : c.red(`exit ${t(d.exit_code)}`);
      return `${c.blue('EXIT ')} ${who(e, c)} ${how} after ${t(d.duration_ms)} ms`;
    }
    case 'FORK':
      return `${c.cyan('FORK ')} ${who(e, c)} from ppid=${t(d.ppid)}`;
    case 'FILE_OPEN': {
      const res = d.error ? c.red(t(d.error)) : `fd=${t(d.fd)}`;
      const n = d.repeat ? c.yellow(` ×${t(d.count)} more in ${t(d.window_ms)} ms`) : '';
      return `${c.magenta('OPEN ')} ${who(e, c)} ${t(d.filepath)} ${c.dim(t(d.flags))} ${res}${n}`;
    }
    default:
      return `${c.bold(t(d.event))} ${who(e, c)} ${preview(JSON.stringify(d), 120)}`;
  }
});

function nonZero(obj: unknown): string {
  if (!obj || typeof obj !== 'object') return '';
  return Object.entries(obj as Record<string, number>)
    .filter(([, v]) => typeof v === 'number' && v !== 0)
    .map(([k, v]) => `${t(k)}=${v}`)
    .join(' ');
}

/** Cut an (already escaped) text to width with "…". */
function cut(s: string, width: number): string {
  return s.length <= width ? s : s.slice(0, width - 1) + '…';
}

registerRenderer('stats', (e, c) => {
  const d = e.data;
  if (d.event === 'ANALYZER') {
    const { event: _e, analyzer, ...rest } = d;
    return `${c.yellow('STATS')} ${t(analyzer)} ${preview(nonZero(rest) || 'nothing to report', 140)}`;
  }
  if (d.event === 'EXPORT') {
    const q = (d.queue ?? {}) as Record<string, number>;
    const dropped = nonZero({ queue_full: q.dropped_queue_full, rejected: q.dropped_rejected, not_sent: q.dropped_not_sent });
    return `${c.yellow(d.final ? 'FINAL' : 'STATS')} ${d.exporter} spans sent=${q.exported ?? 0} pending=${q.pending ?? 0}${dropped ? ' dropped ' + c.red(dropped) : ''}${q.last_error ? ` last error: ${preview(String(q.last_error), 60)}` : ''}`;
  }
  const kernel = nonZero(d.kernel);
  const label = d.event === 'FINAL' ? 'FINAL' : 'STATS';
  return `${c.yellow(label)} ${t(d.tracer ?? '')} records=${t(d.records ?? 0)} events=${t(d.events ?? 0)}${kernel ? ' ' + c.red(kernel) : ' no drops'}`;
});

// http and sse events: render/http.ts (several lines for a merged answer)
const httpLike: Renderer = (e, _c, opts) => {
  const lines = renderHttpEvent(e, { color: opts.color });
  return lines.length ? lines : `${e.source.toUpperCase()} ${preview(JSON.stringify(e.data), 140)}`;
};
registerRenderer('http', httpLike);
registerRenderer('sse', httpLike);

registerRenderer('websocket', (e, c) => {
  const d = e.data;
  const where = t(`${d.host ?? ''}${d.path ?? ''}`);
  if (d.type === 'parse_error') return `${c.red('WS   ')} ${who(e, c)} ${where} ${t(d.kind)}: ${t(d.message)}`;
  if (d.type === 'end')
    return `${c.cyan('WS   ')} ${who(e, c)} ${where} ended (${t(d.reason)}) ${t(d.messages?.client_to_server ?? 0)}→ ${t(d.messages?.server_to_client ?? 0)}←`;
  const arrow = d.direction === 'client_to_server' ? '→' : '←';
  const flags = [d.compressed ? 'deflate' : '', d.fragmented ? `${t(d.frames)} frames` : '', d.truncated ? c.yellow('truncated') : '']
    .filter(Boolean)
    .join(' ');
  const body =
    d.opcode === 'close'
      ? `${t(d.close_code ?? '')} ${preview(String(d.data ?? ''), 120)}`
      : d.data_encoding === 'base64'
        ? `[${t(d.size)} bytes]`
        : preview(String(d.data), 120);
  return `${c.cyan('WS   ')} ${who(e, c)} ${arrow} ${t(d.opcode)} ${t(d.size)}B${flags ? ' ' + c.dim(flags) : ''} ${body}`;
});

registerRenderer('diagnostic', (e, c) => `${c.yellow('NOTE ')} ${t(e.data.message ?? JSON.stringify(e.data))}`);

registerRenderer('llm', (e, c) => {
  const d = e.data;
  const model = t(callModel(d).model);
  const tok = `${t(d['gen_ai.usage.input_tokens'] ?? '?')}→${t(d['gen_ai.usage.output_tokens'] ?? '?')} tok`;
  const status = d.error
    ? c.red(`${t(d['http.response.status_code'])} ${t(d.error.type ?? '')} ${preview(String(d.error.message ?? ''), 200)}`.trim())
    : t(d['http.response.status_code']);
  const tools = (d.response?.tool_calls ?? []) as { name: string; command?: string }[];
  const what = tools.length
    ? c.cyan(`tool ${tools.map((x) => `${t(x.name)}${x.command ? `(${preview(String(x.command), 60)})` : ''}`).join(', ')}`)
    : preview(String(d.response?.text ?? ''), 100);
  const cost = typeof d.cost_usd === 'number' ? ` ${c.green(formatUsd(d.cost_usd))}` : d.cost_unpriced ? c.dim(' unpriced') : '';
  return `${c.magenta('LLM  ')} ${who(e, c)} ${t(d['gen_ai.provider.name'])} ${model} ${status} ${t(d.latency_ms ?? '?')} ms ${tok}${cost} ${what}`;
});

registerRenderer('summary', (e, c) => {
  const d = e.data;
  const cost =
    typeof d.cost_usd === 'number' && d.llm_calls ? `, ${formatUsd(d.cost_usd)}${d.unpriced_calls ? ` (+${t(d.unpriced_calls)} unpriced)` : ''}` : '';
  return `${c.yellow('SUMMARY')} ${t(d.llm_calls)} LLM call(s)${cost}, ${t(d.commands?.length ?? 0)} command(s), ${t(d.tool_calls_linked)}/${t(d.tool_calls_requested)} tool call(s) linked`;
});
