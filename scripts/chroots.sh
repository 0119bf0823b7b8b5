#!/usr/bin/env bash
# Debian chroots made with debootstrap from this machine's Debian mirror
# (scripts/apt-sources.js; deb.debian.org otherwise), cached under
# ~/.cache/agentsight/chroots (AGENTSIGHT_CHROOT_DIR). Made when missing, so a
# fresh machine needs nothing but the registries. As root.
#
#   build-bullseye  Debian 11 with gcc, g++, make, python3, libelf-dev, zlib1g-dev:
#                   scripts/build-prebuilt.sh builds the prebuilt addon there (glibc 2.31)
#   bullseye        Debian 11, minbase + libelf1 zlib1g curl ca-certificates (no compiler)
#   bookworm        Debian 12, the same: test/privileged/install-chroot.test.ts installs
#                   the packed package there and records a TLS call
#
#   scripts/chroots.sh ensure [NAME...]       make the missing ones (default: all), print their paths
#   scripts/chroots.sh run [--overlay DIR] [--bind SRC:DST]... NAME -- CMD [ARGS...]
#       run CMD inside, in a mount namespace of its own (proc, sys, dev and the binds are
#       mounted there and vanish with it, whatever happens). --overlay DIR keeps the cached
#       chroot untouched: writes go to DIR/upper. The host's node and npm are bound in at
#       /usr/local/bin/node and /usr/local/lib/node_modules/npm (npm, npx on PATH).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

CHROOTS="${AGENTSIGHT_CHROOT_DIR:-${AGENTSIGHT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/agentsight}/chroots}"
ALL=(build-bullseye bullseye bookworm)

say() { printf '[chroots] %s\n' "$*" >&2; }
die() { printf 'chroots: %s\n' "$*" >&2; exit 1; }

spec() {
  case "$1" in
    build-bullseye) echo "bullseye gcc,g++,make,python3,libelf-dev,zlib1g-dev" ;;
    bullseye) echo "bullseye libelf1,zlib1g,curl,ca-certificates" ;;
    bookworm) echo "bookworm libelf1,zlib1g,curl,ca-certificates" ;;
    *) die "unknown chroot '$1' (known: ${ALL[*]})" ;;
  esac
}

need_root() { [ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and mount need it)"; }

need_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] && return
  say "installing debootstrap and debian-archive-keyring"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap debian-archive-keyring >/dev/null
}

