// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Process lifecycle tracer: EXEC, EXIT, FORK and FILE_OPEN.
 *
 * Tracepoints only (no kprobes needed):
 *   sched_process_exec / sched_process_exit / sched_process_fork,
 *   syscalls/sys_{enter,exit}_{openat,openat2,open,creat}, or where tracefs
 *   is missing sys_enter / sys_exit (file opens only).
 *
 * It also maintains the "tracked" map: processes selected by --comm/--pid, or
 * running in a selected cgroup (--cgroup/--container: the cgroup or any below
 * it), and every descendant, inherited at fork time, so a child is tracked
 * before it execs. The TLS object shares that map.
 */
#include "common.bpf.h"

#ifndef __TARGET_ARCH_x86
#error "process.bpf.c: syscall numbers and registers are only defined for x86_64"
#endif

#define NR_open 2
#define NR_creat 85
#define NR_openat 257
#define NR_openat2 437

#define AT_FDCWD -100
#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000

#define FILENAME_CAP 512	/* exec filename bytes (incl. NUL) */
#define ARGV_CAP 16384		/* hard upper bound of cfg.argv_max */
#define PATH_CAP 4096		/* open() path bytes (incl. NUL) = PATH_MAX */
#define PATHBUF 8192		/* scratch to build a directory path backwards */
#define PATH_DEPTH 48		/* directory components walked */
#define NAME_CAP 256		/* one component (NAME_MAX 255) */
#define SCRATCH_SIZE 32768
#define CGROUP_DEPTH 32		/* cgroup ancestors looked at for a selected one */

const volatile struct as_process_config cfg = {};

/* Force the record layouts into BTF so tests can compare them with lib/abi.ts. */
const struct as_exec *unused_exec __attribute__((unused));
const struct as_exit *unused_exit __attribute__((unused));
const struct as_fork *unused_fork __attribute__((unused));
const struct as_file_open *unused_file_open __attribute__((unused));
const struct as_process_config *unused_process_config __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* resized from user space before load */
} process_rb SEC(".maps");

struct scratch {
	__u8 buf[SCRATCH_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/*
 * The state of a directory walk (walk_step). It lives in the map value, not
 * on the stack: the verifier does not track values in map memory, so it
 * checks the step once instead of once per distinct offset (PATH_DEPTH
 * passes, most of the object's load time).
 */
struct walk_ctx {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *m;
	struct mount *mparent;
	__u32 off;
	__u32 trunc;
};

struct pathbuf {
	char buf[PATHBUF];
	struct walk_ctx walk;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pathbuf);
} pathbufs SEC(".maps");

/* pid -> exec time, for the EXIT duration. LRU: losing one only falls back to fork time. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} exec_ts SEC(".maps");

struct open_args {
	__u64 path;
	__s32 dfd;
	__u32 flags;
	__u32 mode;
	__u32 syscall;
};

/* Selected cgroups (cgroup v2 ids, filled before attach); n_cgroup says how many. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AS_MAX_CGROUP_FILTERS);
	__type(key, __u64);
	__type(value, __u32);
} sel_cgroups SEC(".maps");

/* tid -> arguments of an open in progress. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct open_args);
} pending_open SEC(".maps");

static __always_inline bool comm_matches(const char *comm)
{
	for (int i = 0; i < AS_MAX_COMM_FILTERS; i++) {
		if (i >= cfg.n_comm)
			break;
		bool ok = true;
		for (int j = 0; j < AS_COMM_LEN; j++) {
			char f = cfg.comm[i][j];
			if (f == 0)
				break;
			if (comm[j] != f) {
				ok = false;
				break;
			}
		}
		if (ok)
			return true;
	}
	return false;
}

/*
 * Is the task in a selected cgroup or below one? Walks its cgroup v2
 * (task->cgroups->dfl_cgrp) up through the parents, so a task that was put
 * in its cgroup at fork (CLONE_INTO_CGROUP) is judged by where it is.
 */
static __always_inline bool in_selected_cgroup(struct task_struct *t)
{
	struct cgroup *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp);
	for (int i = 0; i < CGROUP_DEPTH && cg; i++) {
		__u64 id = BPF_CORE_READ(cg, kn, id);
		if (bpf_map_lookup_elem(&sel_cgroups, &id))
			return true;
		/* self is the first member of struct cgroup: its parent css is the parent cgroup */
		cg = (struct cgroup *)BPF_CORE_READ(cg, self.parent);
	}
	return false;
}

