import { chain } from '../core/analyzer';
import type { Event } from '../core/event';
import { mergeOptions, parseArgv } from '../config/define';
import { PROCESS_OPTIONS } from '../config/tables';
import { ProcessTracer, type ProcessTracerOptions } from '../tracers/process-tracer';
import { Runner } from './runner';

/**
 * Process lifecycle monitoring: EXEC, EXIT, FORK, FILE_OPEN.
 *
 *   new ProcessRunner().withArgs(['--comm', 'python']).addAnalyzer(new OutputAnalyzer())
 */
export class ProcessRunner extends Runner {
  readonly name = 'process';
  /** The live tracer while running. */
  tracer: ProcessTracer | null = null;

  constructor(private readonly options: ProcessTracerOptions = {}) {
    super();
  }

  /** Options from the constructor merged with withArgs() (arguments win). */
  resolvedOptions(): ProcessTracerOptions {
    return mergeOptions<ProcessTracerOptions>(this.options, parseArgv<ProcessTracerOptions>(PROCESS_OPTIONS, this.args, 'process options'));
  }

  validate(): void {
    ProcessTracer.resolve(this.resolvedOptions());
  }

  protected async *source(signal: AbortSignal): AsyncGenerator<Event> {
    const { tracer, unfollow } = await this.startFollowed(this.resolvedOptions(), (o) => ProcessTracer.start(o));
    this.tracer = tracer;
    this.emit('ready', { runner: this.name, programs: tracer.object.linkCount(), links: tracer.object.linkCount(), detail: ProcessRunner.describe(tracer) });
    try {
      yield* tracer.events(signal);
    } finally {
      tracer.close();
      unfollow();
    }
  }

  /** One line saying what a live tracer watches. */
  static describe(tracer: ProcessTracer): string {
    const o = tracer.options;
    const sel = [
      ...o.comm.map((c) => `comm ${c}*`),
      ...o.pid.map((p) => `pid ${p}`),
      ...tracer.cgroups.map((c) => (c.container ? `container ${c.container.slice(0, 12)} (cgroup ${c.path})` : `cgroup ${c.path}`)),
    ];
    const what = sel.length ? `selected: ${sel.join(', ')}` : 'all processes';
    return `process tracer attached (${what}, mode ${o.mode})`;
  }

  /** This runner's analyzer chain over a tracer started elsewhere (AgentRunner shares one with the TLS tracer). */
  streamFrom(events: AsyncIterable<Event>, signal: AbortSignal): AsyncIterable<Event> {
    return chain(events, this.analyzers, { signal });
  }
}
