#!/usr/bin/env bash
# Fetch the native binaries of Codex CLI and GitHub Copilot CLI releases from
# their npm packages (npm pack: the registry only; their own installers
# download from GitHub, which is not reachable everywhere):
#   Codex:   @openai/codex@VERSION-linux-x64 -> vendor/x86_64-unknown-linux-musl/bin/codex
#            (a static-pie musl Rust executable), cached as CACHE/codex/VERSION/codex
#   Copilot: @github/copilot-linux-x64@VERSION -> copilot (a Node single-executable
#            application), cached as CACHE/copilot/VERSION/copilot; its runtime (app.js,
#            prebuilds/linux-x64/runtime.node, ...) is unpacked once into
#            CACHE/copilot/VERSION/xdg-cache/copilot/pkg (run it with XDG_CACHE_HOME pointing
#            at CACHE/copilot/VERSION/xdg-cache: it unpacks there and finds it there)
# Versions come from test/support/agents.json (codex, copilot) unless given:
#   scripts/fetch-npm-agents.sh [--cache DIR] [codex@VERSION | copilot@VERSION ...]
# DIR defaults to $AGENTSIGHT_AGENT_CACHE, else ~/.cache/agentsight. Idempotent:
# a version already fetched completely is skipped. Nothing goes into the repository.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cache="${AGENTSIGHT_AGENT_CACHE:-${HOME}/.cache/agentsight}"
wanted=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) cache="$2"; shift 2 ;;
    --cache=*) cache="${1#--cache=}"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fetch-npm-agents: unknown option $1" >&2; exit 2 ;;
    *) wanted+=("$1"); shift ;;
  esac
done
if [ ${#wanted[@]} -eq 0 ]; then
  mapfile -t wanted < <(node -e '
    const a = require(process.argv[1]);
    for (const v of a.codex ?? []) console.log(`codex@${v}`);
    for (const v of a.copilot ?? []) console.log(`copilot@${v}`);' "$repo/test/support/agents.json")
fi

fetch() { # agent version
  local agent="$1" ver="$2" pkg member name
  case "$agent" in
    codex) pkg="@openai/codex@$ver-linux-x64"; member="package/vendor/x86_64-unknown-linux-musl/bin/codex"; name=codex ;;
    copilot) pkg="@github/copilot-linux-x64@$ver"; member="package/copilot"; name=copilot ;;
    *) echo "fetch-npm-agents: unknown agent '$agent'" >&2; exit 2 ;;
  esac
  if ! [[ "$ver" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then echo "fetch-npm-agents: bad version '$ver'" >&2; exit 2; fi
  local dest="$cache/$agent/$ver"
  if [ -x "$dest/$name" ] && [ -f "$dest/.complete" ]; then
    echo "fetch-npm-agents: $agent $ver already in $dest"
    return
  fi
  mkdir -p "$cache/$agent"
  local tmp
  tmp="$(mktemp -d "$cache/$agent/.fetch-$ver.XXXXXX")"
  echo "fetch-npm-agents: fetching $pkg"
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" "$member" package/package.json
  rm -rf "$dest"
  mkdir -p "$dest"
  mv "$tmp/$member" "$dest/$name"
  mv "$tmp/package/package.json" "$dest/package.json"
  chmod 0755 "$dest/$name"
  if [ "$agent" = copilot ]; then
    # unpack the runtime the executable carries, as its first start would (into a private HOME)
    mkdir -p "$tmp/home"
    HOME="$tmp/home" XDG_CACHE_HOME="$dest/xdg-cache" COPILOT_AUTO_UPDATE=false "$dest/copilot" --version >/dev/null
    if ! ls "$dest"/xdg-cache/copilot/pkg/linux-x64/"$ver"/prebuilds/linux-x64/runtime.node >/dev/null 2>&1; then
      echo "fetch-npm-agents: copilot $ver did not unpack its runtime into $dest/xdg-cache" >&2
      rm -rf "$tmp"; exit 1
    fi
  fi
  touch "$dest/.complete"
  rm -rf "$tmp"
  echo "fetch-npm-agents: $agent $ver -> $dest/$name ($(stat -c %s "$dest/$name") bytes)"
}

for w in "${wanted[@]}"; do fetch "${w%@*}" "${w#*@}"; done
