import { STAT_MAX, STAT_NAMES } from './abi';
import type { NativeBpfObject } from './binding';

/** Sum the per-CPU "as_stats" counters of an object: name -> count (non-zero only). */
export function readBpfStats(obj: NativeBpfObject, map = 'as_stats'): Record<string, number> {
  const out: Record<string, number> = {};
  const info = obj.mapInfo(map);
  const slot = (info.valueSize + 7) & ~7;
  const key = Buffer.alloc(4);
  for (let i = 0; i < STAT_MAX; i++) {
    key.writeUInt32LE(i, 0);
    const v = obj.mapLookup(map, key);
    if (!v) continue;
    let sum = 0;
    for (let at = 0; at + 8 <= v.length; at += slot) sum += Number(v.readBigUInt64LE(at));
    if (sum) out[STAT_NAMES[i] ?? `stat_${i}`] = sum;
  }
  return out;
}
