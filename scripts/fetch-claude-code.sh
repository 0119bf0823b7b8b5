#!/usr/bin/env bash
# Fetch Claude Code release binaries (npm package @anthropic-ai/claude-code-linux-x64)
# into a cache directory, one folder per version: CACHE/VERSION/claude.
#
# Usage: scripts/fetch-claude-code.sh [--cache DIR] [VERSION...]
#   With no VERSION, fetches the versions listed in test/support/claude-code-versions.json.
#   DIR defaults to $AGENTSIGHT_CLAUDE_CODE_CACHE, else ~/.cache/agentsight/claude-code.
# Idempotent: a version whose binary is already present (and was fully extracted) is skipped.
# Binaries are never placed inside the repository.
set -euo pipefail

PKG="@anthropic-ai/claude-code-linux-x64"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cache="${AGENTSIGHT_CLAUDE_CODE_CACHE:-${HOME}/.cache/agentsight/claude-code}"
versions=()

while [ $# -gt 0 ]; do
  case "$1" in
    --cache) cache="$2"; shift 2 ;;
    --cache=*) cache="${1#--cache=}"; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "fetch-claude-code: unknown option $1" >&2; exit 2 ;;
    *) versions+=("$1"); shift ;;
  esac
done

if [ ${#versions[@]} -eq 0 ]; then
  list="$repo/test/support/claude-code-versions.json"
  if [ ! -f "$list" ]; then echo "fetch-claude-code: no VERSION given and $list missing" >&2; exit 2; fi
  mapfile -t versions < <(node -e 'for (const v of require(process.argv[1]).versions) console.log(v.version)' "$list")
fi

mkdir -p "$cache"
for ver in "${versions[@]}"; do
  if ! [[ "$ver" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-.][0-9A-Za-z.-]+)?$ ]]; then
    echo "fetch-claude-code: bad version '$ver'" >&2; exit 2
  fi
  dest="$cache/$ver"
  if [ -x "$dest/claude" ] && [ -f "$dest/.complete" ]; then
    echo "fetch-claude-code: $ver already in $dest"
    continue
  fi
  tmp="$(mktemp -d "$cache/.fetch-$ver.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "fetch-claude-code: fetching $PKG@$ver"
  (cd "$tmp" && npm pack --silent "$PKG@$ver" >/dev/null)
  tgz="$(ls "$tmp"/*.tgz)"
  tar -xzf "$tgz" -C "$tmp" package/claude package/package.json
  rm -rf "$dest"
  mkdir -p "$dest"
  mv "$tmp/package/claude" "$dest/claude"
  mv "$tmp/package/package.json" "$dest/package.json"
  chmod 0755 "$dest/claude"
  touch "$dest/.complete"
  rm -rf "$tmp"
  trap - EXIT
  echo "fetch-claude-code: $ver -> $dest/claude ($(stat -c %s "$dest/claude") bytes)"
done
