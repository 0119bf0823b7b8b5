/**
 * The price table: USD per million tokens per provider and model, shipped
 * in data/prices.json (each price with its date and source) and overridable
 * with a file of the same format (`--prices FILE`), merged over it.
 *
 * A model name is resolved, never guessed: provider prefixes the table
 * declares are stripped (`anthropic/`, `models/`), then the name is looked
 * up as a model or an alias; failing that, a dated snapshot or version
 * suffix (`-20250929`, `-2024-08-06`, `@20250929`, `-001`, `-latest`) is
 * taken off and the rest looked up again, so the longest name the table
 * knows wins (`gpt-4o-mini-2024-07-18` is gpt-4o-mini, not gpt-4o) and a
 * name it does not know has no price.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../core/errors';
import { packageRoot } from '../core/package-root';

/** Prices of one model, USD per million tokens. */
export interface ModelPrice {
  /** Uncached input tokens. */
  input: number;
  /** Output tokens, reasoning included. */
  output: number;
  /** Input tokens read from the prompt cache (absent: priced as input). */
  cache_read?: number;
  /** Input tokens written to the prompt cache (absent: priced as input). */
  cache_write?: number;
  /** A tier for calls whose input (cache included) exceeds input_tokens; prices it leaves out are the base ones. */
  above?: { input_tokens: number; input?: number; output?: number; cache_read?: number; cache_write?: number };
  aliases?: string[];
  /** When this price was published or checked (YYYY-MM-DD). */
  as_of: string;
  /** Where it is published (the shipped table: a URL). */
  source: string;
  note?: string;
}

/** The prices of one provider. */
export interface ProviderPrices {
  /** The `gen_ai.provider.name` values these prices apply to. */
  match: string[];
  /** Model name prefixes that name this provider, stripped before lookup. */
  prefixes: string[];
  models: Record<string, ModelPrice>;
}

/** A price table file: the shipped one or an override. */
export interface PriceFile {
  format?: string;
  providers: Record<string, Partial<Omit<ProviderPrices, 'models'>> & { source?: string; as_of?: string; models?: Record<string, Partial<ModelPrice>> }>;
}

/** A resolved price: which table entry a model name is priced as. */
export interface ResolvedPrice {
  /** Provider key of the table (`anthropic`, `openai`, `gemini`). */
  provider: string;
  /** Model key of the table (`claude-sonnet-4-5`). */
  model: string;
  price: ModelPrice;
}

const FORMAT = 'agentsight-prices/1';
/** Snapshot and version suffixes: a date (20250929, 2024-08-06), a three-digit version (001), latest, v1 / v1:0. */
const SUFFIX = /[-@](\d{8}|\d{4}-\d{2}-\d{2}|\d{3}|latest|v\d+(?::\d+)?)$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPrice = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;

function fail(what: string, msg: string): never {
  throw new UsageError(`${what}: ${msg}`);
}

function strings(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x !== '')) fail(what, 'expected an array of non-empty strings');
  return (v as string[]).map((s) => s.toLowerCase());
}

/** Check one model entry, with the provider's source and date as defaults. */
function checkModel(raw: unknown, what: string, defaults: { source?: string; as_of?: string }): ModelPrice {
  if (!isObj(raw)) fail(what, 'expected an object with input and output prices');
  for (const k of ['input', 'output'] as const) if (!isPrice(raw[k])) fail(what, `${k}: expected a price (a number >= 0, USD per million tokens)`);
  for (const k of ['cache_read', 'cache_write'] as const)
    if (raw[k] !== undefined && !isPrice(raw[k])) fail(what, `${k}: expected a price (a number >= 0, USD per million tokens)`);
  const m: ModelPrice = {
    input: raw.input as number,
    output: raw.output as number,
    as_of: String(raw.as_of ?? defaults.as_of ?? ''),
    source: String(raw.source ?? defaults.source ?? ''),
  };
  if (raw.cache_read !== undefined) m.cache_read = raw.cache_read as number;
  if (raw.cache_write !== undefined) m.cache_write = raw.cache_write as number;
  if (!DATE.test(m.as_of)) fail(what, 'as_of: expected the date of the price, YYYY-MM-DD (on the model or its provider)');
  if (m.source.trim() === '') fail(what, 'source: expected where the price is published, e.g. its URL (on the model or its provider)');
  if (raw.above !== undefined) {
    const a = raw.above;
    if (!isObj(a) || !(typeof a.input_tokens === 'number' && Number.isInteger(a.input_tokens) && a.input_tokens > 0))
      fail(what, 'above: expected {input_tokens: N, input?, output?, cache_read?, cache_write?}');
    for (const k of ['input', 'output', 'cache_read', 'cache_write'] as const)
      if (a[k] !== undefined && !isPrice(a[k])) fail(what, `above.${k}: expected a price`);
    m.above = a as ModelPrice['above'];
  }
  if (raw.aliases !== undefined) m.aliases = strings(raw.aliases, `${what}.aliases`);
  if (raw.note !== undefined) m.note = String(raw.note);
  return m;
}

