// One MatMulNBits block: its quantized form and the error of its reconstruction. The quantizers
// (rtn.cpp, int_zero.cpp, float_zero.cpp) produce these; quantize.cpp packs them.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "hqq/config.hpp"
#include "hqq/nbits.hpp"
#include "solver.hpp"

namespace hqq::nbits::detail {

struct BlockError {
  double sum_abs = 0, sum_sq = 0, max_abs = 0;
};

// Sum |w - r|, sum (w - r)^2 and max |w - r| with r = (f32(q) - zero) * scale in float32, the
// operator's formula. Summed in four lanes (element i in lane i % 4, then (l0 + l1) + (l2 + l3)),
// the order of the solver's SIMD kernels (int_zero_kernels.hpp), so every block sum of this
// library is computed one way and the solver's comparisons are exact.
inline BlockError block_error(const float* w, const uint8_t* q, std::size_t len, float scale, float zero) noexcept {
  double abs[4] = {0, 0, 0, 0}, sq[4] = {0, 0, 0, 0};
  BlockError e;
  for (std::size_t i = 0; i < len; ++i) {
    const float r = (static_cast<float>(q[i]) - zero) * scale;
    const double d = std::fabs(static_cast<double>(w[i]) - static_cast<double>(r));
    abs[i & 3] += d;
    sq[i & 3] += d * d;
    e.max_abs = d > e.max_abs ? d : e.max_abs;
  }
  e.sum_abs = (abs[0] + abs[1]) + (abs[2] + abs[3]);
  e.sum_sq = (sq[0] + sq[1]) + (sq[2] + sq[3]);
  return e;
}

// C's roundf (half away from zero) without the libm call (wasm has no instruction for it):
// trunc, then step away from zero when the dropped part is at least one half. Exact for every
// float (|x| >= 2^23 is already an integer: the fraction is 0).
inline float round_half_away(float x) noexcept {
  const float t = std::trunc(x);
  const float frac = std::fabs(x - t);  // exact: x and t share the exponent range
  return frac >= 0.5f ? t + (x < 0.0f ? -1.0f : 1.0f) : t;
}

// onnxruntime's RTN of one block (MLAS BlockwiseQuantizer::quantizeAndTranspose with zero points):
// the range is widened to include 0, scale = (max - min) / max_q stored in the scale type, the zero
// point roundf(-min / scale) clamped to [0, max_q], and q = clamp(roundf(w / stored scale + zp)).
// Fills q[0..len) and returns the stored scale (0 for an all-zero block) and the zero point.
struct IntBlock {
  float scale = 0;      // as stored (already rounded to the scale type)
  int zero = 0;
  float scale_f32 = 0;  // before rounding (error messages)
};
IntBlock rtn_block(const float* w, std::size_t len, int max_q, ScaleType st, uint8_t* q) noexcept;

// The integer-zero HQQ solver on one block (README.md in this folder). `start` and `q` come in as
// onnxruntime's RTN (rtn_block) with its error `start_err`; on return they hold the best iterate,
// which is never worse than the start by sum |err| nor by sum err^2. `qwork` holds 2 * len bytes.
// Returns the iterations run.
using hqq::detail::make_schedule;  // the HQQ solver's shrinkage schedule (solver.hpp)
using hqq::detail::Schedule;
int int_zero_block(const float* w, std::size_t len, int max_q, ScaleType st, const Schedule& sched,
                   IntBlock& start, BlockError& start_err, uint8_t* q, uint8_t* qwork) noexcept;

}  // namespace hqq::nbits::detail

#include <vector>

#include "nbits/geometry.hpp"

namespace hqq::nbits::detail {

// Float zero points: exact HQQ (HQQ-SPEC sections 2-3) with a group = a block, the partial last
// blocks (K % block_size weights) solved as groups of their own length, so no padding enters any
// min, max or mean. The solver keeps each group's best zero (EarlyStop::PerGroupBest): blocks are
// then independent of how the weight is cut. Scale and zero come back rounded to the scale type
// (not yet checked for overflow), in [N][n_blocks] order; levels in [N][n_blocks][block_size],
// padding unset.
struct FloatBlocks {
  std::vector<float> scale, zero;
  std::vector<uint8_t> levels;
  int iterations = 0;
};
FloatBlocks float_zero_blocks(const float* columns, const Geometry& g, const Options& o);

}  // namespace hqq::nbits::detail
