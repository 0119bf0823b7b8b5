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

// What libbpf prints on a worker thread (an asynchronous load) while a capture
// is set there goes into it rather than into the JS thread's logs; merged into
// those on the JS thread afterwards, as if it had been printed there.
struct LibbpfLogCapture {
  std::string log;      // above debug level (for errors)
  std::string verbose;  // everything, when verbose was on
};
void LibbpfCaptureOnThisThread(LibbpfLogCapture* capture);  // nullptr ends it
void LibbpfMergeCapture(const LibbpfLogCapture& capture);   // on the JS thread

}  // namespace agentsight
