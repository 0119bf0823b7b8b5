#include "bpf_object.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <unistd.h>
#include <thread>

#include <cstring>
#include <vector>

#include "embedded.h"
#include "errors.h"
#include "libbpf_log.h"
#include "ring_reader.h"

namespace agentsight {

Napi::FunctionReference* BpfObject::constructor = nullptr;

Napi::Function BpfObject::Init(Napi::Env env) {
  Napi::Function fn = DefineClass(
      env, "BpfObject",
      {
          InstanceAccessor("name", &BpfObject::Name, nullptr),
          InstanceAccessor("closed", &BpfObject::IsClosed, nullptr),
          InstanceMethod("setRodata", &BpfObject::SetRodata),
          InstanceMethod("setMaxEntries", &BpfObject::SetMaxEntries),
          InstanceMethod("setAutoload", &BpfObject::SetAutoload),
          InstanceMethod("reuseMap", &BpfObject::ReuseMap),
          InstanceMethod("load", &BpfObject::Load),
          InstanceMethod("loadAsync", &BpfObject::LoadAsync),
          InstanceMethod("attach", &BpfObject::Attach),
          InstanceMethod("attachTracepoint", &BpfObject::AttachTracepoint),
          InstanceMethod("attachUprobe", &BpfObject::AttachUprobe),
          InstanceMethod("attachUprobeMulti", &BpfObject::AttachUprobeMulti),
          InstanceMethod("setExpectedAttachType", &BpfObject::SetExpectedAttachType),
          InstanceMethod("detach", &BpfObject::Detach),
          InstanceMethod("detachAllAsync", &BpfObject::DetachAllAsync),
          InstanceMethod("linkCount", &BpfObject::LinkCount),
          InstanceMethod("mapUpdate", &BpfObject::MapUpdate),
          InstanceMethod("mapLookup", &BpfObject::MapLookup),
          InstanceMethod("mapDelete", &BpfObject::MapDelete),
          InstanceMethod("mapKeys", &BpfObject::MapKeys),
          InstanceMethod("mapInfo", &BpfObject::MapInfo),
          InstanceMethod("programs", &BpfObject::Programs),
          InstanceMethod("maps", &BpfObject::Maps),
          InstanceMethod("kernelIds", &BpfObject::KernelIds),
          InstanceMethod("structLayout", &BpfObject::StructLayout),
          InstanceMethod("enumValues", &BpfObject::EnumValues),
          InstanceMethod("close", &BpfObject::Close),
      });
  constructor = new Napi::FunctionReference(Napi::Persistent(fn));
  return fn;
}

bool BpfObject::IsInstance(Napi::Value v) {
  return v.IsObject() && constructor != nullptr && v.As<Napi::Object>().InstanceOf(constructor->Value());
}

namespace {

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsBuffer())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

bool IsPerCpu(enum bpf_map_type t) {
  return t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
         t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

// Size of a lookup buffer: per-CPU maps return one 8-byte-aligned slot per possible CPU.
size_t ValueBufSize(bpf_map* map) {
  size_t vs = bpf_map__value_size(map);
  if (!IsPerCpu(bpf_map__type(map))) return vs;
  int ncpu = libbpf_num_possible_cpus();
  return ((vs + 7) & ~size_t(7)) * (ncpu > 0 ? ncpu : 1);
}

uint32_t ObjId(int fd) {
  if (fd < 0) return 0;
  // bpf_prog_info/bpf_map_info/bpf_link_info all start with (type, id).
  struct {
    uint32_t type;
    uint32_t id;
    uint8_t rest[248];
  } info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return 0;
  return info.id;
}

}  // namespace

BpfObject::BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
  Napi::Env env = info.Env();
  name_ = ArgString(info, 0, "object name");
  const EmbeddedObject* found = nullptr;
  for (const EmbeddedObject* e = kEmbeddedObjects; e->name != nullptr; e++) {
    if (name_ == e->name) found = e;
  }
  if (found == nullptr) Throw(env, "open", ENOENT, "no embedded eBPF object named '" + name_ + "'");
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name_.c_str());
  LibbpfLogReset();
  obj_ = bpf_object__open_mem(found->data, found->size, &opts);
  if (obj_ == nullptr) Throw(env, "open", errno, "cannot open eBPF object '" + name_ + "'", true);
}