/** A table of prices, resolved by provider and model name. */
export class Prices {
  readonly providers: Readonly<Record<string, ProviderPrices>>;
  /** Per provider: every model name and alias -> model key. */
  private readonly names = new Map<string, Map<string, string>>();

  private constructor(providers: Record<string, ProviderPrices>) {
    this.providers = providers;
    for (const [key, p] of Object.entries(providers)) {
      const names = new Map<string, string>();
      for (const [model, m] of Object.entries(p.models)) {
        for (const n of [model, ...(m.aliases ?? [])]) {
          const had = names.get(n);
          if (had !== undefined && had !== model) fail(`prices: ${key}`, `"${n}" names both ${had} and ${model}`);
          names.set(n, model);
        }
      }
      this.names.set(key, names);
    }
  }

  /** The table shipped with the package (data/prices.json). */
  static shipped(): Prices {
    return Prices.fromFile(path.join(packageRoot(), 'data', 'prices.json'));
  }

  /** The shipped table, with `file` (same format) merged over it when given. */
  static load(file?: string): Prices {
    const base = Prices.shipped();
    const what = `--prices ${file}`;
    return file === undefined ? base : base.merge(readPriceFile(file, what), what);
  }

  /** A table from a file of the shipped format alone. */
  static fromFile(file: string): Prices {
    return Prices.from(readPriceFile(file, file), file);
  }

  /** A table from parsed JSON; a bad one is a UsageError naming what is wrong. */
  static from(json: unknown, what = 'prices'): Prices {
    return new Prices({}).merge(json, what);
  }

  /**
   * This table with another merged over it: a provider given there updates
   * its match and prefixes when it gives them, and each model it gives
   * replaces the model of that name whole.
   */
  merge(json: unknown, what = 'prices'): Prices {
    if (!isObj(json) || !isObj(json.providers)) fail(what, 'expected {"providers": {NAME: {"match": [...], "models": {...}}}}');
    if (json.format !== undefined && json.format !== FORMAT) fail(what, `format: expected "${FORMAT}" (got ${JSON.stringify(json.format)})`);
    const out: Record<string, ProviderPrices> = {};
    for (const [k, p] of Object.entries(this.providers)) out[k] = { ...p, models: { ...p.models } };
    for (const [key, raw] of Object.entries(json.providers)) {
      const w = `${what}: providers.${key}`;
      if (!isObj(raw)) fail(w, 'expected an object');
      const have = out[key];
      const match = raw.match !== undefined ? strings(raw.match, `${w}.match`) : (have?.match ?? []);
      if (match.length === 0) fail(w, 'match: expected the gen_ai.provider.name values these prices apply to (e.g. ["anthropic"])');
      const prefixes = raw.prefixes !== undefined ? strings(raw.prefixes, `${w}.prefixes`) : (have?.prefixes ?? []);
      if (raw.models !== undefined && !isObj(raw.models)) fail(w, 'models: expected an object of model name -> prices');
      const models = { ...(have?.models ?? {}) };
      const defaults = { source: raw.source === undefined ? undefined : String(raw.source), as_of: raw.as_of === undefined ? undefined : String(raw.as_of) };
      for (const [name, m] of Object.entries((raw.models ?? {}) as Record<string, unknown>)) {
        models[name.toLowerCase()] = checkModel(m, `${w}.models.${name}`, defaults);
      }
      out[key] = { match, prefixes, models };
    }
    return new Prices(out);
  }

  /**
   * The price of a model of a provider (`gen_ai.provider.name`), or null when
   * the table has none: no guess.
   */
  resolve(providerName: string | null | undefined, model: string | null | undefined): ResolvedPrice | null {
    if (!providerName || !model) return null;
    const pn = providerName.toLowerCase();
    for (const [key, p] of Object.entries(this.providers)) {
      if (!p.match.includes(pn)) continue;
      const names = this.names.get(key) as Map<string, string>;
      let name = model.trim().toLowerCase();
      for (const prefix of p.prefixes) if (name.startsWith(prefix)) name = name.slice(prefix.length);
      for (let i = 0; i < 4; i++) {
        const hit = names.get(name);
        if (hit !== undefined) return { provider: key, model: hit, price: p.models[hit] };
        const cut = name.replace(SUFFIX, '');
        if (cut === name) break;
        name = cut;
      }
    }
    return null;
  }
}

/** A price file's JSON; an unreadable or unparsable one is a UsageError. */
export function readPriceFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${what}: cannot read it: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what}: not JSON: ${(e as Error).message}`);
  }
}
