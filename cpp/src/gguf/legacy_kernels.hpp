// The inner loops of the Optimized legacy quantizers:
//   - search_*: the candidate search of `lanes` consecutive blocks of 32 weights at once
//     (legacy_search.hpp), given Reference's error sums per block; per block, the best candidate
//     by float32 sums that looks no worse than Reference, if any;
//   - exact_*: the levels of one block for a candidate, and the exact error of its reconstruction
//     (float32 as the decoder computes it; differences and sums in double, as the statistics);
//   - block_errors: the exact error of a given reconstruction (a decoded Reference block).
// `scalar_legacy_kernels()` is the ground truth (one block per search); `simd_legacy_kernels()`
// (wasm SIMD128 / SSE4.1) searches four blocks per call with bit-identical results, and its exact
// sums differ only in summation order (tests/cpp/test_gguf_kernels.cpp).
//
// Every kernel is noexcept: in the wasm build, a call that may throw made from code with cleanups
// goes through a JavaScript trampoline (Emscripten's exception handling), far too slow per block.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hqq::gguf::opt {

struct BlockErrors {
  double abs = 0;  // sum |x - r|
  double sq = 0;   // sum (x - r)^2
};

struct LegacyKernels {
  const char* name;
  std::size_t lanes;  // blocks per search call
  // x: `lanes` blocks; ref_abs/ref_sq: Reference's sums per block (ref_abs 0: do not search).
  // Symmetric types (levels -c .. c - 1): the best scale d per block.
  void (*search_symmetric)(const float* x, int c, const float* ref_abs, const float* ref_sq, float* d,
                           bool* found) noexcept;
  // Affine types (levels 0 .. top) from HQQ's scale and zero per block: the best d and m.
  void (*search_affine)(const float* x, float top, const float* scale, const float* zero,
                        const float* ref_abs, const float* ref_sq, float* d, float* m, bool* found) noexcept;
  // Levels q (0..top) / v (lo..hi) into `levels`, and the exact error of q * d + m / v * d.
  BlockErrors (*exact_affine)(const float* x, float d, float m, float top, uint8_t* levels) noexcept;
  BlockErrors (*exact_symmetric)(const float* x, float d, float lo, float hi, int8_t* levels) noexcept;
  BlockErrors (*block_errors)(const float* x, const float* r) noexcept;
};

const LegacyKernels& scalar_legacy_kernels() noexcept;
const LegacyKernels* simd_legacy_kernels() noexcept;  // nullptr without SIMD kernels
const LegacyKernels& default_legacy_kernels() noexcept;

}  // namespace hqq::gguf::opt
