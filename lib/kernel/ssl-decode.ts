/**
 * Turning ssl.bpf.c records into `ssl` events (docs/events.md).
 */
import { readHeader, readS64, readU64, REC, SSL, SSL_F, SSL_FUNC_NAMES, SSL_LIB_NAMES } from './abi';
import type { KernelClock } from './clock';
import type { Event } from '../core/event';
import type { ContainerLookup } from './process-decode';
import { attachPayload, encodePayload } from '../core/payload';

const AF_INET = 2;
const AF_INET6 = 10;

/** Dotted or RFC 5952 text of an address as the kernel stores it (network order). */
export function formatAddr(family: number, raw: Buffer): string | null {
  if (family === AF_INET) return `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`;
  if (family !== AF_INET6) return null;
  if (raw.subarray(0, 10).every((b) => b === 0) && raw[10] === 0xff && raw[11] === 0xff) return `::ffff:${raw[12]}.${raw[13]}.${raw[14]}.${raw[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(raw.readUInt16BE(i));
  // longest run of zero groups (length >= 2) becomes "::"
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export interface SslData extends Record<string, unknown> {
  function: (typeof SSL_FUNC_NAMES)[number];
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  /** the exact bytes of comm, base64, when they are not valid UTF-8 */
  comm_b64?: string;
  len: number;
  latency_ms: number;
  data: string;
  data_encoding: 'utf8' | 'base64';
  truncated: boolean;
  bytes_lost: number;
  conn_id: string;
  ssl_ptr: string;
  fd: number | null;
  local_addr?: string;
  local_port?: number;
  remote_addr?: string;
  remote_port?: number;
  library: string;
  ret: number;
  timestamp_ns: number;
  read_failed?: boolean;
}

export function decodeSslRecord(buf: Buffer, at: number, len: number, clock: KernelClock, containers?: ContainerLookup): Event<SslData> | null {
  if (len < SSL.size) return null;
  const h = readHeader(buf, at);
  if (h.type !== REC.SSL) return null;
  const dataLen = buf.readUInt32LE(at + SSL.off.data_len);
  if (SSL.size + dataLen > len) return null;
  const callLen = buf.readUInt32LE(at + SSL.off.len);
  const flags = buf.readUInt32LE(at + SSL.off.flags);
  const family = buf.readUInt16LE(at + SSL.off.family);
  const fd = buf.readInt32LE(at + SSL.off.fd);
  const sslPtr = `0x${buf.readBigUInt64LE(at + SSL.off.ssl_ptr).toString(16)}`;
  const bytes = Buffer.from(buf.subarray(at + SSL.size, at + SSL.size + dataLen));
  const func = SSL_FUNC_NAMES[buf.readUInt32LE(at + SSL.off.func)] ?? 'READ/RECV';
  const data: SslData = {
    function: func,
    pid: h.pid,
    tid: h.tid,
    uid: h.uid,
    comm: h.comm,
    ...(h.comm_b64 !== undefined ? { comm_b64: h.comm_b64 } : {}),
    len: callLen,
    latency_ms: Math.round(readU64(buf, at + SSL.off.latency_ns) / 1e3) / 1e3,
    ...encodePayload(bytes),
    truncated: (flags & SSL_F.TRUNCATED) !== 0,
    bytes_lost: Math.max(0, callLen - dataLen),
    conn_id: `${h.pid}:${sslPtr}`,
    ssl_ptr: sslPtr,
    fd: fd >= 0 ? fd : null,
    library: SSL_LIB_NAMES[buf.readUInt32LE(at + SSL.off.lib)] ?? 'unknown',
    ret: readS64(buf, at + SSL.off.ret),
    timestamp_ns: h.ts_ns,
  };
  const laddr = formatAddr(family, buf.subarray(at + SSL.off.laddr, at + SSL.off.laddr + 16));
  if (laddr) {
    data.local_addr = laddr;
    data.local_port = buf.readUInt16LE(at + SSL.off.lport);
    data.remote_addr = formatAddr(family, buf.subarray(at + SSL.off.raddr, at + SSL.off.raddr + 16)) ?? undefined;
    data.remote_port = buf.readUInt16LE(at + SSL.off.rport);
  }
  if (flags & SSL_F.READ_FAIL) data.read_failed = true;
  const e: Event<SslData> = {
    timestamp: clock.toEpochMs(h.ts_ns),
    mono_ns: h.ts_ns,
    source: 'ssl',
    pid: h.pid,
    comm: h.comm,
    ...(h.comm_b64 !== undefined ? { comm_b64: h.comm_b64 } : {}),
    ...containers?.lookup(h.cgroup_id, h.pid),
    data,
  };
  attachPayload(e, bytes);
  return e;
}
