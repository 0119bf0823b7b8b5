#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite:
# unit tests and, as root, the privileged tests that load eBPF programs into
# this kernel and drive real processes and TLS clients.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Real agents for the end-to-end tests (Claude Code releases, Gemini CLI, Codex CLI and Copilot CLI releases), into ~/.cache/agentsight
bash scripts/fetch-test-agents.sh
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi
npm test
