// The numeric inner loops of the quantizer, behind one table of function pointers so that the
// solver never depends on how they are implemented. `scalar_kernels()` is the ground truth: it
// follows HQQ-SPEC operation by operation. `simd_kernels()` (WebAssembly SIMD128, or SSE4.1 on
// native x86) must agree with it, exactly where the arithmetic allows and within named tolerances
// where it does not (see tests/cpp/test_kernels.cpp).
//
// Every kernel works on "group-major" data: n_groups rows of g consecutive values, one row per
// quantization group. Kernels throw no exceptions and have no mutable globals; they do not allocate,
// except solve_block for its per-iteration sums when iters > 64.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hqq::kernels {

// One block of groups, run through every solver iteration while it sits in cache. The solver
// combines blocks afterwards (global early stop) so no kernel needs to see the whole tensor.
struct SolveBlockArgs {
  const float* w = nullptr;      // [n_groups][g]
  std::size_t n_groups = 0;
  std::size_t g = 0;
  const float* s = nullptr;      // inverse scale per group (multiply to quantize)
  const float* scale = nullptr;  // stored scale 1/s per group (PerGroupBest error metric)
  const float* z0 = nullptr;     // initial zero per group
  float max_q = 0;
  int iters = 0;
  const float* inv_beta = nullptr;   // [iters]: f32(1 / beta_i)
  const float* threshold = nullptr;  // [iters]: |x| at or below this shrinks to exactly 0
  float p_minus_1 = 0;               // lp_norm - 1, in float32 as the reference's pow sees it
  float* scratch = nullptr;  // solve_block_scratch_floats(n_groups, g) floats for the kernel

  // Global early stop: z_hist[i * hist_stride + grp] is z after i updates (i = 0 is z0), and
  // err_sum[i] += sum over the block of |W - (q_i - z_i) / s| (q_i quantized with z_i).
  float* z_hist = nullptr;
  std::size_t hist_stride = 0;  // >= n_groups
  double* err_sum = nullptr;
  // Per-group best (used when z_best != nullptr; z_hist and err_sum are then ignored): the zero
  // among z_0..z_iters with the lowest sum |W - (q - z) * scale| for its group.
  float* z_best = nullptr;
};

// Scratch space solve_block may use: room for W*s and W of a block, four groups interleaved, and
// two values per group.
inline std::size_t solve_block_scratch_floats(std::size_t n_groups, std::size_t g) {
  const std::size_t padded = (n_groups + 3) / 4 * 4;
  return 2 * padded * g + 2 * padded;
}

// Error sums of a reconstruction against the weights: d = w - r, sum |d|, sum d^2, max |d|, sum w^2.
struct ErrorSums {
  double sum_abs = 0, sum_sq = 0, max_abs = 0, sum_w_sq = 0;
};

struct Kernels {
  const char* name;
  // Per-group min and max; returns false when any value is NaN or Inf (min/max are then unusable).
  bool (*group_min_max)(const float* w, std::size_t n_groups, std::size_t g, float* mn, float* mx);
  // q = clamp(nearest(f32(w * s) + z), 0, max_q) per element of each group. With `sums`, also the
  // error sums of the final reconstruction (f32(q) - z) * scale in the same pass over the weights
  // (float32 differences, as the reconstruction itself; double totals).
  void (*quantize_levels)(const float* w, std::size_t n_groups, std::size_t g, const float* s,
                          const float* z, float max_q, uint8_t* q, const float* scale,
                          ErrorSums* sums);
  void (*solve_block)(const SolveBlockArgs& args);
  // out = (f32(q) - zero) * scale with per-row parameters ([rows][cols], axis 1 layout) ...
  void (*dequantize_rows)(const uint8_t* q, std::size_t rows, std::size_t cols, const float* scale,
                          const float* zero, float* out);
  // ... or per-column parameters ([rows][cols], axis 0 layout: a group is a column).
  void (*dequantize_cols)(const uint8_t* q, std::size_t rows, std::size_t cols, const float* scale,
                          const float* zero, float* out);
  // Sums for error statistics: sum|d|, sum d^2, max|d|, sum w^2 with d = w - r.
  void (*error_sums)(const float* w, const float* r, std::size_t n, double* sum_abs,
                     double* sum_sq, double* max_abs, double* sum_w_sq);
  // Bit packing primitives (pack.cpp): dst[i] |= src[i] << shift, and dst[i] = (src[i] >> shift) &
  // mask, on bytes (8/4/2/1-bit formats) and on 32-bit words in host order (3bit_32).
  void (*or_shifted_u8)(uint8_t* dst, const uint8_t* src, std::size_t n, unsigned shift);
  void (*extract_u8)(uint8_t* dst, const uint8_t* src, std::size_t n, unsigned shift, unsigned mask);
  void (*or_shifted_u32)(uint32_t* dst, const uint8_t* src, std::size_t n, unsigned shift);
  void (*extract_u32)(uint8_t* dst, const uint32_t* src, std::size_t n, unsigned shift, unsigned mask);
  uint8_t (*byte_max)(const uint8_t* src, std::size_t n);
  void (*decode_f16)(const uint16_t* in, float* out, std::size_t n);
  void (*decode_bf16)(const uint16_t* in, float* out, std::size_t n);
};

const Kernels& scalar_kernels() noexcept;
// The fastest kernels this build has (SIMD when compiled with WebAssembly SIMD128 or SSE4.1).
const Kernels& default_kernels() noexcept;
// SIMD kernels, or nullptr when this build has none.
const Kernels* simd_kernels() noexcept;

}  // namespace hqq::kernels
