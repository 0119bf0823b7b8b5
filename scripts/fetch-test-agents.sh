#!/usr/bin/env bash
# Real coding agents the end-to-end tests run under `agentsight record`:
# - Claude Code releases (Bun-compiled, BoringSSL without symbols), listed in
#   test/support/claude-code-versions.json, via scripts/fetch-claude-code.sh;
# - Gemini CLI (a Node program), npm-installed into a cache directory;
# - Codex CLI and Copilot CLI releases (rustls / static OpenSSL without symbols),
#   listed in test/support/agents.json, via scripts/fetch-npm-agents.sh.
# Nothing is placed inside the repository. Idempotent.
#   AGENTSIGHT_CLAUDE_CODE_CACHE (default ~/.cache/agentsight/claude-code)
#   AGENTSIGHT_GEMINI_CLI_DIR    (default ~/.cache/agentsight/gemini-cli)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
bash "$here/fetch-claude-code.sh"

GEMINI_VERSION="$(node -p "require('$repo/test/support/agents.json').geminiCli")"
dir="${AGENTSIGHT_GEMINI_CLI_DIR:-${HOME}/.cache/agentsight/gemini-cli}"
if [ -x "$dir/node_modules/.bin/gemini" ] && [ "$(node -p "require('$dir/node_modules/@google/gemini-cli/package.json').version" 2>/dev/null)" = "$GEMINI_VERSION" ]; then
  echo "fetch-test-agents: gemini-cli $GEMINI_VERSION already in $dir"
else
  mkdir -p "$dir"
  echo "fetch-test-agents: installing @google/gemini-cli@$GEMINI_VERSION into $dir"
  npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$dir" "@google/gemini-cli@$GEMINI_VERSION" >/dev/null
fi

# Codex CLI and GitHub Copilot CLI releases (native binaries from their npm packages)
bash "$here/fetch-npm-agents.sh"
