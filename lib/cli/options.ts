/**
 * Command-line options, declared as data. The CLI (yargs), --help and the
 * library's Runner.withArgs() all read these tables, so there is one
 * definition of every option and one way it is parsed.
 */
import yargsFactory from 'yargs/yargs';
import { UsageError } from '../errors';

export interface OptionDef {
  type: 'string' | 'number' | 'boolean';
  array?: boolean;
  describe: string;
  default?: unknown;
  choices?: readonly (string | number)[];
  alias?: string;
}

export type OptionTable = Readonly<Record<string, OptionDef>>;

/** Selection of processes, shared by every tracer. */
export const SELECTION_OPTIONS: OptionTable = {
  comm: {
    type: 'string',
    array: true,
    describe: 'Select processes by name: a prefix of the kernel process name (15 characters at most); repeatable',
  },
  pid: { type: 'number', array: true, describe: 'Select a process and all its descendants; repeatable' },
};

/** Options of the process tracer (also accepted after `--`, as the original passed them to its eBPF program). */
export const PROCESS_OPTIONS: OptionTable = {
  ...SELECTION_OPTIONS,
  duration: { type: 'number', describe: 'Report EXIT only for processes that lived at least this many milliseconds' },
  mode: {
    type: 'number',
    choices: [0, 1, 2],
    describe:
      '0 = all processes and all file opens; 1 = all processes, file opens only of selected ones; ' +
      '2 = only selected processes and their descendants (default: 2 with --comm/--pid, else 1)',
  },
  'file-events': { type: 'boolean', describe: 'Report file opens (default true; --no-file-events turns them off)' },
  'file-dedup-ms': {
    type: 'number',
    describe: 'Fold identical opens of a process within this window into one counted event (0 = off; default 1000)',
  },
  'argv-max': { type: 'number', describe: 'Bytes of argv copied per exec (default 4096, max 16384); longer is flagged argv_truncated' },
  'ring-size': { type: 'number', describe: 'Process ring buffer size in MiB, a power of two (default 8)' },
};

/** Output options common to every command. */
export const OUTPUT_OPTIONS: OptionTable = {
  quiet: { type: 'boolean', alias: 'q', describe: 'No console output (events still go to --output)' },
  format: {
    type: 'string',
    choices: ['auto', 'json', 'pretty'],
    describe: 'Console format: json (NDJSON), pretty (one line per event), auto (pretty on a terminal, else json)',
    default: 'auto',
  },
  'stats-interval': {
    type: 'number',
    describe: 'Seconds between stats events while drop/truncation counters change (0 = only the final one)',
    default: 10,
  },
};

export type ParsedArgs = Record<string, unknown>;

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

/**
 * Parse a list of arguments strictly against a table (unknown options and
 * stray words are errors). `what` names the context in error messages.
 */
export function parseArgs(table: OptionTable, args: readonly string[], what: string): ParsedArgs {
  const y = yargsFactory([...args])
    .options(toYargs(table))
    .strict()
    .help(false)
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw new UsageError(`${what}: ${msg ?? err?.message ?? 'invalid arguments'}`);
    });
  const parsed = y.parseSync() as ParsedArgs & { _: (string | number)[] };
  if (parsed._.length) throw new UsageError(`${what}: unexpected argument(s): ${parsed._.join(' ')}`);
  const out: ParsedArgs = {};
  for (const name of Object.keys(table)) if (parsed[name] !== undefined) out[name] = parsed[name];
  return out;
}

/**
 * Merge pass-through arguments (after `--`) into the command's own: arrays
 * concatenate; a scalar given both ways with different values is an error.
 */
export function mergeArgs(a: ParsedArgs, b: ParsedArgs, table: OptionTable): ParsedArgs {
  const out: ParsedArgs = { ...a };
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

function num(v: unknown): number | undefined {
  return v === undefined ? undefined : Number(v);
}

function nums(v: unknown): number[] | undefined {
  return v === undefined ? undefined : (v as unknown[]).map(Number);
}

function strs(v: unknown): string[] | undefined {
  return v === undefined ? undefined : (v as unknown[]).map(String);
}

/** Parsed process options -> ProcessTracerOptions fields. */
export function processTracerOptions(a: ParsedArgs) {
  const ring = num(a['ring-size']);
  return {
    comm: strs(a.comm),
    pid: nums(a.pid),
    durationMs: num(a.duration),
    mode: num(a.mode) as 0 | 1 | 2 | undefined,
    fileEvents: a['file-events'] === undefined ? undefined : Boolean(a['file-events']),
    fileDedupMs: num(a['file-dedup-ms']),
    argvMax: num(a['argv-max']),
    ringBytes: ring === undefined ? undefined : ring * 1024 * 1024,
  };
}

/** Drop undefined fields (so they do not override defaults in spreads). */
export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
