// The two inner loops of the integer-zero solver (int_zero.cpp), scalar and WebAssembly SIMD128.
// Both sum in four lanes (element i goes to lane i % 4; the lanes are combined as
// (l0 + l1) + (l2 + l3)) with the same IEEE operations per element, so the SIMD and the scalar
// wasm builds produce the same bytes. The SIMD path runs where the whole binary is built with
// -msimd128; native builds use the scalar one (its loops are the reference).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/reference_ops.hpp"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

namespace hqq::nbits::detail {

struct Sum4 {
  double l[4] = {0, 0, 0, 0};
  double total() const noexcept { return (l[0] + l[1]) + (l[2] + l[3]); }
};

struct Score {  // of a reconstruction (q - z) * d against w
  Sum4 abs, sq;
  double max_abs = 0;
};

struct FitLanes {  // the four sums of the (d, z)-step, and whether any shrink was non-zero
  Sum4 q, qq, t, qt;
  bool shrunk = false;
};

namespace lanes_detail {

inline void score_one(const float* w, std::size_t i, float inv, float zf, float mq, float d, uint8_t* q, Score& s) noexcept {
  const float level = kernels::ref::clamp_level(std::nearbyint(w[i] * inv + zf), mq);
  q[i] = static_cast<uint8_t>(level);
  const double ad = std::fabs(static_cast<double>(w[i]) - static_cast<double>((level - zf) * d));
  s.abs.l[i & 3] += ad;
  s.sq.l[i & 3] += ad * ad;
  s.max_abs = ad > s.max_abs ? ad : s.max_abs;
}

inline void fit_one(const float* w, const uint8_t* q, std::size_t i, float zf, float d, float inv_beta, float p_minus_1,
                    float threshold, FitLanes& f) noexcept {
  const float r = (static_cast<float>(q[i]) - zf) * d;
  const float we = kernels::ref::shrink(w[i] - r, inv_beta, p_minus_1, threshold);
  f.shrunk = f.shrunk || we != 0.0f;
  const double t = static_cast<double>(w[i] - we), qd = static_cast<double>(q[i]);
  f.q.l[i & 3] += qd;
  f.qq.l[i & 3] += qd * qd;
  f.t.l[i & 3] += t;
  f.qt.l[i & 3] += qd * t;
}

#if defined(__wasm_simd128__)
// Adds the f64 lanes of lo (lanes 0, 1) and hi (lanes 2, 3) to a Sum4 of partial sums kept as two
// vectors; see flush().
struct Sum4V {
  v128_t lo = wasm_f64x2_splat(0.0), hi = wasm_f64x2_splat(0.0);
  void flush(Sum4& s) const noexcept {
    s.l[0] += wasm_f64x2_extract_lane(lo, 0);
    s.l[1] += wasm_f64x2_extract_lane(lo, 1);
    s.l[2] += wasm_f64x2_extract_lane(hi, 0);
    s.l[3] += wasm_f64x2_extract_lane(hi, 1);
  }
};
inline v128_t high_f64(v128_t f32x4) { return wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(f32x4, f32x4, 2, 3, 2, 3)); }
#endif

}  // namespace lanes_detail

// q = clamp(nearest(w * inv + z)) for every weight of a block, and the score of (q - z) * d.
inline Score score_levels(const float* w, std::size_t len, float inv, float zf, float mq, float d, uint8_t* q) noexcept {
  Score s;
  std::size_t i = 0;
#if defined(__wasm_simd128__)
  // Vector partial sums start at 0, as the scalar lanes do: lane j holds elements j, j + 4, ...
  // in order, then flush() adds that total to the (still zero) Sum4 lane, exactly.
  lanes_detail::Sum4V va, vs;
  v128_t vmax = wasm_f64x2_splat(0.0);
  const v128_t vinv = wasm_f32x4_splat(inv), vz = wasm_f32x4_splat(zf), vmq = wasm_f32x4_splat(mq), vd = wasm_f32x4_splat(d);
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (; i + 4 <= len; i += 4) {
    const v128_t wv = wasm_v128_load(w + i);
    v128_t level = wasm_f32x4_nearest(wasm_f32x4_add(wasm_f32x4_mul(wv, vinv), vz));
    level = wasm_v128_bitselect(zero, level, wasm_f32x4_lt(level, zero));  // clamp_level: < 0 first,
    level = wasm_v128_bitselect(vmq, level, wasm_f32x4_gt(level, vmq));    // then > max_q
    const v128_t qi = wasm_i32x4_trunc_sat_f32x4(level);
    const v128_t q8 = wasm_u8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(qi, qi), wasm_i16x8_narrow_i32x4(qi, qi));
    wasm_v128_store32_lane(q + i, q8, 0);
    const v128_t r = wasm_f32x4_mul(wasm_f32x4_sub(level, vz), vd);
    const v128_t dlo = wasm_f64x2_abs(wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(wv), wasm_f64x2_promote_low_f32x4(r)));
    const v128_t dhi = wasm_f64x2_abs(wasm_f64x2_sub(lanes_detail::high_f64(wv), lanes_detail::high_f64(r)));
    va.lo = wasm_f64x2_add(va.lo, dlo);
    va.hi = wasm_f64x2_add(va.hi, dhi);
    vs.lo = wasm_f64x2_add(vs.lo, wasm_f64x2_mul(dlo, dlo));
    vs.hi = wasm_f64x2_add(vs.hi, wasm_f64x2_mul(dhi, dhi));
    vmax = wasm_f64x2_pmax(vmax, wasm_f64x2_pmax(dlo, dhi));
  }
  va.flush(s.abs);
  vs.flush(s.sq);
  s.max_abs = std::fmax(wasm_f64x2_extract_lane(vmax, 0), wasm_f64x2_extract_lane(vmax, 1));
