// RingReader: drains one BPF ring buffer on the libuv loop of the JS thread.
//
// Woken by uv_poll on ring_buffer__epoll_fd (records submitted with a wakeup)
// and by a short uv_timer (records submitted with BPF_RB_NO_WAKEUP). Each
// wake-up copies a bounded batch of records into one Buffer, framed as
//   [u32 length][u32 0][record bytes][zero padding to 8]...
// and hands it to the JS callback (onBatch(buffer, count)); TypeScript decodes
// it lazily. If the batch bound was hit, the rest is read on the next loop turn
// so timers and I/O still run. pause() stops reading: the kernel ring then
// fills and the eBPF side counts what it cannot write.
#pragma once
#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

struct ring_buffer;

namespace agentsight {

class BpfObject;

class RingReader : public Napi::ObjectWrap<RingReader> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit RingReader(const Napi::CallbackInfo& info);
  ~RingReader() override;

  // Called by the owning BpfObject when it closes.
  void CloseFromOwner() { DoClose(); }

 private:
  // ---- JS-facing methods -------------------------------------------------
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value Consume(const Napi::CallbackInfo& info);  // -> Buffer | null, synchronously
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  struct Handles;
  static int OnSample(void* ctx, void* data, size_t size);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  static void OnIdle(uv_idle_t* handle);

  int Fill();        // consume into batch_, up to the bound; returns libbpf's result
  void DrainAsync();  // from libuv: fill and deliver through MakeCallback
  void DoClose();
  Napi::Buffer<uint8_t> TakeBatch(Napi::Env env);

  Napi::Env env_;
  Handles* h_ = nullptr;
  ring_buffer* rb_ = nullptr;
  BpfObject* owner_ = nullptr;
  Napi::ObjectReference owner_ref_;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> async_;
  std::vector<uint8_t>* batch_ = nullptr;
  uint32_t batch_count_ = 0;
  size_t max_batch_bytes_ = 4 << 20;
  uint32_t interval_ms_ = 20;
  bool paused_ = false;
  bool closed_ = false;
  bool full_ = false;
  bool in_callback_ = false;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
  uint64_t batches_ = 0;
  uint64_t wakeups_ = 0;
};

}  // namespace agentsight