static __always_inline void track(__u32 pid, __u32 root, __u32 reason)
{
	struct as_tracked t = { .root_pid = root, .reason = reason, .since_ns = bpf_ktime_get_ns() };
	long err = bpf_map_update_elem(&tracked, &pid, &t, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST */)
		stat_add(AS_STAT_TRACK_FULL, 1);
}

static __always_inline void *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

/*
 * Records are submitted without waking user space: a wake-up is an
 * inter-processor interrupt, which cost ~13 us per record in a VM (more than
 * the rest of the program). The record that brings the pending data past a
 * quarter of the ring wakes the reader; otherwise it drains on its timer.
 */
static __always_inline __u64 rb_flags(__u64 size)
{
	__u64 avail = bpf_ringbuf_query(&process_rb, BPF_RB_AVAIL_DATA);
	__u64 quarter = bpf_ringbuf_query(&process_rb, BPF_RB_RING_SIZE) / 4;
	return avail < quarter && avail + size >= quarter ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void output(void *data, __u64 size)
{
	if (size > SCRATCH_SIZE)
		return;
	if (bpf_ringbuf_output(&process_rb, data, size, rb_flags(size)))
		stat_add(AS_STAT_RB_DROP_PROCESS, 1);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (pid == cfg.self_pid)
		return 0;

	bool tr = is_tracked(pid);
	if (!tr && cfg.n_cgroup && in_selected_cgroup(p)) {
		track(pid, pid, AS_TRACK_CGROUP);
		tr = true;
	}
	if (!tr && cfg.n_comm) {
		char comm[AS_COMM_LEN];
		bpf_get_current_comm(&comm, sizeof(comm));
		if (comm_matches(comm)) {
			track(pid, pid, AS_TRACK_COMM);
			tr = true;
		}
	}
	if (!cfg.emit)
		return 0;
	if (cfg.mode == AS_MODE_TRACKED && !tr)
		return 0;

	__u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&exec_ts, &pid, &now, BPF_ANY);

	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	struct as_exec *e = (void *)s->buf;
	fill_hdr(&e->hdr, AS_REC_EXEC);
	e->hdr.ts_ns = now;
	e->ppid = BPF_CORE_READ(p, real_parent, tgid);
	e->flags = tr ? AS_F_TRACKED : 0;
	e->_pad0 = 0;

	const char *fname = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(s->buf + sizeof(*e), FILENAME_CAP, fname);
	__u64 flen = n > 0 ? n - 1 : 0;
	if (n == FILENAME_CAP)
		e->flags |= AS_F_FILENAME_TRUNC;
	barrier_var(flen);
	if (flen > FILENAME_CAP - 1)
		flen = FILENAME_CAP - 1;
	e->filename_len = flen;

	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	__u64 arg_start = BPF_CORE_READ(mm, arg_start);
	__u64 arg_end = BPF_CORE_READ(mm, arg_end);
	__u64 full = arg_end > arg_start ? arg_end - arg_start : 0;
	__u64 alen = full;
	__u64 cap = cfg.argv_max;
	if (alen > cap) {
		alen = cap;
		e->flags |= AS_F_ARGV_TRUNC;
		stat_add(AS_STAT_ARGV_TRUNC, 1);
	}
	barrier_var(alen);
	if (alen > ARGV_CAP)
		alen = ARGV_CAP;
	e->argv_full_len = full > 0xffffffff ? 0xffffffff : full;
	__u64 off = sizeof(*e) + flen;
	barrier_var(off);
	if (off > sizeof(*e) + FILENAME_CAP)
		return 0;
	if (alen && bpf_probe_read_user(s->buf + off, alen, (void *)arg_start))
		alen = 0;
	e->argv_len = alen;
	output(s->buf, off + alen);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 cpid = BPF_CORE_READ(child, pid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	if (cpid != ctgid)
		return 0; /* a new thread, not a new process */
	__u32 ppid = BPF_CORE_READ(parent, tgid);
	struct as_tracked *pt = bpf_map_lookup_elem(&tracked, &ppid);
	if (!pt) {
		/* a child started in (or into) a selected cgroup by a parent outside it */
		if (cfg.n_cgroup && in_selected_cgroup(child))
			track(cpid, cpid, AS_TRACK_CGROUP);
		return 0;
	}
	track(cpid, pt->root_pid, AS_TRACK_FORK);
	if (!cfg.emit || ppid == cfg.self_pid)
		return 0;
	struct as_fork f = {};
	fill_hdr(&f.hdr, AS_REC_FORK);
	f.child_pid = cpid;
	f.flags = AS_F_TRACKED;
	if (bpf_ringbuf_output(&process_rb, &f, sizeof(f), rb_flags(sizeof(f))))
		stat_add(AS_STAT_RB_DROP_PROCESS, 1);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, tgid);
	/* Only the end of the whole process: its last thread. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;

	bool tr = is_tracked(pid);
	if (tr)
		bpf_map_delete_elem(&tracked, &pid);
	__u64 *ets = bpf_map_lookup_elem(&exec_ts, &pid);
	__u64 start = ets ? *ets : BPF_CORE_READ(p, start_time);
	if (ets)
		bpf_map_delete_elem(&exec_ts, &pid);

	if (!cfg.emit || pid == cfg.self_pid)
		return 0;
	if (cfg.mode == AS_MODE_TRACKED && !tr)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u64 dur = now > start ? now - start : 0;
	if (dur < cfg.min_duration_ns)
		return 0;

	struct as_exit x = {};
	fill_hdr(&x.hdr, AS_REC_EXIT);
	x.hdr.ts_ns = now;
	x.hdr.pid = pid;
	BPF_CORE_READ_STR_INTO(&x.hdr.comm, p, group_leader, comm);
	x.ppid = BPF_CORE_READ(p, real_parent, tgid);
	__u32 code = BPF_CORE_READ(p, exit_code);
	if (code == 0)
		code = BPF_CORE_READ(p, signal, group_exit_code);
	x.exit_code = code;
	x.duration_ns = dur;
	x.flags = tr ? AS_F_TRACKED : 0;
	if (bpf_ringbuf_output(&process_rb, &x, sizeof(x), rb_flags(sizeof(x))))
		stat_add(AS_STAT_RB_DROP_PROCESS, 1);
	return 0;
}

/* ---- file opens ----------------------------------------------------------- */

static __always_inline bool is_open_nr(long id)
{
	return id == NR_openat || id == NR_openat2 || id == NR_open || id == NR_creat;
}

/*
 * Remember an open's arguments until it returns (per thread). a0..a3 are the
 * system call's first arguments, as the syscall tracepoints and the registers
 * (di, si, dx, r10) give them.
 */
static __always_inline int open_enter(long id, __u64 a0, __u64 a1, __u64 a2, __u64 a3)
{
	struct open_args a = {};
	switch (id) {
	case NR_openat:
		a.dfd = a0;
		a.path = a1;
		a.flags = a2;
		a.mode = a3;
		a.syscall = AS_OPEN_OPENAT;
		break;
	case NR_openat2: {
		struct open_how how = {};
		a.dfd = a0;
		a.path = a1;
		bpf_probe_read_user(&how, sizeof(how), (void *)a2);
		a.flags = how.flags;
		a.mode = how.mode;
		a.syscall = AS_OPEN_OPENAT2;
		break;
	}
	case NR_open:
		a.dfd = AT_FDCWD;
		a.path = a0;
		a.flags = a1;
		a.mode = a2;
		a.syscall = AS_OPEN_OPEN;
		break;
	case NR_creat:
		a.dfd = AT_FDCWD;
		a.path = a0;
		a.flags = O_CREAT | O_WRONLY | O_TRUNC;
		a.mode = a1;
		a.syscall = AS_OPEN_CREAT;
		break;
	default:
		return 0;
	}
	__u64 idt = bpf_get_current_pid_tgid();
	__u32 pid = idt >> 32, tid = (__u32)idt;
	if (pid == cfg.self_pid)
		return 0;
	if (cfg.mode != AS_MODE_ALL && !is_tracked(pid))
		return 0;
	bpf_map_update_elem(&pending_open, &tid, &a, BPF_ANY);
	return 0;
}

/*
 * Two ways in, chosen at load: the per-syscall tracepoints (syscalls/sys_enter_openat
 * etc., need tracefs) make only the open system calls slower; the raw
 * sys_enter/sys_exit hooks (no tracefs needed) add a cost to every system call
 * of every process (measured here: ~126 ns against ~46 ns).
 */
#define OPEN_ENTER(nr, ctx) open_enter(nr, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3])

SEC("tracepoint/syscalls/sys_enter_openat")
int handle_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return OPEN_ENTER(NR_openat, ctx);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int handle_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	return OPEN_ENTER(NR_openat2, ctx);
}