BpfObject::~BpfObject() { DoClose(); }

void BpfObject::DoClose() {
  // Readers poll maps of this object: stop them first.
  std::set<RingReader*> readers;
  readers.swap(readers_);
  for (RingReader* r : readers) r->CloseFromOwner();
  DestroyLinks();
  if (obj_ != nullptr) bpf_object__close(obj_);
  obj_ = nullptr;
}

// Detaching a uprobe waits for an SRCU grace period (~100 ms here) in the
// kernel; one after another, 40 links take seconds. Destroying them from
// several threads lets the grace periods overlap.
std::vector<bpf_link*> BpfObject::TakeLinks() {
  std::vector<bpf_link*> all;
  for (auto& [id, link] : links_) all.push_back(link);
  links_.clear();
  return all;
}

void BpfObject::DestroyLinks() {
  LibbpfLogCapture capture;
  DestroyLinkList(TakeLinks(), &capture);
  LibbpfMergeCapture(capture);
}

namespace {

// Releasing a link from its fd waits in the kernel for its detach (a uprobe's
// RCU-tasks-trace grace period, a tracepoint's unregistration): tens of ms
// each. Released from a bpffs pin instead, the kernel frees it from a work
// queue and nothing waits. So each link is pinned in a bpffs instance of this
// process's own, mounted nowhere (fsopen/fsmount: only its fd reaches it),
// before its fd is closed; closing the mount's fd drops the pins, and with
// them the links. If the process dies first, its fds close and the same
// happens: nothing can stay attached. Returns the links that could not be
// pinned (a kernel before 6.5 has no BPF_F_PATH_FD, before 5.2 no fsopen),
// which are released the waiting way.

// A new bpffs instance, mounted nowhere: the fd of its root, or -1.
int OpenPinMount() {
  int fs = static_cast<int>(syscall(SYS_fsopen, "bpf", FSOPEN_CLOEXEC));
  if (fs < 0) return -1;
  int mnt = -1;
  if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0) {
    mnt = static_cast<int>(syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0));
  }
  close(fs);
  return mnt;
}

std::vector<bpf_link*> ReleaseThroughPins(const std::vector<bpf_link*>& all) {
  if (all.empty()) return {};
  int mnt = OpenPinMount();
  if (mnt < 0) return all;
  std::vector<bpf_link*> rest;
  size_t i = 0;
  for (bpf_link* link : all) {
    std::string name = "l" + std::to_string(i++);
    LIBBPF_OPTS(bpf_obj_pin_opts, opts, .file_flags = BPF_F_PATH_FD, .path_fd = mnt);
    if (bpf_obj_pin_opts(bpf_link__fd(link), name.c_str(), &opts) != 0) {
      rest.push_back(link);
      continue;
    }
    // the pin holds the link: closing its fd (and a perf link's event fd, disabled first) is instant
    bpf_link__destroy(link);
  }
  close(mnt);
  return rest;
}

}  // namespace

// Can links be released through pins here? A small map is pinned the same
// way (a kernel before 6.5 refuses BPF_F_PATH_FD); it goes with the mount.
bool BpfObject::ReleasesLinksWithoutWait() {
  int mnt = OpenPinMount();
  if (mnt < 0) return false;
  int map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "as_pin_probe", 4, 4, 1, nullptr);
  bool ok = false;
  if (map >= 0) {
    LIBBPF_OPTS(bpf_obj_pin_opts, opts, .file_flags = BPF_F_PATH_FD, .path_fd = mnt);
    ok = bpf_obj_pin_opts(map, "probe", &opts) == 0;
    close(map);
  }
  close(mnt);
  return ok;
}

// Each thread prints into a capture of its own (libbpf's messages must not reach the JS thread's
// log from another thread); they are joined into `into`, for the JS thread to merge.
void BpfObject::DestroyLinkList(const std::vector<bpf_link*>& links, LibbpfLogCapture* into) {
  LibbpfLogCapture pinned;
  LibbpfCaptureOnThisThread(&pinned);
  const std::vector<bpf_link*> all = ReleaseThroughPins(links);
  LibbpfCaptureOnThisThread(nullptr);
  into->log += pinned.log;
  into->verbose += pinned.verbose;
  size_t total = all.size();
  size_t nthreads = total <= 2 ? 1 : std::min<size_t>(total, 32);
  std::vector<LibbpfLogCapture> captures(nthreads);
  std::atomic<size_t> next{0};
  auto work = [&](size_t t) {
    LibbpfCaptureOnThisThread(&captures[t]);
    for (size_t i = next++; i < total; i = next++) bpf_link__destroy(all[i]);
    LibbpfCaptureOnThisThread(nullptr);
  };
  if (nthreads == 1) {
    work(0);
  } else {
    std::vector<std::thread> threads;
    for (size_t t = 0; t < nthreads; t++) threads.emplace_back(work, t);
    for (auto& th : threads) th.join();
  }
  for (auto& c : captures) {
    into->log += c.log;
    into->verbose += c.verbose;
  }
}

