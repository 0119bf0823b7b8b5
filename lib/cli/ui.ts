/**
 * The web UI from the command line: `agentsight ui [FILE...]` for saved
 * sessions, and `--ui` of `record` and `agent` for the running one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { UiCliOptions, UiSessionOptions } from '../config/options';
import { UsageError } from '../core/errors';
import { Prices } from '../cost/prices';
import { checkSessionFiles } from '../report';
import type { SessionIo } from '../session/run';
import type { FileLogger } from '../sinks/file-logger';
import { fileSetOf, openSessionFiles, SessionStore, startUi, uiAnnouncement, UiSink, type UiServer } from '../ui';

/** Resolves on the first SIGINT or SIGTERM. */
export function untilStopped(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** The newest session file `record` left in a directory, or null. */
export function newestSessionFile(dir = process.cwd()): string | null {
  let best: { f: string; t: number } | null = null;
  for (const f of fs.readdirSync(dir)) {
    if (!/^agentsight-(record|demo)-.*\.ndjson$/.test(f)) continue;
    const st = fs.statSync(path.join(dir, f));
    if (st.isFile() && (!best || st.mtimeMs > best.t)) best = { f: path.join(dir, f), t: st.mtimeMs };
  }
  return best?.f ?? null;
}

function announce(io: SessionIo, url: string, host: string | undefined): void {
  for (const l of uiAnnouncement(url, host)) io.stderr.write(`agentsight: ${l}\n`);
}

/** `agentsight ui [FILE...]`: serve saved sessions until Ctrl-C. */
export async function runUi(files: string[], o: UiCliOptions, io: SessionIo, stop: Promise<unknown> = untilStopped()): Promise<number> {
  if (files.length === 0) {
    const newest = newestSessionFile();
    if (!newest) throw new UsageError('ui needs a session file (none named, and no agentsight-record-*.ndjson here)');
    io.stderr.write(`agentsight: showing ${path.relative(process.cwd(), newest)}, the newest session here\n`);
    files = [newest];
  }
  checkSessionFiles(files, 'ui');
  const prices = Prices.load(o.prices);
  const { store, loaded } = openSessionFiles(files, { prices, reprice: o.prices !== undefined, redact: o.redact });
  const { server, url } = await startUi(store, { host: o.host, port: o.port });
  announce(io, url, o.host);
  try {
    await Promise.race([stop, loaded.then(() => stop)]);
  } finally {
    await server.close();
  }
  return 0;
}

/** The web UI of a session being traced: a sink for its chain and the server showing it. */
export interface SessionUi {
  sink: UiSink;
  server: UiServer;
  /** After the session: say that the UI stays up, and serve until Ctrl-C. */
  linger(): Promise<void>;
}

export async function sessionUi(o: UiSessionOptions, logger: FileLogger | null, io: SessionIo): Promise<SessionUi | null> {
  if (!o.ui) return null;
  const store = new SessionStore({
    files: logger ? fileSetOf(logger) : null,
    info: { title: logger ? logger.path : 'live session', live: true, files: logger ? [logger.path] : [] },
  });
  const sink = new UiSink(store, logger);
  const { server, url } = await startUi(store, { host: o.uiHost, port: o.uiPort ?? 0 });
  announce(io, url, o.uiHost);
  return {
    sink,
    server,
    async linger() {
      io.stderr.write(`agentsight: the session has ended; the UI stays up at ${url} until Ctrl-C\n`);
      try {
        await untilStopped();
      } finally {
        await server.close();
      }
    },
  };
}
