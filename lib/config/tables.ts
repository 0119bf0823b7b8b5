/**
 * Every command-line option, once. Each table belongs to one typed options
 * object (lib/config/options.ts, the tracers' option types): a flag's `key`
 * is the field it sets there.
 */
import { as, type OptionDef, type OptionTable } from './define';

const MiB = 1024 * 1024;

const verbose: OptionDef = {
  type: 'boolean',
  alias: 'v',
  describe: "Say what is loaded and attached where (per file and function), how long each start-up and stop step takes, and libbpf's messages (on stderr)",
};

const comm: OptionDef = {
  type: 'string',
  array: true,
  describe: 'Select processes by name: a prefix of the kernel process name (15 characters at most); repeatable',
};
const pid: OptionDef = { type: 'number', array: true, describe: 'Select a process and all its descendants; repeatable' };
const cgroup: OptionDef = {
  type: 'string',
  array: true,
  describe:
    'Select the processes of a cgroup v2 and of every cgroup below it (a directory of the cgroup2 mount, or a path as /proc/PID/cgroup shows it); repeatable',
};
const container: OptionDef = {
  type: 'string',
  array: true,
  describe: 'Select the processes of a container (docker, containerd, CRI-O, podman) by id or unique prefix, through its cgroup; repeatable',
};
const cgroupRoot: OptionDef = {
  type: 'string',
  describe: "Where the cgroup v2 hierarchy is mounted (default: found in /proc/self/mountinfo), e.g. the host's inside a container",
};

/** Selection of processes, shared by every tracer. */
export const SELECTION_OPTIONS: OptionTable = { comm, pid, cgroup, container, 'cgroup-root': cgroupRoot };

const duration: OptionDef = { type: 'number', key: 'durationMs', describe: 'Report EXIT only for processes that lived at least this many milliseconds' };
const fileEvents: OptionDef = { type: 'boolean', describe: 'Report file opens (default true; --no-file-events turns them off)' };
const fileDedupMs: OptionDef = {
  type: 'number',
  describe: 'Fold identical opens of a process within this window into one counted event (0 = off; default 1000)',
};
const argvMax: OptionDef = { type: 'number', describe: 'Bytes of argv copied per exec (default 4096, max 16384); longer is flagged argv_truncated' };
const ringSize: OptionDef = { type: 'number', key: 'ringBytes', scale: MiB, describe: 'Process ring buffer size in MiB, a power of two (default 8)' };
const fileHook: OptionDef = {
  type: 'string',
  choices: ['auto', 'syscalls', 'raw'],
  describe:
    "How file opens are hooked: 'syscalls' (the open system calls' own tracepoints: only opens pay; before Linux 6.5 detaching them takes ~40 ms each, ~350 ms in all), " +
    "'raw' (sys_enter/sys_exit: every system call of every process pays ~80 ns more, attached and detached in a few ms), " +
    "'auto' (syscalls where tracefs can be had, else raw; the default, but record's is raw)",
};

/** Options of the process tracer (ProcessTracerOptions); also accepted after `--`, as the original passed them to its eBPF program. */
export const PROCESS_OPTIONS: OptionTable = {
  comm,
  pid,
  cgroup,
  container,
  'cgroup-root': cgroupRoot,
  duration,
  mode: {
    type: 'number',
    choices: [0, 1, 2],
    describe:
      '0 = all processes and all file opens; 1 = all processes, file opens only of selected ones; ' +
      '2 = only selected processes and their descendants (default: 2 with --comm/--pid, else 1)',
  },
  'file-events': fileEvents,
  'file-dedup-ms': fileDedupMs,
  'argv-max': argvMax,
  'ring-size': ringSize,
  'file-hook': fileHook,
  verbose,
};

