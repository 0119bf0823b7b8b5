/**
 * TypeScript mirror of bpf/events.h. Layouts are computed from the field
 * order with C alignment rules; constants mirror its enums. test/unit/abi.test.ts
 * compares every struct and every enum with the BTF the compiler emitted into
 * the eBPF objects, so a change on one side that is not made on the other
 * fails the tests.
 */
import { losslessText } from '../core/payload';

type Scalar = 'u32' | 's32' | 'u64' | 's64';
type FieldSpec = [name: string, type: Scalar | { bytes: number; align: number }];

export interface Layout {
  readonly name: string;
  readonly size: number;
  /** field -> byte offset */
  readonly off: Readonly<Record<string, number>>;
  /** field -> byte size */
  readonly sizes: Readonly<Record<string, number>>;
  /** fields in declaration order */
  readonly order: readonly string[];
}

const SCALAR_SIZE: Record<Scalar, number> = { u32: 4, s32: 4, u64: 8, s64: 8 };

function defineLayout(name: string, fields: FieldSpec[]): Layout {
  const off: Record<string, number> = {};
  const sizes: Record<string, number> = {};
  let at = 0;
  let maxAlign = 1;
  for (const [f, t] of fields) {
    const size = typeof t === 'string' ? SCALAR_SIZE[t] : t.bytes;
    const align = typeof t === 'string' ? SCALAR_SIZE[t] : t.align;
    at = Math.ceil(at / align) * align;
    off[f] = at;
    sizes[f] = size;
    at += size;
    maxAlign = Math.max(maxAlign, align);
  }
  const size = Math.ceil(at / maxAlign) * maxAlign;
  return { name, size, off, sizes, order: fields.map((f) => f[0]) };
}

/** enum as_limit */
export const LIMIT = {
  COMM_LEN: 16,
  MAX_COMM_FILTERS: 8,
  MAX_PID_FILTERS: 8,
  /** Hard upper bound of the per-call capture cap (MAX_CHUNKS * CHUNK in ssl.bpf.c). */
  SSL_MAX_CALL_BYTES: 4 << 20,
  /** Entries of the "sel_cgroups" map: selected cgroups. */
  MAX_CGROUP_FILTERS: 16,
  /** Pieces of one rustls OutboundChunks::Multiple record that are copied. */
  RUSTLS_MAX_CHUNKS: 32,
  /** Bytes searched from the end of a TLS 1.3 inner plaintext for its content type. */
  RUSTLS_MAX_PADDING: 64,
} as const;

export const COMM_LEN = LIMIT.COMM_LEN;
export const MAX_COMM_FILTERS = LIMIT.MAX_COMM_FILTERS;
export const MAX_PID_FILTERS = LIMIT.MAX_PID_FILTERS;
export const SSL_MAX_CALL_BYTES = LIMIT.SSL_MAX_CALL_BYTES;
export const MAX_CGROUP_FILTERS = LIMIT.MAX_CGROUP_FILTERS;

const chars = (n: number) => ({ bytes: n, align: 1 });

export const HDR = defineLayout('as_hdr', [
  ['ts_ns', 'u64'],
  ['type', 'u32'],
  ['pid', 'u32'],
  ['tid', 'u32'],
  ['uid', 'u32'],
  ['comm', chars(COMM_LEN)],
  ['cgroup_id', 'u64'],
]);

const hdr: FieldSpec = ['hdr', { bytes: HDR.size, align: 8 }];

export const EXEC = defineLayout('as_exec', [
  hdr,
  ['ppid', 'u32'],
  ['flags', 'u32'],
  ['filename_len', 'u32'],
  ['argv_len', 'u32'],
  ['argv_full_len', 'u32'],
  ['_pad0', 'u32'],
]);

export const EXIT = defineLayout('as_exit', [hdr, ['ppid', 'u32'], ['exit_code', 'u32'], ['duration_ns', 'u64'], ['flags', 'u32'], ['_pad0', 'u32']]);

export const FORK = defineLayout('as_fork', [hdr, ['child_pid', 'u32'], ['flags', 'u32']]);

export const FILE_OPEN = defineLayout('as_file_open', [
  hdr,
  ['ret', 's64'],
  ['dfd', 's32'],
  ['open_flags', 'u32'],
  ['mode', 'u32'],
  ['flags', 'u32'],
  ['path_len', 'u32'],
  ['base_len', 'u32'],
  ['syscall', 'u32'],
  ['_pad0', 'u32'],
]);

