#include "ring_reader.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "bpf_object.h"
#include "errors.h"

namespace agentsight {

struct RingReader::Handles {
  uv_poll_t poll;
  uv_timer_t timer;
  uv_idle_t idle;
  RingReader* self;
  int open;
};

Napi::Function RingReader::Init(Napi::Env env) {
  return DefineClass(env, "RingReader",
                     {
                         InstanceMethod("pause", &RingReader::Pause),
                         InstanceMethod("resume", &RingReader::Resume),
                         InstanceMethod("consume", &RingReader::Consume),
                         InstanceMethod("close", &RingReader::Close),
                         InstanceMethod("stats", &RingReader::Stats),
                     });
}

// new RingReader(bpfObject, mapName, onBatch, {maxBatchBytes, intervalMs})
RingReader::RingReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingReader>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !BpfObject::IsInstance(info[0]) || !info[1].IsString() || !info[2].IsFunction())
    throw Napi::TypeError::New(env, "new RingReader(bpfObject, mapName, onBatch, options?)");
  if (info.Length() > 3 && info[3].IsObject()) {
    Napi::Object o = info[3].As<Napi::Object>();
    if (o.Get("maxBatchBytes").IsNumber()) max_batch_bytes_ = o.Get("maxBatchBytes").As<Napi::Number>().Int64Value();
    if (o.Get("intervalMs").IsNumber()) interval_ms_ = o.Get("intervalMs").As<Napi::Number>().Uint32Value();
  }
  if (max_batch_bytes_ < 4096) max_batch_bytes_ = 4096;
  if (interval_ms_ == 0) interval_ms_ = 1;

  owner_ = BpfObject::Unwrap(info[0].As<Napi::Object>());
  std::string map_name = info[1].As<Napi::String>().Utf8Value();
  bpf_map* map = owner_->MapOrThrow(env, map_name, "ring_open");
  if (!owner_->loaded()) Throw(env, "ring_open", EINVAL, "load() the object before reading its ring buffer");
  if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF)
    Throw(env, "ring_open", EINVAL, "map '" + map_name + "' is not a ring buffer");
  rb_ = ring_buffer__new(bpf_map__fd(map), &RingReader::OnSample, this, nullptr);
  if (rb_ == nullptr) Throw(env, "ring_open", errno, "cannot open ring buffer '" + map_name + "'");

  owner_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
  callback_ = Napi::Persistent(info[2].As<Napi::Function>());
  async_ = std::make_unique<Napi::AsyncContext>(env, "agentsight:ring", info.This().As<Napi::Object>());
  batch_ = new std::vector<uint8_t>();

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  h_ = new Handles();
  h_->self = this;
  h_->open = 0;
  int err = uv_poll_init(loop, &h_->poll, ring_buffer__epoll_fd(rb_));
  if (err) {
    delete h_;
    h_ = nullptr;
    ring_buffer__free(rb_);
    rb_ = nullptr;
    Throw(env, "ring_open", -err, "cannot poll ring buffer");
  }
  h_->poll.data = h_;
  h_->open++;
  uv_timer_init(loop, &h_->timer);
  h_->timer.data = h_;
  h_->open++;
  uv_idle_init(loop, &h_->idle);
  h_->idle.data = h_;
  h_->open++;
  uv_poll_start(&h_->poll, UV_READABLE, &RingReader::OnPoll);
  uv_timer_start(&h_->timer, &RingReader::OnTimer, interval_ms_, interval_ms_);
  owner_->AddReader(this);
}

RingReader::~RingReader() {
  DoClose();
  delete batch_;
}

void RingReader::DoClose() {
  if (closed_) return;
  closed_ = true;
  if (h_ != nullptr) {
    h_->self = nullptr;
    auto on_closed = [](uv_handle_t* handle) {
      Handles* h = static_cast<Handles*>(handle->data);
      if (--h->open == 0) delete h;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&h_->poll), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&h_->timer), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&h_->idle), on_closed);
    h_ = nullptr;
  }
  if (rb_ != nullptr) ring_buffer__free(rb_);
  rb_ = nullptr;
  if (owner_ != nullptr) owner_->RemoveReader(this);
  owner_ = nullptr;
  // References are dropped lazily: Reset() needs a live env, which the destructor may not have.
}

