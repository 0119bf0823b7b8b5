/**
 * What the web UI's server sends its page (lib/ui/server.ts -> web/src):
 * compact index entries, totals, the snapshot a page starts from and the
 * updates that follow it. Shared by both sides; types only.
 */

export interface UiInfo {
  title: string;
  /** Events arrive as they happen (record/agent --ui), or the session was read from files. */
  live: boolean;
  /** No more events will come. */
  ended: boolean;
  /** The session files. */
  files: string[];
  /** Events that left the server's memory can be read back from the session file. */
  detail_from_file: boolean;
}

export interface UiToolCall {
  id: string | null;
  name: string | null;
  command: string | null;
}

/** One LLM call. t0/t1: start and end (ms); ttft: when the first chunk came. */
export interface UiCall {
  seq: number;
  id: string;
  t0: number;
  t1: number;
  ttft: number | null;
  pid: number;
  comm: string;
  provider: string;
  model: string;
  status: number | null;
  error: string | null;
  incomplete: string | null;
  streaming: boolean;
  /** Tokens as priced: uncached input, cache reads and writes, output (reasoning included); null when not reported. */
  input_tokens: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  output_tokens: number | null;
  cost_usd: number | null;
  /** Why it has no cost. */
  unpriced: string | null;
  tools: UiToolCall[];
  /** The start of the answer and of the last user message. */
  answer: string;
  prompt: string;
}

/** One process (a row per program it ran). parent: seq of the parent's row. */
export interface UiProc {
  seq: number;
  pid: number;
  ppid: number;
  parent: number | null;
  comm: string;
  cmd: string;
  /** Forked, has not exec'd. */
  fork: boolean;
  t0: number;
  t1: number | null;
  exit: number | null;
  signal: string | null;
  /** Ended by another exec of the same pid. */
  replaced: boolean;
  /** The tool call that asked for it (inherited by its descendants). */
  link: { call: string; tool: string | null; name: string | null } | null;
  opens: number;
  writes: number;
  /** When it opened files (the first few). */
  open_times: number[];
}

/** One path, every open of it. */
export interface UiFile {
  path: string;
  opens: number;
  writes: number;
  failed: number;
  error: string | null;
  pids: number[];
  t0: number;
  t1: number;
  /** The last open's event. */
  seq: number;
}

export interface UiError {
  seq: number;
  t: number;
  kind: 'http' | 'llm' | 'diagnostic' | 'loss';
  message: string;
}

export interface UiTotals {
  events: number;
  by_source: Record<string, number>;
  calls: number;
  call_errors: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_usd: number;
  unpriced_calls: number;
  models: { provider: string; model: string; calls: number; cost_usd: number; unpriced_calls: number; input_tokens: number; output_tokens: number }[];
  commands: number;
  files: number;
  errors: number;
  start: number | null;
  end: number | null;
  /** Entries beyond the index limits (counted, not listed). */
  not_indexed: { calls: number; procs: number; files: number; errors: number };
}

export interface UiSnapshot {
  info: UiInfo;
  /** Events so far. */
  seq: number;
  totals: UiTotals;
  calls: UiCall[];
  procs: UiProc[];
  files: UiFile[];
  errors: UiError[];
  memory: { ring_events: number; ring_bytes: number; pinned: number; checkpoints: number };
}

/** Changes: entries new or changed since the last update (replace by seq / path). */
export interface UiUpdate {
  info: UiInfo;
  seq: number;
  totals: UiTotals;
  calls: UiCall[];
  procs: UiProc[];
  files: UiFile[];
  errors: UiError[];
}

/** One line of the event list. */
export interface UiEventRow {
  seq: number;
  t: number;
  source: string;
  pid: number;
  comm: string;
  text: string;
}
