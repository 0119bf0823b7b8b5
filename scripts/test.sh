#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite, as root
# (through sudo when run as another user and sudo is there):
# unit tests and, as root, the privileged tests that load eBPF programs into
# this kernel and drive real processes and TLS clients.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
as_root "$0" "$@"
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Real agents for the end-to-end tests (Claude Code releases, Gemini CLI, Codex CLI and Copilot CLI releases), into ~/.cache/agentsight
bash scripts/fetch-test-agents.sh
# Debian 11/12 chroots: the prebuilt addon is built in one, the packed package installed in the others
bash scripts/chroots.sh ensure >/dev/null
if [ -z "${npm_config_nodedir:-}" ]; then npm_config_nodedir="$(node scripts/node-headers.js)"; export npm_config_nodedir; fi
npm test
