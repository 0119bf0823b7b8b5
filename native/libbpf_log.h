// Captures libbpf's log (including the verifier log it prints when a program
// is rejected) so a failure can carry it to JavaScript.
#pragma once
#include <string>

namespace agentsight {

// Installs the libbpf print callback. AGENTSIGHT_LIBBPF_DEBUG=1 also echoes
// every message (debug level included) to stderr.
void InstallLibbpfLogger();

// Forgets what was captured so far; call before an operation.
void LibbpfLogReset();

// The last max_bytes of what libbpf printed since the last reset.
std::string LibbpfLogTail(size_t max_bytes = 16384);

// Keep every message (debug level included) for LibbpfTakeVerbose (--verbose).
void LibbpfSetVerbose(bool on);

// What libbpf printed since the last call (when verbose), and clear it.
std::string LibbpfTakeVerbose();

}  // namespace agentsight
