// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TLS plaintext capture: uprobes at the plaintext boundary of TLS libraries.
 *
 * Two programs serve every library and function: ssl_enter (uprobe) and
 * ssl_ret (uretprobe). The attach cookie says which function it is
 * (enum as_ssl_kind, low byte) and which library (enum as_ssl_lib, next
 * byte). OpenSSL SSL_read/SSL_write(_ex), BoringSSL, GnuTLS
 * gnutls_record_recv/send and NSPR PR_Read/PR_Write/PR_Recv/PR_Send all take
 * (session, buffer, length) first.
 *
 * Each call becomes one exactly-sized record (bpf_ringbuf_output of up to one
 * chunk, or bpf_ringbuf_reserve_dynptr for more), so a large call arrives whole
 * or, if the ring is full, is counted as lost as a whole. A record wakes user
 * space only when it takes the pending data past a multiple of wakeup_bytes,
 * or while more than half the ring is pending (wake_flags); user space also
 * drains on a short timer.
 *
 * Per call the cost is kept to few helper calls (each returns through the
 * kernel's return thunk, and a wake-up is an interrupt): the call in progress
 * lives in the thread's task local storage (one lookup at entry, return and
 * socket hook; no hash update or delete), the record header comes from the
 * task's BTF fields, a socket's state and ports from one read.
 *
 * The connection's socket is the one the library sends or receives on while
 * inside an SSL call. ssl_sock_send/ssl_sock_recv (tracepoints sock_send_length
 * and sock_recv_length, Linux 6.3+) see only socket I/O; on older kernels
 * ssl_sys_enter marks the fd of the library's read/write/send/recv syscalls,
 * at a cost to every system call of every process. User space loads one or
 * the other.
 *
 * Go's crypto/tls has programs of its own (go_tls_enter, go_tls_ret; the Go
 * section at the end): Go code gets no uretprobes, its calls are paired by
 * goroutine rather than by thread, and its records are the same as_ssl.
 */
#include "common.bpf.h"

#ifndef __TARGET_ARCH_x86
#error "ssl.bpf.c: syscall numbers are only defined for x86_64"
#endif

#define NR_read 0
#define NR_write 1
#define NR_readv 19
#define NR_writev 20
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000

#define CHUNK 16384
#define MAX_CHUNKS 256 /* 4 MiB: the hard upper bound of cfg.max_call_bytes */
_Static_assert(CHUNK * MAX_CHUNKS == AS_SSL_MAX_CALL_BYTES, "AS_SSL_MAX_CALL_BYTES is what ssl_ret can copy");

const volatile struct as_ssl_config cfg = {};

const struct as_ssl *unused_ssl __attribute__((unused));
const struct as_ssl_config *unused_ssl_config __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 26); /* resized from user space before load */
} ssl_rb SEC(".maps");

/*
 * Per-thread state, in task local storage (one lookup, no hash update or
 * delete per call, nothing for threads that never make a TLS call): the SSL
 * call the thread is inside (active), and the rustls encrypter it last used
 * without a known socket (bind_key, see rustls_encrypt).
 */
struct pending {
	__u64 ssl;
	__u64 buf;
	__u64 len_ptr;
	__u64 ts;
	__u64 sk;	/* struct sock * seen by ssl_sock_send/recv inside this call, or 0 */
	__u64 size;	/* rustls decrypt: the record payload's length */
	__u32 kind;
	__u32 lib;
	__s32 fd;	/* socket fd seen by ssl_sys_enter inside this call, or -1 */
	__u32 active;	/* 1 from the call's entry to its return */
	__u64 bind_key;	/* rustls: encrypter waiting for the thread's next send, or 0 */
	__u64 bind_ts;
	__u64 recent_sk;	/* the thread's last socket receive outside an SSL call (see recent_recv) */
	__u64 recent_ts;	/* its time, or 0 once an SSL call took it */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pending);
} pending SEC(".maps");

/* The current thread's slot, or NULL (create: make it on the thread's first call). */
static __always_inline struct pending *thread_slot(bool create)
{
	return bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* The SSL call the current thread is inside, or NULL. */
static __always_inline struct pending *current_call(void)
{
	struct pending *p = thread_slot(false);
	return p && p->active ? p : NULL;
}

struct conn_key {
	__u32 pid;
	__u32 _pad;
	__u64 ssl;
};

struct conn_info {
	__s32 fd;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u16 _pad0;
	__u32 _pad1;
	__u8 laddr[16];
	__u8 raddr[16];
	__u64 sk;	/* the socket these were read from (sock tracepoints), or 0 */
};

/* (pid, session) -> socket, learned from syscalls made inside its SSL calls */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct conn_info);
} conns SEC(".maps");

/* socket -> the session last given it through conn_from_sock */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct conn_key);
} sock_owner SEC(".maps");

/*
 * rustls encrypts a record (MessageEncrypter::encrypt) and sends it later, in
 * write_tls: tokio-rustls does both in one poll_write, on one thread. An
 * encrypt whose encrypter has no socket yet leaves its encrypter in the
 * thread's slot (bind_key); the thread's next send binds it (conns, and an
 * AS_SSL_BIND record for the records already emitted).
 */
#define RUSTLS_BIND_NS 100000000ULL


/*
 * Libraries that do TLS in memory (node's TLSWrap: a memory BIO) receive on
 * the socket before SSL_read and send after SSL_write, never inside the SSL
 * call. For them the socket of a session is the TCP socket the same thread
 * received on just before an SSL call (node receives the server's handshake
 * flight, then writes the queued request and reads the answer, in one
 * callback). A thread that has made SSL calls keeps its last socket receive
 * made outside an SSL call in its own slot (recent_sk), so a move to another
 * CPU between the receive and the call loses nothing; for a thread without a
 * slot yet, recent_recv holds, per CPU, the last such receive (a few stores:
 * every receive of every process passes here). The next SSL call by that
 * thread takes it; if it came less than
 * RECENT_RECV_NS before and the session is known (not its first call, which
 * precedes anything received for it) without a connected socket, it is the
 * session's socket.
 */
#define RECENT_RECV_NS 5000000ULL

struct recent_recv {
	__u64 sk;
	__u64 ts;
	__u32 tid;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct recent_recv);
} recent_recv SEC(".maps");

/*
 * The loop state of a gather copy (chunk_step). It lives in the map value,
 * not on the stack: the verifier does not track values in map memory, so it
 * checks the loop body once instead of once per distinct value of the
 * counters (hundreds of passes, most of the object's load time).
 */
struct chunk_loop {
	__u64 chunks;	/* &[&[u8]] */
	__u64 n;
	__u64 start;	/* the record's range in the concatenated chunks */
	__u64 end;
	__u64 pos;	/* where the current chunk starts in the concatenation */
	__u64 out;	/* bytes copied so far */
	long fails;
};

