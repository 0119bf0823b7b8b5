/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Definitions shared by the eBPF programs of every probe family. */
#ifndef AGENTSIGHT_COMMON_BPF_H
#define AGENTSIGHT_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "events.h"

#define AS_MAX_TRACKED 65536

/* Drop and truncation counters: per-CPU, summed by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AS_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} as_stats SEC(".maps");

/*
 * Processes selected by --pid/--comm and all their descendants. Maintained by
 * process.bpf.c; the TLS object reuses the same map (bpf_map__reuse_fd).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AS_MAX_TRACKED);
	__type(key, __u32);
	__type(value, struct as_tracked);
} tracked SEC(".maps");

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&as_stats, &idx);
	if (v)
		*v += n; /* per-CPU slot: no atomics needed */
}

static __always_inline bool is_tracked(__u32 pid)
{
	return bpf_map_lookup_elem(&tracked, &pid) != NULL;
}

/*
 * Set by the loader where the kernel has the bpf_rdonly_cast kfunc (Linux
 * 6.2+). A load of a pointer field through a trusted pointer (as
 * bpf_get_current_task_btf() gives) makes the verifier search the kernel's
 * whole BTF by name, up to four times, at every path it checks (whether the
 * field is one of the trusted or RCU ones): on Linux 6.18, 43% of
 * process.bpf.o's load and 24% of ssl.bpf.o's. Cast to an untrusted pointer
 * first, the same loads are checked without that search and still run as
 * plain loads (a fault reads zero instead of crashing).
 */
const volatile bool cast_task = false;
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/*
 * Fill the common header for the current task. comm is the process's, not the
 * thread's. Read straight from the task's BTF-typed fields (loads the JIT
 * guards, no helper call each): the same values as bpf_get_current_pid_tgid,
 * bpf_get_current_uid_gid (init namespace) and bpf_get_current_cgroup_id.
 */
static __always_inline void fill_hdr(struct as_hdr *h, __u32 type)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (cast_task)
		task = bpf_rdonly_cast(task, bpf_core_type_id_kernel(struct task_struct));
	const __u64 *comm = (const __u64 *)task->group_leader->comm;

	h->ts_ns = bpf_ktime_get_ns();
	h->type = type;
	h->pid = task->tgid;
	h->tid = task->pid;
	h->uid = task->cred->uid.val;
	h->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	__u64 *out = (__u64 *)h->comm;
	out[0] = comm[0];
	out[1] = comm[1];
}

/*
 * Every enum of events.h, referenced so that the compiler emits them into the
 * object's BTF, where test/unit/abi.test.ts compares them with lib/kernel/abi.ts
 * (an enum only used for its constants would leave no trace there).
 */
struct as_btf_enums {
	enum as_limit limit;
	enum as_record_type record_type;
	enum as_stat stat;
	enum as_flag flag;
	enum as_open_syscall open_syscall;
	enum as_process_mode process_mode;
	enum as_track_reason track_reason;
	enum as_ssl_kind ssl_kind;
	enum as_ssl_func ssl_func;
	enum as_ssl_lib ssl_lib;
	enum as_ssl_flag ssl_flag;
	enum as_go_flag go_flag;
};
const struct as_btf_enums *unused_btf_enums __attribute__((unused));

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#endif /* AGENTSIGHT_COMMON_BPF_H */
