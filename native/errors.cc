#include "errors.h"

#include <uv.h>

#include <cstring>

#include "libbpf_log.h"

namespace agentsight {

Napi::Error MakeError(Napi::Env env, const std::string& op, int err, const std::string& message,
                      bool with_log) {
  std::string text = op + ": " + message;
  if (err > 0) text += ": " + std::string(strerror(err));
  Napi::Error e = Napi::Error::New(env, text);
  e.Set("op", Napi::String::New(env, op));
  e.Set("errno", Napi::Number::New(env, err));
  // The errno's name as libuv (in node) knows it; glibc's strerrorname_np would need glibc 2.32.
  char name[64] = "";
  if (err > 0) uv_err_name_r(-err, name, sizeof(name));
  e.Set("code", Napi::String::New(env, name[0] == 'E' && strchr(name, ' ') == nullptr ? name : "EAGENTSIGHT"));
  if (with_log) {
    std::string log = LibbpfLogTail();
    if (!log.empty()) e.Set("log", Napi::String::New(env, log));
  }
  return e;
}

void Throw(Napi::Env env, const std::string& op, int err, const std::string& message, bool with_log) {
  throw MakeError(env, op, err, message, with_log);
}

}  // namespace agentsight