struct scratch {
	struct as_ssl hdr;
	__u8 data[CHUNK];
	struct chunk_loop loop;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} ssl_scratch SEC(".maps");

__noinline int rustls_encrypt(__u32 pid, __u64 key, __u64 msg, __u64 cookie);

SEC("uprobe")
int BPF_KPROBE(ssl_enter, void *ssl, void *buf, __u64 num, void *len_ptr)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32;
	__u32 kind = cookie & 0xff;

	if (pid == cfg.self_pid)
		return 0;
	if (kind == AS_KIND_FREE) {
		/* the session ends: forget its socket before another session gets its address */
		struct conn_key ck = { .pid = pid, .ssl = (__u64)ssl };
		bpf_map_delete_elem(&conns, &ck);
		return 0;
	}
	if (cfg.has_uid && (__u32)bpf_get_current_uid_gid() != cfg.uid)
		return 0;
	if (cfg.filter_tracked && !is_tracked(pid))
		return 0;
	if (kind == AS_KIND_HANDSHAKE && !cfg.handshake)
		return 0;
	/* rustls methods (Rust ABI): rdi = return slot, rsi = self, rdx = &msg */
	if (kind == AS_KIND_RUSTLS_ENCRYPT) {
		rustls_encrypt(pid, (__u64)buf, num, cookie);
		return 0;
	}

	struct pending *p = thread_slot(true);
	if (!p) {
		stat_add(AS_STAT_PENDING_FULL, 1);
		return 0;
	}
	p->ssl = (__u64)ssl;
	p->buf = (__u64)buf;
	p->len_ptr = 0;
	/* OpenSSL 3.2+ ssl_write_internal(s, buf, num, flags, &written): the length pointer is the 5th argument */
	if (kind == AS_KIND_READ_EX || kind == AS_KIND_WRITE_EX)
		p->len_ptr = ((cookie >> 16) & 0xff) == 4 ? PT_REGS_PARM5(ctx) : (__u64)len_ptr;
	p->ts = bpf_ktime_get_ns();
	p->sk = 0;
	p->size = 0;
	p->kind = kind;
	p->lib = (cookie >> 8) & 0xff;
	p->fd = -1;
	if (kind == AS_KIND_RUSTLS_DECRYPT) {
		__u64 ptr = 0, size = 0;
		bpf_probe_read_user(&ptr, sizeof(ptr), (void *)(num + ((cookie >> 16) & 0xff)));
		bpf_probe_read_user(&size, sizeof(size), (void *)(num + ((cookie >> 24) & 0xff)));
		p->ssl = (__u64)buf;
		p->buf = ptr;
		p->size = size;
	}
	p->active = 1;
	return 0;
}

