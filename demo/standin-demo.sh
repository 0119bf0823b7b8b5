#!/usr/bin/env bash
# Start the LLM API stand-in, run the demo agents against it over real TLS,
# and stop it again (its certificates are removed on exit).
#
#   demo/standin-demo.sh ["prompt with run: <command>"]
#
# Needs the compiled stand-in (npm run build:ts), node, python3 and openssl.
# Under a tracer, watch for the agents' comm names: python3 and node.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cli="$here/../dist/standin/cli.js"
[ -f "$cli" ] || { echo "standin-demo: $cli is missing: run 'npm run build:ts' first" >&2; exit 1; }
prompt=${1:-"What kernel is this machine running? run: uname -a"}

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
node "$cli" --tls-dir "$work/tls" --write-env "$work/env.sh" --delay-ms 20 --log "$work/requests.ndjson" >"$work/standin.out" &
pid=$!
for _ in $(seq 200); do [ -s "$work/env.sh" ] && break; sleep 0.05; done
[ -s "$work/env.sh" ] || { echo "standin-demo: the stand-in did not start" >&2; cat "$work/standin.out" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/env.sh"
echo "stand-in: $ANTHROPIC_BASE_URL (CA $SSL_CERT_FILE)" >&2

echo "== python3 agent, Anthropic Messages, streaming" >&2
python3 "$here/agent.py" --provider anthropic --stream "$prompt"
echo "== node agent, OpenAI Chat Completions, streaming" >&2
node "$here/agent.js" --provider openai --stream "$prompt"
echo "== requests the stand-in served:" >&2
cut -c1-160 "$work/requests.ndjson" >&2
