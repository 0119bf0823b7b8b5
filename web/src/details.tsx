/**
 * The detail pane: one LLM call (what the model was told, what it answered
 * with its thinking and tool calls, usage, cost, latency, the raw HTTP
 * exchange when it was captured), one process, one file, one raw event;
 * and the session's totals. Every captured string is rendered as text.
 */
import { useEffect, useState } from 'preact/hooks';
import { formatUsd } from '../../lib/cost/format';
import type { UiProc } from '../../lib/ui/types';
import { getJson } from './api';
import type { Selection } from './lists';
import type { Model } from './state';
import { clock, dur, int, line, visible } from './text';

type Json = Record<string, any>;

function useFetch<T>(path: string | null, deps: unknown[] = []): { data: T | null; error: string | null } {
  const [state, set] = useState<{ data: T | null; error: string | null }>({ data: null, error: null });
  useEffect(() => {
    if (!path) return;
    let live = true;
    set({ data: null, error: null });
    getJson<T>(path)
      .then((data) => live && set({ data, error: null }))
      .catch((e: Error) => live && set({ data: null, error: e.message }));
    return () => {
      live = false;
    };
  }, [path, ...deps]);
  return state;
}

function Pre({ text, max = 200_000 }: { text: unknown; max?: number }) {
  const [all, setAll] = useState(false);
  const t = visible(text);
  if (!t) return <pre class="dim">(empty)</pre>;
  return (
    <>
      <pre>{all || t.length <= max ? t : `${t.slice(0, max)}…`}</pre>
      {t.length > max && !all ? (
        <button class="a" onClick={() => setAll(true)}>
          show all {int(t.length)} characters
        </button>
      ) : null}
    </>
  );
}

function KV({ rows }: { rows: [string, unknown][] }) {
  return (
    <div class="kv">
      {rows
        .filter(([, v]) => v !== undefined && v !== null && v !== '')
        .flatMap(([k, v]) => [<span key={`k${k}`}>{k}</span>, <span key={`v${k}`}>{typeof v === 'string' ? visible(v) : JSON.stringify(v)}</span>])}
    </div>
  );
}

function ProcLink({ p, select }: { p: UiProc; select: (s: Selection) => void }) {
  return (
    <div>
      <button class="a" onClick={() => select({ kind: 'proc', seq: p.seq })}>
        [{p.pid}] {line(p.cmd, 160)}
      </button>{' '}
      <span class={p.exit ? 'bad' : 'dim'}>{p.signal ?? (p.exit !== null ? `exit ${p.exit}` : p.t1 === null ? 'running' : '')}</span>
    </div>
  );
}

function body(e: Json | null): string {
  const d = e?.data;
  if (!d || typeof d.body !== 'string') return '';
  return d.body_encoding === 'base64' ? `(base64, ${int(d.body_size)} bytes)\n${d.body}` : d.body;
}