static __always_inline struct file *task_file(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	__u32 max = BPF_CORE_READ(fdt, max_fds);
	if (fd < 0 || (__u32)fd >= max)
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline bool is_socket(int fd)
{
	struct file *f = task_file(fd);
	if (!f)
		return false;
	__u16 mode = BPF_CORE_READ(f, f_inode, i_mode);
	return (mode & S_IFMT) == S_IFSOCK;
}

/* Socket I/O of a goroutine inside a Go TLS call (the Go section below). */
static __always_inline bool go_note_io(struct sock *sk, int fd);

/* Kernels without the sock_*_length tracepoints: every system call passes here. */
SEC("tp_btf/sys_enter")
int BPF_PROG(ssl_sys_enter, struct pt_regs *regs, long id)
{
	switch (id) {
	case NR_read:
	case NR_write:
	case NR_readv:
	case NR_writev:
	case NR_sendto:
	case NR_recvfrom:
	case NR_sendmsg:
	case NR_recvmsg:
		break;
	default:
		return 0;
	}
	struct pending *p = current_call();
	if (p && p->fd >= 0)
		return 0;
	/* Only a socket counts: a library may touch other fds (e.g. an eventfd) inside the call. */
	int fd = (int)BPF_CORE_READ(regs, di);
	if (!p) {
		go_note_io(NULL, fd);
		return 0;
	}
	if (is_socket(fd))
		p->fd = fd;
	return 0;
}

/*
 * The head of struct sock_common (IPv4 addresses, ports, family, state), read
 * with one bpf_probe_read_kernel instead of one per field. The fields' offsets
 * are CO-RE relocations, constants at load: a kernel whose layout does not fit
 * the window takes the per-field reads (the verifier drops the other branch).
 */
#define SKC_HEAD 32

struct skc_head {
	__u32 daddr;
	__u32 rcv_saddr;
	__u16 dport;	/* network byte order */
	__u16 num;
	__u16 family;
	__u8 state;
};

#define SKC_OFF(f) bpf_core_field_offset(struct sock, __sk_common.f)
#define SKC_FITS(f, base) (SKC_OFF(f) >= (base) && SKC_OFF(f) + bpf_core_field_size(struct sock, __sk_common.f) <= (base) + SKC_HEAD)
#define SKC_AT(w, f, base, T) (*(T *)&(w)[(SKC_OFF(f) - (base)) & (SKC_HEAD - 1)])

static __always_inline void skc_head(struct sock *sk, struct skc_head *h)
{
	__u32 base = SKC_OFF(skc_daddr);
	if (SKC_FITS(skc_rcv_saddr, base) && SKC_FITS(skc_dport, base) && SKC_FITS(skc_num, base) && SKC_FITS(skc_family, base) &&
	    SKC_FITS(skc_state, base)) {
		__u8 w[SKC_HEAD + 8] = {};
		bpf_probe_read_kernel(w, SKC_HEAD, (void *)sk + base);
		h->daddr = SKC_AT(w, skc_daddr, base, __u32);
		h->rcv_saddr = SKC_AT(w, skc_rcv_saddr, base, __u32);
		h->dport = SKC_AT(w, skc_dport, base, __u16);
		h->num = SKC_AT(w, skc_num, base, __u16);
		h->family = SKC_AT(w, skc_family, base, __u16);
		h->state = SKC_AT(w, skc_state, base, __u8);
		return;
	}
	h->daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	h->rcv_saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
	h->dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
	h->num = BPF_CORE_READ(sk, __sk_common.skc_num);
	h->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	h->state = BPF_CORE_READ(sk, __sk_common.skc_state);
}

/* Family, addresses and ports of an inet socket (left zero for other families). */
static __always_inline void sock_addrs(struct sock *sk, struct conn_info *ci)
{
	struct skc_head h;
	skc_head(sk, &h);
	if (h.family == AF_INET) {
		__builtin_memcpy(ci->laddr, &h.rcv_saddr, 4);
		__builtin_memcpy(ci->raddr, &h.daddr, 4);
	} else if (h.family == AF_INET6) {
		BPF_CORE_READ_INTO(&ci->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&ci->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return;
	}
	ci->family = h.family;
	ci->lport = h.num;
	/*
	 * Closing a TCP socket (a reset from the peer, even inside a call that has
	 * already written) releases its port: num is 0 then, the bound source port
	 * stays in inet_sport.
	 */
	if (!h.num && h.state == TCP_CLOSE)
		ci->lport = __builtin_bswap16(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	ci->rport = __builtin_bswap16(h.dport);
}

/* The struct sock of an fd of the current task, or NULL when it is not a socket. */
static __always_inline struct sock *fd_sock(int fd)
{
	struct file *f = task_file(fd);
	if (!f)
		return NULL;
	__u16 mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(sock, sk);
}

/* Socket addresses of an fd of the current task, if it is an inet socket. */
static __always_inline void socket_info(int fd, struct conn_info *ci)
{
	ci->fd = fd;
	struct sock *sk = fd_sock(fd);
	if (sk)
		sock_addrs(sk, ci);
}

/* ---- socket seen through the sock_send_length / sock_recv_length tracepoints ---- */

#define FD_SCAN_MAX 65536

struct fd_scan {
	struct file **fds;
	struct file *want;
	__u32 max;
	__s32 found;
};

static long fd_scan_step(__u32 i, void *c)
{
	struct fd_scan *s = c;
	if (i >= s->max)
		return 1;
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &s->fds[i]);
	if (f == s->want) {
		s->found = i;
		return 1;
	}
	return 0;
}

/* The fd of the current task that holds this file, or -1 (searched once per connection). */
static __always_inline int fd_of_file(struct file *want)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct fd_scan s = { .fds = BPF_CORE_READ(fdt, fd), .want = want, .max = BPF_CORE_READ(fdt, max_fds), .found = -1 };
	if (!want)
		return -1;
	bpf_loop(FD_SCAN_MAX, fd_scan_step, &s, 0);
	return s.found;
}

/* Whole-struct comparison (padding is always zero: every conn_info starts zero-initialised). */
static __always_inline bool same_conn(const struct conn_info *a, const struct conn_info *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	for (int i = 0; i < sizeof(struct conn_info) / 8; i++)
		if (x[i] != y[i])
			return false;
	return true;
}

/*
 * Connection of a call that did socket I/O on sk: addresses from the socket;
 * the fd from what is known of this session if that fd still holds this
 * socket, else from a search of the fd table. Updates conns when it changed.
 */
static __always_inline void conn_from_sock(struct conn_key *ck, struct sock *sk, struct conn_info *ci)
{
	struct file *file = BPF_CORE_READ(sk, sk_socket, file);
	struct conn_info *known = bpf_map_lookup_elem(&conns, ck);
	sock_addrs(sk, ci);
	ci->sk = (__u64)sk;
	ci->fd = -1;
	if (known && known->sk == (__u64)sk) {
		if (known->fd >= 0 && task_file(known->fd) == file)
			ci->fd = known->fd;
		else if (known->fd < 0)
			ci->fd = -1; /* searched before, not found: do not search on every call */
		else
			ci->fd = fd_of_file(file);
		if (same_conn(known, ci))
			return;
	} else {
		ci->fd = fd_of_file(file);
	}
	bpf_map_update_elem(&conns, ck, ci, BPF_ANY);
	__u64 skp = (__u64)sk;
	bpf_map_update_elem(&sock_owner, &skp, ck, BPF_ANY);
}


/* An inet TCP socket? */
static __always_inline bool is_tcp(struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return (family == AF_INET || family == AF_INET6) && BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP;
}

/*
 * Is the socket a session was given still that connection: connected, and its
 * ports unchanged (the memory of a closed socket may hold another one by now)?
 */
static __always_inline bool sock_still(const struct conn_info *known)
{
	struct skc_head h;
	skc_head((struct sock *)known->sk, &h);
	if (h.state != TCP_ESTABLISHED && h.state != TCP_CLOSE_WAIT)
		return false;
	return h.num == known->lport && __builtin_bswap16(h.dport) == known->rport;
}

/* Is this socket the socket of another session that still names it? */
static __always_inline bool owned_by_other(struct sock *sk, struct conn_key *ck)
{
	__u64 skp = (__u64)sk;
	struct conn_key *o = bpf_map_lookup_elem(&sock_owner, &skp);
	if (!o || (o->pid == ck->pid && o->ssl == ck->ssl))
		return false;
	struct conn_key other = *o;
	struct conn_info *c = bpf_map_lookup_elem(&conns, &other);
	return c && c->sk == skp && sock_still(c);
}

/* Can a receive's socket be given to this session: TCP, and no other live session's? */
static __always_inline bool usable(struct sock *sk, struct conn_key *ck)
{
	return is_tcp(sk) && !owned_by_other(sk, ck);
}

#define compiler_barrier() asm volatile("" ::: "memory")

/*
 * The thread's receive just before an SSL call that started at call_ts, or
 * NULL; taken (cleared) either way. Writers clear tid first and set it last,
 * so a copy made while another thread's receive overwrote the slot is seen.
 */
static __always_inline struct sock *take_recent(const struct pending *p, __u32 tid, __u64 call_ts, bool keep)
{
	/* the thread's own slot first (the copy made at the call's return; ssl_ret clears the live one) */
	if (p->recent_ts && p->recent_ts <= call_ts && call_ts - p->recent_ts < RECENT_RECV_NS)
		return (struct sock *)p->recent_sk;
	__u32 zero = 0;
	struct recent_recv *r = bpf_map_lookup_elem(&recent_recv, &zero);
	if (!r || r->tid != tid)
		return NULL;
	struct recent_recv rr = *r;
	compiler_barrier();
	if (r->tid != tid || rr.tid != tid)
		return NULL;
	/* rustls decrypts every record of one receive in a row: all of them may use it */
	if (!keep)
		r->tid = 0;
	if (rr.ts > call_ts || call_ts - rr.ts >= RECENT_RECV_NS)
		return NULL;
	return (struct sock *)rr.sk;
}

static void rustls_bind_send(struct pending *slot, struct sock *sk);

static __always_inline int note_sock(struct sock *sk, int ret, bool recv)
{
	struct pending *p = thread_slot(false);
	if (p && p->active) {
		if (!p->sk)
			p->sk = (__u64)sk;
		return 0;
	}
	if (go_note_io(sk, -1))
		return 0;
	if (!recv) {
		if (p && p->bind_key)
			rustls_bind_send(p, sk);
		return 0;
	}
	/* outside an SSL call: remember the receive for an SSL call that may follow */
	if (ret <= 0)
		return 0;
	if (p) {
		p->recent_sk = (__u64)sk;
		p->recent_ts = bpf_ktime_get_ns();
		return 0;
	}
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 zero = 0;
	struct recent_recv *r = bpf_map_lookup_elem(&recent_recv, &zero);
	if (r) {
		r->tid = 0;
		compiler_barrier();
		r->sk = (__u64)sk;
		r->ts = bpf_ktime_get_ns();
		compiler_barrier();
		r->tid = tid;
	}
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(ssl_sock_send, struct sock *sk, int ret, int flags)
{
	return note_sock(sk, ret, false);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(ssl_sock_recv, struct sock *sk, int ret, int flags)
{
	return note_sock(sk, ret, true);
}

/*
 * Bytes the call moved and its as_ssl_func, from its kind and return value
 * (the _ex kinds report the length through their size_t * argument). False
 * for a kind that is not reported on return.
 */
static __always_inline bool call_result(const struct pending *p, __u32 kind, long ret, __u64 *len, __u32 *func)
{
	switch (kind) {
	case AS_KIND_READ:
	case AS_KIND_WRITE:
		*len = ret > 0 ? ret : 0;
		*func = kind == AS_KIND_READ ? AS_SSL_READ : AS_SSL_WRITE;
		return true;
	case AS_KIND_READ_EX:
	case AS_KIND_WRITE_EX:
		if (ret == 1 && p->len_ptr) {
			__u64 n = 0;
			bpf_probe_read_user(&n, sizeof(n), (void *)p->len_ptr);
			*len = n;
		}
		*func = kind == AS_KIND_READ_EX ? AS_SSL_READ : AS_SSL_WRITE;
		return true;
	case AS_KIND_HANDSHAKE:
		*func = AS_SSL_HANDSHAKE;
		return true;
	case AS_KIND_RUSTLS_DECRYPT:
		*func = AS_SSL_READ;
		return true;
	default:
		return false;
	}
}

/*
 * Connection of a call that saw no socket of its own: from what is known of
 * the session, or (in-memory TLS) from the thread's receive just before it.
 */
static __always_inline void conn_from_history(struct conn_key *ck, const struct pending *p, __u32 tid, __u32 func, __u64 len,
					      struct conn_info *ci)
{
	struct conn_info *known = bpf_map_lookup_elem(&conns, ck);
	/* the thread's receive just before this call is taken by this call, used or not */
	struct sock *sk = take_recent(p, tid, p->ts, p->lib == AS_LIB_RUSTLS);
	if (!known || (known->sk && !sock_still(known))) {
		/*
		 * A new session (or a new one at the address of a closed one). Its first
		 * call usually precedes anything received for it (node's first SSL_read
		 * sends the ClientHello), so a receive just before belongs to another
		 * connection: remember the session, without a socket. Located BoringSSL
		 * (Bun) is probed on SSL_read/SSL_write only, and its first probed call is
		 * the request, written after the handshake was received: take it there.
		 */
		if (sk && p->lib == AS_LIB_BORINGSSL && func == AS_SSL_WRITE && len > 0 && usable(sk, ck))
			conn_from_sock(ck, sk, ci);
		/*
		 * rustls decrypts what read_tls just received, on the same thread. Its
		 * encrypters and decrypters (one per direction and key) share the
		 * socket: another one naming it is this connection's.
		 */
		else if (sk && p->lib == AS_LIB_RUSTLS && func == AS_SSL_READ && is_tcp(sk))
			conn_from_sock(ck, sk, ci);
		else
			bpf_map_update_elem(&conns, ck, ci, BPF_ANY);
	} else if (sk && func == AS_SSL_READ && known->sk != (__u64)sk && (p->lib == AS_LIB_RUSTLS ? is_tcp(sk) : usable(sk, ck))) {
		/* in-memory TLS reads what its own socket just received: a read corrects the socket */
		conn_from_sock(ck, sk, ci);
	} else if (known->sk || known->fd >= 0) {
		*ci = *known;
	} else if (sk && func == AS_SSL_WRITE && usable(sk, ck)) {
		/* no socket yet: node writes the queued request right after the handshake flight arrives */
		conn_from_sock(ck, sk, ci);
	}
}

/*
 * Connection identity of a call into ci: learned in this call (true), or from
 * conn_from_history(). Also for calls that moved no data: node's first
 * SSL_read drives the handshake, before the request is written.
 */
static __always_inline bool resolve_conn(__u32 pid, __u32 tid, const struct pending *p, __u32 func, __u64 len, struct conn_info *ci)
{
	struct conn_key ck = { .pid = pid, .ssl = p->ssl };
	if (p->sk) {
		conn_from_sock(&ck, (struct sock *)p->sk, ci);
		return true;
	}
	if (p->fd >= 0) {
		socket_info(p->fd, ci);
		bpf_map_update_elem(&conns, &ck, ci, BPF_ANY);
		return true;
	}
	conn_from_history(&ck, p, tid, func, len, ci);
	return false;
}

/* The fixed part of the record: header, call and connection. */
static __always_inline void fill_record(struct as_ssl *e, const struct pending *p, long ret, __u32 func, const struct conn_info *ci,
					bool this_call)
{
	fill_hdr(&e->hdr, AS_REC_SSL);
	e->ssl_ptr = p->ssl;
	e->latency_ns = e->hdr.ts_ns - p->ts;
	e->ret = ret;
	e->func = func;
	e->lib = p->lib;
	e->flags = this_call ? AS_SSL_F_FD_THIS_CALL : 0;
	e->_pad0 = 0;

	e->fd = ci->fd;
	e->family = ci->family;
	e->lport = ci->lport;
	e->rport = ci->rport;
	__builtin_memcpy(e->laddr, ci->laddr, 16);
	__builtin_memcpy(e->raddr, ci->raddr, 16);
}

/* The per-CPU scratch with the fixed part of a record filled in (NULL when the map gives no value). */
static __always_inline struct scratch *scratch_record(const struct pending *p, long ret, __u32 func, const struct conn_info *ci, bool this_call)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&ssl_scratch, &zero);
	if (s)
		fill_record(&s->hdr, p, ret, func, ci, this_call);
	return s;
}

/*
 * Submit flags for a record of `size` bytes, given the bytes pending in the
 * ring without it. A wake-up is an interrupt (a self-IPI through irq_work, a
 * VM exit under virtualisation), so records do not each wake user space while
 * a little data is pending: a record wakes it when it takes the pending data
 * past a multiple of cfg.wakeup_bytes (0: every record), and the reader, once
 * woken, drains in bounded batches until the ring is empty (and on its
 * timer). While more than half the ring is pending the reader is far behind:
 * then every record wakes it, and the producers pay for those wake-ups, as
 * every record above wakeup_bytes did before, rather than outrun it into a
 * full ring.
 */
static __always_inline __u64 wake_flags(__u64 before, __u64 size)
{
	__u64 t = cfg.wakeup_bytes;
	if (t == 0 || (before + size) / t != before / t)
		return BPF_RB_FORCE_WAKEUP;
	if (before >= t && before + size > bpf_ringbuf_query(&ssl_rb, BPF_RB_RING_SIZE) / 2)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Pending bytes before a record of `size` bytes that is already reserved (it is in AVAIL_DATA). */
static __always_inline __u64 pending_before(__u64 size)
{
	__u64 avail = bpf_ringbuf_query(&ssl_rb, BPF_RB_AVAIL_DATA);
	return avail > size ? avail - size : 0;
}

/*
 * Copy `copy` bytes (more than one chunk) of user memory at buf behind the
 * fixed part of the record: whole chunks straight into it, then the tail
 * through scratch. Non-zero if any read failed (the helper zero-fills: the
 * record keeps its size).
 */
static __always_inline long copy_payload(struct bpf_dynptr *dp, struct scratch *s, __u64 buf, __u64 copy)
{
	long fails = 0;
	__u32 full = copy / CHUNK;
	for (__u32 i = 0; i < MAX_CHUNKS && i < full; i++) {
		void *dst = bpf_dynptr_data(dp, sizeof(struct as_ssl) + i * CHUNK, CHUNK);
		if (!dst)
			break;
		fails |= bpf_probe_read_user(dst, CHUNK, (void *)(buf + (__u64)i * CHUNK));
	}
	__u64 tail = copy % CHUNK;
	barrier_var(tail);
	if (tail > 0 && tail < CHUNK) {
		__u64 off = copy - tail;
		fails |= bpf_probe_read_user(s->data, tail, (void *)(buf + off));
		bpf_dynptr_write(dp, sizeof(struct as_ssl) + off, s->data, tail, 0);
	}
	return fails;
}

/* A ring-full drop of a record that carried `copy` bytes of data: counted. */
static __always_inline void count_drop(__u64 copy)
{
	stat_add(AS_STAT_RB_DROP_SSL, 1);
	stat_add(AS_STAT_SSL_BYTES_LOST, copy);
}

/*
 * One exactly-sized record for the call: the fixed part (filled in scratch),
 * then up to cfg.max_call_bytes of its data. Up to one chunk (nearly every
 * call), the data is read behind the fixed part in scratch and the record
 * written with one bpf_ringbuf_output; larger calls are reserved as a dynptr
 * and filled chunk by chunk (reserve -> fill -> submit). Truncation and a
 * full ring are counted. A global function: the verifier checks it once for
 * any arguments, not again at every call site with each caller's state.
 */
/* In emit_record's `how`: the record's as_ssl_func, and whether the socket was seen in this very call. */
#define EMIT_THIS_CALL 0x100

__noinline int emit_record(const struct pending *p, long ret, __u32 how, __u64 len, const struct conn_info *ci)
{
	__u32 func = how & 0xff;
	bool this_call = how & EMIT_THIS_CALL;
	if (!p || !ci)
		return 0;
	struct scratch *s = scratch_record(p, ret, func, ci, this_call);
	if (!s)
		return 0;
	struct as_ssl *e = &s->hdr;

	__u64 cap = cfg.max_call_bytes;
	if (cap > (__u64)CHUNK * MAX_CHUNKS)
		cap = (__u64)CHUNK * MAX_CHUNKS;
	__u64 copy = len < cap ? len : cap;
	if (copy < len) {
		e->flags |= AS_SSL_F_TRUNCATED;
		stat_add(AS_STAT_SSL_TRUNC, 1);
		stat_add(AS_STAT_SSL_BYTES_LOST, len - copy);
	}
	e->len = len > 0xffffffff ? 0xffffffff : len;
	e->data_len = copy;
	__u32 size = sizeof(struct as_ssl) + copy;

	__u64 small = copy;
	barrier_var(small);
	if (small <= CHUNK) {
		if (small > 0 && bpf_probe_read_user(s->data, small, (void *)p->buf)) {
			e->flags |= AS_SSL_F_READ_FAIL;
			stat_add(AS_STAT_SSL_READ_FAIL, 1);
		}
		__u64 before = bpf_ringbuf_query(&ssl_rb, BPF_RB_AVAIL_DATA);
		if (bpf_ringbuf_output(&ssl_rb, s, sizeof(struct as_ssl) + small, wake_flags(before, size)))
			count_drop(copy);
		return 0;
	}

	struct bpf_dynptr dp;
	if (bpf_ringbuf_reserve_dynptr(&ssl_rb, size, 0, &dp)) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		count_drop(copy);
		return 0;
	}
	if (copy_payload(&dp, s, p->buf, copy)) {
		e->flags |= AS_SSL_F_READ_FAIL;
		stat_add(AS_STAT_SSL_READ_FAIL, 1);
	}
	bpf_dynptr_write(&dp, 0, e, sizeof(struct as_ssl), 0);
	bpf_ringbuf_submit_dynptr(&dp, wake_flags(pending_before(size), size));
	return 0;
}

/* ---- rustls ------------------------------------------------------------ */

#define CT_APPLICATION_DATA 23
#define AEAD_TAG_LEN 16
#define TLS13_MAX_INNER (16384 + 256)

/* The padding search (bpf_loop, so the verifier checks one step rather than every path through 64). */
struct padding_scan {
	struct scratch *s;
	__u64 tail;
	__s64 at;	/* index of the last non-zero byte in s->data[0, tail), or -1 */
	__u8 type;
};

/* One byte of the padding, from the end (bpf_loop callback): stops at the first non-zero byte. */
static long padding_step(__u32 i, void *c)
{
	struct padding_scan *ps = c;
	if (i >= ps->tail)
		return 1;
	__u64 j = ps->tail - 1 - i;
	__u8 b = ps->s->data[j & (AS_RUSTLS_MAX_PADDING - 1)];
	if (b == 0)
		return 0;
	ps->at = j;
	ps->type = b;
	return 1;
}

/*
 * The application data in a decrypted TLS 1.3 record: its inner plaintext is
 * data, the content type and zero padding (RFC 8446 5.2), followed here by the
 * tag. False for other content types and for records whose type is not found
 * in the last AS_RUSTLS_MAX_PADDING bytes (counted: a failed decryption leaves
 * zeros).
 */
static __always_inline bool rustls_inner_len(const struct pending *p, __u64 *len)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&ssl_scratch, &zero);
	if (!s || p->size <= AEAD_TAG_LEN || p->size > TLS13_MAX_INNER + AEAD_TAG_LEN)
		return false;
	__u64 inner = p->size - AEAD_TAG_LEN;
	__u64 tail = inner < AS_RUSTLS_MAX_PADDING ? inner : AS_RUSTLS_MAX_PADDING;
	barrier_var(tail);
	if (tail == 0 || tail > AS_RUSTLS_MAX_PADDING)
		return false;
	if (bpf_probe_read_user(s->data, tail, (void *)(p->buf + inner - tail)))
		return false;
	struct padding_scan ps = { .s = s, .tail = tail, .at = -1 };
	bpf_loop(AS_RUSTLS_MAX_PADDING, padding_step, &ps, 0);
	if (ps.at >= 0) {
		if (ps.type != CT_APPLICATION_DATA)
			return false;
		*len = inner - tail + ps.at;
		return true;
	}
	stat_add(AS_STAT_RUSTLS_UNPARSED, 1);
	return false;
}

