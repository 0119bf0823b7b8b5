/**
 * What an eBPF object is set to before its load, as data: its const volatile
 * configuration, map sizes, the programs left out, expected attach types and
 * the map it shares with the object loaded alongside it. The tracers write
 * one (processRecipe, sslRecipe) and open their objects from it; two equal
 * recipes (recipeKey) load the same programs, so an object loaded from one
 * serves wherever the other is asked for (lib/kernel/early.ts).
 */
import { native } from '../core/errors';
import type { NativeBinding, NativeBpfObject } from './binding';

export interface LoadRecipe {
  /** The embedded object's name (process, ssl). */
  object: string;
  /** const volatile blocks by variable name. */
  rodata: Readonly<Record<string, Buffer>>;
  /** max_entries by map name. */
  maxEntries: Readonly<Record<string, number>>;
  /** Programs not loaded. */
  skip: readonly string[];
  /** Expected attach types by program name. */
  attachTypes: Readonly<Record<string, number>>;
  /** A map of this object that is the object's companion's (reuseMap), by this object's map name: the companion's map name. */
  shared: Readonly<Record<string, string>>;
}

/** The same for equal recipes (the order of names does not count). */
export function recipeKey(r: LoadRecipe): string {
  const sorted = <T>(o: Readonly<Record<string, T>>, f: (v: T) => unknown) =>
    Object.keys(o)
      .sort()
      .map((k) => [k, f(o[k])]);
  return JSON.stringify([
    r.object,
    sorted(r.rodata, (b) => b.toString('hex')),
    sorted(r.maxEntries, (n) => n),
    [...r.skip].sort(),
    sorted(r.attachTypes, (n) => n),
    sorted(r.shared, (m) => m),
  ]);
}

/** A new object set up as the recipe says (its shared maps are `companion`'s), not loaded; closed again if that fails. */
export function openRecipe(binding: Pick<NativeBinding, 'BpfObject'>, r: LoadRecipe, companion: NativeBpfObject | null = null): NativeBpfObject {
  const ob = native(() => new binding.BpfObject(r.object));
  try {
    native(() => {
      for (const [name, block] of Object.entries(r.rodata)) ob.setRodata(name, block);
      for (const [map, n] of Object.entries(r.maxEntries)) ob.setMaxEntries(map, n);
      for (const [map, theirs] of Object.entries(r.shared)) {
        if (!companion) throw new Error(`${r.object}: map ${map} is shared with an object that is not given`);
        ob.reuseMap(map, companion, theirs);
      }
      for (const p of r.skip) ob.setAutoload(p, false);
      for (const [p, type] of Object.entries(r.attachTypes)) ob.setExpectedAttachType(p, type);
    });
  } catch (err) {
    ob.close();
    throw err;
  }
  return ob;
}
