/**
 * Console rendering of http and sse events: one or a few readable lines each,
 * for a terminal. Pure functions: they return lines (no trailing newline) and
 * never print. OutputAnalyzer decides when to call them. Every captured
 * field is shown through printable() (render/safe-text.ts): no escape
 * sequence or line break from the traced world reaches the terminal.
 */
import type { Event } from '../core/event';
import { printable, terminalLine } from './safe-text';

/** Rendering options. */
export interface RenderOptions {
  /** ANSI colours. Default false. */
  color?: boolean;
  /** Maximum line width (previews are cut to fit). Default 120. */
  width?: number;
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null ? (v as Rec) : {});
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

const ANSI = { dim: '2', bold: '1', red: '31', green: '32', yellow: '33', blue: '34', magenta: '35', cyan: '36' } as const;

function paint(on: boolean, style: keyof typeof ANSI, s: string): string {
  return on ? `\x1b[${ANSI[style]}m${s}\x1b[0m` : s;
}

/** Human size: 512 B, 3.4 KB, 1.2 MB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Human duration: 85 ms, 1.24 s, 2m05s. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

/**
 * One-line preview of a text for a terminal: whitespace runs folded, cut with
 * "…" to width, and what is left that a terminal would interpret escaped
 * (printable()).
 */
export function preview(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (width <= 1) return printable(flat.slice(0, Math.max(0, width)));
  return printable(flat.length <= width ? flat : flat.slice(0, width - 1) + '…');
}

/** A captured string field for display (escaped), or `none` when absent. */
const show = (v: unknown, none = ''): string => (typeof v === 'string' ? printable(v) : none);

function target(host: string | null, path: string | null): string {
  return printable(`${host ?? ''}${path ?? ''}`) || '?';
}

function who(e: Event): string {
  return `${printable(e.comm)}[${e.pid}]`;
}

function statusColor(code: number): keyof typeof ANSI {
  return code >= 500 ? 'red' : code >= 400 ? 'yellow' : code >= 300 ? 'cyan' : 'green';
}

/** Lines for an http event (request, response_headers, response, parse_error); none for body_chunk. */
export function renderHttp(e: Event, opts: RenderOptions = {}): string[] {
  const c = opts.color ?? false;
  const width = opts.width ?? 120;
  const d = e.data as Rec;
  switch (d.type) {
    case 'request': {
      const size = num(d.body_size) ?? 0;
      const flags = d.incomplete ? paint(c, 'yellow', ' (incomplete)') : '';
      return [
        `${paint(c, 'blue', '→')} ${paint(c, 'bold', printable(String(d.method)))} ${target(str(d.host), str(d.path))}  ${formatBytes(size)}  ${paint(c, 'dim', who(e))}${flags}`,
      ];
    }
    case 'response_headers': {
      const r = rec(d.request);
      const code = num(d.status_code) ?? 0;
      const ttfb = num(d.ttfb_ms);
      return [
        `${paint(c, 'blue', '⇠')} ${paint(c, statusColor(code), String(code))} ${show(r.method)} ${target(str(r.host), str(r.path))}  streaming ${show(d.content_type)}${ttfb !== null ? `  ttfb ${formatMs(ttfb)}` : ''}  ${paint(c, 'dim', who(e))}`.replace(
          / {3,}/g,
          '  ',
        ),
      ];
    }
    case 'response': {
      const r = rec(d.request);
      const code = num(d.status_code) ?? 0;
      const lat = num(d.latency_ms);
      const parts = [
        `${paint(c, 'blue', '←')} ${paint(c, statusColor(code), `${code} ${show(d.status_text)}`.trim())}`,
        d.request ? `${show(r.method, 'null')} ${target(str(r.host), str(r.path))}` : '(request not seen)',
        lat !== null ? formatMs(lat) : null,
        formatBytes(num(d.body_size) ?? 0),
        str(d.content_type) !== null ? printable(str(d.content_type)!.split(';')[0]) : null,
        d.incomplete ? paint(c, 'yellow', `incomplete: ${show(d.incomplete_reason)}`) : null,
        d.body_truncated ? paint(c, 'yellow', 'body truncated') : null,
        paint(c, 'dim', who(e)),
      ];
      const lines = [parts.filter((p) => p !== null && p !== '').join('  ')];
      if (code >= 400 && !d.streamed && d.body_encoding === 'utf8' && typeof d.body === 'string' && d.body) {
        lines.push(`  ${paint(c, 'red', preview(d.body, width - 2))}`);
      }
      return lines;
    }
    case 'parse_error': {
      const ex = str(d.excerpt_text) ?? '';
      return [
        `${paint(c, 'red', '!')} http ${show(d.kind, 'error')} on ${show(d.conn_id, '?')} ${show(d.function)} @${num(d.offset) ?? 0}: ${show(d.message)}${ex ? `  "${preview(ex, 40)}"` : ''}`,
      ];
    }
    default:
      return [];
  }
}