namespace {

// detachAllAsync(): the links are taken out of the object at once (it has
// none from then on; its maps stay readable) and destroyed on a worker
// thread, so the kernel's grace periods pass while the JS thread drains the
// rings. The promise resolves with the number of links destroyed.
class DetachWorker : public Napi::AsyncWorker {
 public:
  DetachWorker(Napi::Env env, std::vector<bpf_link*> links)
      : Napi::AsyncWorker(env, "agentsight:detach"), links_(std::move(links)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { BpfObject::DestroyLinkList(links_, &capture_); }
  void OnOK() override {
    LibbpfMergeCapture(capture_);
    deferred_.Resolve(Napi::Number::New(Env(), static_cast<double>(links_.size())));
  }

 private:
  std::vector<bpf_link*> links_;
  LibbpfLogCapture capture_;
  Napi::Promise::Deferred deferred_;
};

}  // namespace

Napi::Value BpfObject::DetachAllAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "detach");
  auto* worker = new DetachWorker(env, TakeLinks());
  worker->Queue();
  return worker->Promise();
}

void BpfObject::CheckOpen(Napi::Env env, const char* op) {
  if (obj_ == nullptr) Throw(env, op, EBADF, "eBPF object '" + name_ + "' is closed");
  if (busy_) Throw(env, op, EBUSY, "eBPF object '" + name_ + "' is being loaded");
}

void BpfObject::CheckNotLoaded(Napi::Env env, const char* op) {
  CheckOpen(env, op);
  if (loaded_) Throw(env, op, EBUSY, "eBPF object '" + name_ + "' is already loaded; configure it before load()");
}

bpf_map* BpfObject::MapOrThrow(Napi::Env env, const std::string& name, const char* op) {
  CheckOpen(env, op);
  bpf_map* m = bpf_object__find_map_by_name(obj_, name.c_str());
  if (m == nullptr) Throw(env, op, ENOENT, "eBPF object '" + name_ + "' has no map '" + name + "'");
  return m;
}

bpf_program* BpfObject::ProgOrThrow(Napi::Env env, const std::string& name, const char* op) {
  CheckOpen(env, op);
  bpf_program* p = bpf_object__find_program_by_name(obj_, name.c_str());
  if (p == nullptr) Throw(env, op, ENOENT, "eBPF object '" + name_ + "' has no program '" + name + "'");
  return p;
}

uint32_t BpfObject::AddLink(bpf_link* link) {
  uint32_t id = next_link_++;
  links_[id] = link;
  return id;
}

// ---- JS-facing methods ------------------------------------------------------

Napi::Value BpfObject::Name(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }

Napi::Value BpfObject::IsClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), obj_ == nullptr);
}

