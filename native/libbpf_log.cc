#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <pthread.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace agentsight {

namespace {

// The JS thread's buffers; a worker thread's load prints into its own capture.
std::string g_log;
bool g_echo = false;
constexpr size_t kMaxLog = 256 * 1024;
// --verbose: every message, debug level included, kept until taken (bounded).
std::atomic<bool> g_verbose{false};
// The capture of the calling thread, through a pthread key rather than thread_local: that would
// make the addon need ld-linux (__tls_get_addr) on glibc before 2.34, which the prebuilt refuses.
pthread_key_t g_capture_key;
pthread_once_t g_capture_once = PTHREAD_ONCE_INIT;
void MakeCaptureKey() { pthread_key_create(&g_capture_key, nullptr); }
LibbpfLogCapture* ThreadCapture() {
  pthread_once(&g_capture_once, MakeCaptureKey);
  return static_cast<LibbpfLogCapture*>(pthread_getspecific(g_capture_key));
}
std::string g_verbose_log;
size_t g_verbose_dropped = 0;

int Print(enum libbpf_print_level level, const char* fmt, va_list args) {
  // libbpf prints a rejected program's whole verifier log in one call: format it all.
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  std::string line(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(line.data(), line.size(), fmt, args);
  line.resize(static_cast<size_t>(n));
  if (g_echo) fputs(line.c_str(), stderr);
  if (LibbpfLogCapture* c = ThreadCapture()) {
    if (g_verbose && c->verbose.size() + line.size() <= kMaxLog) c->verbose.append(line);
    if (level != LIBBPF_DEBUG && c->log.size() + line.size() <= kMaxLog) c->log.append(line);
    return 0;
  }
  if (g_verbose) {
    if (g_verbose_log.size() + line.size() <= kMaxLog) g_verbose_log.append(line);
    else g_verbose_dropped += line.size();
  }
  if (level == LIBBPF_DEBUG) return 0;
  g_log.append(line);
  if (g_log.size() > kMaxLog) g_log.erase(0, g_log.size() - kMaxLog / 2);
  return 0;
}

}  // namespace

void InstallLibbpfLogger() {
  const char* env = getenv("AGENTSIGHT_LIBBPF_DEBUG");
  g_echo = env != nullptr && env[0] != '\0' && strcmp(env, "0") != 0;
  libbpf_set_print(Print);
}

void LibbpfLogReset() { g_log.clear(); }

void LibbpfSetVerbose(bool on) {
  g_verbose = on;
  if (!on) g_verbose_log.clear();
}

std::string LibbpfTakeVerbose() {
  std::string out;
  out.swap(g_verbose_log);
  if (g_verbose_dropped) {
    out += "[" + std::to_string(g_verbose_dropped) + " bytes of libbpf messages not kept]\n";
    g_verbose_dropped = 0;
  }
  return out;
}

void LibbpfCaptureOnThisThread(LibbpfLogCapture* capture) {
  pthread_once(&g_capture_once, MakeCaptureKey);
  pthread_setspecific(g_capture_key, capture);
}

void LibbpfMergeCapture(const LibbpfLogCapture& capture) {
  if (g_verbose) {
    if (g_verbose_log.size() + capture.verbose.size() <= kMaxLog) g_verbose_log.append(capture.verbose);
    else g_verbose_dropped += capture.verbose.size();
  }
  g_log.append(capture.log);
  if (g_log.size() > kMaxLog) g_log.erase(0, g_log.size() - kMaxLog / 2);
}

std::string LibbpfLogTail(size_t max_bytes) {
  if (g_log.size() <= max_bytes) return g_log;
  return g_log.substr(g_log.size() - max_bytes);
}

}  // namespace agentsight
