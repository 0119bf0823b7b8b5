import type { Event } from '../event';
import { defined, parseArgs, PROCESS_OPTIONS, processTracerOptions } from '../cli/options';
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
    const fromArgs = defined(processTracerOptions(parseArgs(PROCESS_OPTIONS, this.args, 'process options')));
    const merged: ProcessTracerOptions = { ...this.options, ...fromArgs };
    if (fromArgs.comm && this.options.comm) merged.comm = [...this.options.comm, ...fromArgs.comm];
    if (fromArgs.pid && this.options.pid) merged.pid = [...this.options.pid, ...fromArgs.pid];
    return merged;
  }

  validate(): void {
    ProcessTracer.resolve(this.resolvedOptions());
  }

  protected async *source(signal: AbortSignal): AsyncGenerator<Event> {
    const tracer = await ProcessTracer.start(this.resolvedOptions());
    this.tracer = tracer;
    const links = tracer.object.linkCount();
    const o = tracer.options;
    const what = o.comm.length || o.pid.length ? `selected: ${[...o.comm.map((c) => `comm ${c}*`), ...o.pid.map((p) => `pid ${p}`)].join(', ')}` : 'all processes';
    this.emit('ready', { runner: this.name, programs: links, links, detail: `process tracer attached (${what}, mode ${o.mode})` });
    try {
      yield* tracer.events(signal);
    } finally {
      tracer.close();
    }
  }
}
