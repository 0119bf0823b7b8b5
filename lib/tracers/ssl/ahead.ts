/**
 * Inspections of files started ahead of need, while the eBPF objects load on
 * other threads: what the discovery looks at right after the load (the host's
 * TLS libraries, the command about to run, the files of the processes running
 * now) is read meanwhile, one file after another. The discovery then takes
 * each result once, by the file's path and its identity at the time (device,
 * inode, size, mtime): a file that changed is inspected again. Only a cache:
 * what is attached, and when, does not depend on it.
 */
import * as fs from 'node:fs';

/** Which inspection: inspectBinary, inspectExecutable or inspectStaticTls (lib/tracers/ssl/targets.ts). */
export type AheadKind = 'binary' | 'exe' | 'static';

interface Entry {
  run: () => Promise<unknown>;
  promise: Promise<unknown> | null;
}

/** Queued and running inspections by key; taken (removed) once. */
const entries = new Map<string, Entry>();
/** Keys asked for (taken, or not there): the warm-up does not queue them (again) after the fact. */
const missed = new Set<string>();
/** Entries in the order they are worked through. */
let queue: string[] = [];
let working = false;
/** Bumped by clearAhead(): a warm-up still listing files after that queues nothing more. */
let generation = 0;

/** The key of one inspection of a file as it is now; null when it cannot be read. */
export function aheadKey(kind: AheadKind, attachPath: string, displayPath: string, cacheDir: string | undefined): string | null {
  try {
    const st = fs.statSync(attachPath);
    return `${kind}\0${attachPath}\0${displayPath}\0${cacheDir ?? ''}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return null;
  }
}

function start(e: Entry): Promise<unknown> {
  if (!e.promise) {
    e.promise = e.run();
    e.promise.catch(() => undefined); // its error is the taker's
  }
  return e.promise;
}

async function work(): Promise<void> {
  if (working) return;
  working = true;
  try {
    while (queue.length) {
      const key = queue.shift()!;
      const e = entries.get(key);
      if (e) await start(e).catch(() => undefined);
    }
  } finally {
    working = false;
    if (entries.size === 0) missed.clear();
  }
}

/** The current generation, for queueAhead() calls made later by the same warm-up. */
export function aheadGeneration(): number {
  return generation;
}

/**
 * Queue an inspection (worked through one at a time, in order); a key already queued or asked for is
 * left alone, and so is one from a warm-up begun before the last clearAhead() (`gen`).
 */
export function queueAhead(key: string | null, run: () => Promise<unknown>, gen = generation): void {
  if (key === null || gen !== generation || entries.has(key) || missed.has(key)) return;
  entries.set(key, { run, promise: null });
  queue.push(key);
  void work();
}

/** The inspection queued under key, started now if it was still waiting; null when there is none. Taken once. */
export function takeAhead<T>(key: string | null): Promise<T> | null {
  if (key === null) return null;
  const e = entries.get(key);
  if (!e) {
    if (entries.size > 0 || working) missed.add(key);
    return null;
  }
  entries.delete(key);
  missed.add(key); // taken: not queued again by this warm-up
  return start(e) as Promise<T>;
}

/** Drop what was not taken (the discovery's first pass is over): queued inspections do not run. */
export function clearAhead(): void {
  generation++;
  entries.clear();
  missed.clear();
  queue = [];
}

/** Inspections queued or running and not taken (for tests). */
export function aheadPending(): number {
  return entries.size;
}