const port: OptionDef = {
  type: 'number',
  array: true,
  describe: 'Only connections whose local or remote port is this one (seen on the socket under the TLS session); repeatable',
};
const maxBytes: OptionDef = {
  type: 'number',
  describe: 'Bytes captured per TLS call (default and maximum 4194304); longer calls are flagged truncated with bytes_lost',
};
const binaryPath: OptionDef = {
  type: 'string',
  array: true,
  key: 'binaryPaths',
  describe: 'Also probe this executable or library (it must contain TLS functions); repeatable',
};
const sslRingSize: OptionDef = { type: 'number', key: 'ringBytes', scale: MiB, describe: 'TLS ring buffer size in MiB, a power of two (default 64)' };

/** Options of the TLS tracer (SslTracerOptions); also accepted after `--`, as the original passed them to sslsniff. */
export const SSL_TRACER_OPTIONS: OptionTable = {
  comm,
  pid,
  cgroup,
  container,
  'cgroup-root': cgroupRoot,
  uid: { type: 'number', describe: 'Only TLS calls of processes running as this user id' },
  port,
  handshake: { type: 'boolean', describe: 'Also report TLS handshakes (SSL_do_handshake / gnutls_handshake)' },
  'max-bytes': maxBytes,
  'binary-path': binaryPath,
  'ssl-ring-size': sslRingSize,
  verbose,
  interface: {
    type: 'string',
    describe: 'Not supported: TLS plaintext is captured inside processes, not on a network interface (use --port)',
    refuse: (v) =>
      `--interface ${String(v)} cannot be honoured: agentsight reads TLS plaintext inside the processes ` +
      '(uprobes on the TLS library), where there is no network interface; filter with --port, --pid or --comm instead',
  },
};

/** Options of `agent` and `record` (AgentOptions), in the original collector's names. */
export const AGENT_OPTIONS: OptionTable = {
  ssl: { type: 'boolean', describe: 'TLS capture (--ssl false turns it off)', default: true },
  process: { type: 'boolean', describe: 'Process tracing (--process false turns it off)', default: true },
  'ssl-uid': { type: 'number', describe: 'Only TLS calls of this user id' },
  'ssl-handshake': { type: 'boolean', describe: 'Also report TLS handshakes' },
  port,
  'binary-path': binaryPath,
  'max-bytes': maxBytes,
  'ssl-ring-size': as(sslRingSize, 'sslRingBytes'),
  duration,
  'file-events': fileEvents,
  'file-dedup-ms': fileDedupMs,
  'argv-max': argvMax,
  'ring-size': ringSize,
  'file-hook': fileHook,
  verbose,
};

/** Analysis of the TLS plaintext (ChainOptions): the original collector's SSL options. */
export const ANALYSIS_OPTIONS: OptionTable = {
  'http-parser': { type: 'boolean', describe: 'Parse HTTP/1.x requests and responses from the TLS plaintext (per connection, paired, decompressed)' },
  'http-raw-data': { type: 'boolean', describe: 'Include the raw message bytes in http events' },
  'sse-merge': { type: 'boolean', describe: 'Merge each Server-Sent Events response into one event (implies --http-parser)' },
  'http-filter': {
    type: 'string',
    array: true,
    describe: 'Drop HTTP exchanges matching this expression, e.g. "GET /health" or "response.status_code >= 500"; repeatable (docs/filters.md)',
  },
  'ssl-filter': { type: 'string', array: true, describe: 'Drop ssl events matching this expression, e.g. "handshake" or "len < 10"; repeatable' },
  'raw-ssl': { type: 'boolean', describe: 'Keep the ssl events in the output when HTTP parsing is on' },
  'disable-auth-removal': {
    type: 'boolean',
    key: 'redact',
    invert: true,
    describe: 'Do not mask credentials (Authorization, API-key and cookie headers, keys in URLs, JSON and text). Masking is on by default',
  },
};

/** Saved sessions are masked again when read (a file written with --disable-auth-removal, or by something else). */
const SAVED_REDACTION: OptionTable = {
  'disable-auth-removal': {
    type: 'boolean',
    key: 'redact',
    invert: true,
    describe: 'Show the saved events as they are, without masking credentials again. Masking is on by default',
  },
};

