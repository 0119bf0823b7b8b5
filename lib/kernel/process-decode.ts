/**
 * Turning process.bpf.c records into events (docs/events.md, `process`).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { EXEC, EXIT, F, FILE_OPEN, FORK, HDR, OPEN_SYSCALL_NAMES, readHeader, readS64, readU64, REC } from './abi';
import type { KernelClock } from './clock';
import type { ProcessEvent } from '../core/event';

/** The container of a record's cgroup (null when the process is in none), for the event's `container.id`. */
export type ContainerLookup = { lookup(cgroupId: number, pid: number): { 'container.id': string; 'k8s.pod.uid'?: string } | null };

const SIGNAL_NAMES = new Map<number, string>(Object.entries(os.constants.signals).map(([name, num]) => [num as number, name]));
const ERRNO_NAMES = new Map<number, string>(Object.entries(os.constants.errno).map(([name, num]) => [num as number, name]));

export function signalName(sig: number): string {
  return SIGNAL_NAMES.get(sig) ?? `SIG${sig}`;
}

export function errnoName(err: number): string {
  return ERRNO_NAMES.get(err) ?? `E${err}`;
}

// x86_64 / generic open(2) flags.
const ACCMODE = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'];
const OPEN_FLAGS: [number, string][] = [
  [0o100, 'O_CREAT'],
  [0o200, 'O_EXCL'],
  [0o400, 'O_NOCTTY'],
  [0o1000, 'O_TRUNC'],
  [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'],
  [0o10000, 'O_DSYNC'],
  [0o20000, 'O_ASYNC'],
  [0o40000, 'O_DIRECT'],
  [0o100000, 'O_LARGEFILE'],
  [0o200000, 'O_DIRECTORY'],
  [0o400000, 'O_NOFOLLOW'],
  [0o1000000, 'O_NOATIME'],
  [0o2000000, 'O_CLOEXEC'],
  [0o4000000, 'O_SYNC'], // includes O_DSYNC bit in glibc's O_SYNC
  [0o10000000, 'O_PATH'],
  [0o20000000, 'O_TMPFILE'],
];

/** "O_WRONLY|O_CREAT|O_TRUNC" from open flags; unknown bits appear in hex. */
export function renderOpenFlags(flags: number): string {
  const parts = [ACCMODE[flags & 3]];
  let rest = flags & ~3;
  for (const [bit, name] of OPEN_FLAGS) {
    if (rest & bit) {
      parts.push(name);
      rest &= ~bit;
    }
  }
  if (rest) parts.push(`0x${(rest >>> 0).toString(16)}`);
  return parts.join('|');
}

/** Split a cmdline block (NUL-separated) into argv. */
export function splitArgv(block: Buffer): string[] {
  if (block.length === 0) return [];
  const text = block.toString('utf8');
  const parts = text.split('\0');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

export interface ExecData extends Record<string, unknown> {
  event: 'EXEC';
  ppid: number;
  tid: number;
  uid: number;
  filename: string;
  argv: string[];
  full_command: string;
  argv_truncated: boolean;
  argv_bytes?: number;
  filename_truncated?: boolean;
  tracked: boolean;
  /** Set by LlmAnalyzer when a tool call asked for this command. */
  llm_call_id?: string;
  tool_call_id?: string | null;
  tool_name?: string | null;
}

export interface ExitData extends Record<string, unknown> {
  event: 'EXIT';
  ppid: number;
  uid: number;
  exit_code: number;
  signal: string | null;
  core_dumped: boolean;
  duration_ms: number;
  tracked: boolean;
}

export interface ForkData extends Record<string, unknown> {
  event: 'FORK';
  ppid: number;
  parent_tid: number;
  uid: number;
}

/** A file open as decoded, before dedup. */
export interface FileOpenData extends Record<string, unknown> {
  event: 'FILE_OPEN';
  filepath: string;
  path_arg?: string;
  flags: string;
  flags_raw: number;
  mode?: string;
  fd?: number;
  error?: string;
  syscall: string;
  tid: number;
  uid: number;
  count: number;
  path_truncated?: boolean;
  /** Folded opens (FileOpenDedup): this event stands for `count` identical opens within `window_ms`. */
  repeat?: boolean;
  window_ms?: number;
  first_timestamp?: number;
}

/** `process` event data, by `data.event`. */
export type ProcessEventData = ExecData | ExitData | ForkData | FileOpenData;

export function decodeProcessRecord(buf: Buffer, at: number, len: number, clock: KernelClock, containers?: ContainerLookup): ProcessEvent | null {
  if (len < HDR.size) return null;
  const h = readHeader(buf, at);
  const base = {
    timestamp: clock.toEpochMs(h.ts_ns),
    mono_ns: h.ts_ns,
    source: 'process' as const,
    pid: h.pid,
    comm: h.comm,
    ...containers?.lookup(h.cgroup_id, h.pid),
  };
  switch (h.type) {
    case REC.EXEC: {
      if (len < EXEC.size) return null;
      const flags = buf.readUInt32LE(at + EXEC.off.flags);
      const flen = buf.readUInt32LE(at + EXEC.off.filename_len);
      const alen = buf.readUInt32LE(at + EXEC.off.argv_len);
      const p = at + EXEC.size;
      if (EXEC.size + flen + alen > len) return null;
      const argv = splitArgv(buf.subarray(p + flen, p + flen + alen));
      return {
        ...base,
        data: {
          event: 'EXEC',
          ppid: buf.readUInt32LE(at + EXEC.off.ppid),
          tid: h.tid,
          uid: h.uid,
          filename: buf.toString('utf8', p, p + flen),
          argv,
          full_command: argv.join(' '),
          argv_truncated: (flags & F.ARGV_TRUNC) !== 0,
          ...((flags & F.ARGV_TRUNC) !== 0 ? { argv_bytes: buf.readUInt32LE(at + EXEC.off.argv_full_len) } : {}),
          ...((flags & F.FILENAME_TRUNC) !== 0 ? { filename_truncated: true } : {}),
          tracked: (flags & F.TRACKED) !== 0,
        },
      };
    }
    case REC.EXIT: {
      if (len < EXIT.size) return null;
      const status = buf.readUInt32LE(at + EXIT.off.exit_code);
      const sig = status & 0x7f;
      const flags = buf.readUInt32LE(at + EXIT.off.flags);
      return {
        ...base,
        data: {
          event: 'EXIT',
          ppid: buf.readUInt32LE(at + EXIT.off.ppid),
          uid: h.uid,
          exit_code: sig ? 128 + sig : (status >> 8) & 0xff,
          signal: sig ? signalName(sig) : null,
          core_dumped: (status & 0x80) !== 0,
          duration_ms: Math.round(readU64(buf, at + EXIT.off.duration_ns) / 1e4) / 100,
          tracked: (flags & F.TRACKED) !== 0,
        },
      };
    }
    case REC.FORK: {
      if (len < FORK.size) return null;
      const child = buf.readUInt32LE(at + FORK.off.child_pid);
      return { ...base, pid: child, data: { event: 'FORK', ppid: h.pid, parent_tid: h.tid, uid: h.uid } };
    }
    case REC.FILE_OPEN: {
      if (len < FILE_OPEN.size) return null;
      const plen = buf.readUInt32LE(at + FILE_OPEN.off.path_len);
      const blen = buf.readUInt32LE(at + FILE_OPEN.off.base_len);
      if (FILE_OPEN.size + plen + blen > len) return null;
      const p = at + FILE_OPEN.size;
      const arg = buf.toString('utf8', p, p + plen);
      const baseDir = blen ? buf.toString('utf8', p + plen, p + plen + blen) : '';
      const ret = readS64(buf, at + FILE_OPEN.off.ret);
      const openFlags = buf.readUInt32LE(at + FILE_OPEN.off.open_flags);
      const flags = buf.readUInt32LE(at + FILE_OPEN.off.flags);
      const filepath = arg.startsWith('/') || !baseDir ? path.posix.normalize(arg || '.') : path.posix.resolve(baseDir, arg);
      const data: FileOpenData = {
        event: 'FILE_OPEN',
        filepath,
        flags: renderOpenFlags(openFlags),
        flags_raw: openFlags,
        syscall: OPEN_SYSCALL_NAMES[buf.readUInt32LE(at + FILE_OPEN.off.syscall)] ?? 'open',
        tid: h.tid,
        uid: h.uid,
        count: 1,
      };
      if (filepath !== arg) data.path_arg = arg;
      if (openFlags & 0o100 || (openFlags & 0o20000000) === 0o20000000) data.mode = `0${(buf.readUInt32LE(at + FILE_OPEN.off.mode) & 0o7777).toString(8)}`;
      if (ret >= 0) data.fd = ret;
      else data.error = errnoName(-ret);
      if (flags & (F.PATH_TRUNC | F.BASE_TRUNC)) data.path_truncated = true;
      return { ...base, data };
    }
    default:
      return null;
  }
}