#endif
  for (; i < len; ++i) lanes_detail::score_one(w, i, inv, zf, mq, d, q, s);
  return s;
}

// The sums of the (d, z)-step over a block: T = w - shrink(w - (q - z) * d).
inline FitLanes fit_sums(const float* w, const uint8_t* q, std::size_t len, float zf, float d, float inv_beta,
                         float p_minus_1, float threshold) noexcept {
  FitLanes f;
  std::size_t i = 0;
#if defined(__wasm_simd128__)
  lanes_detail::Sum4V vq, vqq, vt, vqt;
  const v128_t vz = wasm_f32x4_splat(zf), vd = wasm_f32x4_splat(d), vth = wasm_f32x4_splat(threshold);
  for (; i + 4 <= len; i += 4) {
    const v128_t wv = wasm_v128_load(w + i);
    uint32_t word;
    std::memcpy(&word, q + i, 4);
    const v128_t qf = wasm_f32x4_convert_u32x4(wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(wasm_i32x4_make(static_cast<int32_t>(word), 0, 0, 0))));
    const v128_t x = wasm_f32x4_sub(wv, wasm_f32x4_mul(wasm_f32x4_sub(qf, vz), vd));
    if (wasm_v128_any_true(wasm_f32x4_gt(wasm_f32x4_abs(x), vth))) {
      // Some shrink is non-zero: these four go through the scalar formula, into the same lanes.
      FitLanes part;  // lanes start at 0: adding them is adding each element to its lane
      for (std::size_t j = i; j < i + 4; ++j) lanes_detail::fit_one(w, q, j, zf, d, inv_beta, p_minus_1, threshold, part);
      f.shrunk = f.shrunk || part.shrunk;
      vq.lo = wasm_f64x2_add(vq.lo, wasm_f64x2_make(part.q.l[0], part.q.l[1]));
      vq.hi = wasm_f64x2_add(vq.hi, wasm_f64x2_make(part.q.l[2], part.q.l[3]));
      vqq.lo = wasm_f64x2_add(vqq.lo, wasm_f64x2_make(part.qq.l[0], part.qq.l[1]));
      vqq.hi = wasm_f64x2_add(vqq.hi, wasm_f64x2_make(part.qq.l[2], part.qq.l[3]));
      vt.lo = wasm_f64x2_add(vt.lo, wasm_f64x2_make(part.t.l[0], part.t.l[1]));
      vt.hi = wasm_f64x2_add(vt.hi, wasm_f64x2_make(part.t.l[2], part.t.l[3]));
      vqt.lo = wasm_f64x2_add(vqt.lo, wasm_f64x2_make(part.qt.l[0], part.qt.l[1]));
      vqt.hi = wasm_f64x2_add(vqt.hi, wasm_f64x2_make(part.qt.l[2], part.qt.l[3]));
      continue;
    }
    // No shrink: T = w - 0 = w exactly.
    const v128_t qlo = wasm_f64x2_promote_low_f32x4(qf), qhi = lanes_detail::high_f64(qf);
    const v128_t tlo = wasm_f64x2_promote_low_f32x4(wv), thi = lanes_detail::high_f64(wv);
    vq.lo = wasm_f64x2_add(vq.lo, qlo);
    vq.hi = wasm_f64x2_add(vq.hi, qhi);
    vqq.lo = wasm_f64x2_add(vqq.lo, wasm_f64x2_mul(qlo, qlo));
    vqq.hi = wasm_f64x2_add(vqq.hi, wasm_f64x2_mul(qhi, qhi));
    vt.lo = wasm_f64x2_add(vt.lo, tlo);
    vt.hi = wasm_f64x2_add(vt.hi, thi);
    vqt.lo = wasm_f64x2_add(vqt.lo, wasm_f64x2_mul(qlo, tlo));
    vqt.hi = wasm_f64x2_add(vqt.hi, wasm_f64x2_mul(qhi, thi));
  }
  vq.flush(f.q);
  vqq.flush(f.qq);
  vt.flush(f.t);
  vqt.flush(f.qt);
#endif
  for (; i < len; ++i) lanes_detail::fit_one(w, q, i, zf, d, inv_beta, p_minus_1, threshold, f);
  return f;
}

}  // namespace hqq::nbits::detail
