/**
 * The lists of the page: the timeline (LLM calls as spans with their time
 * to first token, tool calls, processes as a tree with their file opens),
 * the processes, the files and the raw events. Every one is virtualised.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { formatUsd } from '../../lib/cost/format';
import type { UiCall, UiEventRow, UiFile, UiProc } from '../../lib/ui/types';
import { getJson } from './api';
import type { Model } from './state';
import { clock, dur, int, line } from './text';
import { VirtualList } from './virtual';

export type Selection = { kind: 'call'; seq: number } | { kind: 'proc'; seq: number } | { kind: 'file'; path: string } | { kind: 'event'; seq: number } | null;

export interface ListProps {
  model: Model;
  calls: UiCall[];
  procs: UiProc[];
  files: UiFile[];
  sel: Selection;
  select: (s: Selection) => void;
  follow: boolean;
}

interface Scale {
  start: number;
  span: number;
}

function scaleOf(m: Model): Scale {
  const start = m.totals?.start ?? 0;
  const end = Math.max(m.totals?.end ?? start, start + 1);
  return { start, span: end - start };
}

const pct = (s: Scale, t: number) => `${Math.max(0, Math.min(100, ((t - s.start) / s.span) * 100))}%`;
const width = (s: Scale, a: number, b: number) => `${Math.max(0.15, Math.min(100, ((b - a) / s.span) * 100))}%`;

function status(p: UiProc): string {
  if (p.signal) return p.signal;
  if (p.exit !== null) return `exit ${p.exit}`;
  if (p.replaced) return 'exec';
  return p.t1 === null ? 'running' : 'ended';
}

function callLabel(c: UiCall): string {
  const tools = c.tools.map((t) => `${t.name ?? '?'}${t.command ? `(${t.command})` : ''}`).join(', ');
  const cost = c.cost_usd !== null ? formatUsd(c.cost_usd) : 'unpriced';
  return `${c.id} ${c.model} ${dur(c.t1 - c.t0)} ${cost}${c.error ? ` ERROR ${c.error}` : ''}${tools ? ` → ${tools}` : ` ${c.answer}`}`;
}

function CallSpan({ c, s }: { c: UiCall; s: Scale }) {
  const first = c.ttft ?? c.t0;
  return (
    <div class="track">
      <div class="span wait" style={{ left: pct(s, c.t0), width: width(s, c.t0, first) }} />
      <div class={`span ${c.error ? 'err' : 'call'}`} style={{ left: pct(s, first), width: width(s, first, c.t1) }} />
      {c.tools.map((t, i) => (
        <div key={i} class="mark" title={line(t.name)} style={{ left: pct(s, c.t1) }} />
      ))}
    </div>
  );
}

function ProcSpan({ p, s, now }: { p: UiProc; s: Scale; now: number }) {
  const end = p.t1 ?? now;
  return (
    <div class="track">
      <div class={`span proc${p.link ? ' linked' : ''}`} style={{ left: pct(s, p.t0), width: width(s, p.t0, end) }} />
      {p.open_times.map((t, i) => (
        <div key={i} class="tick" style={{ left: pct(s, t) }} />
      ))}
    </div>
  );
}

type Item = { kind: 'call'; c: UiCall; t: number } | { kind: 'proc'; p: UiProc; t: number };

export function Timeline(props: ListProps) {
  const { model } = props;
  const items = useMemo(() => {
    const out: Item[] = [
      ...props.calls.map((c) => ({ kind: 'call' as const, c, t: c.t0 })),
      ...props.procs.map((p) => ({ kind: 'proc' as const, p, t: p.t0 })),
    ];
    return out.sort((a, b) => a.t - b.t);
  }, [props.calls, props.procs]);
  const s = scaleOf(model);
  const now = model.totals?.end ?? s.start;
  const selIndex = items.findIndex(
    (it) => props.sel && props.sel.kind === it.kind && 'seq' in props.sel && props.sel.seq === (it.kind === 'call' ? it.c.seq : it.p.seq),
  );
  if (items.length === 0) return <div class="empty">No LLM calls or processes yet.</div>;
  return (
    <VirtualList
      label="timeline"
      count={items.length}
      follow={props.follow}
      reveal={selIndex}
      row={(i, style) => {
        const it = items[i];
        if (it.kind === 'call') {
          const c = it.c;
          const on = props.sel?.kind === 'call' && props.sel.seq === c.seq;
          return (
            <div key={`c${c.seq}`} class={`row${on ? ' sel' : ''}`} style={style} data-call={c.id} onClick={() => props.select({ kind: 'call', seq: c.seq })}>
              <span class="lbl" title={line(callLabel(c), 500)}>
                <span class="kind llm">LLM</span> {line(callLabel(c), 160)}
              </span>
              <CallSpan c={c} s={s} />
            </div>
          );
        }
        const p = it.p;
        const on = props.sel?.kind === 'proc' && props.sel.seq === p.seq;
        const indent = '  '.repeat(Math.min(12, model.depth(p)));
        return (
          <div key={`p${p.seq}`} class={`row${on ? ' sel' : ''}`} style={style} data-pid={p.pid} onClick={() => props.select({ kind: 'proc', seq: p.seq })}>
            <span class="lbl" title={line(p.cmd, 500)}>
              {indent}
              <span class="kind exec">{p.fork ? 'FORK' : 'EXEC'}</span> [{p.pid}] {line(p.cmd, 120)} <span class={p.exit ? 'bad' : 'dim'}>{status(p)}</span>
              {p.link ? (
                <span class="link">
                  {' '}
                  ← {line(p.link.name ?? 'tool')} of {line(p.link.call)}
                </span>
              ) : null}
            </span>
            <ProcSpan p={p} s={s} now={now} />
          </div>
        );
      }}
    />
  );
}

/** The processes as a tree: children under their parent, in start order. */
export function ProcessTree(props: ListProps) {
  const { model } = props;
  const rows = useMemo(() => {
    const keep = new Set(props.procs.map((p) => p.seq));
    const kids = new Map<number | null, UiProc[]>();
    for (const p of props.procs) {
      const parent = p.parent !== null && keep.has(p.parent) ? p.parent : null;
      const list = kids.get(parent) ?? [];
      list.push(p);
      kids.set(parent, list);
    }
    const out: { p: UiProc; depth: number }[] = [];
    const stack: { p: UiProc; depth: number }[] = (kids.get(null) ?? []).map((p) => ({ p, depth: 0 })).reverse();
    while (stack.length) {
      const x = stack.pop() as { p: UiProc; depth: number };
      out.push(x);
      for (const k of [...(kids.get(x.p.seq) ?? [])].reverse()) stack.push({ p: k, depth: x.depth + 1 });
    }
    return out;
  }, [props.procs, model.version]);
  const selIndex = rows.findIndex((r) => props.sel?.kind === 'proc' && props.sel.seq === r.p.seq);
  if (rows.length === 0) return <div class="empty">No processes.</div>;
  return (
    <VirtualList
      label="processes"
      count={rows.length}
      follow={props.follow}
      reveal={selIndex}
      row={(i, style) => {
        const { p, depth } = rows[i];
        const on = props.sel?.kind === 'proc' && props.sel.seq === p.seq;
        return (
          <div key={p.seq} class={`row${on ? ' sel' : ''}`} style={style} data-pid={p.pid} onClick={() => props.select({ kind: 'proc', seq: p.seq })}>
            <span class="cells">
              {'  '.repeat(Math.min(20, depth))}
              {depth ? '└ ' : ''}[{p.pid}] {line(p.cmd, 160)} <span class={p.exit ? 'bad' : 'dim'}>{status(p)}</span>{' '}
              <span class="num">{p.t1 !== null ? dur(p.t1 - p.t0) : ''}</span>
              {p.opens ? <span class="dim"> {int(p.opens)} open(s)</span> : null}
              {p.link ? (
                <span class="link">
                  {' '}
                  ← {line(p.link.name ?? 'tool')} {line(p.link.tool ?? '')} of {line(p.link.call)}
                </span>
              ) : null}
            </span>
          </div>
        );
      }}
    />
  );
}

