/**
 * What the discovery's first pass (TlsDiscovery.attachInitial) is going to
 * inspect, queued to be read while the eBPF objects load: --binary-path
 * files, the host's TLS libraries, the command about to run and the files
 * the processes running now map (the given pids, but for those held at record's
 * gate, when the selection is by pid
 * only, every process when nothing is selected). Inspections only
 * (ahead.ts): the discovery attaches, after the load, and takes the results.
 */
import * as fs from 'node:fs';
import { forEachLimit } from '../../core/concurrency';
import { aheadGeneration, clearAhead } from './ahead';
import { listProcesses } from '../proc';
import { isSelected } from '../rules';
import { scannedPids, type ResolvedSslOptions } from './spec';
import { inspectAhead, inspectionKind, processImage, systemTlsLibraries } from './targets';

function realpath(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

/** The processes the first pass will scan, as far as can be told before the process tracer runs. */
function runningSelected(o: ResolvedSslOptions): number[] {
  if (!isSelected(o)) return listProcesses().map((p) => p.pid);
  const pids = [...o.pid];
  if (o.comm.length) for (const p of listProcesses()) if (o.comm.some((c) => p.comm.startsWith(c))) pids.push(p.pid);
  return pids;
}

/** Queue the inspections; returns at once and never throws (reading happens in the background, errors are the taker's). */
export function warmUp(o: ResolvedSslOptions): void {
  try {
    const dir = o.locatorCacheDir;
    for (const b of o.binaryPaths) {
      const real = realpath(b);
      if (real) inspectAhead('exe', real, b, dir);
    }
    if (o.systemLibraries) for (const lib of systemTlsLibraries()) inspectAhead('binary', lib);
    for (const exe of o.preloadExecutables) {
      const real = realpath(exe);
      if (real) inspectAhead('exe', real, exe, dir);
    }
    // what the first pass scans (a process gone meanwhile has no image)
    const pids = scannedPids(o, runningSelected(o));
    // the maps are read after this returns: what is listed once discovery's first pass is over is not queued
    const gen = aheadGeneration();
    void forEachLimit(pids, 8, async (pid) => {
      const img = await processImage(pid);
      if (img) for (const [display, attachPath] of img.files) inspectAhead(inspectionKind(display, display === img.exe), attachPath, display, dir, gen);
    }).catch(() => undefined);
  } catch {
    /* only a head start: the discovery reads what it needs itself */
  }
}

/** warmUp(o) while `loading` (the eBPF objects' loads) runs; what was queued is dropped when the loads fail. */
export async function warmUpDuring<T>(o: ResolvedSslOptions, loading: Promise<T>): Promise<T> {
  warmUp(o);
  try {
    return await loading;
  } catch (err) {
    clearAhead();
    throw err;
  }
}
