// eBPF objects compiled from bpf/*.bpf.c and embedded by scripts/build-bpf.js.
#pragma once
#include <cstddef>

namespace agentsight {

struct EmbeddedObject {
  const char* name;
  const unsigned char* data;
  size_t size;
};

// Terminated by an entry whose name is nullptr.
extern const EmbeddedObject kEmbeddedObjects[];

}  // namespace agentsight