SEC("tracepoint/syscalls/sys_enter_open")
int handle_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return OPEN_ENTER(NR_open, ctx);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int handle_enter_creat(struct trace_event_raw_sys_enter *ctx)
{
	return OPEN_ENTER(NR_creat, ctx);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long id)
{
	if (!is_open_nr(id))
		return 0;
	return open_enter(id, BPF_CORE_READ(regs, di), BPF_CORE_READ(regs, si), BPF_CORE_READ(regs, dx), BPF_CORE_READ(regs, r10));
}

/* One step of the directory walk (bpf_loop callback): 0 continues, 1 stops. */
static long walk_step(__u32 i, void *c)
{
	__u32 zero = 0;
	struct pathbuf *pb = bpf_map_lookup_elem(&pathbufs, &zero);
	if (!pb)
		return 1;
	struct walk_ctx *w = &pb->walk;
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *m = w->m;
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	if (dentry == mnt_root || dentry == parent) {
		if (dentry != mnt_root)
			return 1; /* disconnected dentry */
		struct mount *mp = w->mparent;
		if (m != mp) {
			/* cross into the parent mount */
			w->dentry = BPF_CORE_READ(m, mnt_mountpoint);
			w->m = mp;
			w->mparent = BPF_CORE_READ(mp, mnt_parent);
			w->vfsmnt = (void *)mp + bpf_core_field_offset(struct mount, mnt);
			return 0;
		}
		return 1; /* global root */
	}
	__u32 len = BPF_CORE_READ(dentry, d_name.len);
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	__u32 off = w->off;
	if (len > NAME_CAP - 1)
		len = NAME_CAP - 1;
	if (off > PATHBUF / 2 || off < len + 1 + NAME_CAP) {
		w->trunc = 1;
		return 1;
	}
	off -= len;
	off &= PATHBUF / 2 - 1;
	bpf_probe_read_kernel(pb->buf + off, len & (NAME_CAP - 1), name);
	off -= 1;
	off &= PATHBUF / 2 - 1;
	pb->buf[off] = '/';
	w->off = off;
	w->dentry = parent;
	return 0;
}

