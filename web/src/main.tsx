/**
 * agentsight's web UI. The server pushes the session (a snapshot, then
 * updates, over Server-Sent Events); the page keeps the compact indexes it
 * was sent and asks for whole events when they are looked at.
 *
 * Built with Preact (bundled by esbuild into web/dist/app.js): components
 * render captured text as text nodes only; nothing here writes markup.
 */
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { formatUsd } from '../../lib/cost/format';
import type { UiSnapshot, UiUpdate } from '../../lib/ui/types';
import { CallDetail, EventDetail, FileDetail, ProcDetail, Totals } from './details';
import { Events, Files, ProcessTree, Timeline, type ListProps, type Selection } from './lists';
import { callMatches, fileMatches, Model, procMatches, type Filters } from './state';
import { int, line, visible } from './text';

const model = new Model();

function connect(): void {
  const es = new EventSource('/api/stream');
  es.addEventListener('snapshot', (ev) => {
    model.snapshot(JSON.parse((ev as MessageEvent<string>).data) as UiSnapshot);
    model.setConnected(true);
  });
  es.addEventListener('update', (ev) => model.update(JSON.parse((ev as MessageEvent<string>).data) as UiUpdate));
  es.addEventListener('error', () => model.setConnected(false));
}

function useModel(): number {
  const [v, setV] = useState(model.version);
  useEffect(() => model.subscribe(() => setV(model.version)), []);
  return v;
}

const TABS = ['timeline', 'processes', 'files', 'events', 'totals'] as const;
type Tab = (typeof TABS)[number];

function Header() {
  const t = model.totals;
  const info = model.info;
  const state = !info ? '' : info.ended ? 'ended' : info.live ? '● live' : 'loading';
  return (
    <header>
      <h1>agentsight</h1>
      <span class="title" title={visible(info?.title ?? '')}>
        {line(info?.title ?? '', 120)}
      </span>
      <span class={info?.ended ? 'ended' : 'live'} data-state={state}>
        {model.connected ? state : 'disconnected'}
      </span>
      {t ? (
        <>
          <span class="stat">
            <span class="k">calls</span>
            <b data-total="calls">{int(t.calls)}</b>
            {t.call_errors ? <span class="bad"> ({t.call_errors} failed)</span> : null}
          </span>
          <span class="stat">
            <span class="k">tokens in/out</span>
            <b>
              {int(t.input_tokens + t.cache_read_tokens + t.cache_write_tokens)} / {int(t.output_tokens)}
            </b>
          </span>
          <span class="stat">
            <span class="k">cost</span>
            <b data-total="cost">{formatUsd(t.cost_usd)}</b>
            {t.unpriced_calls ? <span class="dim"> +{t.unpriced_calls} unpriced</span> : null}
          </span>
          <span class="stat">
            <span class="k">commands</span>
            <b data-total="commands">{int(t.commands)}</b>
          </span>
          <span class="stat">
            <span class="k">files</span>
            <b>{int(t.files)}</b>
          </span>
          <span class="stat">
            <span class="k">events</span>
            <b data-total="events">{int(t.events)}</b>
          </span>
          {t.errors ? (
            <span class="stat bad">
              <span class="k">errors</span>
              <b>{int(t.errors)}</b>
            </span>
          ) : null}
        </>
      ) : null}
    </header>
  );
}

function App() {
  useModel();
  const [tab, setTab] = useState<Tab>('timeline');
  const [sel, select] = useState<Selection>(null);
  const [follow, setFollow] = useState(true);
  const [f, setF] = useState<Filters>({ pid: '', provider: '', model: '', text: '' });
  const v = model.version;
  const calls = useMemo(() => [...model.calls.values()].filter((c) => callMatches(c, f)), [v, f]);
  const callIds = useMemo(() => (f.provider || f.model ? new Set(calls.map((c) => c.id)) : null), [calls, f]);
  const procs = useMemo(() => [...model.procs.values()].filter((p) => procMatches(p, f, callIds)), [v, f, callIds]);
  const files = useMemo(() => [...model.files.values()].filter((x) => fileMatches(x, f)), [v, f]);
  const providers = [...new Set((model.totals?.models ?? []).map((m) => m.provider))];
  const models = [...new Set((model.totals?.models ?? []).filter((m) => !f.provider || m.provider === f.provider).map((m) => m.model))];
  const props: ListProps = { model, calls, procs, files, sel, select, follow };
  const ni = model.totals?.not_indexed;
  const left = ni && ni.calls + ni.procs + ni.files > 0 ? `index full: ${ni.calls} call(s), ${ni.procs} process(es), ${ni.files} file(s) not listed` : '';
  const set = (k: keyof Filters) => (ev: Event) => setF({ ...f, [k]: (ev.currentTarget as HTMLInputElement).value });
  return (
    <>
      <Header />
      <div class="bar-filters">
        <input type="search" placeholder="search calls, commands, files" aria-label="search" value={f.text} onInput={set('text')} />
        <input type="text" inputMode="numeric" placeholder="pid" aria-label="pid" size={7} value={f.pid} onInput={set('pid')} />
        <select aria-label="provider" value={f.provider} onChange={set('provider')}>
          <option value="">all providers</option>
          {providers.map((p) => (
            <option key={p} value={p}>
              {visible(p)}
            </option>
          ))}
        </select>
        <select aria-label="model" value={f.model} onChange={set('model')}>
          <option value="">all models</option>
          {models.map((m) => (
            <option key={m} value={m}>
              {visible(m)}
            </option>
          ))}
        </select>
        <label>
          <input type="checkbox" checked={follow} onChange={(ev) => setFollow((ev.currentTarget as HTMLInputElement).checked)} /> follow
        </label>
        <span class="dim">
          {int(calls.length)} call(s), {int(procs.length)} process(es), {int(files.length)} file(s) shown {left ? `· ${left}` : ''}
        </span>
      </div>
      <nav>
        {TABS.map((t) => (
          <button key={t} class={t === tab ? 'on' : ''} data-tab={t} onClick={() => setTab(t)}>
            {t}
          </button>
        ))}
      </nav>
      {tab === 'totals' ? (
        <main>
          <Totals model={model} />
        </main>
      ) : (
        <main>
          <section class="list">
            {tab === 'timeline' ? <Timeline {...props} /> : null}
            {tab === 'processes' ? <ProcessTree {...props} /> : null}
            {tab === 'files' ? <Files {...props} /> : null}
            {tab === 'events' ? (
              <>
                <div class="hint">
                  every event of the session in order{model.info?.detail_from_file ? '' : ' (older ones only while in memory: record with -o to keep them all)'}
                </div>
                <Events {...props} />
              </>
            ) : null}
          </section>
          <aside class="detail">
            {!sel ? <div class="dim">Select a call, a process, a file or an event.</div> : null}
            {sel?.kind === 'call' ? <CallDetail key={sel.seq} model={model} seq={sel.seq} select={select} /> : null}
            {sel?.kind === 'proc' ? <ProcDetail key={sel.seq} model={model} seq={sel.seq} select={select} /> : null}
            {sel?.kind === 'file' ? <FileDetail key={sel.path} model={model} path={sel.path} /> : null}
            {sel?.kind === 'event' ? <EventDetail key={sel.seq} seq={sel.seq} /> : null}
          </aside>
        </main>
      )}
    </>
  );
}

const root = document.getElementById('app') as HTMLElement;
root.textContent = '';
render(<App />, root);
connect();