struct chunk_copy {
	struct bpf_dynptr *dp;
	struct scratch *s;	/* s->loop holds the loop state */
};

/* One chunk of OutboundChunks::Multiple: copy its part of [start, end). */
static long chunk_step(__u32 i, void *c)
{
	struct chunk_copy *cc = c;
	struct scratch *sc = cc->s;
	struct chunk_loop *k = &sc->loop;
	if (i >= k->n || k->pos >= k->end)
		return 1;
	__u64 sl[2] = {};
	if (bpf_probe_read_user(sl, sizeof(sl), (void *)(k->chunks + (__u64)i * 16))) {
		k->fails = 1;
		return 1;
	}
	__u64 lo = k->pos, hi = k->pos + sl[1];
	k->pos = hi;
	if (hi <= k->start)
		return 0;
	__u64 from = k->start > lo ? k->start - lo : 0;
	__u64 to = (k->end < hi ? k->end : hi) - lo;
	__u64 n = to - from;
	barrier_var(n);
	if (n == 0 || n > CHUNK || k->out + n > CHUNK)
		return 1;
	k->fails |= bpf_probe_read_user(sc->data, n, (void *)(sl[0] + from));
	__u64 out = k->out;
	barrier_var(out);
	if (out > CHUNK)
		return 1;
	bpf_dynptr_write(cc->dp, sizeof(struct as_ssl) + out, sc->data, n, 0);
	k->out = out + n;
	return 0;
}

