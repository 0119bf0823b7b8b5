// Module entry: registers BpfObject and RingReader and a few free functions.
#include <bpf/libbpf.h>
#include <napi.h>

#include <sys/mount.h>

#include <cerrno>
#include <ctime>

#include "bpf_object.h"
#include "embedded.h"
#include "errors.h"
#include "libbpf_log.h"
#include "ring_reader.h"

namespace agentsight {
namespace {

// ---- JS-facing functions ----------------------------------------------------

// embeddedObjects() -> ["process", "ssl", ...]
Napi::Value EmbeddedObjects(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (const EmbeddedObject* e = kEmbeddedObjects; e->name != nullptr; e++) out.Set(n++, e->name);
  return out;
}

// libbpfVersion() -> "1.1"
Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

// clocks() -> {realtimeNs: bigint, monotonicNs: bigint}, read back to back so
// eBPF timestamps (CLOCK_MONOTONIC) can be turned into wall-clock time.
Napi::Value Clocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct timespec mono1, real, mono2;
  clock_gettime(CLOCK_MONOTONIC, &mono1);
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_MONOTONIC, &mono2);
  int64_t m1 = mono1.tv_sec * 1000000000LL + mono1.tv_nsec;
  int64_t m2 = mono2.tv_sec * 1000000000LL + mono2.tv_nsec;
  int64_t r = real.tv_sec * 1000000000LL + real.tv_nsec;
  Napi::Object o = Napi::Object::New(env);
  o.Set("realtimeNs", Napi::BigInt::New(env, r));
  o.Set("monotonicNs", Napi::BigInt::New(env, m1 + (m2 - m1) / 2));
  return o;
}

// numPossibleCpus() -> number (per-CPU map values come in this many slots)
Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), libbpf_num_possible_cpus());
}

// mountTracefs(dir): mount(2) a tracefs at dir (nodev, noexec, nosuid), as
// trace-cmd does when it is missing; the per-syscall tracepoints' ids are read
// from it when they are attached.
Napi::Value MountTracefs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir = info[0].As<Napi::String>();
  if (mount("nodev", dir.c_str(), "tracefs", MS_NODEV | MS_NOEXEC | MS_NOSUID, nullptr) != 0)
    Throw(env, "mount", errno, "cannot mount tracefs at " + dir);
  return env.Undefined();
}

// unmount(dir): detach a mount (MNT_DETACH: it goes once nothing uses it).
Napi::Value Unmount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir = info[0].As<Napi::String>();
  if (umount2(dir.c_str(), MNT_DETACH) != 0) Throw(env, "umount", errno, "cannot unmount " + dir);
  return env.Undefined();
}

// libbpfVerbose(on): keep all of libbpf's messages; takeLibbpfLog() -> what it printed since the last call.
Napi::Value LibbpfVerbose(const Napi::CallbackInfo& info) {
  LibbpfSetVerbose(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

// linksReleaseWithoutWait() -> whether detaching hands links to the kernel to free later (Linux 6.5+)
Napi::Value LinksReleaseWithoutWait(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), BpfObject::ReleasesLinksWithoutWait());
}

Napi::Value TakeLibbpfLog(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), LibbpfTakeVerbose()); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfLogger();
  exports.Set("BpfObject", BpfObject::Init(env));
  exports.Set("RingReader", RingReader::Init(env));
  exports.Set("embeddedObjects", Napi::Function::New(env, EmbeddedObjects));
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion));
  exports.Set("clocks", Napi::Function::New(env, Clocks));
  exports.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus));
  exports.Set("mountTracefs", Napi::Function::New(env, MountTracefs));
  exports.Set("unmount", Napi::Function::New(env, Unmount));
  exports.Set("libbpfVerbose", Napi::Function::New(env, LibbpfVerbose));
  exports.Set("takeLibbpfLog", Napi::Function::New(env, TakeLibbpfLog));
  exports.Set("linksReleaseWithoutWait", Napi::Function::New(env, LinksReleaseWithoutWait));
  return exports;
}

}  // namespace
}  // namespace agentsight

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return agentsight::Init(env, exports); }

NODE_API_MODULE(agentsight, InitModule)
