/** Build kernel records exactly as bpf/events.h lays them out (for decoder and pipeline tests). */
import { COMM_LEN, EXEC, EXIT, FILE_OPEN, FORK, HDR, REC, SSL } from '../../lib/kernel/abi';

export interface Hdr {
  ts: number;
  pid: number;
  tid?: number;
  uid?: number;
  /** text, or the exact bytes (which need not be UTF-8) */
  comm: string | Buffer;
}

const bytesOf = (x: string | Buffer): Buffer => (typeof x === 'string' ? Buffer.from(x) : x);

function header(b: Buffer, type: number, h: Hdr): void {
  b.writeBigUInt64LE(BigInt(h.ts), HDR.off.ts_ns);
  b.writeUInt32LE(type, HDR.off.type);
  b.writeUInt32LE(h.pid, HDR.off.pid);
  b.writeUInt32LE(h.tid ?? h.pid, HDR.off.tid);
  b.writeUInt32LE(h.uid ?? 0, HDR.off.uid);
  bytesOf(h.comm).copy(b, HDR.off.comm, 0, COMM_LEN - 1);
}

export function execRecord(h: Hdr, ppid: number, filename: string | Buffer, argv: ReadonlyArray<string | Buffer>, flags = 0): Buffer {
  const f = bytesOf(filename);
  const a = Buffer.concat(argv.flatMap((x) => [bytesOf(x), Buffer.alloc(1)]));
  const b = Buffer.alloc(EXEC.size + f.length + a.length);
  header(b, REC.EXEC, h);
  b.writeUInt32LE(ppid, EXEC.off.ppid);
  b.writeUInt32LE(flags, EXEC.off.flags);
  b.writeUInt32LE(f.length, EXEC.off.filename_len);
  b.writeUInt32LE(a.length, EXEC.off.argv_len);
  b.writeUInt32LE(a.length, EXEC.off.argv_full_len);
  f.copy(b, EXEC.size);
  a.copy(b, EXEC.size + f.length);
  return b;
}

export function exitRecord(h: Hdr, ppid: number, status: number, durationNs: number, flags = 0): Buffer {
  const b = Buffer.alloc(EXIT.size);
  header(b, REC.EXIT, h);
  b.writeUInt32LE(ppid, EXIT.off.ppid);
  b.writeUInt32LE(status, EXIT.off.exit_code);
  b.writeBigUInt64LE(BigInt(durationNs), EXIT.off.duration_ns);
  b.writeUInt32LE(flags, EXIT.off.flags);
  return b;
}

export function forkRecord(h: Hdr, child: number): Buffer {
  const b = Buffer.alloc(FORK.size);
  header(b, REC.FORK, h);
  b.writeUInt32LE(child, FORK.off.child_pid);
  return b;
}

export function openRecord(h: Hdr, path: string | Buffer, base: string | Buffer, ret: number, openFlags = 0, mode = 0, syscall = 0): Buffer {
  const p = bytesOf(path);
  const bs = bytesOf(base);
  const b = Buffer.alloc(FILE_OPEN.size + p.length + bs.length);
  header(b, REC.FILE_OPEN, h);
  b.writeBigInt64LE(BigInt(ret), FILE_OPEN.off.ret);
  b.writeInt32LE(-100, FILE_OPEN.off.dfd);
  b.writeUInt32LE(openFlags, FILE_OPEN.off.open_flags);
  b.writeUInt32LE(mode, FILE_OPEN.off.mode);
  b.writeUInt32LE(p.length, FILE_OPEN.off.path_len);
  b.writeUInt32LE(bs.length, FILE_OPEN.off.base_len);
  b.writeUInt32LE(syscall, FILE_OPEN.off.syscall);
  p.copy(b, FILE_OPEN.size);
  bs.copy(b, FILE_OPEN.size + p.length);
  return b;
}

export interface SslRec {
  func: 0 | 1 | 2;
  data: Buffer;
  /** bytes the call moved (default data.length) */
  len?: number;
  ssl?: bigint;
  latencyNs?: number;
  ret?: number;
  lib?: number;
  fd?: number;
  flags?: number;
  family?: number;
  lport?: number;
  rport?: number;
  laddr?: number[];
  raddr?: number[];
}

export function sslRecord(h: Hdr, r: SslRec): Buffer {
  const b = Buffer.alloc(SSL.size + r.data.length);
  header(b, REC.SSL, h);
  b.writeBigUInt64LE(r.ssl ?? 0x55aa00n, SSL.off.ssl_ptr);
  b.writeBigUInt64LE(BigInt(r.latencyNs ?? 1500), SSL.off.latency_ns);
  b.writeBigInt64LE(BigInt(r.ret ?? r.len ?? r.data.length), SSL.off.ret);
  b.writeUInt32LE(r.len ?? r.data.length, SSL.off.len);
  b.writeUInt32LE(r.data.length, SSL.off.data_len);
  b.writeUInt32LE(r.func, SSL.off.func);
  b.writeUInt32LE(r.lib ?? 0, SSL.off.lib);
  b.writeInt32LE(r.fd ?? -1, SSL.off.fd);
  b.writeUInt32LE(r.flags ?? 0, SSL.off.flags);
  b.writeUInt16LE(r.family ?? 0, SSL.off.family);
  b.writeUInt16LE(r.lport ?? 0, SSL.off.lport);
  b.writeUInt16LE(r.rport ?? 0, SSL.off.rport);
  Buffer.from(r.laddr ?? []).copy(b, SSL.off.laddr);
  Buffer.from(r.raddr ?? []).copy(b, SSL.off.raddr);
  r.data.copy(b, SSL.size);
  return b;
}