/* Where OutboundChunks::Multiple keeps its pieces: the &[&[u8]] slice and the record's range in their concatenation. */
struct chunk_src {
	__u64 chunks;
	__u64 n;
	__u64 start;
	__u64 end;
};

/* The WRITE record of len bytes gathered from OutboundChunks::Multiple (global: verified once). */
__noinline int emit_chunks(const struct pending *p, const struct conn_info *ci, const struct chunk_src *src, __u64 len)
{
	if (!p || !ci || !src || len == 0 || len > CHUNK)
		return 0;
	struct scratch *s = scratch_record(p, len, AS_SSL_WRITE, ci, false);
	if (!s)
		return 0;
	struct as_ssl *e = &s->hdr;
	e->len = len;
	e->data_len = len;
	struct bpf_dynptr dp;
	__u32 size = sizeof(struct as_ssl) + len;
	if (bpf_ringbuf_reserve_dynptr(&ssl_rb, size, 0, &dp)) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		count_drop(len);
		return 0;
	}
	struct chunk_loop *lp = &s->loop;
	lp->chunks = src->chunks;
	lp->n = src->n;
	lp->start = src->start;
	lp->end = src->end;
	lp->pos = 0;
	lp->out = 0;
	lp->fails = 0;
	struct chunk_copy cc = { .dp = &dp, .s = s };
	bpf_loop(AS_RUSTLS_MAX_CHUNKS, chunk_step, &cc, 0);
	struct chunk_loop k = *lp;
	if (k.out < len && !k.fails) {
		stat_add(AS_STAT_RUSTLS_CHUNKS, 1);
		stat_add(AS_STAT_SSL_BYTES_LOST, len - k.out);
		e->flags |= AS_SSL_F_TRUNCATED;
	}
	if (k.fails) {
		e->flags |= AS_SSL_F_READ_FAIL;
		stat_add(AS_STAT_SSL_READ_FAIL, 1);
	}
	/* s->hdr was not touched by the chunk copies (they use s->data) */
	bpf_dynptr_write(&dp, 0, e, sizeof(struct as_ssl), 0);
	bpf_ringbuf_submit_dynptr(&dp, wake_flags(pending_before(size), size));
	return 0;
}

