import type { Analyzer } from '../core/analyzer';
import { UsageError } from '../core/errors';
import type { Event } from '../core/event';
import { mergeOrdered } from '../core/ordered-merge';
import { ProcessTracer } from '../tracers/process-tracer';
import { SslTracer } from '../tracers/ssl-tracer';
import { ProcessRunner } from './process-runner';
import { Runner, type ReadyInfo } from './runner';
import { SslRunner } from './ssl-runner';
import { selectionKey } from '../tracers/rules';

export interface AgentRunnerOptions {
  /** Reordering window of the merged stream (ms, default 150). */
  windowMs?: number;
}

/**
 * Several runners as one: each keeps its own analyzer chain, their outputs
 * are merged in kernel-time order, and global analyzers see the merged
 * stream (e.g. to relate an LLM call to the commands that follow it).
 *
 * A ProcessRunner and an SslRunner added together share one process tracer:
 * one selection (--comm/--pid and descendants) applies to both, and the TLS
 * tracer learns of new processes and libraries from the process events.
 *
 *   new AgentRunner('agent')
 *     .addRunner(new SslRunner({ comm: ['python'] }).addAnalyzer(new HttpParser()))
 *     .addRunner(new ProcessRunner({ comm: ['python'] }))
 *     .addGlobalAnalyzer(new FileLogger('agent.log'))
 */
export class AgentRunner extends Runner {
  private readonly runners: Runner[] = [];
  /** The live tracers while running. */
  processTracer: ProcessTracer | null = null;
  sslTracer: SslTracer | null = null;

  constructor(
    readonly name = 'agent',
    private readonly opts: AgentRunnerOptions = {},
  ) {
    super();
  }

  addRunner(r: Runner): this {
    this.runners.push(r);
    return this;
  }

  /** Analyzers applied to the merged stream (same as addAnalyzer). */
  addGlobalAnalyzer(a: Analyzer): this {
    return this.addAnalyzer(a);
  }

  override withArgs(): this {
    throw new UsageError('AgentRunner takes no arguments: give them to the runners it combines');
  }

  validate(): void {
    if (this.runners.length === 0) throw new UsageError('nothing to run: add at least one runner (or do not turn off both --ssl and --process)');
    for (const r of this.runners) r.validate();
    const proc = this.runners.filter((r) => r instanceof ProcessRunner) as ProcessRunner[];
    const ssl = this.runners.filter((r) => r instanceof SslRunner) as SslRunner[];
    if (proc.length > 1 || ssl.length > 1) throw new UsageError('an AgentRunner combines at most one ProcessRunner and one SslRunner');
    if (proc.length && ssl.length) {
      const a = proc[0].resolvedOptions();
      const b = ssl[0].resolvedOptions();
      if (selectionKey(a) !== selectionKey(b))
        throw new UsageError('the process and TLS runners of an AgentRunner must select the same processes (--comm/--pid/--cgroup/--container)');
    }
  }

  protected async *source(signal: AbortSignal): AsyncGenerator<Event> {
    this.validate();
    const proc = this.runners.find((r) => r instanceof ProcessRunner) as ProcessRunner | undefined;
    const ssl = this.runners.find((r) => r instanceof SslRunner) as SslRunner | undefined;
    const streams: AsyncIterable<Event>[] = [];
    const details: string[] = [];
    let links = 0;
    const forward = (info: ReadyInfo) => {
      details.push(info.detail);
      links += info.links;
    };
    const onNotice = (m: string) => this.emit('notice', m);

    let pt: ProcessTracer | null = null;
    let st: SslTracer | null = null;
    let unfollow = () => {};
    try {
      if (proc && ssl) {
        // both objects load at once (worker threads); the TLS one shares the process one's "tracked" map
        const procOptions = this.withTimeline(proc.resolvedOptions());
        // one timeline for both tracers, followed from the start (it keeps only so many lines for a late listener)
        const sslOptions = { ...ssl.resolvedOptions(), ...(procOptions.timeline ? { timeline: procOptions.timeline } : {}) };
        unfollow = this.followTimeline(procOptions.timeline ?? null);
        const starting = ProcessTracer.startWith(procOptions, SslTracer.loadAlongside(sslOptions));
        // the loads are under way (worker threads): read what the TLS discovery will look at meanwhile
        const started = await SslTracer.loadingAhead(sslOptions, starting);
        pt = started.tracer;
        this.processTracer = pt;
        st = await SslTracer.start({ ...sslOptions, processTracer: pt }, started.alongside);
        this.sslTracer = st;
        st.on('notice', onNotice);
        forward({ runner: 'process', programs: 5, links: pt.object.linkCount(), detail: ProcessRunner.describe(pt) });
        forward({ runner: 'ssl', programs: 3, links: st.targets().reduce((n, t) => n + t.links, 0), detail: SslRunner.describe(st) });
        const sslTracer = st;
        const procEvents = (async function* (events: AsyncIterable<Event>) {
          for await (const e of events) {
            sslTracer.observe(e);
            yield e;
          }
        })(pt.events(signal));
        streams.push(proc.streamFrom(procEvents, signal), ssl.streamFrom(st.events(signal), signal));
      }
      for (const r of this.runners) {
        if (proc && ssl && (r === proc || r === ssl)) continue;
        r.on('ready', forward);
        r.on('notice', onNotice);
        streams.push(r.run({ signal }));
      }
    } catch (err) {
      st?.close();
      pt?.close();
      unfollow();
      throw err;
    }
    if (proc && ssl) this.emit('ready', { runner: this.name, programs: 8, links, detail: details.join('; ') });
    else {
      // single runners announce themselves when they start
      for (const r of this.runners) r.once('ready', (info) => this.emit('ready', info));
    }
    try {
      yield* mergeOrdered(streams, { windowMs: this.opts.windowMs, signal });
    } finally {
      st?.off('notice', onNotice);
      for (const r of this.runners) {
        r.off('ready', forward);
        r.off('notice', onNotice);
      }
      st?.close();
      pt?.close();
      unfollow();
    }
  }
}
