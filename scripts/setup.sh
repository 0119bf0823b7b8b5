#!/usr/bin/env bash
# Sets up everything agentsight needs on a Debian/Ubuntu machine, as root
# (through sudo when run as another user and sudo is there): system packages,
# npm dependencies, the native addon (with its eBPF objects and libbpf, built
# from libbpf's pinned source, which is fetched from the Debian mirror) and the
# TypeScript build. Idempotent; safe to run again.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
as_root "$0" "$@"
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# Build: clang llvm (eBPF), gcc g++ make python3 (addon, libbpf), libelf-dev zlib1g-dev.
# Tests: the TLS clients and tools they drive; debootstrap for the Debian chroots.
PKGS=(clang llvm libelf-dev zlib1g-dev make gcc g++ python3 curl openssl ca-certificates bpftool bpftrace zstd gnutls-bin libnss3-tools util-linux binutils android-libboringssl debootstrap debian-archive-keyring)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs npm); fi
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js >= 20 is required (found $(node --version)); install a newer Node.js and run again" >&2
  exit 1
fi

# Build the addon against this machine's Node headers; never download them.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then
  export npm_config_nodedir=/usr
fi

say "npm ci (builds the native addon and its eBPF objects)"
npm ci --no-audit --no-fund
say "compiling TypeScript"
npm run --silent build:ts
say "ready: $(node -p "const b = require('./dist/kernel/binding').getBinding(); b.embeddedObjects().join(', ') + ' eBPF objects embedded, libbpf ' + b.libbpfVersion()")"
