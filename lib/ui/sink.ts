/**
 * The web UI as the last analyzer of a chain: every event that reaches the
 * end of the pipeline (after redaction, with its cost) goes into the
 * session store the server shows. With the session's FileLogger before it,
 * it keeps where each event's line is, so the server can read back what
 * left its memory.
 */
import type { Analyzer, AnalyzerContext } from '../core/analyzer';
import type { Event } from '../core/event';
import type { FileLogger, FileLineLocation } from '../sinks/file-logger';
import type { EventLocation, FileSet } from './detail';
import type { SessionStore } from './store';

export class UiSink implements Analyzer {
  readonly name = 'ui';
  private readonly store: SessionStore;
  private readonly written = new WeakMap<Event, FileLineLocation>();

  /** `logger`: the FileLogger earlier in the same chain, whose file holds every event (see fileSetOf). */
  constructor(store: SessionStore, logger: FileLogger | null = null) {
    this.store = store;
    if (logger) logger.onWrite = (e, at) => this.written.set(e, at);
  }

  async *process(input: AsyncIterable<Event>, _ctx: AnalyzerContext): AsyncGenerator<Event> {
    try {
      for await (const e of input) {
        const at = this.written.get(e);
        const loc: EventLocation | undefined = at ? { file: at.generation, offset: at.offset, length: at.length } : undefined;
        this.store.add(e, loc);
        yield e;
      }
    } finally {
      this.store.end();
    }
  }
}

/** The files a FileLogger wrote, by generation (as rotation moved them). */
export function fileSetOf(logger: FileLogger): FileSet {
  return { pathOf: (g) => logger.fileOf(g) };
}
