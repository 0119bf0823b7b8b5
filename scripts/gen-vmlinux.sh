#!/usr/bin/env bash
# Regenerates bpf/vmlinux/<arch>/vmlinux.h from the running kernel's BTF.
# The checked-in header lets the eBPF objects build on machines without BTF;
# CO-RE relocations make them run on other kernels.
set -euo pipefail
cd "$(dirname "$0")/.."
case "$(uname -m)" in
  x86_64) arch=x86 ;;
  aarch64) arch=arm64 ;;
  *) echo "gen-vmlinux: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
btf=${1:-/sys/kernel/btf/vmlinux}
[ -r "$btf" ] || { echo "gen-vmlinux: no kernel BTF at $btf" >&2; exit 1; }
mkdir -p "bpf/vmlinux/$arch"
bpftool btf dump file "$btf" format c > "bpf/vmlinux/$arch/vmlinux.h.tmp"
mv "bpf/vmlinux/$arch/vmlinux.h.tmp" "bpf/vmlinux/$arch/vmlinux.h"
echo "gen-vmlinux: bpf/vmlinux/$arch/vmlinux.h from $btf ($(uname -r))"