const statsInterval: OptionDef = {
  type: 'number',
  key: 'statsIntervalMs',
  scale: 1000,
  describe: 'Seconds between stats events while drop/truncation counters change (0 = only the final one)',
  default: 10,
};

/** Console output common to every tracing command (ConsoleOptions). */
export const OUTPUT_OPTIONS: OptionTable = {
  quiet: { type: 'boolean', alias: 'q', describe: 'No console output (events still go to --output)' },
  format: {
    type: 'string',
    choices: ['auto', 'json', 'pretty'],
    describe: 'Console format: json (NDJSON), pretty (one line per event), auto (pretty on a terminal, else json)',
    default: 'auto',
  },
  'stats-interval': statsInterval,
  verbose,
};

/** Writing events to a file (FileOutputOptions). */
export const FILE_OPTIONS: OptionTable = {
  output: { type: 'string', alias: 'o', describe: 'Also write every event as NDJSON to this file (created 0600; appended to if it exists)' },
  'rotate-logs': { type: 'boolean', describe: 'Rotate the --output file when it reaches --max-log-size (keeps 5 old files)' },
  'max-log-size': { type: 'number', key: 'maxLogSizeMB', describe: 'Size in MiB at which --rotate-logs rotates (default 10)' },
};

/** `record`'s own (RecordCliOptions). */
export const RECORD_OPTIONS: OptionTable = {
  live: { type: 'boolean', describe: "Show events as they happen (on stderr, readable form; stdout stays the command's)" },
  quiet: { type: 'boolean', alias: 'q', describe: 'No summary on stderr' },
  'stats-interval': statsInterval,
  verbose,
};

/** OTLP export of sessions as OpenTelemetry traces and metrics (OtlpOptions; docs/otel.md). */
export const OTLP_OPTIONS: OptionTable = {
  'otlp-endpoint': {
    type: 'string',
    describe:
      'Send sessions as OpenTelemetry traces and metrics to this OTLP/HTTP endpoint, e.g. http://localhost:4318 (/v1/traces is appended unless the URL ends in it)',
  },
  otlp: { type: 'boolean', describe: 'Send them to the endpoint of OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT' },
  'otlp-protocol': {
    type: 'string',
    choices: ['http/protobuf', 'http/json'],
    describe: 'OTLP encoding (default: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf)',
  },
  'otlp-header': {
    type: 'string',
    array: true,
    key: 'otlpHeaders',
    describe: 'Also send this request header, NAME=VALUE (on top of OTEL_EXPORTER_OTLP_HEADERS); repeatable',
  },
  'otlp-content': { type: 'boolean', describe: 'Also export prompts, answers, system instructions and tool arguments and results (masked)' },
  'otlp-flush-timeout': {
    type: 'number',
    key: 'otlpFlushTimeoutMs',
    scale: 1000,
    describe: 'Seconds to wait at the end for what is still queued (default 5); what is left is reported as not sent',
  },
  'otlp-queue-size': { type: 'number', describe: 'Spans held while the receiver is slow or away (default 8192); beyond, new spans are dropped and counted' },
  'otlp-metrics': { type: 'boolean', describe: 'Also export GenAI and agentsight metrics (default true; --no-otlp-metrics turns them off)' },
};

/** Options read from a file (`--config`): its keys are the typed option names of the command's flags. */
export const CONFIG_OPTIONS: OptionTable = {
  config: {
    type: 'string',
    describe:
      'Read options from this JSON file: an object whose keys are the option names of the flags, as the library types them (e.g. {"comm": ["claude"], "otlpEndpoint": "http://collector:4318"}); flags given here win',
  },
};

/** `export`'s own (ExportCliOptions). */
export const EXPORT_OPTIONS: OptionTable = {
  quiet: { type: 'boolean', alias: 'q', describe: 'No summary on stderr (problems are still said)' },
};

