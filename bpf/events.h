/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one event ABI shared by the eBPF programs (bpf/NAME.bpf.c), the native
 * addon and the TypeScript decoders (lib/kernel/abi.ts).
 *
 * Rules:
 *  - fixed-width types only, every struct padded explicitly to a multiple of 8;
 *  - every struct has an AS_*_SIZE constant checked with _Static_assert here;
 *  - every other constant is an enum constant, not a #define: enums reach the
 *    objects' BTF (common.bpf.h references them all);
 *  - test/unit/abi.test.ts reads the BTF the compiler emitted for these structs
 *    and enums and compares sizes, offsets and values with lib/kernel/abi.ts,
 *    so the three cannot drift.
 *
 * Every ring-buffer record starts with struct as_hdr. Variable-length payload
 * follows the fixed part of a record; records are submitted with their exact
 * size (bpf_ringbuf_output from a per-CPU scratch buffer).
 */
#ifndef AGENTSIGHT_EVENTS_H
#define AGENTSIGHT_EVENTS_H

/* Sizes and bounds. */
enum as_limit {
	AS_COMM_LEN = 16,
	AS_MAX_COMM_FILTERS = 8,
	AS_MAX_PID_FILTERS = 8,
	AS_SSL_MAX_CALL_BYTES = 4194304,	/* 4 MiB: the hard upper bound of as_ssl_config.max_call_bytes */
	AS_MAX_CGROUP_FILTERS = 16,	/* entries of the "sel_cgroups" map of process.bpf.c */
	AS_RUSTLS_MAX_CHUNKS = 32,	/* pieces of one rustls OutboundChunks::Multiple record that are copied */
	AS_RUSTLS_MAX_PADDING = 64,	/* bytes searched from the end of a TLS 1.3 inner plaintext for its content type */
};

/* Record types (as_hdr.type). */
enum as_record_type {
	AS_REC_EXEC = 1,
	AS_REC_EXIT = 2,
	AS_REC_FORK = 3,
	AS_REC_FILE_OPEN = 4,
	AS_REC_SSL = 16,	/* one TLS call with its data */
};

/*
 * Counters in the per-CPU "as_stats" array of each object. Every record the
 * kernel side could not deliver, and every truncation, bumps one of these.
 */
enum as_stat {
	AS_STAT_RB_DROP_PROCESS = 0,	/* process record lost: ring buffer full */
	AS_STAT_RB_DROP_SSL = 1,	/* TLS call lost: ring buffer full */
	AS_STAT_TRACK_FULL = 2,		/* could not add a process to the tracked map */
	AS_STAT_ARGV_TRUNC = 3,		/* exec argv longer than the configured cap */
	AS_STAT_PATH_TRUNC = 4,		/* file path or cwd longer than the buffer */
	AS_STAT_SSL_TRUNC = 5,		/* TLS call longer than the per-call cap */
	AS_STAT_SSL_READ_FAIL = 6,	/* TLS buffer could not be read from user memory */
	AS_STAT_PENDING_FULL = 7,	/* the thread's call slot (task storage), or a Go call's entry, could not be made: call not captured */
	AS_STAT_SSL_BYTES_LOST = 8,	/* bytes of TLS data not delivered (truncation or drops) */
	AS_STAT_SSL_UNPAIRED = 9,	/* a return whose entry was overwritten by a nested call */
	AS_STAT_RUSTLS_UNPARSED = 10,	/* rustls record whose inner content type was not found (padding > 64 bytes, or a failed decryption) */
	AS_STAT_RUSTLS_CHUNKS = 11,	/* rustls plaintext in more pieces than followed (AS_RUSTLS_MAX_CHUNKS): the rest is lost */
	AS_STAT_GO_UNPAIRED = 12,	/* Go TLS return in a selected process without its entry (evicted from go_calls, or begun before attach) */
	AS_STAT_MAX = 16,
};

/* Common header of every record. 48 bytes. */
struct as_hdr {
	__u64 ts_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 type;		/* enum as_record_type */
	__u32 pid;		/* thread group id (the process) */
	__u32 tid;		/* thread id */
	__u32 uid;
	char comm[AS_COMM_LEN];	/* the process's (group leader's) comm */
	__u64 cgroup_id;	/* the task's cgroup v2 (bpf_get_current_cgroup_id) */
};
#define AS_HDR_SIZE 48