Napi::Value BpfObject::SetRodata(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string var = ArgString(info, 0, "variable name");
  Napi::Buffer<uint8_t> buf = ArgBuffer(info, 1, "value");
  CheckNotLoaded(env, "set_rodata");
  const struct btf* btf = bpf_object__btf(obj_);
  int sec_id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
  if (sec_id < 0) Throw(env, "set_rodata", ENOENT, "eBPF object '" + name_ + "' has no .rodata section in its BTF");
  const struct btf_type* sec = btf__type_by_id(btf, sec_id);
  const struct btf_var_secinfo* vs = btf_var_secinfos(sec);
  for (int i = 0; i < btf_vlen(sec); i++, vs++) {
    const struct btf_type* v = btf__type_by_id(btf, vs->type);
    if (var != btf__name_by_offset(btf, v->name_off)) continue;
    if (buf.Length() != vs->size)
      Throw(env, "set_rodata", EINVAL,
            "'" + var + "' is " + std::to_string(vs->size) + " bytes in the eBPF object but " +
                std::to_string(buf.Length()) + " were given (event ABI out of date?)");
    bpf_map* map = nullptr;
    bpf_map* m;
    bpf_object__for_each_map(m, obj_) {
      const char* n = bpf_map__name(m);
      size_t len = strlen(n);
      if (bpf_map__is_internal(m) && len >= 7 && strcmp(n + len - 7, ".rodata") == 0) map = m;
    }
    size_t size = 0;
    void* data = map ? const_cast<void*>(bpf_map__initial_value(map, &size)) : nullptr;
    if (data == nullptr || vs->offset + vs->size > size)
      Throw(env, "set_rodata", ENOENT, "cannot find the .rodata map of '" + name_ + "'");
    memcpy(static_cast<uint8_t*>(data) + vs->offset, buf.Data(), vs->size);
    return env.Undefined();
  }
  Throw(env, "set_rodata", ENOENT, "eBPF object '" + name_ + "' has no const volatile variable '" + var + "'");
}

Napi::Value BpfObject::SetMaxEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string map_name = ArgString(info, 0, "map name");
  if (info.Length() < 2 || !info[1].IsNumber()) throw Napi::TypeError::New(env, "max entries must be a number");
  CheckNotLoaded(env, "set_max_entries");
  bpf_map* map = MapOrThrow(env, map_name, "set_max_entries");
  int err = bpf_map__set_max_entries(map, info[1].As<Napi::Number>().Uint32Value());
  if (err) Throw(env, "set_max_entries", Errno(err), "map '" + map_name + "'");
  return env.Undefined();
}

Napi::Value BpfObject::SetAutoload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string prog = ArgString(info, 0, "program name");
  CheckNotLoaded(env, "set_autoload");
  bpf_program* p = ProgOrThrow(env, prog, "set_autoload");
  int err = bpf_program__set_autoload(p, info.Length() > 1 && info[1].ToBoolean().Value());
  if (err) Throw(env, "set_autoload", Errno(err), "program '" + prog + "'");
  return env.Undefined();
}

Napi::Value BpfObject::ReuseMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string map_name = ArgString(info, 0, "map name");
  if (info.Length() < 2 || !IsInstance(info[1])) throw Napi::TypeError::New(env, "second argument must be a BpfObject");
  std::string other_name = ArgString(info, 2, "other map name");
  CheckNotLoaded(env, "reuse_map");
  BpfObject* other = Unwrap(info[1].As<Napi::Object>());
  bpf_map* mine = MapOrThrow(env, map_name, "reuse_map");
  bpf_map* theirs = other->MapOrThrow(env, other_name, "reuse_map");
  if (bpf_map__fd(theirs) < 0) {
    // The owner is not loaded yet: create its map now, from its definition, so that
    // both objects can be loaded independently (at once) and share it.
    LIBBPF_OPTS(bpf_map_create_opts, mopts, .map_flags = bpf_map__map_flags(theirs));
    int fd = bpf_map_create(bpf_map__type(theirs), bpf_map__name(theirs), bpf_map__key_size(theirs),
                            bpf_map__value_size(theirs), bpf_map__max_entries(theirs), &mopts);
    if (fd < 0) Throw(env, "reuse_map", errno, "cannot create map '" + other_name + "' of '" + other->name_ + "'", true);
    int rerr = bpf_map__reuse_fd(theirs, fd);
    close(fd);  // reuse_fd keeps its own duplicate
    if (rerr) Throw(env, "reuse_map", Errno(rerr), "cannot give map '" + other_name + "' to '" + other->name_ + "'", true);
  }
  int err = bpf_map__reuse_fd(mine, bpf_map__fd(theirs));
  if (err) Throw(env, "reuse_map", Errno(err), "cannot share map '" + other_name + "' as '" + map_name + "'", true);
  return env.Undefined();
}

Napi::Value BpfObject::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckNotLoaded(env, "load");
  LibbpfLogReset();
  int err = bpf_object__load(obj_);
  if (err) Throw(env, "load", Errno(err), "the kernel refused eBPF object '" + name_ + "'", true);
  loaded_ = true;
  return env.Undefined();
}

