/**
 * A session report for people: aligned tables for a terminal, or Markdown
 * (for a CI job summary or a pull request). Captured text (commands, paths,
 * model answers in error messages) is made printable first: control
 * characters and terminal escapes are shown, never sent to the terminal.
 */
import { formatUsd } from '../cost/format';
import { printable } from '../render/safe-text';

export { printable };
import type { Percentiles, ReportCommand, SessionReport } from './collect';

export type ReportFormat = 'text' | 'json' | 'markdown';

/** One line of captured text, at most `width` characters. */
function cell(s: string, width = 80): string {
  const flat = printable(s.replace(/[\r\n\t]+/g, ' ').trim());
  return flat.length <= width ? flat : `${flat.slice(0, width - 1)}…`;
}

const int = (n: number) => n.toLocaleString('en-US');

function ms(n: number): string {
  if (n >= 60_000) return `${Math.floor(n / 60_000)}m${String(Math.round((n % 60_000) / 1000)).padStart(2, '0')}s`;
  if (n >= 10_000) return `${(n / 1000).toFixed(1)} s`;
  return `${Math.round(n)} ms`;
}

function pct(p: Percentiles | null): string {
  return p ? `${Math.round(p.p50)}/${Math.round(p.p90)}/${Math.round(p.p99)}/${Math.round(p.max)}` : '-';
}

const when = (ts: number) =>
  new Date(ts)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');

function status(c: ReportCommand): string {
  if (c.signal) return c.signal;
  if (c.exit_code === undefined) return 'running';
  return String(c.exit_code);
}

function askedBy(c: ReportCommand): string {
  return c.llm_call_id ? `${c.tool_name ?? 'tool'} ${c.tool_call_id ?? '?'} of ${c.llm_call_id}` : '';
}

interface Table {
  head: string[];
  rows: string[][];
  /** Columns aligned right (numbers). */
  right?: number[];
}

