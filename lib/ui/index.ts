/**
 * The web UI (`agentsight ui FILE...`, `record --ui`, `agent --ui`): a local
 * server (./server) showing a session store (./store) filled by a sink at
 * the end of the pipeline (./sink) or from saved files (openSessionFiles).
 */
import { CostAnalyzer } from '../analyzers/cost';
import { Redactor } from '../analyzers/redactor';
import type { Event } from '../core/event';
import type { Prices } from '../cost/prices';
import { readNdjsonLocated } from '../sinks/ndjson';
import { isLoopback, UiServer, type UiServerOptions } from './server';
import { SessionStore, type StoreOptions } from './store';

export { EventDetail, type EventLocation, type FileSet, type DetailOptions } from './detail';
export { SessionStore, type StoreOptions, type StoreLimits } from './store';
export { UiServer, isLoopback, row as eventRow, DEFAULT_ASSETS, type UiServerOptions } from './server';
export { UiSink, fileSetOf } from './sink';
export type * from './types';

/** The line a UI prints when it is up. */
export function uiAnnouncement(url: string, host: string | undefined): string[] {
  const lines = [`UI at ${url}`];
  if (host !== undefined && !isLoopback(host))
    lines.push(`WARNING: the UI listens on ${host}, not only on this machine: anyone who can reach it and has the URL can read the whole session`);
  return lines;
}

export interface SavedSessionOptions {
  prices?: Prices;
  /** Price every call again (with --prices). */
  reprice?: boolean;
  store?: Omit<StoreOptions, 'files' | 'info' | 'readBack'>;
  /** Mask credentials in the events read (default true), also in those read back from the files later. */
  redact?: boolean;
}

/**
 * A store for saved session files, filled in the background (a page opened
 * at once sees them load); `loaded` resolves when every file was read.
 */
export function openSessionFiles(files: readonly string[], opts: SavedSessionOptions = {}): { store: SessionStore; loaded: Promise<void> } {
  // events read back later (for a call's detail) are masked as they are read, like the first time
  const redactor = opts.redact === false ? null : new Redactor({ exposures: false });
  const mask = (e: Event): Event => (redactor ? redactor.redact(e) : e);
  const store = new SessionStore({
    ...opts.store,
    readBack: redactor ? (e) => new Redactor({ exposures: false }).redact(e) : undefined,
    files: { pathOf: (i) => files[i] ?? null },
    info: { title: files.join(', '), live: false, files: [...files] },
  });
  const cost = new CostAnalyzer({ prices: opts.prices, reprice: opts.reprice });
  const loaded = (async () => {
    try {
      for (let i = 0; i < files.length; i++) {
        for await (const { event, at } of readNdjsonLocated(files[i])) store.add(cost.price(mask(event)), { file: i, offset: at.offset, length: at.length });
      }
    } finally {
      store.end();
    }
  })();
  return { store, loaded };
}

/** Start a server for a store; resolves with it and its URL. */
export async function startUi(store: SessionStore, opts: UiServerOptions = {}): Promise<{ server: UiServer; url: string }> {
  const server = new UiServer(store, opts);
  const url = await server.listen();
  return { server, url };
}
