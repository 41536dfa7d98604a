// The scale searches of llama.cpp's K-quant reference quantizers, reimplemented from their
// description (ggml/src/ggml-quants.c: nearest_int, make_qx_quants, make_q3_quants,
// make_qkx2_quants). They run on one sub-block and return its float scale; the callers then
// quantize the sub-block scales against the super-block maximum.
//
// Every float32 operation happens in llama.cpp's order (products of three factors are formed left
// to right, sums accumulate in index order), so that the reference quantizers built on them
// reproduce llama.cpp's bytes exactly. They are shared with the HQQ-optimised K-quant quantizers
// (optimize_kquants.cpp), which start from these searches.
#pragma once

#include <cstdint>
#include <cstring>

namespace hqq::gguf::kquant {

// Blocks whose largest |x| is below this are treated as all zero (llama.cpp's GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest, ties to even, for |v| < 2^22, by adding 1.5 * 2^23 and reading the low
// mantissa bits (llama.cpp's nearest_int). Outside that range the result is what the same bit
// manipulation gives; it is reproduced exactly rather than "fixed", to keep bytes identical.
inline int nearest_int(float v) noexcept {
  const float shifted = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

// The weight of element i in a weighted least-squares fit, by llama.cpp's `rmse_type` code when no
// explicit weights are given: 1 -> x^2, 2 -> 1, 3 -> |x|, anything else -> sqrt(|x|).
float rmse_weight(int rmse_type, float x) noexcept;

// Symmetric levels l in [-nmax, nmax) for n values and a scale s with x ~ s * l (llama.cpp's
// make_qx_quants). Starts from the scale that maps the largest-magnitude value to -nmax, fits the
// scale by weighted least squares (weights `qw`, or by rmse_type), and tries 18 nearby starting
// scales -(nmax + 0.1 k) / max (k = -9..9, k != 0), keeping the one with the best weighted fit.
// rmse_type 0: no fit, just the starting scale; negative: one fit, then the mean of the fitted and
// starting scales. L receives l + nmax (0 .. 2 nmax - 1). Returns the scale (0 for an all-zero
// block, with L = 0).
float symmetric_scale_search(int n, int nmax, const float* x, int8_t* L, int rmse_type,
                             const float* qw = nullptr) noexcept;

// Symmetric 3-bit-style levels (llama.cpp's make_q3_quants): the starting levels as above; with
// `do_rmse`, up to 5 passes that change one level at a time when that raises the x^2-weighted
// least-squares gain sum(w x l)^2 / sum(w l^2). L receives l + nmax; returns the scale.
float q3_scale_search(int n, int nmax, const float* x, int8_t* L, bool do_rmse) noexcept;

// Affine levels l in [0, nmax] with x ~ scale * l - the_min (llama.cpp's make_qkx2_quants): the
// min/max start, then nstep + 1 candidate inverse scales (rmin + rdelta * k + nmax) / (max - min),
// each followed by a weighted least-squares re-fit of (scale, min) (min clamped to <= 0, i.e.
// the_min >= 0), keeping the candidate with the lowest weighted error (absolute with `use_mad`,
// squared otherwise). L receives the levels; Laux is n bytes of scratch. Returns the scale and
// stores the_min (>= 0, subtracted on reconstruction).
float affine_scale_search(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                          float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                          bool use_mad) noexcept;

}  // namespace hqq::gguf::kquant