/*
 * MessageEncrypter::encrypt entry: an ApplicationData record's plaintext
 * becomes one WRITE record at once (rustls's records are at most 16 KiB).
 * Global, like emit_record: verified once.
 */
__noinline int rustls_encrypt(__u32 pid, __u64 key, __u64 msg, __u64 cookie)
{
	__u8 typ = 0;
	__u64 w[4] = {};
	if (bpf_probe_read_user(&typ, 1, (void *)(msg + ((cookie >> 24) & 0xff))) || typ != ((cookie >> 32) & 0xff))
		return 0;
	if (bpf_probe_read_user(w, sizeof(w), (void *)(msg + ((cookie >> 16) & 0xff))))
		return 0;
	bool single = w[0] == 0;
	__u64 len = single ? w[2] : (w[3] > w[2] ? w[3] - w[2] : 0);
	if (len == 0 || len > CHUNK)
		return 0;

	struct pending p = { .ssl = key, .buf = single ? w[1] : 0, .ts = bpf_ktime_get_ns(), .kind = AS_KIND_RUSTLS_ENCRYPT, .lib = AS_LIB_RUSTLS, .fd = -1 };
	struct conn_key ck = { .pid = pid, .ssl = key };
	struct conn_info ci = { .fd = -1 };
	struct conn_info *known = bpf_map_lookup_elem(&conns, &ck);
	if (known && known->sk && sock_still(known)) {
		ci = *known;
	} else {
		struct pending *slot = thread_slot(true);
		if (slot) {
			slot->bind_key = key;
			slot->bind_ts = p.ts;
		}
	}
	if (single) {
		emit_record(&p, len, AS_SSL_WRITE, len, &ci);
		return 0;
	}

	struct chunk_src src = { .chunks = w[0], .n = w[1], .start = w[2], .end = w[3] };
	return emit_chunks(&p, &ci, &src, len);
}

