// The one place native errors are built. Every error thrown to JavaScript is
// an Error with:
//   op     what was being done ("open", "load", "attach", "map_update", ...)
//   errno  the positive errno value (0 when not from a syscall)
//   code   its symbolic name ("EPERM", ...) or "EAGENTSIGHT"
//   log    the tail of libbpf's log (verifier output) when there is one
// lib/errors.ts turns these into typed errors with advice.
#pragma once
#include <napi.h>

#include <string>

namespace agentsight {

Napi::Error MakeError(Napi::Env env, const std::string& op, int err, const std::string& message,
                      bool with_log = false);

// Throws MakeError(...) as a C++ exception (node-addon-api turns it into a JS throw).
[[noreturn]] void Throw(Napi::Env env, const std::string& op, int err, const std::string& message,
                        bool with_log = false);

// For libbpf calls returning a negative errno (or a pointer with errno set).
inline int Errno(int ret) { return ret < 0 ? -ret : ret; }

}  // namespace agentsight
