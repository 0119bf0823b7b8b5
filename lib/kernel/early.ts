/**
 * Loads begun before anything asks for them. The CLI begins loading a
 * tracing command's objects as soon as node has started (lib/cli/early-load.ts),
 * while the rest of agentsight is initialised and its pipeline is built:
 * the verifier's work, on worker threads, then overlaps work that used to
 * come before it. A tracer about to open an object asks first (take): it
 * gets the begun load only for an equal recipe (recipeKey), and, for an
 * object sharing a map, only when the companion it shares with is the one
 * the tracer has. Whatever is not taken is closed (closeUntaken).
 */
import type { NativeBinding, NativeBpfObject } from './binding';
import { openRecipe, recipeKey, type LoadRecipe } from './recipe';

/** A load begun early, as a tracer takes it. */
export interface BegunLoad {
  object: NativeBpfObject;
  /** Settles when the load does (rejects with the load's error). */
  loaded: Promise<void>;
  /** When it began, ms since the process started (performance.now()). */
  beganAt: number;
}

interface Entry extends BegunLoad {
  binding: object;
  name: string;
  key: string;
  /** The object whose map it shares (the entry before it), if any. */
  companion: NativeBpfObject | null;
}

const entries: Entry[] = [];

/**
 * Begin loading these recipes: a recipe with shared maps shares them with the one before it. `boosts`:
 * each load's boost (loadAsync). Nothing is begun when an object cannot be opened or set up (the
 * tracer will say why) or the binding has no asynchronous load.
 */
export function beginLoads(binding: Pick<NativeBinding, 'BpfObject'>, recipes: readonly LoadRecipe[], boosts: readonly number[] = []): void {
  // all opened and set up first: a map is shared before the load of the object that owns it begins
  const opened: { r: LoadRecipe; object: NativeBpfObject; companion: NativeBpfObject | null }[] = [];
  try {
    for (const r of recipes) {
      const companion = Object.keys(r.shared).length ? (opened.at(-1)?.object ?? null) : null;
      opened.push({ r, object: openRecipe(binding, r, companion), companion });
    }
    if (opened.some((o) => !o.object.loadAsync)) throw new Error('no asynchronous load');
  } catch {
    for (const o of opened) o.object.close();
    return;
  }
  for (const [i, { r, object, companion }] of opened.entries()) {
    const loaded = object.loadAsync!(boosts[i] ?? 0);
    // a load nobody takes may fail unseen
    loaded.catch(() => undefined);
    entries.push({ object, loaded, beganAt: performance.now(), binding, name: r.object, key: recipeKey(r), companion });
  }
}

/**
 * The load of this recipe (sharing its maps with `companion`) begun with this binding, taken out; null if
 * there is none.
 * Then the other begun loads of the same object will not be taken: they are closed, with those that
 * share their maps.
 */
export function takeLoad(binding: object, r: LoadRecipe, companion: NativeBpfObject | null = null): BegunLoad | null {
  const key = recipeKey(r);
  const ours = (e: Entry) => e.binding === binding && e.name === r.object;
  const i = entries.findIndex((e) => ours(e) && e.key === key && (Object.keys(r.shared).length === 0 || e.companion === companion));
  const taken = i < 0 ? null : entries.splice(i, 1)[0];
  const unused = new Set(entries.filter(ours).map((e) => e.object));
  for (const e of entries) if (e.companion && unused.has(e.companion)) unused.add(e.object);
  void close(entries.filter((e) => unused.has(e.object)));
  return taken && { object: taken.object, loaded: taken.loaded, beganAt: taken.beganAt };
}

/** Are loads begun and not taken? */
export function untakenLoads(): number {
  return entries.length;
}

/** Close every load not taken, once it has settled (an object cannot be closed while it loads). */
export function closeUntaken(): Promise<void> {
  return close([...entries]);
}

async function close(these: Entry[]): Promise<void> {
  for (const e of these) entries.splice(entries.indexOf(e), 1);
  const closeIt = (object: NativeBpfObject) => () => {
    if (!object.closed) object.close();
  };
  await Promise.all(these.map((e) => e.loaded.then(closeIt(e.object), closeIt(e.object))));
}
