# Sourced by the scripts that need root: as root they go on; otherwise they run
# again through sudo when it is installed, or stop saying how to run them.
#   . "$(dirname "$0")/as-root.sh"; as_root "$0" "$@"
as_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  local script=$1
  shift
  if command -v sudo >/dev/null 2>&1; then
    printf '%s: not root; running it again with sudo\n' "$(basename "$script")" >&2
    exec sudo -- bash "$script" "$@"
  fi
  printf '%s: run it as root (it installs system packages; agentsight loads eBPF programs); sudo is not installed\n' "$(basename "$script")" >&2
  exit 1
}
