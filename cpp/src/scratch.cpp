// Per-thread scratch buffers (see scratch.hpp for why native builds keep them).
#include "scratch.hpp"

#include <array>

#include "hqq/error.hpp"

namespace hqq::detail {
namespace {

#if defined(__EMSCRIPTEN__)
constexpr bool kKeep = false;
#else
constexpr bool kKeep = true;
#endif

constexpr std::size_t kSlots = static_cast<std::size_t>(ScratchSlot::count);

struct Kept {
  std::unique_ptr<unsigned char[]> data;
  std::size_t bytes = 0;
  bool in_use = false;
};

thread_local std::array<Kept, kSlots> t_kept;
thread_local std::size_t t_allocations = 0;

std::unique_ptr<unsigned char[]> allocate(std::size_t bytes) {
  ++t_allocations;
  return std::unique_ptr<unsigned char[]>(new unsigned char[bytes == 0 ? 1 : bytes]);  // uninitialised
}

}  // namespace

Scratch::Scratch(ScratchSlot slot, std::size_t bytes) : slot_(slot) {
  // Checked before touching t_kept: its first use registers a thread-exit destructor, which
  // allocates (wasm builds never use it, so their heap stays exactly as it was between calls).
  if (!kKeep || bytes > kScratchKeepBytes || t_kept[static_cast<std::size_t>(slot)].in_use) {
    own_ = allocate(bytes);
    data_ = own_.get();
    return;
  }
  Kept& k = t_kept[static_cast<std::size_t>(slot)];
  if (k.bytes < bytes) {
    k.data.reset();  // free the smaller one first
    k.bytes = 0;
    k.data = allocate(bytes);
    k.bytes = bytes;
  }
  k.in_use = true;
  data_ = k.data.get();
}

Scratch::~Scratch() {
  if (!own_) t_kept[static_cast<std::size_t>(slot_)].in_use = false;
}

std::size_t scratch_allocations() noexcept { return t_allocations; }

void release_thread_scratch() noexcept {
  for (Kept& k : t_kept) {
    if (k.in_use) continue;
    k.data.reset();
    k.bytes = 0;
  }
}

}  // namespace hqq::detail