// The verifier's work (most of a load) on a libuv worker thread: two objects
// load at once, and the JS thread is free meanwhile. The JS object is held
// until the load settles and its methods refuse to run meanwhile (busy_).
// `boost` (loadAsync(boost)): the load that the others wait for runs this much
// less nice, on its thread only and for the load only (the verifier runs in
// the calling thread), unless the process was made nicer than the default.
class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, BpfObject* self, Napi::Object receiver, int boost)
      : Napi::AsyncWorker(env, "agentsight:load"), self_(self), deferred_(Napi::Promise::Deferred::New(env)), boost_(boost) {
    ref_ = Napi::Persistent(receiver);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    const id_t tid = static_cast<id_t>(syscall(SYS_gettid));
    errno = 0;
    const int before = getpriority(PRIO_PROCESS, tid);
    const bool raised = boost_ > 0 && errno == 0 && before <= 0 && setpriority(PRIO_PROCESS, tid, std::max(-20, before - boost_)) == 0;
    LibbpfCaptureOnThisThread(&capture_);
    err_ = bpf_object__load(self_->obj_);
    LibbpfCaptureOnThisThread(nullptr);
    // back to where it was (a pool thread runs other work next); raising a nice value is always allowed
    if (raised) setpriority(PRIO_PROCESS, tid, before);
  }
  void OnOK() override {
    Napi::Env env = Env();
    self_->busy_ = false;
    LibbpfLogReset();
    LibbpfMergeCapture(capture_);
    if (err_) {
      deferred_.Reject(MakeError(env, "load", Errno(err_), "the kernel refused eBPF object '" + self_->name_ + "'", true).Value());
      return;
    }
    self_->loaded_ = true;
    deferred_.Resolve(env.Undefined());
  }

 private:
  BpfObject* self_;
  Napi::ObjectReference ref_;
  Napi::Promise::Deferred deferred_;
  LibbpfLogCapture capture_;
  int boost_;
  int err_ = 0;
};

// JS: loadAsync(boost = 0): load on a worker thread; boost (0-20) lowers that thread's nice value meanwhile.
Napi::Value BpfObject::LoadAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckNotLoaded(env, "load");
  int boost = 0;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "boost must be a number");
    const double b = info[0].As<Napi::Number>().DoubleValue();
    if (!(b >= 0 && b <= 20) || b != static_cast<int>(b)) throw Napi::RangeError::New(env, "boost must be an integer between 0 and 20");
    boost = static_cast<int>(b);
  }
  auto* worker = new LoadWorker(env, this, info.This().As<Napi::Object>(), boost);
  busy_ = true;
  worker->Queue();
  return worker->Promise();
}

Napi::Value BpfObject::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string prog = ArgString(info, 0, "program name");
  bpf_program* p = ProgOrThrow(env, prog, "attach");
  if (!loaded_) Throw(env, "attach", EINVAL, "load() the object before attaching");
  LibbpfLogReset();
  bpf_link* link = bpf_program__attach(p);
  if (link == nullptr)
    Throw(env, "attach", errno, "cannot attach '" + prog + "' (" + bpf_program__section_name(p) + ")", true);
  return Napi::Number::New(env, AddLink(link));
}

// JS: attachTracepoint(prog, category, name) attaches a tracefs tracepoint program
// to a tracepoint other than the one its section names (same record layout).
Napi::Value BpfObject::AttachTracepoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string prog = ArgString(info, 0, "program name");
  std::string category = ArgString(info, 1, "tracepoint category");
  std::string name = ArgString(info, 2, "tracepoint name");
  bpf_program* p = ProgOrThrow(env, prog, "attach_tracepoint");
  if (!loaded_) Throw(env, "attach_tracepoint", EINVAL, "load() the object before attaching");
  LibbpfLogReset();
  bpf_link* link = bpf_program__attach_tracepoint(p, category.c_str(), name.c_str());
  if (link == nullptr)
    Throw(env, "attach_tracepoint", errno, "cannot attach '" + prog + "' to tracepoint " + category + "/" + name, true);
  return Napi::Number::New(env, AddLink(link));
}

