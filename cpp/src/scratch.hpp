// Working buffers of one quantize call, kept per thread between calls in native builds.
//
// Why: glibc gives blocks above its mmap ceiling (32 MiB) back to the kernel on free and trims the
// top of its heap once more than twice its current mmap threshold is free there, so a native
// quantize of a 4096x4096 2-bit g16 tensor mapped ~25,000 fresh zero-filled pages per call (a
// 64 MiB zero history, 16 MiB of levels, the per-group arrays) and spent more time in page faults
// than in the solver; that is why the native build ran 1.8x slower than wasm, whose heap never
// returns pages. Native builds therefore keep these buffers per thread, grow-only, up to
// kScratchKeepBytes each. wasm builds allocate per call: there a kept buffer could not serve the
// next tensor's other allocations and would raise the heap's high-water mark (the model pipeline
// budgets worker memory by it).
#pragma once

#include <cstddef>
#include <memory>

namespace hqq::detail {

enum class ScratchSlot { history, levels, group_min, group_max, inv_scale, transposed, grouped, count };

// Buffers up to this size are kept per thread (native builds only); larger ones are freed.
constexpr std::size_t kScratchKeepBytes = std::size_t(256) << 20;

// A buffer of at least `bytes` bytes for the duration of one call, contents unspecified (the
// caller writes everything it reads). One buffer per slot at a time per thread.
class Scratch {
 public:
  Scratch(ScratchSlot slot, std::size_t bytes);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  template <typename T>
  T* as() const noexcept {
    return reinterpret_cast<T*>(data_);
  }

 private:
  ScratchSlot slot_;
  std::unique_ptr<unsigned char[]> own_;  // when not kept
  unsigned char* data_ = nullptr;
};

// Fresh allocations made for scratch buffers by this thread (tests check the reuse).
std::size_t scratch_allocations() noexcept;
// Frees this thread's kept buffers.
void release_thread_scratch() noexcept;

}  // namespace hqq::detail
