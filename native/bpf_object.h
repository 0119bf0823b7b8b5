// BpfObject: one eBPF object (embedded in the addon) through its whole life:
// open -> configure (rodata, map sizes, autoload, shared maps) -> load ->
// attach -> map access -> close. Thin: policy lives in lib/ (TypeScript).
#pragma once
#include <napi.h>

#include "libbpf_log.h"

#include <map>
#include <set>
#include <vector>
#include <string>

struct bpf_object;
struct bpf_map;
struct bpf_program;
struct bpf_link;

namespace agentsight {

class RingReader;

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Init(Napi::Env env);
  static bool IsInstance(Napi::Value v);
  static Napi::FunctionReference* constructor;
  // Destroy links taken out of an object (several threads at once: each waits for a kernel grace
  // period); what libbpf prints meanwhile goes into `into`.
  static void DestroyLinkList(const std::vector<bpf_link*>& links, LibbpfLogCapture* into);
  // Whether links are released through pins (without waiting for the kernel's detach).
  static bool ReleasesLinksWithoutWait();

  explicit BpfObject(const Napi::CallbackInfo& info);
  ~BpfObject() override;

  // Used by RingReader.
  bpf_map* MapOrThrow(Napi::Env env, const std::string& name, const char* op);
  bool loaded() const { return loaded_; }
  void AddReader(RingReader* r) { readers_.insert(r); }
  void RemoveReader(RingReader* r) { readers_.erase(r); }

 private:
  // ---- JS-facing methods -------------------------------------------------
  Napi::Value Name(const Napi::CallbackInfo& info);
  Napi::Value SetRodata(const Napi::CallbackInfo& info);        // (varName, Buffer)
  Napi::Value SetMaxEntries(const Napi::CallbackInfo& info);    // (mapName, n)
  Napi::Value SetAutoload(const Napi::CallbackInfo& info);      // (progName, bool)
  Napi::Value ReuseMap(const Napi::CallbackInfo& info);         // (mapName, otherObj, otherMapName)
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value LoadAsync(const Napi::CallbackInfo& info);       // -> Promise: the load on a worker thread
  Napi::Value Attach(const Napi::CallbackInfo& info);           // (progName) -> linkId
  Napi::Value AttachTracepoint(const Napi::CallbackInfo& info);    // (progName, category, name) -> linkId
  Napi::Value AttachUprobe(const Napi::CallbackInfo& info);
  Napi::Value AttachUprobeMulti(const Napi::CallbackInfo& info);    // (progName, {path, offsets, cookies, pid, retprobe}) -> linkId
  Napi::Value SetExpectedAttachType(const Napi::CallbackInfo& info); // (progName, type) before load     // (progName, {path, offset|func, pid, retprobe, cookie}) -> linkId
  Napi::Value Detach(const Napi::CallbackInfo& info);           // (linkId)
  Napi::Value LinkCount(const Napi::CallbackInfo& info);
  Napi::Value MapUpdate(const Napi::CallbackInfo& info);        // (mapName, key, value, flags)
  Napi::Value MapLookup(const Napi::CallbackInfo& info);        // (mapName, key) -> Buffer | null
  Napi::Value MapDelete(const Napi::CallbackInfo& info);        // (mapName, key) -> bool
  Napi::Value MapKeys(const Napi::CallbackInfo& info);          // (mapName) -> Buffer[]
  Napi::Value MapInfo(const Napi::CallbackInfo& info);          // (mapName) -> {...}
  Napi::Value Programs(const Napi::CallbackInfo& info);         // -> [{name, section, autoload, id}]
  Napi::Value Maps(const Napi::CallbackInfo& info);             // -> [{name, type, ...}]
  Napi::Value KernelIds(const Napi::CallbackInfo& info);        // -> {programs: [], links: [], maps: []}
  Napi::Value StructLayout(const Napi::CallbackInfo& info);     // (typeName) -> {size, members}
  Napi::Value EnumValues(const Napi::CallbackInfo& info);       // (typeName) -> [{name, value}]
  Napi::Value DetachAllAsync(const Napi::CallbackInfo& info);  // () -> Promise<number>: every link, off the JS thread
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);

  void CheckOpen(Napi::Env env, const char* op);
  void CheckNotLoaded(Napi::Env env, const char* op);
  bpf_program* ProgOrThrow(Napi::Env env, const std::string& name, const char* op);
  uint32_t AddLink(bpf_link* link);
  void DoClose();
  void DestroyLinks();
  // The links, taken out of the object (it has none from then on).
  std::vector<bpf_link*> TakeLinks();

  friend class LoadWorker;

  std::string name_;
  bpf_object* obj_ = nullptr;
  bool loaded_ = false;
  // loadAsync() is running: the object belongs to the worker thread until it settles
  bool busy_ = false;
  uint32_t next_link_ = 1;
  std::map<uint32_t, bpf_link*> links_;
  std::set<RingReader*> readers_;
};

}  // namespace agentsight
