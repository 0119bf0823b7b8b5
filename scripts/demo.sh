#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the bundled demo: a local
# HTTPS stand-in for an LLM API and a small agent that asks it for a tool call
# and runs the tool, recorded with `agentsight record`. As root (through sudo
# when run as another user and sudo is there).
#   scripts/demo.sh [demo options]   e.g. --agent node --provider openai
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
as_root "$0" "$@"
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/agentsight.js demo "$@"