/** Aligned columns, two spaces apart; the last column is not padded. */
function textTable(t: Table): string[] {
  const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((v, i) => (i === r.length - 1 && !t.right?.includes(i) ? v : t.right?.includes(i) ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(t.head), ...t.rows.map(line)];
}

function mdTable(t: Table): string[] {
  const esc = (v: string) =>
    v
      .replace(/\\/g, '\\\\')
      .replace(/\|/g, '\\|')
      .replace(/[`*_<>[\]]/g, (c) => `\\${c}`);
  return [
    `| ${t.head.join(' | ')} |`,
    `| ${t.head.map((_, i) => (t.right?.includes(i) ? '---:' : '---')).join(' | ')} |`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ];
}

interface Section {
  title: string;
  lines?: string[];
  table?: Table;
  more?: string;
}

function sections(r: SessionReport): { heading: string; sections: Section[] } {
  const t = r.totals;
  const span = r.start !== null && r.end !== null ? `, ${when(r.start)} to ${when(r.end)} (${ms(r.end - r.start)})` : '';
  const heading = `${r.files.map((f) => cell(f.path, 200)).join(', ')}: ${r.sessions} session(s), ${int(r.events)} event(s)${span}${r.damaged_lines ? `, ${r.damaged_lines} damaged line(s) skipped` : ''}`;
  const out: Section[] = [];
  const cost = `${formatUsd(t.cost_usd)}${t.unpriced_calls ? ` (${t.unpriced_calls} unpriced call(s) not included)` : ''}`;
  out.push({
    title: `LLM calls: ${t.calls}${t.errors ? ` (${t.errors} failed)` : ''}, cost ${cost}`,
    table: r.models.length
      ? {
          head: [
            'provider',
            'model',
            'calls',
            'errors',
            'input',
            'cache read',
            'cache write',
            'output',
            'cost',
            'latency ms p50/p90/p99/max',
            'TTFT ms p50/p90/p99/max',
          ],
          right: [2, 3, 4, 5, 6, 7, 8],
          rows: [
            ...r.models.map((m) => [
              cell(m.provider, 30),
              cell(m.model, 50),
              int(m.calls),
              int(m.errors),
              int(m.input_tokens),
              int(m.cache_read_tokens),
              int(m.cache_write_tokens),
              int(m.output_tokens),
              m.unpriced_calls === m.calls ? 'unpriced' : formatUsd(m.cost_usd),
              pct(m.latency_ms),
              pct(m.ttft_ms),
            ]),
            ...(r.models.length > 1
              ? [
                  [
                    'total',
                    '',
                    int(t.calls),
                    int(t.errors),
                    int(t.input_tokens),
                    int(t.cache_read_tokens),
                    int(t.cache_write_tokens),
                    int(t.output_tokens),
                    formatUsd(t.cost_usd),
                    '',
                    '',
                  ],
                ]
              : []),
          ],
        }
      : undefined,
    lines: t.calls ? ['input: tokens neither read from nor written to the prompt cache; output: as billed, reasoning included'] : undefined,
  });
  const byPid = new Map(r.commands.map((c) => [c.pid, c]));
  const ran = r.tool_calls.filter((c) => c.pids.length).length;
  out.push({
    title: `Tool calls: ${r.tool_calls.length + r.tool_calls_not_listed} requested, ${ran} ran commands`,
    table: r.tool_calls.length
      ? {
          head: ['llm call', 'tool', 'tool call id', 'asked to run', 'ran (pid: exit)'],
          rows: r.tool_calls.map((c) => [
            c.llm_call_id,
            cell(c.name ?? '?', 30),
            cell(c.tool_call_id ?? '-', 40),
            cell(c.command ?? '-', 60),
            c.pids.map((p) => `${p}: ${byPid.has(p) ? status(byPid.get(p) as ReportCommand) : '?'}`).join(', ') || '-',
          ]),
        }
      : undefined,
    more: r.tool_calls_not_listed ? `… and ${r.tool_calls_not_listed} more` : undefined,
  });
  out.push({
    title: `Commands: ${r.commands.length + r.commands_not_listed}`,
    table: r.commands.length
      ? {
          head: ['pid', 'ppid', 'exit', 'duration', 'command', 'asked by'],
          right: [0, 1, 2, 3],
          rows: r.commands.map((c) => [
            String(c.pid),
            String(c.ppid),
            status(c),
            c.duration_ms !== undefined ? ms(c.duration_ms) : '-',
            cell(c.command, 80),
            cell(askedBy(c), 80),
          ]),
        }
      : undefined,
    more: r.commands_not_listed ? `… and ${r.commands_not_listed} more` : undefined,
  });
  out.push({
    title: `Files written: ${r.files_written.length + r.files_written_not_listed}`,
    table: r.files_written.length
      ? {
          head: ['opens', 'failed', 'pids', 'flags', 'path'],
          right: [0, 1],
          rows: r.files_written.map((f) => [int(f.opens), f.failed ? `${f.failed} (${f.error})` : '0', f.pids.join(','), f.flags.join(' '), cell(f.path, 120)]),
        }
      : undefined,
    more: r.files_written_not_listed ? `… and ${r.files_written_not_listed} more` : undefined,
  });
  out.push({
    title: `Hosts contacted: ${r.hosts.length}`,
    table: r.hosts.length
      ? { head: ['host', 'requests', 'llm calls'], right: [1, 2], rows: r.hosts.map((h) => [cell(h.host, 80), int(h.requests), int(h.llm_calls)]) }
      : undefined,
  });
  out.push({
    title: `Errors and losses: ${r.errors.length + r.errors_not_listed || 'none'}`,
    table: r.errors.length
      ? { head: ['kind', 'time', 'what'], rows: r.errors.map((e) => [e.kind, e.time !== null ? when(e.time) : '-', cell(e.message, 160)]) }
      : undefined,
    more: r.errors_not_listed ? `… and ${r.errors_not_listed} more` : undefined,
  });
  return { heading, sections: out };
}

/** The report as aligned text for a terminal. */
export function reportText(r: SessionReport): string {
  const { heading, sections: secs } = sections(r);
  const out = [`agentsight report: ${heading}`];
  for (const s of secs) {
    out.push('', s.title);
    if (s.table) out.push(...textTable(s.table).map((l) => `  ${l}`));
    if (s.more) out.push(`  ${s.more}`);
    if (s.lines) out.push(...s.lines.map((l) => `  (${l})`));
  }
  return `${out.join('\n')}\n`;
}

/** The report as Markdown. */
export function reportMarkdown(r: SessionReport): string {
  const { heading, sections: secs } = sections(r);
  const out = ['# agentsight report', '', heading.replace(/[`*_<>[\]|]/g, (c) => `\\${c}`)];
  for (const s of secs) {
    out.push('', `## ${s.title}`);
    if (s.table) out.push('', ...mdTable(s.table));
    if (s.more) out.push('', s.more);
    if (s.lines) out.push('', ...s.lines.map((l) => `_${l}_`));
  }
  return `${out.join('\n')}\n`;
}

/** The report in a format: json is the report object itself. */
export function renderReport(r: SessionReport, format: ReportFormat): string {
  if (format === 'json') return `${JSON.stringify(r, null, 2)}\n`;
  return format === 'markdown' ? reportMarkdown(r) : reportText(r);
}
