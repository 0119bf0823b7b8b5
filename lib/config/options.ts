/**
 * The typed options of the library, their defaults, and how the combined
 * options of `agent`/`record` become the options of each tracer and of the
 * analyzer chain. The tracers validate their own options (ProcessTracer.resolve,
 * SslTracer.resolve) before anything reaches the kernel.
 */
import type { OutputFormat } from '../sinks/output';
import type { ProcessTracerOptions } from '../tracers/process-tracer';
import type { SslTracerOptions } from '../tracers/ssl-tracer';
import type { Timeline } from '../core/timeline';
import { defined } from './define';
import type { Prices } from '../cost/prices';

/** Which processes to watch: by name prefix, by pid, by cgroup or container, each with all descendants. */
export interface SelectionOptions {
  comm?: string[];
  pid?: number[];
  /** Cgroups (v2) whose processes, and those of every cgroup below, are watched. */
  cgroup?: string[];
  /** Containers (ids or unique prefixes) whose processes are watched. */
  container?: string[];
  /** Where the cgroup v2 hierarchy is mounted (default: found in /proc/self/mountinfo). */
  cgroupRoot?: string;
}

/** Analysis of the TLS plaintext (the original collector's SSL options). */
export interface ChainOptions {
  /** Mask credentials (default true; --disable-auth-removal turns it off). */
  redact: boolean;
  /** Parse HTTP/1.x per connection (`--http-parser`). */
  httpParser: boolean;
  /** Raw message bytes in http events (`--http-raw-data`). */
  httpRawData: boolean;
  /** Merge SSE responses into one event each (`--sse-merge`; implies httpParser). */
  sseMerge: boolean;
  /** Drop HTTP exchanges matching any of these expressions. */
  httpFilter: string[];
  /** Drop ssl events matching any of these expressions. */
  sslFilter: string[];
  /** Keep the ssl events when HTTP parsing is on. */
  rawSsl: boolean;
}

/** The chain of `ssl`: nothing but masking unless asked. */
export const SSL_CHAIN_DEFAULTS: ChainOptions = {
  redact: true,
  httpParser: false,
  httpRawData: false,
  sseMerge: false,
  httpFilter: [],
  sslFilter: [],
  rawSsl: true,
};
/** The chain of `agent`/`record`: HTTP parsing and SSE merging on, raw ssl events off. */
export const AGENT_CHAIN_DEFAULTS: ChainOptions = { ...SSL_CHAIN_DEFAULTS, httpParser: true, sseMerge: true, rawSsl: false };

/**
 * Complete chain options. SSE merging needs the parser (sseMerge implies
 * httpParser); turning the parser off turns merging off unless it is asked for.
 */
export function chainOptions(o: Partial<ChainOptions>, defaults: ChainOptions = SSL_CHAIN_DEFAULTS): ChainOptions {
  const sseMerge = o.sseMerge ?? (o.httpParser === false ? false : defaults.sseMerge);
  return {
    redact: o.redact ?? defaults.redact,
    httpParser: (o.httpParser ?? defaults.httpParser) || sseMerge,
    httpRawData: o.httpRawData ?? defaults.httpRawData,
    sseMerge,
    httpFilter: [...(o.httpFilter ?? defaults.httpFilter)],
    sslFilter: [...(o.sslFilter ?? defaults.sslFilter)],
    rawSsl: o.rawSsl ?? defaults.rawSsl,
  };
}

/**
 * What `agent` and `record` watch and how (and the library's trace() and
 * record()): TLS and process tracing under one selection, with the TLS
 * chain's analysis. Every field is optional; the defaults are the CLI's.
 */
export interface AgentOptions extends SelectionOptions, Partial<ChainOptions> {
  /** TLS capture (default true). */
  ssl?: boolean;
  /** Process tracing (default true). */
  process?: boolean;
  /** Only TLS calls of this user id (`--ssl-uid`). */
  sslUid?: number;
  /** Also report TLS handshakes (`--ssl-handshake`). */
  sslHandshake?: boolean;
  /** Only connections with this local or remote port. */
  port?: number[];
  /** Extra executables or libraries to probe. */
  binaryPaths?: string[];
  /** Bytes captured per TLS call. */
  maxBytes?: number;
  /** TLS ring buffer size in bytes. */
  sslRingBytes?: number;
  /** Report EXIT only for processes that lived at least this long (ms). */
  durationMs?: number;
  /** Report file opens (default true). */
  fileEvents?: boolean;
  /** Window folding identical opens (ms). */
  fileDedupMs?: number;
  /** argv bytes copied per exec. */
  argvMax?: number;
  /** Process ring buffer size in bytes. */
  ringBytes?: number;
  /** How file opens are hooked (ProcessTracerOptions.fileHook; `record` defaults to 'raw'). */
  fileHook?: ProcessTracerOptions['fileHook'];
  /** Periodic stats events while drops change (ms; 0: only the final one). */
  statsIntervalMs?: number;
  /** Prices for the cost of LLM calls: a file merged over the shipped table (`--prices`), or a table. Default: the shipped one. */
  prices?: string | Prices;
  /** Say what is loaded and attached, and how long each step takes (`--verbose`). */
  verbose?: boolean;
  /** Where --verbose lines go (one for both tracers; made by them when not given). */
  timeline?: Timeline;
}