int RingReader::OnSample(void* ctx, void* data, size_t size) {
  RingReader* self = static_cast<RingReader*>(ctx);
  std::vector<uint8_t>& b = *self->batch_;
  size_t at = b.size();
  size_t padded = (size + 7) & ~size_t(7);
  b.resize(at + 8 + padded);
  uint32_t hdr[2] = {static_cast<uint32_t>(size), 0};
  memcpy(b.data() + at, hdr, 8);
  memcpy(b.data() + at + 8, data, size);
  if (padded != size) memset(b.data() + at + 8 + size, 0, padded - size);
  self->batch_count_++;
  self->records_++;
  self->bytes_ += size;
  if (b.size() >= self->max_batch_bytes_) {
    // libbpf has already consumed this record; stop here and keep the rest for later.
    self->full_ = true;
    return -ENOSPC;
  }
  return 0;
}

int RingReader::Fill() {
  full_ = false;
  if (batch_->capacity() == 0) batch_->reserve(64 * 1024);
  int n = ring_buffer__consume(rb_);
  if (full_ && n == -ENOSPC) return 0;
  return n;
}

Napi::Buffer<uint8_t> RingReader::TakeBatch(Napi::Env env) {
  std::vector<uint8_t>* v = batch_;
  batch_ = new std::vector<uint8_t>();
  batch_count_ = 0;
  batches_++;
  return Napi::Buffer<uint8_t>::New(
      env, v->data(), v->size(), [](Napi::Env, uint8_t*, std::vector<uint8_t>* vec) { delete vec; }, v);
}

void RingReader::DrainAsync() {
  if (closed_ || paused_ || in_callback_) return;
  wakeups_++;
  int n = Fill();
  if (batch_count_ == 0 && n >= 0) return;
  Napi::HandleScope scope(env_);
  in_callback_ = true;
  try {
    if (batch_count_ > 0) {
      uint32_t count = batch_count_;
      Napi::Buffer<uint8_t> buf = TakeBatch(env_);
      callback_.MakeCallback(Value(), {buf, Napi::Number::New(env_, count)}, *async_);
    }
    if (n < 0 && !closed_) {
      Napi::Error e = MakeError(env_, "ring_consume", -n, "reading the ring buffer failed");
      callback_.MakeCallback(Value(), {env_.Null(), Napi::Number::New(env_, 0), e.Value()}, *async_);
    }
  } catch (const Napi::Error& e) {
    // A JS exception must not unwind through libuv: hand it to Node's uncaught-exception path.
    napi_fatal_exception(env_, e.Value());
  }
  in_callback_ = false;
  if (!closed_ && !paused_ && h_ != nullptr) {
    if (full_)
      uv_idle_start(&h_->idle, &RingReader::OnIdle);
    else
      uv_idle_stop(&h_->idle);
  }
}

void RingReader::OnPoll(uv_poll_t* handle, int status, int events) {
  Handles* h = static_cast<Handles*>(handle->data);
  if (h->self != nullptr) h->self->DrainAsync();
}

void RingReader::OnTimer(uv_timer_t* handle) {
  Handles* h = static_cast<Handles*>(handle->data);
  if (h->self != nullptr) h->self->DrainAsync();
}

void RingReader::OnIdle(uv_idle_t* handle) {
  Handles* h = static_cast<Handles*>(handle->data);
  uv_idle_stop(handle);
  if (h->self != nullptr) h->self->DrainAsync();
}

// ---- JS-facing methods ------------------------------------------------------

Napi::Value RingReader::Pause(const Napi::CallbackInfo& info) {
  if (!closed_ && !paused_) {
    paused_ = true;
    uv_poll_stop(&h_->poll);
    uv_idle_stop(&h_->idle);
  }
  return info.Env().Undefined();
}

Napi::Value RingReader::Resume(const Napi::CallbackInfo& info) {
  if (!closed_ && paused_) {
    paused_ = false;
    uv_poll_start(&h_->poll, UV_READABLE, &RingReader::OnPoll);
    uv_idle_start(&h_->idle, &RingReader::OnIdle);
  }
  return info.Env().Undefined();
}

Napi::Value RingReader::Consume(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return env.Null();
  int n = Fill();
  if (n < 0) Throw(env, "ring_consume", -n, "reading the ring buffer failed");
  if (batch_count_ == 0) return env.Null();
  return TakeBatch(env);
}

Napi::Value RingReader::Close(const Napi::CallbackInfo& info) {
  DoClose();
  callback_.Reset();
  owner_ref_.Reset();
  return info.Env().Undefined();
}

Napi::Value RingReader::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("records", Napi::Number::New(env, static_cast<double>(records_)));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(bytes_)));
  o.Set("batches", Napi::Number::New(env, static_cast<double>(batches_)));
  o.Set("wakeups", Napi::Number::New(env, static_cast<double>(wakeups_)));
  o.Set("paused", Napi::Boolean::New(env, paused_));
  o.Set("closed", Napi::Boolean::New(env, closed_));
  return o;
}

}  // namespace agentsight
