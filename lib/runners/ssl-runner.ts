import { chain } from '../core/analyzer';
import type { Event } from '../core/event';
import { mergeOptions, parseArgv } from '../config/define';
import { SSL_TRACER_OPTIONS } from '../config/tables';
import { SslTracer, type SslTracerOptions } from '../tracers/ssl-tracer';
import { Runner } from './runner';

/**
 * TLS plaintext monitoring: one `ssl` event per TLS read or write call.
 *
 *   new SslRunner().withArgs(['--pid', '1234', '--port', '443']).addAnalyzer(new OutputAnalyzer())
 */
export class SslRunner extends Runner {
  readonly name = 'ssl';
  tracer: SslTracer | null = null;

  constructor(private readonly options: SslTracerOptions = {}) {
    super();
  }

  resolvedOptions(): SslTracerOptions {
    return mergeOptions<SslTracerOptions>(this.options, parseArgv<SslTracerOptions>(SSL_TRACER_OPTIONS, this.args, 'ssl options'));
  }

  validate(): void {
    SslTracer.resolve(this.resolvedOptions());
  }

  protected async *source(signal: AbortSignal): AsyncGenerator<Event> {
    const { tracer, unfollow } = await this.startFollowed(this.resolvedOptions(), (o) => SslTracer.start(o));
    this.tracer = tracer;
    const onNotice = (m: string) => this.emit('notice', m);
    tracer.on('notice', onNotice);
    const links = tracer.targets().reduce((n, t) => n + t.links, 0);
    this.emit('ready', { runner: this.name, programs: 3, links, detail: SslRunner.describe(tracer) });
    try {
      yield* tracer.events(signal);
    } finally {
      tracer.off('notice', onNotice);
      tracer.close();
      unfollow();
    }
  }

  /** One line saying what a live tracer probes. */
  static describe(tracer: SslTracer): string {
    const targets = tracer.targets();
    return `TLS tracer attached to ${targets.length} file(s): ${targets.map((t) => `${t.path} (${t.library})`).join(', ') || 'none yet'}`;
  }

  /** This runner's analyzer chain over a tracer started elsewhere. */
  streamFrom(events: AsyncIterable<Event>, signal: AbortSignal): AsyncIterable<Event> {
    return chain(events, this.analyzers, { signal });
  }
}