export function Files(props: ListProps) {
  const files = useMemo(() => [...props.files].sort((a, b) => a.t0 - b.t0), [props.files]);
  if (files.length === 0) return <div class="empty">No file opens.</div>;
  return (
    <VirtualList
      label="files"
      count={files.length}
      follow={props.follow}
      row={(i, style) => {
        const f = files[i];
        const on = props.sel?.kind === 'file' && props.sel.path === f.path;
        return (
          <div key={f.path} class={`row${on ? ' sel' : ''}`} style={style} onClick={() => props.select({ kind: 'file', path: f.path })}>
            <span class="cells">
              <span class="num">{clock(f.t0)}</span> <span class={f.writes ? 'warn' : 'dim'}>{f.writes ? 'WRITE' : 'read '}</span> {line(f.path, 200)}{' '}
              <span class="dim">
                ×{int(f.opens)} pid {f.pids.join(',')}
              </span>
              {f.failed ? <span class="bad"> {line(f.error)}</span> : null}
            </span>
          </div>
        );
      }}
    />
  );
}

const PAGE = 200;
const MAX_PAGES = 30;

/** Every event, fetched from the server a page at a time as it comes into view (older ones come from the session file). */
export function Events(props: ListProps) {
  const total = props.model.seq;
  const pages = useRef(new Map<number, UiEventRow[]>());
  const pending = useRef(new Set<number>());
  const [, redraw] = useState(0);
  const [range, setRange] = useState<[number, number]>([0, 0]);

  useEffect(() => {
    const want: number[] = [];
    for (let p = Math.floor(range[0] / PAGE); p <= Math.floor(range[1] / PAGE); p++) {
      const have = pages.current.get(p);
      // a page that was not full may have grown
      if ((!have || (have.length < PAGE && p * PAGE + have.length < total)) && !pending.current.has(p)) want.push(p);
    }
    for (const p of want) {
      pending.current.add(p);
      getJson<{ rows: UiEventRow[] }>(`/api/events?from=${p * PAGE}&count=${PAGE}`)
        .then((r) => {
          pages.current.set(p, r.rows);
          while (pages.current.size > MAX_PAGES) pages.current.delete(pages.current.keys().next().value as number);
        })
        .catch(() => undefined)
        .finally(() => {
          pending.current.delete(p);
          redraw((n) => n + 1);
        });
    }
  }, [range[0], range[1], total]);

  if (total === 0) return <div class="empty">No events yet.</div>;
  return (
    <VirtualList
      label="events"
      count={total}
      follow={props.follow}
      onRange={(a, b) => setRange([a, b])}
      row={(i, style) => {
        const rows = pages.current.get(Math.floor(i / PAGE));
        const r = rows?.find((x) => x.seq === i);
        const on = props.sel?.kind === 'event' && props.sel.seq === i;
        return (
          <div key={i} class={`row${on ? ' sel' : ''}`} style={style} onClick={() => props.select({ kind: 'event', seq: i })}>
            <span class="cells">
              <span class="num">#{i}</span>{' '}
              {r ? (
                <>
                  <span class="num">{clock(r.t)}</span> {line(r.text, 300)}
                </>
              ) : rows ? (
                <span class="dim">no longer available</span>
              ) : (
                <span class="dim">…</span>
              )}
            </span>
          </div>
        );
      }}
    />
  );
}
