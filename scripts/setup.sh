#!/usr/bin/env bash
# Sets up everything agentsight needs on a Debian/Ubuntu machine, as root:
# system packages, npm dependencies, the native addon (with its eBPF objects)
# and the TypeScript build. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (it installs system packages; agentsight itself loads eBPF programs)" >&2
  exit 1
fi

PKGS=(clang llvm libbpf-dev libelf-dev zlib1g-dev pkg-config make g++ python3 curl openssl ca-certificates bpftool bpftrace zstd gnutls-bin libnss3-tools util-linux binutils android-libboringssl)
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
say "ready: $(node -p "require('./build/Release/agentsight.node').embeddedObjects().join(', ')") eBPF objects embedded, libbpf $(node -p "require('./build/Release/agentsight.node').libbpfVersion()")"
