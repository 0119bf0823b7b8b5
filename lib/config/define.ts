/**
 * Options declared as data. Every command-line flag is an OptionDef in a
 * table (lib/config/tables.ts) that names the field of a typed options
 * object it sets; the CLI (yargs, --help), Runner.withArgs() and the
 * pass-through form after `--` all read those tables, so a flag is defined
 * once and parsed one way, and the library only ever sees typed options.
 */
import yargsFactory from 'yargs/yargs';
import { UsageError } from '../core/errors';

export interface OptionDef {
  type: 'string' | 'number' | 'boolean';
  array?: boolean;
  describe: string;
  default?: unknown;
  choices?: readonly (string | number)[];
  alias?: string;
  /** Field of the typed options this flag sets (default: the flag in camelCase). */
  key?: string;
  /** The option's value is the flag's times this (MiB -> bytes, seconds -> ms). */
  scale?: number;
  /** A boolean flag that sets the opposite (--disable-auth-removal sets redact: false). */
  invert?: boolean;
  /** A flag accepted for compatibility that cannot be honoured: giving it is a usage error with this message. */
  refuse?: (value: unknown) => string;
}

export type OptionTable = Readonly<Record<string, OptionDef>>;

/** Flag values by flag name, as yargs returns them. */
export type FlagValues = Record<string, unknown>;

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The typed field a flag of a table sets. */
export function keyOf(flag: string, def: OptionDef): string {
  return def.key ?? camel(flag);
}

/** A definition under another field name (the same flag means different fields in different tables). */
export function as(def: OptionDef, key: string): OptionDef {
  return { ...def, key };
}

/** Options in the shape yargs wants. */
export function toYargs(table: OptionTable): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, d] of Object.entries(table)) {
    out[name] = {
      type: d.type,
      describe: d.describe,
      ...(d.array ? { array: true } : {}),
      ...(d.default !== undefined ? { default: d.default } : {}),
      ...(d.choices ? { choices: d.choices } : {}),
      ...(d.alias ? { alias: d.alias } : {}),
      requiresArg: d.type !== 'boolean',
    };
  }
  return out;
}

function convert(def: OptionDef, v: unknown): unknown {
  const one = (x: unknown) => {
    if (def.type === 'number') return Number(x) * (def.scale ?? 1);
    if (def.type === 'boolean') return def.invert ? !x : Boolean(x);
    return String(x);
  };
  return def.array ? (Array.isArray(v) ? v : [v]).map(one) : one(v);
}

/**
 * Typed options from flag values: each flag of the table that has a value
 * sets its field (converted, scaled); flags without a value set nothing, so
 * defaults stay the library's.
 */
export function fromFlags<T extends object>(table: OptionTable, flags: FlagValues): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [flag, def] of Object.entries(table)) {
    const v = flags[flag];
    if (v === undefined) continue;
    if (def.refuse) throw new UsageError(def.refuse(v));
    out[keyOf(flag, def)] = convert(def, v);
  }
  return out as Partial<T>;
}

/** Flag values of a table from an argument list, strictly (unknown options and stray words are errors). */
export function parseFlags(table: OptionTable, args: readonly string[], what: string): FlagValues {
  // nothing to parse (the runners' usual case, asked on every resolvedOptions()): the defaults, as yargs would give them
  if (args.length === 0) {
    const out: FlagValues = {};
    for (const [name, d] of Object.entries(table)) if (d.default !== undefined) out[name] = d.default;
    return out;
  }
  const y = yargsFactory([...args])
    .options(toYargs(table))
    .strict()
    .help(false)
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw new UsageError(`${what}: ${msg ?? err?.message ?? 'invalid arguments'}`);
    });
  // strict(): unknown options and stray words are both reported as unknown arguments
  const parsed = y.parseSync() as FlagValues;
  const out: FlagValues = {};
  for (const name of Object.keys(table)) if (parsed[name] !== undefined) out[name] = parsed[name];
  return out;
}

/** Typed options from an argument list in command-line form (`['--comm', 'python']`). */
export function parseArgv<T extends object>(table: OptionTable, args: readonly string[], what: string): Partial<T> {
  return fromFlags<T>(table, parseFlags(table, args, what));
}

/**
 * Merge flag values given after `--` (the original's pass-through form) into
 * the command's own: arrays concatenate; a scalar given both ways with
 * different values is an error (a default does not count as given).
 */
export function mergeFlags(a: FlagValues, b: FlagValues, table: OptionTable): FlagValues {
  const out: FlagValues = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    const def = table[k];
    if (def?.array) out[k] = [...((out[k] as unknown[]) ?? []), ...(v as unknown[])];
    else if (out[k] !== undefined && out[k] !== v && out[k] !== def?.default)
      throw new UsageError(`--${k} given twice with different values (${String(out[k])} and ${String(v)})`);
    else out[k] = v;
  }
  return out;
}

/**
 * Options given in two places (a constructor and withArgs()): b wins for
 * scalars, arrays concatenate.
 */
export function mergeOptions<T extends object>(a: Partial<T>, b: Partial<T>): Partial<T> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    const have = out[k];
    out[k] = Array.isArray(have) && Array.isArray(v) ? [...have, ...v] : v;
  }
  return out as Partial<T>;
}

/** Drop undefined fields (so they do not override defaults in spreads). */
export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
