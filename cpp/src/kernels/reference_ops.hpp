// Per-element operations of HQQ-SPEC, shared by the scalar kernels and by the SIMD kernels' exact
// fallback path, so both compute them the same way.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace hqq::kernels::ref {

inline float clamp_level(float v, float max_q) {
  // Written as compares, not std::clamp, to state the order: below 0 first, then above max_q.
  if (v < 0.0f) return 0.0f;
  if (v > max_q) return max_q;
  return v;
}

// round_half_even(f32(w * s) + z) clamped to [0, max_q]: the reference's
// torch.round(W * scale + zero).clamp(min, max).
inline float level_of(float w, float s, float z, float max_q) {
  const float ws = w * s;
  const float v = ws + z;
  return clamp_level(std::nearbyint(v), max_q);
}

// sign(x) * relu(|x| - inv_beta * |x|^(p-1)); exactly 0 when |x| <= threshold, which is where the
// formula itself gives 0 (the threshold is chosen conservatively, see solver.cpp).
inline float shrink(float x, float inv_beta, float p_minus_1, float threshold) {
  const float ax = std::fabs(x);
  if (ax <= threshold) return 0.0f;
  const float t = inv_beta * std::pow(ax, p_minus_1);
  const float r = ax - t;
  if (!(r > 0.0f)) return 0.0f;
  return x < 0.0f ? -r : r;
}

// One solver iteration on one group, operation by operation as the reference:
//   q = level(W, z); W_r = (q - z) / s; W_e = shrink(W - W_r); z' = mean(q - (W - W_e) * s).
// Returns z'; *err = sum |W - W_r| over the group.
inline float group_iteration(const float* w, std::size_t g, float s, float z, float max_q,
                             float inv_beta, float threshold, float p_minus_1, double* err) {
  double e = 0, z_acc = 0;
  for (std::size_t k = 0; k < g; ++k) {
    const float q = level_of(w[k], s, z, max_q);
    const float wr = (q - z) / s;  // true division, as the reference
    const float x = w[k] - wr;
    e += std::fabs(x);
    const float we = shrink(x, inv_beta, p_minus_1, threshold);
    const float t = (w[k] - we) * s;
    z_acc += static_cast<double>(q - t);
  }
  *err = e;
  return static_cast<float>(z_acc / static_cast<double>(g));
}

// Sum over one group of |W - (q - z) * scale|: the error of the final dequantization with zero z.
inline double group_dequant_error(const float* w, std::size_t g, float s, float scale, float z,
                                  float max_q) {
  double err = 0;
  for (std::size_t k = 0; k < g; ++k) {
    const float q = level_of(w[k], s, z, max_q);
    const float wr = (q - z) * scale;
    err += std::fabs(w[k] - wr);
  }
  return err;
}

}  // namespace hqq::kernels::ref