/** `demo` (DemoOptions). */
export const DEMO_OPTIONS: OptionTable = {
  agent: { type: 'string', choices: ['python', 'node'], default: 'python', describe: 'Which demo agent to run (python: urllib/libssl; node: https/node)' },
  provider: { type: 'string', choices: ['anthropic', 'openai'], default: 'anthropic', describe: 'Which API the agent talks to' },
  stream: { type: 'boolean', default: true, describe: 'Streamed answers (SSE) or plain JSON' },
};

/** The price table for the cost of LLM calls (AgentOptions.prices, ReportCliOptions.prices). */
export const PRICE_OPTIONS: OptionTable = {
  prices: {
    type: 'string',
    describe: 'Prices for the cost of LLM calls: a JSON file in the format of the shipped data/prices.json, merged over it',
  },
};

/** `report` (ReportCliOptions). */
export const REPORT_OPTIONS: OptionTable = {
  format: {
    type: 'string',
    choices: ['text', 'json', 'markdown'],
    default: 'text',
    describe: 'text: aligned tables for a terminal; json: one object for scripts; markdown: for CI summaries and pull requests',
  },
  ...PRICE_OPTIONS,
  ...SAVED_REDACTION,
};

/** `ui` (UiCliOptions). */
export const UI_OPTIONS: OptionTable = {
  port: { type: 'number', default: 0, describe: 'Port of the web UI on 127.0.0.1 (0: any free one)' },
  host: {
    type: 'string',
    describe: 'Listen on this address instead of 127.0.0.1. Anyone who can reach it and has the printed URL can read the session',
  },
  ...PRICE_OPTIONS,
  ...SAVED_REDACTION,
};

/** The web UI of a running session (UiSessionOptions), for `record` and `agent`. */
export const UI_SESSION_OPTIONS: OptionTable = {
  ui: {
    type: 'boolean',
    describe: 'Show the session live in a local web UI (the URL to open, with its access token, is printed); it stays up after the session until Ctrl-C',
  },
  'ui-port': { type: 'number', describe: 'Port of the web UI on 127.0.0.1 (default: any free one)' },
  'ui-host': { type: 'string', describe: 'Listen on this address instead of 127.0.0.1 (anyone who can reach it and has the URL can read the session)' },
};

/*
 * Each tracing command's whole table: its flags, parsed one way by the CLI and
 * by the loads begun at its start (lib/cli/early-load.ts).
 */
export const PROCESS_COMMAND_OPTIONS: OptionTable = {
  ...PROCESS_OPTIONS,
  'disable-auth-removal': ANALYSIS_OPTIONS['disable-auth-removal'],
  ...FILE_OPTIONS,
  ...OUTPUT_OPTIONS,
};
export const SSL_COMMAND_OPTIONS: OptionTable = { ...SSL_TRACER_OPTIONS, ...ANALYSIS_OPTIONS, ...FILE_OPTIONS, ...OUTPUT_OPTIONS };
export const AGENT_COMMAND_OPTIONS: OptionTable = {
  ...SELECTION_OPTIONS,
  ...AGENT_OPTIONS,
  ...ANALYSIS_OPTIONS,
  ...PRICE_OPTIONS,
  ...FILE_OPTIONS,
  ...OUTPUT_OPTIONS,
  ...UI_SESSION_OPTIONS,
  ...OTLP_OPTIONS,
  ...CONFIG_OPTIONS,
};
export const RECORD_COMMAND_OPTIONS: OptionTable = {
  ...AGENT_OPTIONS,
  ...ANALYSIS_OPTIONS,
  ...PRICE_OPTIONS,
  ...FILE_OPTIONS,
  ...RECORD_OPTIONS,
  ...UI_SESSION_OPTIONS,
  ...OTLP_OPTIONS,
  ...CONFIG_OPTIONS,
};
