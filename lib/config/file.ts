/**
 * Options from a file (`--config FILE`): a JSON object whose keys are the
 * typed option names the flags of a command set (the same tables, the same
 * checks), so a service can be configured by a file as well as by flags.
 * Values are in the typed options' units (statsIntervalMs in ms, ringBytes
 * in bytes). Flags given on the command line win over the file.
 */
import * as fs from 'node:fs';
import { UsageError } from '../core/errors';
import { keyOf, type OptionDef, type OptionTable } from './define';

function typeOk(def: OptionDef, v: unknown): boolean {
  const one = (x: unknown) => (def.type === 'number' ? typeof x === 'number' && Number.isFinite(x) : typeof x === def.type);
  return def.array ? Array.isArray(v) && v.every(one) : one(v);
}

/** Typed options from a JSON file, checked against a command's table. */
export function loadConfigFile<T extends object>(file: string, table: OptionTable): Partial<T> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--config ${file}: ${(err as Error).message}`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--config ${file}: not JSON (${(err as Error).message})`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new UsageError(`--config ${file}: expected a JSON object of options`);
  const byKey = new Map<string, [string, OptionDef]>();
  for (const [flag, def] of Object.entries(table)) if (flag !== 'config') byKey.set(keyOf(flag, def), [flag, def]);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(obj as Record<string, unknown>)) {
    const found = byKey.get(key);
    if (!found) throw new UsageError(`--config ${file}: unknown option "${key}" (this command takes: ${[...byKey.keys()].sort().join(', ')})`);
    const [flag, def] = found;
    if (def.refuse) throw new UsageError(def.refuse(v));
    if (!typeOk(def, v))
      throw new UsageError(`--config ${file}: "${key}" (--${flag}) must be ${def.array ? 'an array of ' : 'a '}${def.type}${def.array ? 's' : ''}`);
    const vs = def.array ? (v as unknown[]) : [v];
    // choices are the flag's values; a scaled option's are in the flag's units
    if (def.choices && !vs.every((x) => def.choices?.includes((def.scale ? (x as number) / def.scale : x) as string | number)))
      throw new UsageError(`--config ${file}: "${key}" must be one of ${def.choices.join(', ')}`);
    out[key] = v;
  }
  return out as Partial<T>;
}

/** The flags of a table given on a command line (not defaulted by the parser), before `--`. */
export function givenFlags(argv: readonly string[], table: OptionTable): Set<string> {
  const names = new Map<string, string>();
  for (const [flag, def] of Object.entries(table)) {
    names.set(flag, flag);
    names.set(`no-${flag}`, flag);
    if (def.alias) names.set(def.alias, flag);
  }
  const out = new Set<string>();
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--?([^=]+)/.exec(a);
    const f = m ? names.get(m[1]) : undefined;
    if (f) out.add(f);
  }
  return out;
}

/**
 * Typed options from the command line with a config file's under them: a
 * file value stands unless its flag was given (a parser's default does not
 * count as given).
 */
export function withConfigFile<T extends object>(typed: Partial<T>, file: Partial<T>, given: Set<string>, table: OptionTable): Partial<T> {
  const explicit = new Set([...given].map((f) => keyOf(f, table[f])));
  const out: Record<string, unknown> = { ...typed };
  for (const [k, v] of Object.entries(file)) if (!explicit.has(k)) out[k] = v;
  return out as Partial<T>;
}
