#!/usr/bin/env bash
# Builds the prebuilt addon the npm package ships, prebuilds/linux-x64/agentsight.node,
# so that it loads on glibc 2.31 and later (Debian 11, Ubuntu 20.04 and later) with
# every Node >= 20 (N-API 8). As root.
#
# The C++ addon and libbpf are compiled in a Debian 11 chroot (scripts/chroots.sh
# build-bullseye: its gcc, glibc and libelf-dev); the eBPF objects, which are data,
# are compiled here with clang and embedded. The result is checked: no GLIBC_ symbol
# version above 2.31, no exported libbpf symbol, no shared library beyond libelf, zlib
# and the C/C++ runtime. Skipped when the prebuilt is current (scripts/prebuilt.js);
# --force rebuilds. The chroot keeps its build directory, so rebuilds are incremental.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"

MAX_GLIBC=2.31
MAX_GLIBCXX=3.4.28 # gcc 10's libstdc++ (Debian 11, Ubuntu 20.04)
ALLOWED_NEEDED="libelf.so.1 libz.so.1 libstdc++.so.6 libgcc_s.so.1 libc.so.6 libm.so.6 libpthread.so.0"

say() { printf '\033[1m[prebuilt]\033[0m %s\n' "$*" >&2; }
die() { printf 'build-prebuilt: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (the build runs in a chroot)"
[ "$(uname -m)" = x86_64 ] || die "builds the linux-x64 prebuilt only, on x86_64 (this is $(uname -m))"
if [ "${1:-}" != --force ] && node -e "process.exit(require('./scripts/prebuilt.js').prebuiltProblem() ? 1 : 0)"; then
  say "prebuilds/linux-x64/agentsight.node is current"
  exit 0
fi
[ -d node_modules/node-gyp ] && [ -d node_modules/node-addon-api ] || die "run npm ci first (node-gyp and node-addon-api come from node_modules)"
nodedir="$(node scripts/node-headers.js)"
[ -n "$nodedir" ] || die "no Node headers (include/node/node_api.h) beside $(command -v node) or in /usr"
nodeinc="$nodedir/include/node"

t0=$SECONDS
root="$(bash "$here/chroots.sh" ensure build-bullseye)"
t_chroot=$((SECONDS - t0))
lockfile="$root.build.lock"
exec 9>"$lockfile"
flock 9

# eBPF objects, here (clang), against libbpf's pinned headers.
host_gen="$repo/build/prebuilt-host"
node scripts/libbpf.js --headers "$host_gen/libbpf"
node scripts/build-bpf.js "$host_gen/bpf" --include "$host_gen/libbpf/include"
tarball="$(node scripts/libbpf.js --fetch)"

# Sources into the chroot, mtimes kept so make rebuilds only what changed.
work="$root/build/agentsight"
mkdir -p "$work" "$root/build/bpf-objects" "$root/build/node/include"
for f in binding.gyp package.json native bpf scripts; do
  rm -rf "${work:?}/$f"
  cp -a "$f" "$work/"
done
cp -a "$host_gen/bpf/"*.bpf.o "$root/build/bpf-objects/"
# The chroot's build directory is shared by every checkout that builds here: make judges the
# embedded objects by mtimes, which cp -a keeps, so a checkout whose sources are older than
# another's last build would get that build's objects. The embedding is regenerated each time.
rm -f "$work/build/Release/obj/gen/bpf_objects.cc"
cp "$tarball" "$root/build/libbpf.orig.tar.gz"

t1=$SECONDS
say "building in $root (Debian $(cat "$root/etc/debian_version"))"
bash "$here/chroots.sh" run --bind "$repo/node_modules:/build/agentsight/node_modules" --bind "$nodeinc:/build/node/include/node" build-bullseye -- \
  /usr/bin/env AGENTSIGHT_BPF_OBJECTS=/build/bpf-objects AGENTSIGHT_LIBBPF_TARBALL=/build/libbpf.orig.tar.gz AGENTSIGHT_LIBBPF=static \
  sh -c 'cd /build/agentsight && node node_modules/node-gyp/bin/node-gyp.js configure --nodedir=/build/node >/dev/null &&
         node node_modules/node-gyp/bin/node-gyp.js build -j "$(nproc)"'
t_build=$((SECONDS - t1))

out="$repo/prebuilds/linux-x64"
mkdir -p "$out"
built="$work/build/Release/agentsight.node"
[ -f "$built" ] || die "the build produced no $built"
tmp="$out/agentsight.node.tmp"
strip --strip-unneeded -o "$tmp" "$built"

# Checks: symbol versions, exported symbols, libraries needed.
ver_max() { objdump -T "$tmp" | grep -o "$1_[0-9][0-9.]*" | sed "s/^$1_//" | sort -uV | tail -1; }
glibc="$(ver_max GLIBC)"
glibcxx="$(ver_max GLIBCXX)"
[ "$(printf '%s\n%s\n' "$glibc" "$MAX_GLIBC" | sort -V | tail -1)" = "$MAX_GLIBC" ] || { rm -f "$tmp"; die "the addon needs GLIBC_$glibc (more than $MAX_GLIBC): $(objdump -T "$built" | grep "GLIBC_$glibc" | head -3)"; }
[ -z "$glibcxx" ] || [ "$(printf '%s\n%s\n' "$glibcxx" "$MAX_GLIBCXX" | sort -V | tail -1)" = "$MAX_GLIBCXX" ] || { rm -f "$tmp"; die "the addon needs GLIBCXX_$glibcxx (more than $MAX_GLIBCXX)"; }
exported="$(nm -D --defined-only "$tmp" | awk '{print $3}' | grep -E '^(bpf|btf|libbpf|ring_buffer|perf_buffer|user_ring_buffer|bpf_object|bpf_program|bpf_map|bpf_link)_' || true)"
[ -z "$exported" ] || { rm -f "$tmp"; die "libbpf symbols are exported: $(echo "$exported" | head -5 | tr '\n' ' ')"; }
for lib in $(readelf -d "$tmp" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  case " $ALLOWED_NEEDED " in *" $lib "*) ;; *) rm -f "$tmp"; die "the addon needs $lib (allowed: $ALLOWED_NEEDED)" ;; esac
done
needed="$(readelf -d "$tmp" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
mv "$tmp" "$out/agentsight.node"
libbpf_version="$(node -p "require('./scripts/libbpf.js').LIBBPF.version")"
AGENTSIGHT_PREBUILT_INFO="$(node -p "JSON.stringify({builtOn: 'Debian $(cat "$root/etc/debian_version")', gcc: '$(chroot "$root" gcc -dumpfullversion)', libbpf: '$libbpf_version', napi: 8, maxGlibc: '$glibc', maxGlibcxx: '$glibcxx', needed: '${needed% }'.split(' ')})")" \
  node scripts/prebuilt.js --stamp "$out/agentsight.node"
node -e "const b = require('$out/agentsight.node'); if (!b.embeddedObjects().length) process.exit(1)" || die "the prebuilt addon does not load here"
size="$(stat -c %s "$out/agentsight.node")"
say "prebuilds/linux-x64/agentsight.node: $((size / 1024)) KiB, GLIBC <= $glibc, GLIBCXX <= ${glibcxx:-none}, needs ${needed% }"
say "times: chroot ${t_chroot} s, build in the chroot ${t_build} s, total $((SECONDS - t0)) s"
