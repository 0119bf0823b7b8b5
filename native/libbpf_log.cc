#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace agentsight {

namespace {

// libbpf calls happen on the JS thread only, so one buffer is enough.
std::string g_log;
bool g_echo = false;
constexpr size_t kMaxLog = 256 * 1024;

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

std::string LibbpfLogTail(size_t max_bytes) {
  if (g_log.size() <= max_bytes) return g_log;
  return g_log.substr(g_log.size() - max_bytes);
}

}  // namespace agentsight