ensure() {
  local name=$1 dir="$CHROOTS/$1" want
  want="$(spec "$name")"
  if [ -f "$dir/.agentsight-chroot" ] && [ "$(cat "$dir/.agentsight-chroot")" = "$want" ]; then
    echo "$dir"
    return
  fi
  need_root
  mkdir -p "$CHROOTS"
  exec 8>"$CHROOTS/$name.lock"
  flock 8
  if [ ! -f "$dir/.agentsight-chroot" ] || [ "$(cat "$dir/.agentsight-chroot")" != "$want" ]; then
    need_debootstrap
    local suite=${want%% *} pkgs=${want#* } mirror t0=$SECONDS
    mirror="$(node "$here/apt-sources.js" --debian "$suite")"
    say "debootstrap $name ($suite, minbase + $pkgs) from $mirror into $dir"
    rm -rf "$dir.tmp"
    if ! debootstrap --variant=minbase --include="$pkgs" "$suite" "$dir.tmp" "$mirror" >"$CHROOTS/$name.log" 2>&1; then
      tail -20 "$CHROOTS/$name.log" >&2
      rm -rf "$dir.tmp"
      die "debootstrap of $name failed (log: $CHROOTS/$name.log)"
    fi
    rm -rf "$dir.tmp/var/cache/apt/archives/"*.deb "$dir.tmp/var/lib/apt/lists/"*_Packages
    echo "$want" >"$dir.tmp/.agentsight-chroot"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    say "$name ready in $((SECONDS - t0)) s ($(du -sh "$dir" | cut -f1))"
  fi
  exec 8>&-
  echo "$dir"
}

run() {
  need_root
  local overlay="" binds=() name=""
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    case "$1" in
      --overlay) overlay=$2; shift 2 ;;
      --bind) binds+=("$2"); shift 2 ;;
      *) [ -z "$name" ] || die "run: one chroot name, got '$name' and '$1'"; name=$1; shift ;;
    esac
  done
  [ -n "$name" ] && [ "${1:-}" = -- ] && [ $# -gt 1 ] || die "usage: chroots.sh run [--overlay DIR] [--bind SRC:DST]... NAME -- CMD [ARGS...]"
  shift
  local root node npmdir
  root="$(ensure "$name")"
  node="$(readlink -f "$(command -v node)")"
  npmdir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  [ -f "$npmdir/bin/npm-cli.js" ] || die "cannot find npm's directory (got $npmdir)"
  binds+=("$node:/usr/local/bin/node" "$npmdir:/usr/local/lib/node_modules/npm" "$(readlink -f /etc/resolv.conf):/etc/resolv.conf")
  # The environment inside: a clean one that reaches the npm registry as this machine does
  # (its registry, proxies and CA files, which a TLS-inspecting proxy may need).
  # (Not npm_config_* of this environment as a whole: under npm they name this machine's prefix.)
  local envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb
    npm_config_update_notifier=false npm_config_audit=false npm_config_fund=false)
  while IFS= read -r v; do envs+=("$v"); done < <(env | grep -E '^(https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY|AGENTSIGHT_[A-Z_]+)=' || true)
  local k v
  while IFS='=' read -r k v; do
    case "$k:$v" in
      *:null | *: | strict-ssl:true) ;;
      cafile:*) [ -f "$v" ] && binds+=("$v:/run/agentsight/npm-ca.pem") && envs+=(npm_config_cafile=/run/agentsight/npm-ca.pem) ;;
      *) envs+=("npm_config_${k//-/_}=$v") ;;
    esac
  done < <(npm config get registry cafile proxy https-proxy noproxy strict-ssl 2>/dev/null || true)
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
    binds+=("$NODE_EXTRA_CA_CERTS:/run/agentsight/node-extra-ca.pem")
    envs+=(NODE_EXTRA_CA_CERTS=/run/agentsight/node-extra-ca.pem)
  fi
  unshare --mount --propagation private -- bash -euc '
    root=$1 overlay=$2 nb=$3; shift 3
    if [ -n "$overlay" ]; then
      mkdir -p "$overlay/upper" "$overlay/work" "$overlay/merged"
      mount -t overlay overlay -o "lowerdir=$root,upperdir=$overlay/upper,workdir=$overlay/work" "$overlay/merged"
      root=$overlay/merged
    fi
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    for ((i = 0; i < nb; i++)); do
      src=${1%%:*} dst=$root${1#*:}; shift
      if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "$(dirname "$dst")"; [ -e "$dst" ] && [ ! -L "$dst" ] || { rm -f "$dst"; touch "$dst"; }; fi
      mount --bind "$src" "$dst"
    done
    ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
    ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
    ne=$1; shift
    envs=("${@:1:$ne}"); shift "$ne"
    exec chroot "$root" /usr/bin/env -i "${envs[@]}" "$@"
  ' _ "$root" "$overlay" "${#binds[@]}" "${binds[@]}" "${#envs[@]}" "${envs[@]}" "$@"
}

cmd=${1:-ensure}
[ $# -gt 0 ] && shift
case "$cmd" in
  ensure)
    [ $# -gt 0 ] || set -- "${ALL[@]}"
    for n in "$@"; do ensure "$n"; done
    ;;
  run) run "$@" ;;
  *) die "usage: chroots.sh ensure [NAME...] | run [--overlay DIR] [--bind SRC:DST]... NAME -- CMD [ARGS...]" ;;
esac