Napi::Value BpfObject::AttachUprobe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string prog = ArgString(info, 0, "program name");
  if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "uprobe options must be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  if (!o.Get("path").IsString()) throw Napi::TypeError::New(env, "uprobe options.path must be a string");
  std::string path = o.Get("path").As<Napi::String>().Utf8Value();
  size_t offset = o.Get("offset").IsNumber() ? static_cast<size_t>(o.Get("offset").As<Napi::Number>().Int64Value()) : 0;
  int pid = o.Get("pid").IsNumber() ? o.Get("pid").As<Napi::Number>().Int32Value() : -1;
  bool ret = o.Get("retprobe").ToBoolean().Value();
  std::string func = o.Get("func").IsString() ? o.Get("func").As<Napi::String>().Utf8Value() : "";
  uint64_t cookie = o.Get("cookie").IsNumber() ? static_cast<uint64_t>(o.Get("cookie").As<Napi::Number>().Int64Value()) : 0;
  bpf_program* p = ProgOrThrow(env, prog, "attach_uprobe");
  if (!loaded_) Throw(env, "attach_uprobe", EINVAL, "load() the object before attaching");
  LIBBPF_OPTS(bpf_uprobe_opts, uo, .bpf_cookie = cookie, .retprobe = ret,
              .func_name = func.empty() ? nullptr : func.c_str());
  LibbpfLogReset();
  bpf_link* link = bpf_program__attach_uprobe_opts(p, pid, path.c_str(), offset, &uo);
  if (link == nullptr) {
    std::string where = path + (func.empty() ? "" : ":" + func) + "+0x";
    char hex[32];
    snprintf(hex, sizeof(hex), "%zx", offset);
    Throw(env, "attach_uprobe", errno, "cannot attach '" + prog + "' to " + where + hex, true);
  }
  return Napi::Number::New(env, AddLink(link));
}

Napi::Value BpfObject::SetExpectedAttachType(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string prog = ArgString(info, 0, "program name");
  if (info.Length() < 2 || !info[1].IsNumber()) throw Napi::TypeError::New(env, "attach type must be a number");
  CheckNotLoaded(env, "set_attach_type");
  bpf_program* p = ProgOrThrow(env, prog, "set_attach_type");
  int err = bpf_program__set_expected_attach_type(p, static_cast<enum bpf_attach_type>(info[1].As<Napi::Number>().Uint32Value()));
  if (err) Throw(env, "set_attach_type", Errno(err), "program '" + prog + "'");
  return env.Undefined();
}

// bpf_program__attach_uprobe_multi (Linux 6.6+ links) came with libbpf 1.3.
#if LIBBPF_MAJOR_VERSION < 1 || (LIBBPF_MAJOR_VERSION == 1 && LIBBPF_MINOR_VERSION < 3)
#error "libbpf 1.3 or later is needed (bpf_program__attach_uprobe_multi)"
#endif

Napi::Value BpfObject::AttachUprobeMulti(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string prog = ArgString(info, 0, "program name");
  if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "uprobe options must be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  if (!o.Get("path").IsString()) throw Napi::TypeError::New(env, "options.path must be a string");
  if (!o.Get("offsets").IsArray()) throw Napi::TypeError::New(env, "options.offsets must be an array");
  std::string path = o.Get("path").As<Napi::String>().Utf8Value();
  Napi::Array offs = o.Get("offsets").As<Napi::Array>();
  Napi::Value cv = o.Get("cookies");
  std::vector<unsigned long> offsets(offs.Length());
  std::vector<__u64> cookies(offs.Length());
  for (uint32_t i = 0; i < offs.Length(); i++) {
    offsets[i] = static_cast<unsigned long>(offs.Get(i).As<Napi::Number>().Int64Value());
    if (cv.IsArray() && i < cv.As<Napi::Array>().Length())
      cookies[i] = static_cast<__u64>(cv.As<Napi::Array>().Get(i).As<Napi::Number>().Int64Value());
  }
  if (offsets.empty()) throw Napi::TypeError::New(env, "options.offsets is empty");
  bpf_program* p = ProgOrThrow(env, prog, "attach_uprobe_multi");
  if (!loaded_) Throw(env, "attach_uprobe_multi", EINVAL, "load() the object before attaching");
  LIBBPF_OPTS(bpf_uprobe_multi_opts, uo, .offsets = offsets.data(), .cookies = cookies.data(),
              .cnt = offsets.size(), .retprobe = o.Get("retprobe").ToBoolean().Value());
  // libbpf: -1 is every process (0 would be this one)
  int pid = o.Get("pid").IsNumber() && o.Get("pid").As<Napi::Number>().Int32Value() > 0
                ? o.Get("pid").As<Napi::Number>().Int32Value()
                : -1;
  LibbpfLogReset();
  bpf_link* link = bpf_program__attach_uprobe_multi(p, pid, path.c_str(), nullptr, &uo);
  if (link == nullptr) Throw(env, "attach_uprobe_multi", errno, "cannot attach '" + prog + "' to " + path, true);
  return Napi::Number::New(env, AddLink(link));
}

