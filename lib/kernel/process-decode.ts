/**
 * Turning process.bpf.c records into events (docs/events.md, `process`).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { EXEC, EXIT, F, FILE_OPEN, FORK, HDR, OPEN_SYSCALL_NAMES, readHeader, readS64, readU64, REC } from './abi';
import type { KernelClock } from './clock';
import type { ProcessEvent } from '../core/event';
import { once } from '../core/lazy';
import { losslessText } from '../core/payload';

/** The container of a record's cgroup (null when the process is in none), for the event's `container.id`. */
export type ContainerLookup = { lookup(cgroupId: number, pid: number): { 'container.id': string; 'k8s.pod.uid'?: string } | null };

/** Names by number (of signals, of errnos), made when first asked for. */
const namesOf = (constants: Record<string, number>) => once(() => new Map<number, string>(Object.entries(constants).map(([name, num]) => [num, name])));
const signalNames = namesOf(os.constants.signals);
const errnoNames = namesOf(os.constants.errno);

export function signalName(sig: number): string {
  return signalNames().get(sig) ?? `SIG${sig}`;
}

export function errnoName(err: number): string {
  return errnoNames().get(err) ?? `E${err}`;
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

/** Split a cmdline block (NUL-separated) into the bytes of each argument. */
export function splitArgvBytes(block: Buffer): Buffer[] {
  if (block.length === 0) return [];
  const parts: Buffer[] = [];
  let at = 0;
  for (let nul = block.indexOf(0, at); nul !== -1; nul = block.indexOf(0, at)) {
    parts.push(block.subarray(at, nul));
    at = nul + 1;
  }
  if (at < block.length || parts.length === 0) parts.push(block.subarray(at));
  return parts;
}

/** Split a cmdline block (NUL-separated) into argv (as text). */
export function splitArgv(block: Buffer): string[] {
  return splitArgvBytes(block).map((b) => b.toString('utf8'));
}

/**
 * The EXEC fields made of bytes: filename, argv and full_command as text,
 * each with its `_b64` twin when its bytes are not UTF-8 (argv_b64: every
 * argument, when any one is not).
 */
function execText(
  filename: Buffer,
  argvBlock: Buffer,
): Pick<ExecData, 'filename' | 'filename_b64' | 'argv' | 'argv_b64' | 'full_command' | 'full_command_b64'> {
  const args = splitArgvBytes(argvBlock);
  const file = losslessText(filename);
  const argv = args.map(losslessText);
  const text = argv.map((a) => a.text);
  const out: ReturnType<typeof execText> = { filename: file.text, argv: text, full_command: text.join(' ') };
  if (file.b64 !== undefined) out.filename_b64 = file.b64;
  if (argv.some((a) => a.b64 !== undefined)) {
    out.argv_b64 = args.map((a) => a.toString('base64'));
    out.full_command_b64 = Buffer.concat(args.flatMap((a, i) => (i ? [SPACE, a] : [a]))).toString('base64');
  }
  return out;
}

const SPACE = Buffer.from(' ');

/**
 * The path a file open names (`arg` resolved against the kernel-provided
 * directory `base`, when relative), worked out on the bytes (latin1 keeps
 * one character per byte, and no UTF-8 sequence holds a '/' or '.' byte).
 */
function openedPath(arg: Buffer, base: Buffer): Buffer {
  const a = arg.toString('latin1');
  if (a.startsWith('/') || base.length === 0) return Buffer.from(path.posix.normalize(a || '.'), 'latin1');
  const b = base.toString('latin1');
  const root = b.startsWith('/') ? [] : [Buffer.from(process.cwd()).toString('latin1')];
  return Buffer.from(path.posix.resolve(...root, b, a), 'latin1');
}

export interface ExecData extends Record<string, unknown> {
  event: 'EXEC';
  ppid: number;
  tid: number;
  uid: number;
  filename: string;
  argv: string[];
  full_command: string;
  /** the exact bytes, base64, when filename / an argument / full_command is not valid UTF-8 (docs/events.md, lossless text) */
  filename_b64?: string;
  argv_b64?: string[];
  full_command_b64?: string;
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
  /** the exact bytes, base64, when filepath / path_arg is not valid UTF-8 */
  filepath_b64?: string;
  path_arg_b64?: string;
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
    ...(h.comm_b64 !== undefined ? { comm_b64: h.comm_b64 } : {}),
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
      return {
        ...base,
        data: {
          event: 'EXEC',
          ppid: buf.readUInt32LE(at + EXEC.off.ppid),
          tid: h.tid,
          uid: h.uid,
          ...execText(buf.subarray(p, p + flen), buf.subarray(p + flen, p + flen + alen)),
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
      const argBytes = buf.subarray(p, p + plen);
      const pathBytes = openedPath(argBytes, buf.subarray(p + plen, p + plen + blen));
      const filepath = losslessText(pathBytes);
      const ret = readS64(buf, at + FILE_OPEN.off.ret);
      const openFlags = buf.readUInt32LE(at + FILE_OPEN.off.open_flags);
      const flags = buf.readUInt32LE(at + FILE_OPEN.off.flags);
      const data: FileOpenData = {
        event: 'FILE_OPEN',
        filepath: filepath.text,
        ...(filepath.b64 !== undefined ? { filepath_b64: filepath.b64 } : {}),
        flags: renderOpenFlags(openFlags),
        flags_raw: openFlags,
        syscall: OPEN_SYSCALL_NAMES[buf.readUInt32LE(at + FILE_OPEN.off.syscall)] ?? 'open',
        tid: h.tid,
        uid: h.uid,
        count: 1,
      };
      if (!pathBytes.equals(argBytes)) {
        const arg = losslessText(argBytes);
        data.path_arg = arg.text;
        if (arg.b64 !== undefined) data.path_arg_b64 = arg.b64;
      }
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