/* Flags in as_exec.flags / as_exit.flags / as_file_open.flags. */
enum as_flag {
	AS_F_ARGV_TRUNC = 1 << 0,
	AS_F_FILENAME_TRUNC = 1 << 1,
	AS_F_PATH_TRUNC = 1 << 2,
	AS_F_BASE_TRUNC = 1 << 3,
	AS_F_TRACKED = 1 << 4,
};

/*
 * EXEC. Payload: filename (filename_len bytes, no NUL) then the argv block
 * (argv_len bytes: arguments separated by NUL, as in /proc/PID/cmdline).
 */
struct as_exec {
	struct as_hdr hdr;
	__u32 ppid;
	__u32 flags;
	__u32 filename_len;
	__u32 argv_len;
	__u32 argv_full_len;	/* arg_end - arg_start in the process */
	__u32 _pad0;
};
#define AS_EXEC_SIZE 72

/* EXIT of a whole process (its last thread). */
struct as_exit {
	struct as_hdr hdr;
	__u32 ppid;
	__u32 exit_code;	/* raw wait status: (code << 8) | signal | 0x80 core */
	__u64 duration_ns;	/* since exec, or since fork if it never exec'd */
	__u32 flags;
	__u32 _pad0;
};
#define AS_EXIT_SIZE 72

/* FORK of a tracked process (new process, not a new thread). hdr is the parent. */
struct as_fork {
	struct as_hdr hdr;
	__u32 child_pid;
	__u32 flags;
};
#define AS_FORK_SIZE 56

/*
 * FILE_OPEN (openat, openat2, open, creat) of a tracked process. Payload: the
 * path as passed (path_len bytes), then, when that path is relative, the
 * directory it is relative to, resolved in the kernel (base_len bytes).
 */
struct as_file_open {
	struct as_hdr hdr;
	__s64 ret;		/* fd, or -errno */
	__s32 dfd;
	__u32 open_flags;
	__u32 mode;
	__u32 flags;		/* enum as_flag */
	__u32 path_len;
	__u32 base_len;
	__u32 syscall;		/* enum as_open_syscall */
	__u32 _pad0;
};
#define AS_FILE_OPEN_SIZE 88

/* as_file_open.syscall */
enum as_open_syscall {
	AS_OPEN_OPENAT = 0,
	AS_OPEN_OPENAT2 = 1,
	AS_OPEN_OPEN = 2,
	AS_OPEN_CREAT = 3,
};

/* as_process_config.mode */
enum as_process_mode {
	AS_MODE_ALL = 0,		/* every process, file events of every process */
	AS_MODE_TRACKED_FILES = 1,	/* every process, file events of tracked ones */
	AS_MODE_TRACKED = 2,		/* tracked processes only */
};

/* Configuration of process.bpf.c, set before load (const volatile). */
struct as_process_config {
	__u32 mode;		/* enum as_process_mode */
	__u32 self_pid;		/* the tracer itself: never reported */
	__u64 min_duration_ns;	/* EXIT below this lifetime is not reported */
	__u32 n_comm;
	__u32 emit;		/* 0: only maintain the tracked map (used by the TLS tracer) */
	__u32 file_events;	/* report FILE_OPEN */
	__u32 argv_max;		/* argv bytes copied per EXEC */
	char comm[AS_MAX_COMM_FILTERS][AS_COMM_LEN];
	__u32 n_cgroup;		/* entries in "sel_cgroups": select processes in these cgroups and their descendants */
	__u32 _pad0;
};
#define AS_PROCESS_CONFIG_SIZE 168

/* Value of the "tracked" map (key: pid). */
struct as_tracked {
	__u32 root_pid;		/* the filter match this process descends from */
	__u32 reason;		/* enum as_track_reason */
	__u64 since_ns;
};
#define AS_TRACKED_SIZE 16

/* as_tracked.reason: why a process is tracked. */
enum as_track_reason {
	AS_TRACK_COMM = 1,	/* its comm matched a filter at exec */
	AS_TRACK_PID = 2,	/* selected by pid */
	AS_TRACK_FORK = 3,	/* inherited from its parent at fork */
	AS_TRACK_SEEDED = 4,	/* a descendant of a selected process, found in /proc at start */
	AS_TRACK_CGROUP = 5,	/* in a selected cgroup (or one below it) at exec or fork, or found there at start */
};

/* ---- TLS ---------------------------------------------------------------- */