/*
 * Write the absolute path of a directory backwards into pathbufs so that it
 * ends at PATHBUF/2. Returns the start offset; sets *trunc when it was cut.
 */
static __always_inline __u32 build_dir_path(struct path *path, struct pathbuf *pb, bool *trunc)
{
	struct walk_ctx *w = &pb->walk;
	struct vfsmount *vfsmnt = BPF_CORE_READ(path, mnt);
	struct mount *m = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
	w->dentry = BPF_CORE_READ(path, dentry);
	w->vfsmnt = vfsmnt;
	w->m = m;
	w->mparent = BPF_CORE_READ(m, mnt_parent);
	w->off = PATHBUF / 2;
	w->trunc = 0;
	long n = bpf_loop(PATH_DEPTH, walk_step, NULL, 0);
	/* the walk stops by itself at the root: using every step means it was cut */
	*trunc = w->trunc || n >= PATH_DEPTH;
	__u32 off = w->off;
	if (off >= PATHBUF / 2) {
		off = PATHBUF / 2 - 1;
		pb->buf[off] = '/';
	}
	return off;
}

/* An open returned: report it with the arguments its entry saved. */
static __always_inline int open_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct open_args *a = bpf_map_lookup_elem(&pending_open, &tid);
	if (!a)
		return 0;
	struct open_args args = *a;
	bpf_map_delete_elem(&pending_open, &tid);

	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	struct as_file_open *e = (void *)s->buf;
	fill_hdr(&e->hdr, AS_REC_FILE_OPEN);
	e->ret = ret;
	e->dfd = args.dfd;
	e->open_flags = args.flags;
	e->mode = args.mode;
	e->syscall = args.syscall;
	e->flags = 0;
	e->base_len = 0;
	e->_pad0 = 0;

	long n = bpf_probe_read_user_str(s->buf + sizeof(*e), PATH_CAP, (void *)args.path);
	__u64 plen = n > 0 ? n - 1 : 0;
	barrier_var(plen);
	if (plen > PATH_CAP - 1)
		plen = PATH_CAP - 1;
	if (n == PATH_CAP) {
		e->flags |= AS_F_PATH_TRUNC;
		stat_add(AS_STAT_PATH_TRUNC, 1);
	}
	e->path_len = plen;
	__u64 size = sizeof(*e) + plen;

	char first = s->buf[sizeof(*e)];
	if (plen > 0 && first != '/') {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct path base = {};
		bool have = false;
		if (args.dfd == AT_FDCWD) {
			base = BPF_CORE_READ(task, fs, pwd);
			have = true;
		} else if (args.dfd >= 0) {
			struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
			__u32 max = BPF_CORE_READ(fdt, max_fds);
			if ((__u32)args.dfd < max) {
				struct file **fds = BPF_CORE_READ(fdt, fd);
				struct file *f = NULL;
				bpf_probe_read_kernel(&f, sizeof(f), &fds[args.dfd]);
				if (f) {
					base = BPF_CORE_READ(f, f_path);
					have = true;
				}
			}
		}
		__u32 zero = 0;
		struct pathbuf *pb = bpf_map_lookup_elem(&pathbufs, &zero);
		if (have && pb) {
			bool trunc = false;
			__u32 start = build_dir_path(&base, pb, &trunc);
			__u64 blen = PATHBUF / 2 - start;
			barrier_var(blen);
			if (blen > PATHBUF / 2)
				blen = PATHBUF / 2;
			if (trunc) {
				e->flags |= AS_F_BASE_TRUNC;
				stat_add(AS_STAT_PATH_TRUNC, 1);
			}
			__u64 off = size;
			barrier_var(off);
			if (off <= sizeof(*e) + PATH_CAP && blen > 0) {
				bpf_probe_read_kernel(s->buf + off, blen, pb->buf + (start & (PATHBUF / 2 - 1)));
				e->base_len = blen;
				size = off + blen;
			}
		}
	}
	output(s->buf, size);
	return 0;
}

/* attached to syscalls/sys_exit_{openat,openat2,open,creat} (same record layout) */
SEC("tracepoint/syscalls/sys_exit_openat")
int handle_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	if (!is_open_nr(BPF_CORE_READ(regs, orig_ax)))
		return 0;
	return open_exit(ret);
}
