/**
 * Command-line options, declared as data. The CLI (yargs), --help and the
 * library's Runner.withArgs() all read these tables, so there is one
 * definition of every option and one way it is parsed.
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

/** Options of the TLS tracer (also accepted after `--`, as the original passed them to sslsniff). */
export const SSL_TRACER_OPTIONS: OptionTable = {
  ...SELECTION_OPTIONS,
  uid: { type: 'number', describe: 'Only TLS calls of processes running as this user id' },
  port: {
    type: 'number',
    array: true,
    describe: 'Only connections whose local or remote port is this one (seen on the socket under the TLS session); repeatable',
  },
  handshake: { type: 'boolean', describe: 'Also report TLS handshakes (SSL_do_handshake / gnutls_handshake)' },
  'max-bytes': {
    type: 'number',
    describe: 'Bytes captured per TLS call (default and maximum 4194304); longer calls are flagged truncated with bytes_lost',
  },
  'binary-path': {
    type: 'string',
    array: true,
    describe: 'Also probe this executable or library (it must contain TLS functions); repeatable',
  },
  'ssl-ring-size': { type: 'number', describe: 'TLS ring buffer size in MiB, a power of two (default 64)' },
  interface: {
    type: 'string',
    describe: 'Not supported: TLS plaintext is captured inside processes, not on a network interface (use --port)',
  },
};

/** Options of `agent` and `record`, in the original collector's names. */
export const AGENT_OPTIONS: OptionTable = {
  ssl: { type: 'boolean', describe: 'TLS capture (--ssl false turns it off)', default: true },
  process: { type: 'boolean', describe: 'Process tracing (--process false turns it off)', default: true },
  'ssl-uid': { type: 'number', describe: 'Only TLS calls of this user id' },
  'ssl-handshake': { type: 'boolean', describe: 'Also report TLS handshakes' },
  port: SSL_TRACER_OPTIONS.port,
  'binary-path': SSL_TRACER_OPTIONS['binary-path'],
  'max-bytes': SSL_TRACER_OPTIONS['max-bytes'],
  'ssl-ring-size': SSL_TRACER_OPTIONS['ssl-ring-size'],
  duration: PROCESS_OPTIONS.duration,
  'file-events': PROCESS_OPTIONS['file-events'],
  'file-dedup-ms': PROCESS_OPTIONS['file-dedup-ms'],
  'argv-max': PROCESS_OPTIONS['argv-max'],
  'ring-size': PROCESS_OPTIONS['ring-size'],
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

/** Writing events to a file. */
export const FILE_OPTIONS: OptionTable = {
  output: { type: 'string', alias: 'o', describe: 'Also write every event as NDJSON to this file (created 0600; appended to if it exists)' },
  'rotate-logs': { type: 'boolean', describe: 'Rotate the --output file when it reaches --max-log-size (keeps 5 old files)' },
  'max-log-size': { type: 'number', describe: 'Size in MB at which --rotate-logs rotates (default 100)' },
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

/** Parsed TLS tracer options -> SslTracerOptions fields. */
export function sslTracerOptions(a: ParsedArgs) {
  if (a.interface !== undefined)
    throw new UsageError(
      `--interface ${String(a.interface)} cannot be honoured: agentsight reads TLS plaintext inside the processes ` +
        '(uprobes on the TLS library), where there is no network interface; filter with --port, --pid or --comm instead',
    );
  const ring = num(a['ssl-ring-size']);
  return {
    comm: strs(a.comm),
    pid: nums(a.pid),
    uid: num(a.uid),
    port: nums(a.port),
    handshake: a.handshake === undefined ? undefined : Boolean(a.handshake),
    maxBytes: num(a['max-bytes']),
    binaryPaths: strs(a['binary-path']),
    ringBytes: ring === undefined ? undefined : ring * 1024 * 1024,
  };
}

/** Drop undefined fields (so they do not override defaults in spreads). */
export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