/* A send outside any probed call: the socket of the encrypter this thread last used without one. */
static void rustls_bind_send(struct pending *slot, struct sock *sk)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32;
	__u64 key = slot->bind_key, ts = slot->bind_ts;
	slot->bind_key = 0;
	__u64 now = bpf_ktime_get_ns();
	if (now - ts > RUSTLS_BIND_NS || !is_tcp(sk))
		return;
	struct conn_key ck = { .pid = pid, .ssl = key };
	struct conn_info ci = { .fd = -1 };
	conn_from_sock(&ck, sk, &ci);
	struct pending p = { .ssl = key, .ts = now, .kind = AS_KIND_RUSTLS_ENCRYPT, .lib = AS_LIB_RUSTLS, .fd = -1 };
	emit_record(&p, 0, AS_SSL_BIND | EMIT_THIS_CALL, 0, &ci);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_ret, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;
	__u32 kind = bpf_get_attach_cookie(ctx) & 0xff;
	struct pending *pp = current_call();
	if (!pp)
		return 0;
	struct pending p = *pp;
	pp->active = 0;
	/* the receive before this call is this call's to take (rustls decrypts every record of one receive in a row) */
	if (p.lib != AS_LIB_RUSTLS)
		pp->recent_ts = 0;
	if (p.kind != kind) {
		stat_add(AS_STAT_SSL_UNPAIRED, 1);
		return 0;
	}

	/* Only GnuTLS returns ssize_t; OpenSSL, BoringSSL and NSPR return a 32-bit int. */
	if (p.lib != AS_LIB_GNUTLS)
		ret = (int)ret;

	__u64 len = 0;
	__u32 func = AS_SSL_READ;
	if (!call_result(&p, kind, ret, &len, &func))
		return 0;
	if (kind == AS_KIND_RUSTLS_DECRYPT) {
		if (!rustls_inner_len(&p, &len))
			return 0;
		ret = len; /* rax is the return slot's address: report the bytes */
	}
	struct conn_info ci = { .fd = -1 };
	bool this_call = resolve_conn(pid, tid, &p, func, len, &ci);

	/* Calls that moved no data (e.g. a read that would block) are not events. */
	if (func != AS_SSL_HANDSHAKE && len == 0)
		return 0;
	emit_record(&p, ret, func | (this_call ? EMIT_THIS_CALL : 0), len, &ci);
	return 0;
}

/* ---- Go crypto/tls ------------------------------------------------------ */

/*
 * Go's (*tls.Conn).Read and Write (register ABI): go_tls_enter on the first
 * instruction, go_tls_ret on every RET instruction of the function (a
 * uretprobe would replace the return address on a goroutine stack, which the
 * runtime moves and unwinds). r14 holds the running goroutine (g) in Go code;
 * a goroutine may move to another thread during the call, so the call is
 * paired by (pid, g), never by thread.
 *
 * The call's data: b[:n] on return for both Read and Write (Write does not
 * change b; its caller waits for it). If b lies on the goroutine's stack and
 * the stack grew during the call, the runtime copied it (same distance from
 * the top: adjusted by new hi - old hi), so the pointer is moved likewise.
 *
 * The socket: read from the Conn at entry when user space knows the layout
 * (DWARF) and the interface holds a *net.TCPConn; otherwise the socket I/O the
 * goroutine does inside the call. Such I/O happens on whatever thread runs it,
 * and is tied to the call by the goroutine the thread runs at that moment: Go
 * keeps it in a thread-local slot (fsbase - 8 when Go links alone), which
 * go_tls_enter finds per process by its value, r14, and checks on every call.
 */

/* Go's runtime.g starts with stack {lo, hi} (the prologue's stack check reads stackguard0 at 16). */
#define GO_G_STACK_OFF 0
/* itab.hash (after the interface and type pointers), Go 1.2 to today */
#define GO_ITAB_HASH_OFF 16
/* bytes below the thread pointer searched for the g slot */
#define GO_G_SLOT_SCAN 8

const struct as_go_cfg *unused_go_cfg __attribute__((unused));

/* number in cookie bits 16-31 -> what is known of that executable */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct as_go_cfg);
} go_cfg SEC(".maps");

struct go_key {
	__u32 pid;
	__u32 _pad;
	__u64 g;
};

struct go_call {
	struct pending p;
	__u64 stack_lo;	/* the goroutine's stack at entry */
	__u64 stack_hi;
};

/*
 * (pid, goroutine) -> the Go TLS call it is inside. LRU: a goroutine blocked
 * in Read when its program exits (an HTTP client's read loop always is) never
 * returns, so entries that are never taken are common and must make room;
 * a return whose entry went is counted (AS_STAT_GO_UNPAIRED).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, struct go_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");

/* pid -> offset of the g slot from the thread pointer (fsbase), found by go_tls_enter */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __s64);
} go_g_slot SEC(".maps");

static __always_inline __u64 thread_pointer(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(task, thread.fsbase);
}

/* The goroutine the current thread runs, through the process's g slot; 0 if unknown. */
static __always_inline __u64 current_g(__u32 pid)
{
	__s64 *off = bpf_map_lookup_elem(&go_g_slot, &pid);
	if (!off)
		return 0;
	__u64 tp = thread_pointer(), g = 0;
	if (!tp || bpf_probe_read_user(&g, sizeof(g), (void *)(tp + *off)))
		return 0;
	return g;
}

/*
 * Make sure the process's g slot is known: check the one found before against
 * the goroutine in r14, else search the words just below the thread pointer
 * for it (the one nearest the thread pointer wins).
 */
static __always_inline void go_find_g_slot(__u32 pid, __u64 g)
{
	__u64 tp = thread_pointer(), v = 0;
	if (!tp)
		return;
	__s64 *known = bpf_map_lookup_elem(&go_g_slot, &pid);
	if (known && !bpf_probe_read_user(&v, sizeof(v), (void *)(tp + *known)) && v == g)
		return;
	__u64 w[GO_G_SLOT_SCAN] = {};
	__s64 off = 0;
	if (bpf_probe_read_user(w, sizeof(w), (void *)(tp - sizeof(w)))) {
		/* the words below may be unmapped: try the usual slot alone */
		if (!bpf_probe_read_user(&v, sizeof(v), (void *)(tp - 8)) && v == g)
			off = -8;
	} else {
		for (int i = GO_G_SLOT_SCAN - 1; i >= 0; i--) {
			if (w[i] == g) {
				off = (__s64)(i - GO_G_SLOT_SCAN) * 8;
				break;
			}
		}
	}
	if (off)
		bpf_map_update_elem(&go_g_slot, &pid, &off, BPF_ANY);
	else if (known)
		bpf_map_delete_elem(&go_g_slot, &pid);
}

/* Socket I/O (sk, or on old kernels a syscall's fd) of a goroutine inside a Go TLS call: tied to it. */
static __always_inline bool go_note_io(struct sock *sk, int fd)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct go_key k = { .pid = pid, .g = current_g(pid) };
	if (!k.g)
		return false;
	struct go_call *c = bpf_map_lookup_elem(&go_calls, &k);
	if (!c)
		return false;
	if (sk) {
		if (!c->p.sk)
			c->p.sk = (__u64)sk;
	} else if (c->p.fd < 0 && is_socket(fd)) {
		c->p.fd = fd;
	}
	return true;
}