/** Which tracers `agent`/`record` run (--ssl false, --process false). */
export function agentTracersOn(o: AgentOptions): { ssl: boolean; process: boolean } {
  return { ssl: o.ssl !== false, process: o.process !== false };
}

/**
 * `record`'s options for the agent it runs: exactly the command's process tree (its pid, held at the
 * gate, is the whole selection). File opens are hooked on sys_enter/sys_exit unless asked otherwise:
 * a recording is started again and again (one per command), and the open syscalls' own tracepoints
 * are detached by the kernel one grace period per tracepoint under its trace event lock, after the
 * process exits (Linux 6.5+) or before (older). Either way the next start within ~0.5 s waits for
 * that to attach its own (~80 ms more, measured back to back).
 */
export function recordAgentOptions(o: AgentOptions, pid: number): AgentOptions {
  return { ...o, fileHook: o.fileHook ?? 'raw', comm: undefined, cgroup: undefined, container: undefined, pid: [pid] };
}

/** The options of each tracer that `agent`/`record` runs. */
export function agentTracerOptions(o: AgentOptions): { ssl: SslTracerOptions; process: ProcessTracerOptions } {
  const sel = defined({
    comm: o.comm,
    pid: o.pid,
    cgroup: o.cgroup,
    container: o.container,
    cgroupRoot: o.cgroupRoot,
    verbose: o.verbose,
    timeline: o.timeline,
  });
  const statsIntervalMs = o.statsIntervalMs ?? 10_000;
  return {
    ssl: {
      ...sel,
      statsIntervalMs,
      ...defined({
        uid: o.sslUid,
        handshake: o.sslHandshake,
        port: o.port,
        binaryPaths: o.binaryPaths,
        maxBytes: o.maxBytes,
        ringBytes: o.sslRingBytes,
        fileHook: o.fileHook,
      }),
    },
    process: {
      ...sel,
      statsIntervalMs,
      ...defined({
        durationMs: o.durationMs,
        fileEvents: o.fileEvents,
        fileDedupMs: o.fileDedupMs,
        argvMax: o.argvMax,
        ringBytes: o.ringBytes,
        fileHook: o.fileHook,
      }),
    },
  };
}

/** Console output of the tracing commands. */
export interface ConsoleOptions {
  /** No console output. */
  quiet?: boolean;
  verbose?: boolean;
  format?: OutputFormat;
  statsIntervalMs?: number;
}

/** Writing every event to an NDJSON file (`--output`, `--rotate-logs`, `--max-log-size`). */
export interface FileOutputOptions {
  output?: string;
  rotateLogs?: boolean;
  maxLogSizeMB?: number;
}

/** `record`'s own options. */
export interface RecordCliOptions {
  /** Show events on stderr as they happen. */
  live?: boolean;
  /** No summary on stderr. */
  quiet?: boolean;
  statsIntervalMs?: number;
  verbose?: boolean;
}

/** `demo`'s options. */
export interface DemoOptions {
  agent?: 'python' | 'node';
  provider?: 'anthropic' | 'openai';
  stream?: boolean;
  /** A price file merged over the shipped table. */
  prices?: string;
}

/** `report`'s options. */
export interface ReportCliOptions {
  format?: 'text' | 'json' | 'markdown';
  /** A price file merged over the shipped table; with it every call is priced again. */
  prices?: string;
  /** Mask credentials in the saved events again (default true; --disable-auth-removal: false). */
  redact?: boolean;
}

/** `ui`'s options. */
export interface UiCliOptions {
  port?: number;
  host?: string;
  prices?: string;
  /** Mask credentials in the saved events again (default true; --disable-auth-removal: false). */
  redact?: boolean;
}

/** The web UI of a running session (`--ui`, `--ui-port`, `--ui-host`). */
export interface UiSessionOptions {
  ui?: boolean;
  uiPort?: number;
  uiHost?: string;
}

/** OTLP export of sessions as OpenTelemetry traces and metrics (`--otlp`, `--otlp-endpoint`, ...; docs/otel.md). */
export interface OtlpOptions {
  /** Export to this endpoint (the base URL, as OTEL_EXPORTER_OTLP_ENDPOINT: /v1/traces and /v1/metrics are appended unless it already ends in /v1/traces). */
  otlpEndpoint?: string;
  /** Export to the endpoint the standard environment variables name (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT). */
  otlp?: boolean;
  /** http/protobuf (default) or http/json; else OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL. */
  otlpProtocol?: 'http/protobuf' | 'http/json';
  /** Extra request headers, NAME=VALUE (on top of OTEL_EXPORTER_OTLP_[TRACES_]HEADERS). */
  otlpHeaders?: string[];
  /** Also export prompts, answers, system instructions and tool arguments/results (after masking). */
  otlpContent?: boolean;
  /** How long a run waits at its end for what is still queued to be sent (ms, default 5000). */
  otlpFlushTimeoutMs?: number;
  /** Spans held while the collector is slow or away; beyond, new spans are dropped and counted (default 8192). */
  otlpQueueSize?: number;
  /** Also export metrics: GenAI client metrics and agentsight's own (default true; not for `export`). */
  otlpMetrics?: boolean;
}

/** `agentsight export FILE...`. */
export interface ExportCliOptions extends OtlpOptions {
  /** No summary on stderr. */
  quiet?: boolean;
}