export const PROCESS_CONFIG = defineLayout('as_process_config', [
  ['mode', 'u32'],
  ['self_pid', 'u32'],
  ['min_duration_ns', 'u64'],
  ['n_comm', 'u32'],
  ['emit', 'u32'],
  ['file_events', 'u32'],
  ['argv_max', 'u32'],
  ['comm', chars(MAX_COMM_FILTERS * COMM_LEN)],
  ['n_cgroup', 'u32'],
  ['_pad0', 'u32'],
]);

export const TRACKED = defineLayout('as_tracked', [
  ['root_pid', 'u32'],
  ['reason', 'u32'],
  ['since_ns', 'u64'],
]);

export const SSL = defineLayout('as_ssl', [
  hdr,
  ['ssl_ptr', 'u64'],
  ['latency_ns', 'u64'],
  ['ret', 's64'],
  ['len', 'u32'],
  ['data_len', 'u32'],
  ['func', 'u32'],
  ['lib', 'u32'],
  ['fd', 's32'],
  ['flags', 'u32'],
  ['family', { bytes: 2, align: 2 }],
  ['lport', { bytes: 2, align: 2 }],
  ['rport', { bytes: 2, align: 2 }],
  ['_pad0', { bytes: 2, align: 2 }],
  ['laddr', chars(16)],
  ['raddr', chars(16)],
]);

export const SSL_CONFIG = defineLayout('as_ssl_config', [
  ['self_pid', 'u32'],
  ['filter_tracked', 'u32'],
  ['uid', 'u32'],
  ['has_uid', 'u32'],
  ['max_call_bytes', 'u32'],
  ['handshake', 'u32'],
  ['wakeup_bytes', 'u32'],
  ['_pad0', 'u32'],
]);

/** What is known of one Go executable: the value of ssl.bpf.c's go_cfg map. */
export const GO_CFG = defineLayout('as_go_cfg', [
  ['flags', 'u32'],
  ['itab_hash', 'u32'],
  ['conn_conn', 'u32'],
  ['tcpconn_fd', 'u32'],
  ['netfd_pfd', 'u32'],
  ['fd_sysfd', 'u32'],
]);

/** Every layout that exists in the eBPF objects' BTF, by object. */
export const LAYOUTS_BY_OBJECT: Record<string, Layout[]> = {
  process: [HDR, EXEC, EXIT, FORK, FILE_OPEN, PROCESS_CONFIG, TRACKED],
  ssl: [HDR, SSL, SSL_CONFIG, GO_CFG],
};

/** enum as_record_type */
export const REC = {
  EXEC: 1,
  EXIT: 2,
  FORK: 3,
  FILE_OPEN: 4,
  SSL: 16,
} as const;

/** enum as_stat: the per-CPU counters of the "as_stats" map. */
export const STAT = {
  RB_DROP_PROCESS: 0,
  RB_DROP_SSL: 1,
  TRACK_FULL: 2,
  ARGV_TRUNC: 3,
  PATH_TRUNC: 4,
  SSL_TRUNC: 5,
  SSL_READ_FAIL: 6,
  PENDING_FULL: 7,
  SSL_BYTES_LOST: 8,
  SSL_UNPAIRED: 9,
  RUSTLS_UNPARSED: 10,
  RUSTLS_CHUNKS: 11,
  GO_UNPAIRED: 12,
  MAX: 16,
} as const;
export const STAT_MAX = STAT.MAX;

/** as_stat counter -> stable name used in stats events. */
const STAT_LABEL: Record<Exclude<keyof typeof STAT, 'MAX'>, string> = {
  RB_DROP_PROCESS: 'ringbuf_full_process',
  RB_DROP_SSL: 'ringbuf_full_ssl',
  TRACK_FULL: 'tracked_map_full',
  ARGV_TRUNC: 'argv_truncated',
  PATH_TRUNC: 'path_truncated',
  SSL_TRUNC: 'ssl_calls_truncated',
  SSL_READ_FAIL: 'ssl_read_failed',
  PENDING_FULL: 'pending_map_full',
  SSL_BYTES_LOST: 'ssl_bytes_lost',
  SSL_UNPAIRED: 'ssl_unpaired_returns',
  RUSTLS_UNPARSED: 'rustls_records_unparsed',
  RUSTLS_CHUNKS: 'rustls_chunks_lost',
  GO_UNPAIRED: 'go_returns_unpaired',
};