Napi::Value BpfObject::Detach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "link id must be a number");
  auto it = links_.find(info[0].As<Napi::Number>().Uint32Value());
  if (it == links_.end()) return Napi::Boolean::New(env, false);
  int err = bpf_link__destroy(it->second);
  links_.erase(it);
  if (err) Throw(env, "detach", Errno(err), "cannot detach link");
  return Napi::Boolean::New(env, true);
}

Napi::Value BpfObject::LinkCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(links_.size()));
}

Napi::Value BpfObject::MapUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string map_name = ArgString(info, 0, "map name");
  Napi::Buffer<uint8_t> key = ArgBuffer(info, 1, "key");
  Napi::Buffer<uint8_t> value = ArgBuffer(info, 2, "value");
  uint64_t flags = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : static_cast<int64_t>(BPF_ANY);
  bpf_map* map = MapOrThrow(env, map_name, "map_update");
  int err = bpf_map__update_elem(map, key.Data(), key.Length(), value.Data(), value.Length(), flags);
  if (err) Throw(env, "map_update", Errno(err), "map '" + map_name + "'");
  return env.Undefined();
}

Napi::Value BpfObject::MapLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string map_name = ArgString(info, 0, "map name");
  Napi::Buffer<uint8_t> key = ArgBuffer(info, 1, "key");
  bpf_map* map = MapOrThrow(env, map_name, "map_lookup");
  std::vector<uint8_t> value(ValueBufSize(map));
  int err = bpf_map__lookup_elem(map, key.Data(), key.Length(), value.data(), value.size(), 0);
  if (err == -ENOENT) return env.Null();
  if (err) Throw(env, "map_lookup", Errno(err), "map '" + map_name + "'");
  return Napi::Buffer<uint8_t>::Copy(env, value.data(), value.size());
}

Napi::Value BpfObject::MapDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string map_name = ArgString(info, 0, "map name");
  Napi::Buffer<uint8_t> key = ArgBuffer(info, 1, "key");
  bpf_map* map = MapOrThrow(env, map_name, "map_delete");
  int err = bpf_map__delete_elem(map, key.Data(), key.Length(), 0);
  if (err == -ENOENT) return Napi::Boolean::New(env, false);
  if (err) Throw(env, "map_delete", Errno(err), "map '" + map_name + "'");
  return Napi::Boolean::New(env, true);
}

Napi::Value BpfObject::MapKeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string map_name = ArgString(info, 0, "map name");
  bpf_map* map = MapOrThrow(env, map_name, "map_keys");
  size_t ks = bpf_map__key_size(map);
  std::vector<uint8_t> prev(ks), next(ks);
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  const void* cur = nullptr;
  while (bpf_map__get_next_key(map, cur, next.data(), ks) == 0) {
    out.Set(n++, Napi::Buffer<uint8_t>::Copy(env, next.data(), ks));
    prev.swap(next);
    cur = prev.data();
    if (n > bpf_map__max_entries(map) * 2u + 16u) break;  // keys deleted under us: stop, never loop forever
  }
  return out;
}

Napi::Value BpfObject::MapInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string map_name = ArgString(info, 0, "map name");
  bpf_map* map = MapOrThrow(env, map_name, "map_info");
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", bpf_map__name(map));
  o.Set("type", Napi::Number::New(env, bpf_map__type(map)));
  o.Set("keySize", Napi::Number::New(env, bpf_map__key_size(map)));
  o.Set("valueSize", Napi::Number::New(env, bpf_map__value_size(map)));
  o.Set("maxEntries", Napi::Number::New(env, bpf_map__max_entries(map)));
  o.Set("perCpu", Napi::Boolean::New(env, IsPerCpu(bpf_map__type(map))));
  o.Set("lookupSize", Napi::Number::New(env, static_cast<double>(ValueBufSize(map))));
  o.Set("fd", Napi::Number::New(env, loaded_ ? bpf_map__fd(map) : -1));
  return o;
}