/*
 * Kind of probed function, in the low byte of the uprobe's attach cookie
 * (the library, enum as_ssl_lib, is in the next byte). All read/write kinds
 * take (session, buffer, length, ...) like SSL_read/SSL_write.
 */
enum as_ssl_kind {
	AS_KIND_READ = 0,	/* ret = bytes (SSL_read, gnutls_record_recv, PR_Read, PR_Recv) */
	AS_KIND_WRITE = 1,	/* ret = bytes (SSL_write, gnutls_record_send, PR_Write, PR_Send) */
	AS_KIND_READ_EX = 2,	/* ret = 1 on success, bytes via the size_t * 4th argument (SSL_read_ex, ssl_read_internal) */
	AS_KIND_WRITE_EX = 3,	/* ret = 1 on success, bytes via the size_t * 4th argument (SSL_write_ex), or the 5th when
				 * cookie bits 16-23 say 4 (OpenSSL 3.2+ ssl_write_internal) */
	AS_KIND_HANDSHAKE = 4,	/* SSL_do_handshake: no data */
	AS_KIND_FREE = 5,	/* SSL_free: the session ends (entry probe only, no event) */
	/*
	 * rustls 0.23 MessageDecrypter::decrypt(&mut self, msg: InboundOpaqueMessage, seq)
	 * (Rust ABI: rdi = return slot, rsi = self, rdx = &msg). At entry msg holds the
	 * record's payload slice; on return that memory holds the TLS 1.3 inner
	 * plaintext: data, content type, zero padding, then the 16-byte tag.
	 * Cookie bits 16-23: offset of the payload pointer in msg, 24-31: of its length.
	 */
	AS_KIND_RUSTLS_DECRYPT = 6,
	/*
	 * rustls 0.23 MessageEncrypter::encrypt(&mut self, msg: OutboundPlainMessage, seq):
	 * entry probe only. msg holds the ContentType and the plaintext as OutboundChunks
	 * (first word 0: Single {ptr, len}; else Multiple {chunks, n, start, end}).
	 * Cookie bits 16-23: offset of OutboundChunks in msg, 24-31: of the ContentType
	 * byte, 32-39: the discriminant of ApplicationData.
	 */
	AS_KIND_RUSTLS_ENCRYPT = 7,
	/*
	 * Go crypto/tls (register ABI, Go 1.17+ on amd64): entry probes on the
	 * function, return probes on each of its RET instructions (no uretprobes on
	 * Go code). Cookie bits 16-31: the binary's key in the go_cfg map.
	 * (*Conn).Read(b []byte) (n int, err error): rax = *Conn, rbx/rcx = b's
	 * pointer/length; on return rax = n. r14 = the goroutine (g).
	 */
	AS_KIND_GO_READ = 8,
	AS_KIND_GO_WRITE = 9,	/* (*Conn).Write(b []byte) (n int, err error): as GO_READ */
	AS_KIND_GO_CLOSE = 10,	/* (*Conn).Close(): the session ends (entry probe only, no event) */
};

/* as_ssl.func */
enum as_ssl_func {
	AS_SSL_READ = 0,
	AS_SSL_WRITE = 1,
	AS_SSL_HANDSHAKE = 2,
	/*
	 * No data: the socket a rustls encrypter's records go out on (the thread's
	 * next send after an encrypt whose socket was not known). ssl_ptr is the
	 * encrypter, the socket fields say where its records went.
	 */
	AS_SSL_BIND = 3,
};

/* as_ssl.lib */
enum as_ssl_lib {
	AS_LIB_OPENSSL = 0,
	AS_LIB_GNUTLS = 1,
	AS_LIB_NSS = 2,
	AS_LIB_BORINGSSL = 3,
	AS_LIB_RUSTLS = 4,	/* ssl_ptr: the encrypter or decrypter object (one per direction and key) */
	AS_LIB_GO = 5,		/* Go crypto/tls; ssl_ptr is the *tls.Conn */
};

/* as_ssl.flags */
enum as_ssl_flag {
	AS_SSL_F_TRUNCATED = 1 << 0,	/* bytes beyond the per-call cap were not copied */
	AS_SSL_F_READ_FAIL = 1 << 1,	/* user memory could not be read (data zeroed) */
	AS_SSL_F_FD_THIS_CALL = 1 << 2,	/* the socket was seen doing I/O inside this very call */
};