/*
 * The socket fd of a Conn whose conn field holds a *net.TCPConn (its itab's
 * hash says so): Conn.conn -> TCPConn.fd -> netFD.pfd.Sysfd. -1 otherwise.
 */
static __always_inline int go_conn_fd(const struct as_go_cfg *gc, __u64 conn)
{
	__u64 iface[2] = {}; /* itab, data */
	__u32 hash = 0;
	__u64 nfd = 0;
	__s64 sysfd = -1;
	if (bpf_probe_read_user(iface, sizeof(iface), (void *)(conn + gc->conn_conn)) || !iface[0] || !iface[1])
		return -1;
	if (bpf_probe_read_user(&hash, sizeof(hash), (void *)(iface[0] + GO_ITAB_HASH_OFF)) || hash != gc->itab_hash)
		return -1;
	if (bpf_probe_read_user(&nfd, sizeof(nfd), (void *)(iface[1] + gc->tcpconn_fd)) || !nfd)
		return -1;
	if (bpf_probe_read_user(&sysfd, sizeof(sysfd), (void *)(nfd + gc->netfd_pfd + gc->fd_sysfd)))
		return -1;
	if (sysfd < 0 || sysfd > 0x7fffffff || !is_socket((int)sysfd))
		return -1;
	return (int)sysfd;
}

SEC("uprobe")
int go_tls_enter(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u32 kind = cookie & 0xff;
	__u64 conn = ctx->ax, g = ctx->r14;

	if (pid == cfg.self_pid)
		return 0;
	if (kind == AS_KIND_GO_CLOSE) {
		/* the session ends: forget its socket before another Conn gets its address */
		struct conn_key ck = { .pid = pid, .ssl = conn };
		bpf_map_delete_elem(&conns, &ck);
		return 0;
	}
	if (kind != AS_KIND_GO_READ && kind != AS_KIND_GO_WRITE)
		return 0;
	if (cfg.has_uid && (__u32)bpf_get_current_uid_gid() != cfg.uid)
		return 0;
	if (cfg.filter_tracked && !is_tracked(pid))
		return 0;
	if (!g)
		return 0;

	struct go_call c = {
		.p = {
			.ssl = conn,
			.buf = ctx->bx,
			.ts = bpf_ktime_get_ns(),
			.kind = kind,
			.lib = AS_LIB_GO,
			.fd = -1,
		},
	};
	__u64 stack[2] = {};
	if (!bpf_probe_read_user(stack, sizeof(stack), (void *)(g + GO_G_STACK_OFF))) {
		c.stack_lo = stack[0];
		c.stack_hi = stack[1];
	}
	go_find_g_slot(pid, g);
	__u32 bin = (cookie >> 16) & 0xffff;
	struct as_go_cfg *gc = bpf_map_lookup_elem(&go_cfg, &bin);
	if (gc && (gc->flags & AS_GO_F_SYSFD)) {
		c.p.fd = go_conn_fd(gc, conn);
		/* its socket now: another goroutine may close the Conn (and the fd) before this call returns */
		if (c.p.fd >= 0)
			c.p.sk = (__u64)fd_sock(c.p.fd);
	}
	/* entered again after growing its stack (morestack jumps back to the entry): the later one holds */
	struct go_key k = { .pid = pid, .g = g };
	if (bpf_map_update_elem(&go_calls, &k, &c, BPF_ANY))
		stat_add(AS_STAT_PENDING_FULL, 1);
	return 0;
}

/* Connection of a Go call: its fd (from the Conn, or a syscall inside it), its socket I/O, else what is known of the Conn. */
static __always_inline bool go_resolve_conn(__u32 pid, const struct pending *p, struct conn_info *ci)
{
	struct conn_key ck = { .pid = pid, .ssl = p->ssl };
	if (p->fd >= 0) {
		/* the fd's socket at entry when the fd came from the Conn, else (a syscall's fd) the fd's socket now */
		if (p->sk) {
			ci->fd = p->fd;
			sock_addrs((struct sock *)p->sk, ci);
		} else {
			socket_info(p->fd, ci);
		}
		struct conn_info *known = bpf_map_lookup_elem(&conns, &ck);
		if (!known || !same_conn(known, ci))
			bpf_map_update_elem(&conns, &ck, ci, BPF_ANY);
		return true;
	}
	if (p->sk) {
		conn_from_sock(&ck, (struct sock *)p->sk, ci);
		return true;
	}
	/* a Read served from what the Conn had buffered, or a call that did no I/O */
	struct conn_info *known = bpf_map_lookup_elem(&conns, &ck);
	if (known && (!known->sk || sock_still(known)))
		*ci = *known;
	return false;
}

SEC("uprobe")
int go_tls_ret(struct pt_regs *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u32 kind = bpf_get_attach_cookie(ctx) & 0xff;
	struct go_key k = { .pid = pid, .g = ctx->r14 };
	struct go_call *cp = bpf_map_lookup_elem(&go_calls, &k);
	if (!cp) {
		/* a call go_tls_enter would have recorded: its entry was evicted, or came before the probes */
		if (pid != cfg.self_pid && (kind == AS_KIND_GO_READ || kind == AS_KIND_GO_WRITE) && k.g &&
		    (!cfg.has_uid || (__u32)bpf_get_current_uid_gid() == cfg.uid) && (!cfg.filter_tracked || is_tracked(pid)))
			stat_add(AS_STAT_GO_UNPAIRED, 1);
		return 0;
	}
	struct go_call c = *cp;
	bpf_map_delete_elem(&go_calls, &k);
	if (c.p.kind != kind) {
		stat_add(AS_STAT_SSL_UNPAIRED, 1);
		return 0;
	}

	__s64 n = ctx->ax;
	__u64 len = n > 0 ? n : 0;
	/* a buffer on the goroutine's stack moved with it */
	if (c.p.buf >= c.stack_lo && c.p.buf < c.stack_hi) {
		__u64 stack[2] = {};
		if (!bpf_probe_read_user(stack, sizeof(stack), (void *)(k.g + GO_G_STACK_OFF)) && stack[1] != c.stack_hi)
			c.p.buf += stack[1] - c.stack_hi;
	}
	struct conn_info ci = { .fd = -1 };
	bool this_call = go_resolve_conn(pid, &c.p, &ci);
	if (len == 0)
		return 0;
	emit_record(&c.p, n, (kind == AS_KIND_GO_READ ? AS_SSL_READ : AS_SSL_WRITE) | (this_call ? EMIT_THIS_CALL : 0), len, &ci);
	return 0;
}