Napi::Value BpfObject::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "programs");
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  bpf_program* p;
  bpf_object__for_each_program(p, obj_) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_program__name(p));
    o.Set("section", bpf_program__section_name(p));
    o.Set("autoload", Napi::Boolean::New(env, bpf_program__autoload(p)));
    out.Set(n++, o);
  }
  return out;
}

Napi::Value BpfObject::Maps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "maps");
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  bpf_map* m;
  bpf_object__for_each_map(m, obj_) { out.Set(n++, Napi::String::New(env, bpf_map__name(m))); }
  return out;
}

Napi::Value BpfObject::KernelIds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "kernel_ids");
  Napi::Object o = Napi::Object::New(env);
  Napi::Array progs = Napi::Array::New(env), maps = Napi::Array::New(env), links = Napi::Array::New(env);
  uint32_t n = 0;
  if (loaded_) {
    bpf_program* p;
    bpf_object__for_each_program(p, obj_) {
      uint32_t id = ObjId(bpf_program__fd(p));
      if (id) progs.Set(n++, id);
    }
    n = 0;
    bpf_map* m;
    bpf_object__for_each_map(m, obj_) {
      uint32_t id = ObjId(bpf_map__fd(m));
      if (id) maps.Set(n++, id);
    }
    n = 0;
    for (auto& [lid, link] : links_) {
      uint32_t id = ObjId(bpf_link__fd(link));
      if (id) links.Set(n++, id);
    }
  }
  o.Set("programs", progs);
  o.Set("maps", maps);
  o.Set("links", links);
  return o;
}

Napi::Value BpfObject::StructLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string type_name = ArgString(info, 0, "type name");
  CheckOpen(env, "struct_layout");
  const struct btf* btf = bpf_object__btf(obj_);
  int id = btf ? btf__find_by_name_kind(btf, type_name.c_str(), BTF_KIND_STRUCT) : -1;
  if (id < 0) Throw(env, "struct_layout", ENOENT, "no struct '" + type_name + "' in the BTF of '" + name_ + "'");
  const struct btf_type* t = btf__type_by_id(btf, id);
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", Napi::Number::New(env, t->size));
  Napi::Array members = Napi::Array::New(env);
  const struct btf_member* m = btf_members(t);
  for (int i = 0; i < btf_vlen(t); i++, m++) {
    Napi::Object mo = Napi::Object::New(env);
    mo.Set("name", btf__name_by_offset(btf, m->name_off));
    mo.Set("offset", Napi::Number::New(env, btf_member_bit_offset(t, i) / 8));
    mo.Set("size", Napi::Number::New(env, static_cast<double>(btf__resolve_size(btf, m->type))));
    members.Set(static_cast<uint32_t>(i), mo);
  }
  o.Set("members", members);
  return o;
}

Napi::Value BpfObject::EnumValues(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string type_name = ArgString(info, 0, "type name");
  CheckOpen(env, "enum_values");
  const struct btf* btf = bpf_object__btf(obj_);
  int id = btf ? btf__find_by_name_kind(btf, type_name.c_str(), BTF_KIND_ENUM) : -1;
  if (id < 0) Throw(env, "enum_values", ENOENT, "no enum '" + type_name + "' in the BTF of '" + name_ + "'");
  const struct btf_type* t = btf__type_by_id(btf, id);
  Napi::Array values = Napi::Array::New(env);
  const struct btf_enum* e = btf_enum(t);
  for (int i = 0; i < btf_vlen(t); i++, e++) {
    Napi::Object vo = Napi::Object::New(env);
    vo.Set("name", btf__name_by_offset(btf, e->name_off));
    // kflag set: a signed enum
    double v = btf_kflag(t) ? static_cast<double>(e->val) : static_cast<double>(static_cast<uint32_t>(e->val));
    vo.Set("value", Napi::Number::New(env, v));
    values.Set(static_cast<uint32_t>(i), vo);
  }
  return values;
}

Napi::Value BpfObject::Close(const Napi::CallbackInfo& info) {
  if (busy_) Throw(info.Env(), "close", EBUSY, "eBPF object '" + name_ + "' is being loaded; close it when loadAsync() settles");
  DoClose();
  return info.Env().Undefined();
}

}  // namespace agentsight