/** Index of a counter -> its name in stats events. */
export const STAT_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(STAT_LABEL).map(([k, name]) => [STAT[k as keyof typeof STAT_LABEL], name]),
);

/** enum as_flag: as_exec.flags / as_exit.flags / as_file_open.flags. */
export const F = {
  ARGV_TRUNC: 1 << 0,
  FILENAME_TRUNC: 1 << 1,
  PATH_TRUNC: 1 << 2,
  BASE_TRUNC: 1 << 3,
  TRACKED: 1 << 4,
} as const;

/** enum as_open_syscall: as_file_open.syscall, by the name events give it. */
export const OPEN_SYSCALL = { openat: 0, openat2: 1, open: 2, creat: 3 } as const;
export type OpenSyscall = keyof typeof OPEN_SYSCALL;
/** as_file_open.syscall -> name. */
export const OPEN_SYSCALL_NAMES: readonly OpenSyscall[] = namesByValue(OPEN_SYSCALL);

/** enum as_process_mode: as_process_config.mode. */
export const PROCESS_MODE = { ALL: 0, TRACKED_FILES: 1, TRACKED: 2 } as const;

/** enum as_track_reason: as_tracked.reason. */
export const TRACK_REASON = { COMM: 1, PID: 2, FORK: 3, SEEDED: 4, CGROUP: 5 } as const;
export type TrackReason = (typeof TRACK_REASON)[keyof typeof TRACK_REASON];

/** enum as_ssl_kind: the low byte of a TLS uprobe's attach cookie. */
export const SSL_KIND = {
  READ: 0,
  WRITE: 1,
  READ_EX: 2,
  WRITE_EX: 3,
  HANDSHAKE: 4,
  FREE: 5,
  RUSTLS_DECRYPT: 6,
  RUSTLS_ENCRYPT: 7,
  GO_READ: 8,
  GO_WRITE: 9,
  GO_CLOSE: 10,
} as const;
export type SslKind = (typeof SSL_KIND)[keyof typeof SSL_KIND];

/** enum as_ssl_func: as_ssl.func. */
export const SSL_FUNC = { READ: 0, WRITE: 1, HANDSHAKE: 2, BIND: 3 } as const;
/** as_ssl.func -> the function name in events, as the original tool named them (BIND records never become events). */
const SSL_FUNC_LABEL = { READ: 'READ/RECV', WRITE: 'WRITE/SEND', HANDSHAKE: 'HANDSHAKE', BIND: 'BIND' } as const;
export type SslFunctionName = (typeof SSL_FUNC_LABEL)[keyof typeof SSL_FUNC_LABEL];
export const SSL_FUNC_NAMES: readonly SslFunctionName[] = namesByValue(SSL_FUNC).map((k) => SSL_FUNC_LABEL[k]);

/** enum as_ssl_lib: as_ssl.lib, the second byte of the cookie. */
export const SSL_LIB = { openssl: 0, gnutls: 1, nss: 2, boringssl: 3, rustls: 4, go: 5 } as const;
export type SslLibrary = keyof typeof SSL_LIB;
/** as_ssl.lib -> library name. */
export const SSL_LIB_NAMES: readonly SslLibrary[] = namesByValue(SSL_LIB);

/** enum as_ssl_flag: as_ssl.flags. */
export const SSL_F = { TRUNCATED: 1 << 0, READ_FAIL: 1 << 1, FD_THIS_CALL: 1 << 2 } as const;

/**
 * The attach cookie: kind (bits 0-7), library (8-15) and, for the rustls
 * kinds, up to three byte parameters (16-23, 24-31, 32-39; see events.h).
 */