function usageLine(u: Rec): string | null {
  const p: string[] = [];
  const n = (k: string) => num(u[k]);
  if (n('input_tokens') !== null) p.push(`in ${n('input_tokens')}`);
  if (n('output_tokens') !== null) p.push(`out ${n('output_tokens')}`);
  if (n('cache_read_input_tokens')) p.push(`cache read ${n('cache_read_input_tokens')}`);
  if (n('cache_creation_input_tokens')) p.push(`cache write ${n('cache_creation_input_tokens')}`);
  if (n('reasoning_tokens')) p.push(`reasoning ${n('reasoning_tokens')}`);
  return p.length ? p.join(' / ') : null;
}

/** Lines for a merged sse event: a header line, then previews of thinking, text, tool calls and errors. */
export function renderSse(e: Event, opts: RenderOptions = {}): string[] {
  const c = opts.color ?? false;
  const width = opts.width ?? 120;
  const d = e.data as Rec;
  if (d.type !== 'merged') return [];
  const r = rec(d.request);
  const ttfe = num(d.time_to_first_event_ms);
  const dur = num(d.duration_ms);
  const endReason = str(d.end_reason);
  const head = [
    paint(c, 'magenta', '✦'),
    paint(c, 'bold', d.provider === 'unknown' ? 'sse' : printable(String(d.provider))),
    str(d.model) !== null ? printable(str(d.model)) : d.request ? target(str(r.host), str(r.path)) : '',
    str(d.stop_reason) ? `· ${show(d.stop_reason)}` : null,
    dur !== null ? `· ${formatMs(dur)}${ttfe !== null ? ` (first ${formatMs(ttfe)})` : ''}` : null,
    d.usage ? `· ${usageLine(rec(d.usage)) ?? ''}` : null,
    endReason && endReason !== 'terminal' && endReason !== 'end_of_body' ? paint(c, 'yellow', `· ${printable(endReason)}`) : null,
    paint(c, 'dim', who(e)),
  ];
  const lines = [head.filter((p) => p !== null && p !== '').join(' ')];
  const inner = width - 4;
  const thinking = str(d.thinking);
  if (thinking) lines.push(`  ${paint(c, 'dim', 'thinking: ' + preview(thinking, inner - 10))}`);
  const text = str(d.text) ?? str(d.data);
  if (text) lines.push(`  ${preview(text, inner)}`);
  if (Array.isArray(d.tool_calls)) {
    for (const t of d.tool_calls) {
      const tc = rec(t);
      const args = str(tc.arguments_raw) ?? '';
      lines.push(
        `  ${paint(c, 'cyan', 'tool')} ${show(tc.name, '?')}(${preview(args, Math.max(10, inner - 8 - (str(tc.name)?.length ?? 1)))})${tc.arguments_error ? paint(c, 'yellow', ' [incomplete JSON]') : ''}`,
      );
    }
  }
  if (Array.isArray(d.errors)) {
    for (const err of d.errors) {
      const o = rec(err);
      lines.push(`  ${paint(c, 'red', 'error')} ${preview(str(o.message) ?? JSON.stringify(err), inner - 6)}`);
    }
  }
  const bad = num(d.malformed_lines) ?? 0;
  if (bad > 0) lines.push(`  ${paint(c, 'yellow', `${bad} malformed SSE line(s)`)}`);
  return lines;
}

/** Lines for any event this module knows (http, sse); [] for others. */
export function renderHttpEvent(e: Event, opts: RenderOptions = {}): string[] {
  const lines = e.source === 'http' ? renderHttp(e, opts) : e.source === 'sse' ? renderSse(e, opts) : [];
  return lines.map((l) => terminalLine(l, opts.color ?? false));
}