function headersText(h: unknown): string {
  if (!h || typeof h !== 'object') return '';
  return Object.entries(h as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join('\n');
}

export function CallDetail({ model, seq, select }: { model: Model; seq: number; select: (s: Selection) => void }) {
  const { data, error } = useFetch<{ call: Json; request: Json | null; response: Json | null; sse: Json | null }>(`/api/call/${seq}`);
  const c = model.calls.get(seq);
  if (error) return <div class="bad">{visible(error)}</div>;
  if (!data) return <div class="dim">loading…</div>;
  const d = data.call.data as Json;
  const cost = d.cost as Json | undefined;
  const req = data.request?.data as Json | undefined;
  const resp = data.response?.data as Json | undefined;
  return (
    <div data-view="call">
      <h2>
        {visible(d.call_id)} · {visible(d['gen_ai.response.model'] ?? d['gen_ai.request.model'])}
      </h2>
      <KV
        rows={[
          ['provider', d['gen_ai.provider.name']],
          ['api', d.api],
          ['endpoint', `${d.endpoint?.method ?? ''} ${d.endpoint?.host ?? ''}${d.endpoint?.path ?? ''}`],
          ['status', d['http.response.status_code']],
          ['error', d.error ? `${d.error.type ?? ''} ${d.error.message ?? ''}` : null],
          ['incomplete', d.incomplete],
          ['process', `${data.call.comm}[${data.call.pid}]`],
          ['streamed', d.streaming ? 'yes' : 'no'],
          ['latency', dur(d.latency_ms)],
          ['time to first token', dur(d.time_to_first_chunk_ms)],
          ['finish', (d['gen_ai.response.finish_reasons'] ?? []).join(', ')],
          [
            'tokens',
            c
              ? `${int(c.input_tokens)} input, ${int(c.cache_read_tokens)} cache read, ${int(c.cache_write_tokens)} cache write, ${int(c.output_tokens)} output`
              : null,
          ],
          ['usage (as reported)', d.usage],
          [
            'cost',
            typeof d.cost_usd === 'number'
              ? `${formatUsd(d.cost_usd)} = input ${formatUsd(cost?.input_usd ?? 0)} + output ${formatUsd(cost?.output_usd ?? 0)} + cache read ${formatUsd(cost?.cache_read_usd ?? 0)} + cache write ${formatUsd(cost?.cache_write_usd ?? 0)}`
              : `unpriced: ${d.cost_unpriced_reason ?? 'no price'}`,
          ],
          ['priced as', cost ? `${cost.priced_as} (price of ${cost.price_as_of})` : null],
        ]}
      />
      <h3>System prompt</h3>
      {d.request?.system ? <Pre text={d.request.system} /> : <div class="dim">none</div>}
      <h3>Messages ({(d.request?.messages ?? []).length})</h3>
      {(d.request?.messages ?? []).map((m: Json, i: number) => (
        <div key={i} class={`msg ${m.role === 'assistant' ? 'assistant' : m.role === 'user' ? 'user' : ''}`}>
          <div class="role">{visible(m.role)}</div>
          {m.content ? <Pre text={m.content} max={20_000} /> : null}
          {(m.tool_calls ?? []).map((t: Json, j: number) => (
            <div key={`t${j}`} class="tool">
              tool call {visible(t.name)} <span class="dim">{visible(t.id)}</span>
              <Pre text={JSON.stringify(t.arguments, null, 2)} max={20_000} />
            </div>
          ))}
          {(m.tool_results ?? []).map((r: Json, j: number) => (
            <div key={`r${j}`} class="tool">
              tool result <span class="dim">{visible(r.tool_call_id)}</span>
              {r.is_error ? <span class="bad"> error</span> : null}
              <Pre text={r.content} max={20_000} />
            </div>
          ))}
        </div>
      ))}
      <h3>Tools offered ({(d.request?.tools ?? []).length})</h3>
      {(d.request?.tools ?? []).map((t: Json, i: number) => (
        <div key={i}>
          <b>{visible(t.name)}</b> <span class="dim">{line(t.description, 300)}</span>
        </div>
      ))}
      <h3>Answer</h3>
      {d.response?.thinking ? (
        <details>
          <summary>thinking ({int(String(d.response.thinking).length)} characters)</summary>
          <Pre text={d.response.thinking} />
        </details>
      ) : null}
      <div data-part="answer">
        <Pre text={d.response?.text ?? ''} />
      </div>
      {(d.response?.tool_calls ?? []).map((t: Json, i: number) => (
        <div key={i} class="tool" data-tool-call={t.id ?? ''}>
          <b>{visible(t.name)}</b> <span class="dim">{visible(t.id)}</span>
          {t.command ? (
            <div>
              asked to run: <code>{visible(t.command)}</code>
            </div>
          ) : null}
          <Pre text={JSON.stringify(t.arguments, null, 2)} max={20_000} />
          <div class="dim">ran:</div>
          {model.procsOf(String(d.call_id), t.id ?? null).map((p) => (
            <ProcLink key={p.seq} p={p} select={select} />
          ))}
        </div>
      ))}
      <h3>HTTP</h3>
      {req ? (
        <details>
          <summary>
            request: {visible(req.method)} {visible(req.url ?? req.path)} ({int(req.body_size)} bytes)
          </summary>
          <Pre text={headersText(req.headers)} />
          <Pre text={body(data.request)} />
        </details>
      ) : (
        <div class="dim">request not in the session</div>
      )}
      {resp ? (
        <details>
          <summary>
            response: {visible(resp.status_code)} {visible(resp.status_text)} ({int(resp.body_size)} bytes)
          </summary>
          <Pre text={headersText(resp.headers)} />
          <Pre text={body(data.response)} />
        </details>
      ) : null}
      {data.sse ? (
        <details>
          <summary>stream: {int(data.sse.data?.event_count)} events</summary>
          <Pre text={JSON.stringify(data.sse.data?.event_names ?? {}, null, 2)} />
        </details>
      ) : null}
    </div>
  );
}

export function ProcDetail({ model, seq, select }: { model: Model; seq: number; select: (s: Selection) => void }) {
  const p = model.procs.get(seq);
  const ev = useFetch<Json>(`/api/event/${seq}`);
  if (!p) return <div class="dim">not in the index</div>;
  const parent = p.parent !== null ? model.procs.get(p.parent) : undefined;
  const kids = [...model.procs.values()].filter((k) => k.parent === p.seq);
  const call = p.link ? model.callById(p.link.call) : undefined;
  return (
    <div data-view="proc">
      <h2>
        [{p.pid}] {line(p.cmd, 300)}
      </h2>
      <KV
        rows={[
          ['command', p.cmd],
          ['process', `${p.comm} pid ${p.pid}, ppid ${p.ppid}`],
          ['started', clock(p.t0)],
          ['ran', p.t1 !== null ? dur(p.t1 - p.t0) : 'still running'],
          ['exit', p.signal ? `killed by ${p.signal}` : p.exit],
          ['file opens', p.opens ? `${int(p.opens)} (${int(p.writes)} for writing)` : null],
        ]}
      />
      {p.link ? (
        <>
          <h3>Asked for by</h3>
          <div class="link">
            {visible(p.link.name ?? 'tool')} call {visible(p.link.tool ?? '?')} of{' '}
            {call ? (
              <button class="a" onClick={() => select({ kind: 'call', seq: call.seq })}>
                {visible(p.link.call)}
              </button>
            ) : (
              visible(p.link.call)
            )}
          </div>
        </>
      ) : null}
      {parent ? (
        <>
          <h3>Parent</h3>
          <ProcLink p={parent} select={select} />
        </>
      ) : null}
      {kids.length ? <h3>Children ({kids.length})</h3> : null}
      {kids.slice(0, 200).map((k) => (
        <ProcLink key={k.seq} p={k} select={select} />
      ))}
      <h3>Event</h3>
      {ev.data ? <Pre text={JSON.stringify(ev.data, null, 2)} /> : <div class="dim">{visible(ev.error ?? 'loading…')}</div>}
    </div>
  );
}

export function FileDetail({ model, path }: { model: Model; path: string }) {
  const f = model.files.get(path);
  const ev = useFetch<Json>(f ? `/api/event/${f.seq}` : null, [f?.seq]);
  if (!f) return <div class="dim">not in the index</div>;
  return (
    <div data-view="file">
      <h2>{line(f.path, 300)}</h2>
      <KV
        rows={[
          ['path', f.path],
          ['opens', `${int(f.opens)} (${int(f.writes)} for writing, ${int(f.failed)} failed)`],
          ['error', f.error],
          ['processes', f.pids.join(', ')],
          ['first / last', `${clock(f.t0)} / ${clock(f.t1)}`],
        ]}
      />
      <h3>Last open</h3>
      {ev.data ? <Pre text={JSON.stringify(ev.data, null, 2)} /> : <div class="dim">{visible(ev.error ?? 'loading…')}</div>}
    </div>
  );
}

export function EventDetail({ seq }: { seq: number }) {
  const ev = useFetch<Json>(`/api/event/${seq}`);
  return (
    <div data-view="event">
      <h2>event #{seq}</h2>
      {ev.data ? <Pre text={JSON.stringify(ev.data, null, 2)} /> : <div class="dim">{visible(ev.error ?? 'loading…')}</div>}
    </div>
  );
}

const pc = (p: Json | null) => (p ? `${Math.round(p.p50)} / ${Math.round(p.p90)} / ${Math.round(p.p99)} / ${Math.round(p.max)}` : '–');

/** The session's report (lib/report), refreshed while it is live. */
export function Totals({ model }: { model: Model }) {
  const [tick, setTick] = useState(0);
  const live = model.info?.live && !model.info.ended;
  useEffect(() => {
    if (!live) return;
    const t = setInterval(() => setTick((n) => n + 1), 3000);
    return () => clearInterval(t);
  }, [live]);
  const { data, error } = useFetch<Json>('/api/report', [tick, model.info?.ended]);
  if (error) return <div class="bad">{visible(error)}</div>;
  if (!data) return <div class="dim">loading…</div>;
  const t = data.totals;
  return (
    <div class="totals" data-view="totals">
      <h3>LLM calls</h3>
      <table class="t">
        <thead>
          <tr>
            {['provider', 'model'].map((h) => (
              <th key={h}>{h}</th>
            ))}
            {['calls', 'errors', 'input', 'cache read', 'cache write', 'output', 'cost', 'latency ms p50/p90/p99/max', 'TTFT ms p50/p90/p99/max'].map((h) => (
              <th key={h} class="n">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {data.models.map((m: Json, i: number) => (
            <tr key={i}>
              <td>{visible(m.provider)}</td>
              <td>{visible(m.model)}</td>
              <td class="n">{int(m.calls)}</td>
              <td class="n">{int(m.errors)}</td>
              <td class="n">{int(m.input_tokens)}</td>
              <td class="n">{int(m.cache_read_tokens)}</td>
              <td class="n">{int(m.cache_write_tokens)}</td>
              <td class="n">{int(m.output_tokens)}</td>
              <td class="n">{m.unpriced_calls === m.calls ? 'unpriced' : formatUsd(m.cost_usd)}</td>
              <td class="n">{pc(m.latency_ms)}</td>
              <td class="n">{pc(m.ttft_ms)}</td>
            </tr>
          ))}
          <tr>
            <td>
              <b>total</b>
            </td>
            <td />
            <td class="n">{int(t.calls)}</td>
            <td class="n">{int(t.errors)}</td>
            <td class="n">{int(t.input_tokens)}</td>
            <td class="n">{int(t.cache_read_tokens)}</td>
            <td class="n">{int(t.cache_write_tokens)}</td>
            <td class="n">{int(t.output_tokens)}</td>
            <td class="n" data-total-cost>
              {formatUsd(t.cost_usd)}
              {t.unpriced_calls ? ` (+${t.unpriced_calls} unpriced)` : ''}
            </td>
            <td />
            <td />
          </tr>
        </tbody>
      </table>
      <h3>Tools</h3>
      <table class="t">
        <tbody>
          {data.tools.map((x: Json, i: number) => (
            <tr key={i}>
              <td>{visible(x.name)}</td>
              <td class="n">{int(x.calls)} call(s)</td>
              <td class="n">{int(x.ran_commands)} ran commands</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Hosts</h3>
      <table class="t">
        <tbody>
          {data.hosts.map((h: Json, i: number) => (
            <tr key={i}>
              <td>{visible(h.host)}</td>
              <td class="n">{int(h.requests)} request(s)</td>
              <td class="n">{int(h.llm_calls)} LLM call(s)</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Events</h3>
      <KV rows={Object.entries(data.events_by_source as Record<string, number>).map(([k, v]) => [k, int(v)])} />
      <h3>Errors and losses ({data.errors.length + data.errors_not_listed})</h3>
      {data.errors.map((e: Json, i: number) => (
        <div key={i} class={e.kind === 'loss' ? 'warn' : 'bad'}>
          {visible(e.kind)}: {line(e.message, 400)}
        </div>
      ))}
    </div>
  );
}