export function sslCookie(kind: SslKind, lib: SslLibrary, params: readonly number[] = []): number {
  if (params.length > 3 || params.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new RangeError(`sslCookie: bad parameters ${params.join(',')}`);
  let c = kind + SSL_LIB[lib] * 0x100;
  params.forEach((p, i) => (c += p * 2 ** (16 + 8 * i)));
  return c;
}

/** enum as_go_flag: as_go_cfg.flags. */
export const GO_F = { SYSFD: 1 << 0 } as const;

/** Largest key of the go_cfg map (cookie bits 16-31). */
export const GO_CFG_KEY_MAX = 0xffff;

/** The attach cookie of a Go crypto/tls probe: kind, library go, and the executable's go_cfg key in bits 16-31. */
export function goCookie(kind: SslKind, key: number): number {
  if (!Number.isInteger(key) || key < 0 || key > GO_CFG_KEY_MAX) throw new RangeError(`goCookie: bad go_cfg key ${key}`);
  return kind + SSL_LIB.go * 0x100 + key * 0x10000;
}

/** Keys of a dense enum mirror, indexed by their values. */
function namesByValue<K extends string>(e: Readonly<Record<K, number>>): K[] {
  const out: K[] = [];
  for (const k of Object.keys(e) as K[]) out[e[k]] = k;
  return out;
}

/**
 * An enum of bpf/events.h and its mirror here: the C constant of each key is
 * `prefix` + the key in upper case.
 */
export interface EnumMirror {
  readonly name: string;
  readonly prefix: string;
  readonly values: Readonly<Record<string, number>>;
}

/** Every enum of bpf/events.h (common.bpf.h puts them all into each object's BTF). */
export const ENUMS: readonly EnumMirror[] = [
  { name: 'as_limit', prefix: 'AS_', values: LIMIT },
  { name: 'as_record_type', prefix: 'AS_REC_', values: REC },
  { name: 'as_stat', prefix: 'AS_STAT_', values: STAT },
  { name: 'as_flag', prefix: 'AS_F_', values: F },
  { name: 'as_open_syscall', prefix: 'AS_OPEN_', values: OPEN_SYSCALL },
  { name: 'as_process_mode', prefix: 'AS_MODE_', values: PROCESS_MODE },
  { name: 'as_track_reason', prefix: 'AS_TRACK_', values: TRACK_REASON },
  { name: 'as_ssl_kind', prefix: 'AS_KIND_', values: SSL_KIND },
  { name: 'as_ssl_func', prefix: 'AS_SSL_', values: SSL_FUNC },
  { name: 'as_ssl_lib', prefix: 'AS_LIB_', values: SSL_LIB },
  { name: 'as_ssl_flag', prefix: 'AS_SSL_F_', values: SSL_F },
  { name: 'as_go_flag', prefix: 'AS_GO_F_', values: GO_F },
];

/** Read a NUL-terminated fixed char array. */
/** A u64 as a JS number (exact below 2^53). */
export function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * 0x1_0000_0000;
}

export function readS64(buf: Buffer, off: number): number {
  return Number(buf.readBigInt64LE(off));
}

/** Common header fields of a record starting at `at`. */
export interface RecordHeader {
  ts_ns: number;
  type: number;
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  /** the exact bytes of comm, when they are not valid UTF-8 (see losslessText) */
  comm_b64?: string;
  /** cgroup v2 id of the task (the inode of its directory in the cgroup2 file system) */
  cgroup_id: number;
}

/** The bytes of a NUL-terminated string in a fixed-size field. */
export function cStringBytes(buf: Buffer, off: number, len: number): Buffer {
  const end = buf.indexOf(0, off);
  return buf.subarray(off, end >= 0 && end < off + len ? end : off + len);
}

export function readHeader(buf: Buffer, at: number): RecordHeader {
  const comm = losslessText(cStringBytes(buf, at + HDR.off.comm, COMM_LEN));
  const h: RecordHeader = {
    ts_ns: readU64(buf, at + HDR.off.ts_ns),
    type: buf.readUInt32LE(at + HDR.off.type),
    pid: buf.readUInt32LE(at + HDR.off.pid),
    tid: buf.readUInt32LE(at + HDR.off.tid),
    uid: buf.readUInt32LE(at + HDR.off.uid),
    comm: comm.text,
    cgroup_id: readU64(buf, at + HDR.off.cgroup_id),
  };
  if (comm.b64 !== undefined) h.comm_b64 = comm.b64;
  return h;
}

/**
 * Iterate the records of one batch from RingReader: [u32 len][u32 0][bytes][pad to 8]...
 * Yields [offset, length] of each record; a malformed frame ends the batch.
 */
export function* frames(batch: Buffer): Generator<[number, number]> {
  let at = 0;
  while (at + 8 <= batch.length) {
    const len = batch.readUInt32LE(at);
    const start = at + 8;
    if (start + len > batch.length) return;
    yield [start, len];
    at = start + ((len + 7) & ~7);
  }
}

/** Build a batch from records (the inverse of frames(); used by fakes and tests). */
export function frameBatch(records: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(r.length, 0);
    parts.push(h, r);
    const pad = ((r.length + 7) & ~7) - r.length;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  return Buffer.concat(parts);
}
