/**
 * Linking of execs to the tool calls that asked for them: when a process of
 * the calling agent's tree execs a command that a tool call of an earlier
 * answer asked to run, the EXEC event is annotated with that call; processes
 * it starts inherit the link.
 */
import type { Event } from '../core/event';
import type { LlmToolCall } from '../providers/types';

/** What a linked EXEC event carries. */
export interface ToolLink {
  llm_call_id: string;
  tool_call_id: string | null;
  tool_name: string | null;
}

/** A tool call that asked for a command, waiting for its exec: only what matching needs. */
interface ToolWait {
  callId: string;
  toolCallId: string | null;
  toolName: string | null;
  /** the command, normalised */
  command: string;
  agentPid: number;
  monoNs: number;
}

/** Counters of the linker (LlmAnalyzer's stats). */
export interface ToolLinkCounters {
  /** tool calls that asked for a command, waiting for it to be exec'd */
  tool_calls_expected: number;
  /** ... whose window passed without a matching exec */
  tool_calls_expired: number;
  /** ... forgotten, oldest first, beyond MAX_WAITS */
  tool_calls_dropped: number;
}

/** Processes remembered for ancestry (pid -> parent pid), and linked processes. */
const MAX_TREE = 200_000;
/** Tool calls waiting for their exec at once. */
const MAX_WAITS = 4096;
/** How far up the process tree an exec is related to an agent. */
const MAX_DEPTH = 64;

/** Tool calls waiting for their exec, and the process tree that relates execs to agents. */
export class ToolLinker {
  private tools: ToolWait[] = [];
  /** index of the oldest live entry of `tools` (expired ones are skipped, then cut off in bulk) */
  private head = 0;
  readonly counters: ToolLinkCounters = { tool_calls_expected: 0, tool_calls_expired: 0, tool_calls_dropped: 0 };
  /** pid -> parent pid, from EXEC/FORK events */
  private readonly parents = new Map<number, number>();
  /** pid -> the tool call its exec (or an ancestor's) was linked to */
  private readonly linked = new Map<number, ToolLink>();

  /** @param windowNs how long after the answer a tool call can be linked to an exec (event time) */
  constructor(private readonly windowNs: number) {}

  /** Tool calls waiting now. */
  get waiting(): number {
    return this.tools.length - this.head;
  }

  /** A tool call of answer `callId`, asked for by the agent `agentPid` at `monoNs` (only one that asked for a command can be linked). */
  expect(callId: string, tool: LlmToolCall, agentPid: number, monoNs: number): void {
    this.expire(monoNs);
    if (!tool.command) return;
    const command = normalise(tool.command);
    if (!command) return;
    if (this.waiting >= MAX_WAITS) {
      this.head++;
      this.counters.tool_calls_dropped++;
    }
    this.tools.push({ callId, toolCallId: tool.id, toolName: tool.name, command, agentPid, monoNs });
    this.counters.tool_calls_expected++;
    this.compact();
  }

  /** Forget the tool calls whose window ended before event time `now`. */
  private expire(now: number): void {
    while (this.head < this.tools.length && now - this.tools[this.head].monoNs > this.windowNs) {
      this.head++;
      this.counters.tool_calls_expired++;
    }
    this.compact();
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.tools.length) {
      this.tools = this.tools.slice(this.head);
      this.head = 0;
    }
  }

  /** Follow a process event; an EXEC that runs an expected command is annotated. Returns whether it was. */
  onProcess(e: Event): boolean {
    const d = e.data as Record<string, unknown>;
    if (d.event === 'FORK' || d.event === 'EXEC') {
      if (typeof d.ppid === 'number') {
        if (this.parents.size >= MAX_TREE) this.parents.delete(this.parents.keys().next().value as number);
        this.parents.set(e.pid, d.ppid);
      }
    }
    if (d.event === 'FORK') {
      const l = this.linked.get(d.ppid as number);
      if (l) this.link(e.pid, l);
      return false;
    }
    if (d.event === 'EXIT') {
      this.linked.delete(e.pid);
      return false;
    }
    if (d.event !== 'EXEC') return false;
    this.expire(e.mono_ns ?? 0);
    // a process forked by an already linked one belongs to the same tool call
    const link = this.linked.get(e.pid) ?? this.linked.get(d.ppid as number) ?? this.match(e.pid, String(d.full_command ?? ''));
    if (!link) return false;
    this.link(e.pid, link);
    Object.assign(e.data, link);
    return true;
  }

  /** Remember that `pid` runs for a tool call (the oldest such process is forgotten beyond MAX_TREE: its EXIT was lost). */
  private link(pid: number, l: ToolLink): void {
    this.linked.delete(pid);
    if (this.linked.size >= MAX_TREE) this.linked.delete(this.linked.keys().next().value as number);
    this.linked.set(pid, l);
  }

  /** The most recent expected tool call whose command this exec of a descendant of its agent runs. */
  private match(pid: number, fullCommand: string): ToolLink | null {
    const cmdline = normalise(fullCommand);
    for (let i = this.tools.length - 1; i >= this.head; i--) {
      const t = this.tools[i];
      if (pid === t.agentPid || !this.descends(pid, t.agentPid)) continue;
      if (commandMatches(cmdline, t.command)) return { llm_call_id: t.callId, tool_call_id: t.toolCallId, tool_name: t.toolName };
    }
    return null;
  }

  private descends(pid: number, ancestor: number): boolean {
    let p: number | undefined = pid;
    for (let i = 0; i < MAX_DEPTH && p !== undefined && p > 1; i++) {
      if (p === ancestor) return true;
      p = this.parents.get(p);
    }
    return false;
  }
}

function normalise(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * Does an exec's command line belong to a requested command? Either contains
 * the other (a shell running the command string, or one program of it), with
 * word boundaries, ignoring one level of quoting.
 */
export function commandMatches(cmdline: string, command: string): boolean {
  if (!cmdline || !command) return false;
  const strip = (s: string) => s.replace(/["']/g, '');
  const a = strip(cmdline);
  const b = strip(command);
  const within = (hay: string, needle: string) => {
    if (needle.length < 2) return false;
    let i = hay.indexOf(needle);
    while (i >= 0) {
      const before = i === 0 ? ' ' : hay[i - 1];
      const after = i + needle.length >= hay.length ? ' ' : hay[i + needle.length];
      if (/[\s;&|()]/.test(before) && /[\s;&|()]/.test(after)) return true;
      i = hay.indexOf(needle, i + 1);
    }
    return false;
  };
  return within(a, b) || within(b, a);
}