/*
 * One TLS call, in one exactly-sized ring-buffer record (written from a
 * per-CPU scratch buffer up to 16 KiB of data, reserved as a dynptr beyond): the fixed part, then data_len bytes of plaintext. len is what the
 * call read or wrote; data_len < len means the per-call cap cut it
 * (AS_SSL_F_TRUNCATED). Connection: (pid, ssl_ptr); fd and addresses once
 * seen on a syscall made inside an SSL call of that connection.
 */
struct as_ssl {
	struct as_hdr hdr;
	__u64 ssl_ptr;		/* SSL* / gnutls_session_t / PRFileDesc* */
	__u64 latency_ns;	/* entry to return */
	__s64 ret;		/* return value of the call */
	__u32 len;
	__u32 data_len;
	__u32 func;		/* enum as_ssl_func */
	__u32 lib;		/* enum as_ssl_lib */
	__s32 fd;		/* socket fd, -1 if not known */
	__u32 flags;		/* enum as_ssl_flag */
	__u16 family;		/* AF_INET / AF_INET6, 0 if not known */
	__u16 lport;		/* host byte order */
	__u16 rport;		/* host byte order */
	__u16 _pad0;
	__u8 laddr[16];		/* IPv4 in the first 4 bytes */
	__u8 raddr[16];
};
#define AS_SSL_SIZE 136

/* Configuration of ssl.bpf.c. */
struct as_ssl_config {
	__u32 self_pid;
	__u32 filter_tracked;	/* 1: only processes in the shared "tracked" map */
	__u32 uid;		/* only this uid when has_uid */
	__u32 has_uid;
	__u32 max_call_bytes;	/* per-call cap; beyond it the call is truncated */
	__u32 handshake;	/* report SSL_do_handshake */
	__u32 wakeup_bytes;	/* wake user space once this much is pending */
	__u32 _pad0;
};
#define AS_SSL_CONFIG_SIZE 32

/* as_go_cfg.flags */
enum as_go_flag {
	AS_GO_F_SYSFD = 1 << 0,	/* the socket fd can be read from the Conn (offsets and itab hash below) */
};

/*
 * What is known of one Go executable (value of the go_cfg map, keyed by the
 * number in cookie bits 16-31). With AS_GO_F_SYSFD the socket fd is read at
 * entry: tls.Conn.conn (a net.Conn interface: itab, data) holds a
 * *net.TCPConn when its itab's hash is itab_hash, and then
 * *(*(data + tcpconn_fd) + netfd_pfd + fd_sysfd) is the fd.
 */
struct as_go_cfg {
	__u32 flags;		/* enum as_go_flag */
	__u32 itab_hash;	/* itab.hash of the *net.TCPConn implementation of net.Conn */
	__u32 conn_conn;	/* offset of conn (net.Conn) in crypto/tls.Conn */
	__u32 tcpconn_fd;	/* offset of fd (*net.netFD) in net.TCPConn */
	__u32 netfd_pfd;	/* offset of pfd (internal/poll.FD) in net.netFD */
	__u32 fd_sysfd;		/* offset of Sysfd (int) in internal/poll.FD */
};
#define AS_GO_CFG_SIZE 24

#ifdef __bpf__
_Static_assert(sizeof(struct as_hdr) == AS_HDR_SIZE, "as_hdr");
_Static_assert(sizeof(struct as_exec) == AS_EXEC_SIZE, "as_exec");
_Static_assert(sizeof(struct as_exit) == AS_EXIT_SIZE, "as_exit");
_Static_assert(sizeof(struct as_fork) == AS_FORK_SIZE, "as_fork");
_Static_assert(sizeof(struct as_file_open) == AS_FILE_OPEN_SIZE, "as_file_open");
_Static_assert(sizeof(struct as_process_config) == AS_PROCESS_CONFIG_SIZE, "as_process_config");
_Static_assert(sizeof(struct as_tracked) == AS_TRACKED_SIZE, "as_tracked");
_Static_assert(sizeof(struct as_ssl) == AS_SSL_SIZE, "as_ssl");
_Static_assert(sizeof(struct as_ssl_config) == AS_SSL_CONFIG_SIZE, "as_ssl_config");
_Static_assert(sizeof(struct as_go_cfg) == AS_GO_CFG_SIZE, "as_go_cfg");
#endif

#endif /* AGENTSIGHT_EVENTS_H */
