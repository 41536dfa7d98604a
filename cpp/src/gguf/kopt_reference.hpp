// llama.cpp's reference quantizer of the affine K-quants (Q2_K, Q4_K, Q5_K without an importance
// matrix: quantize_row_q*_K_ref in ggml-quants.c), one sub-block per lane (kopt_lanes.hpp), so that
// Method::Optimized gets the reference block, which it must never be worse than, at SIMD speed.
// Every float32 operation is llama.cpp's, in its order, so the bytes are llama.cpp's exactly;
// tests/cpp/test_gguf_kquants_opt.cpp checks them against Method::Reference (the scalar port).
//
// The algorithm, per sub-block (llama.cpp's make_qkx2_quants): weights w_i (|x| + rms for Q4_K
// and Q5_K, |x| for Q2_K); min clamped to <= 0; the starting grid maps [min, max] onto 0..nmax;
// then for nstep + 1 inverse scales (nmax + rmin + k * rdelta) / (max - min) the levels are
// rounded, (scale, min) re-fitted by weighted least squares (min kept <= 0) and the weighted error
// (|d| for Q2_K, d^2 otherwise) of the pre-fit levels under the fitted grid decides; the levels of
// the best candidate are kept. Per super-block: scale and min codes rounded against the largest
// (6-bit for Q4_K/Q5_K, 4-bit for Q2_K), f16 super-scales, and levels re-rounded as
// nearest((x + dmin*m) / (d*sc)) wherever d*sc != 0 (elsewhere the search's levels stay).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "gguf/kopt_lanes.hpp"
#include "gguf/kopt_params.hpp"
#include "hqq/dtype.hpp"

namespace hqq::gguf::kopt {

// The continuous result of the reference search, next to the block it leads to.
struct ReferenceBlock {
  Params p;
  int8_t q[kSuperBlock];
  float scale[16], min[16];  // per sub-block, before code rounding (min as a positive offset)
};

template <class LN>
class AffineReference {
  using V = typename LN::V;
  using Mk = typename LN::Mask;
  static constexpr int N = LN::N;

 public:
  explicit AffineReference(Type type) : type_(type), L_(*layout_of(type)), n_(L_.sub_len), groups_(L_.n_sub / N) {
    if (type == Type::Q2_K) {
      rmin_ = -0.5f, nstep_ = 15, mad_ = true;
    } else if (type == Type::Q4_K) {
      rmin_ = -1.0f, nstep_ = 20, mad_ = false;
    } else {
      rmin_ = -0.5f, nstep_ = 15, mad_ = false;
    }
  }

  // `xt`: the super-block transposed as kopt_search.hpp keeps it ([group][i][lane]); `x` as stored.
  void run(const float* x, const float* xt, ReferenceBlock& out) const {
    alignas(16) float levels[kSuperBlock];  // [group][i][lane], as xt
    for (int g = 0; g < groups_; ++g) search(g, xt, levels, out.scale + g * N, out.min + g * N);
    quantize_codes(out);
    requantize(x, levels, out);
  }

 private:
  V nearest_clamped(V v) const {
    return LN::min(LN::max(LN::nearest(v), LN::splat(0.0f)), LN::splat(static_cast<float>(L_.q_hi)));
  }

  // make_qkx2_quants on the sub-blocks of group g.
  void search(int g, const float* xt, float* levels, float* scale_out, float* min_out) const {
    const V zero = LN::splat(0.0f);
    const V nmax = LN::splat(static_cast<float>(L_.q_hi));
    auto xv = [&](int i) { return LN::load(xt + (g * n_ + i) * N); };
    alignas(16) float w[32 * N] = {};
    if (type_ == Type::Q2_K) {
      for (int i = 0; i < n_; ++i) LN::store(w + i * N, LN::abs(xv(i)));
    } else {
      V sum_x2 = zero;
      for (int i = 0; i < n_; ++i) sum_x2 = LN::add(sum_x2, LN::mul(xv(i), xv(i)));
      const V av_x = LN::sqrt(LN::div(sum_x2, LN::splat(static_cast<float>(n_))));
      for (int i = 0; i < n_; ++i) LN::store(w + i * N, LN::add(av_x, LN::abs(xv(i))));
    }
    auto wv = [&](int i) { return LN::load(w + i * N); };
    V mn = xv(0), mx = xv(0), sum_w = wv(0), sum_x = LN::mul(sum_w, xv(0));
    for (int i = 1; i < n_; ++i) {
      const V x = xv(i);
      mn = LN::select(LN::lt(x, mn), x, mn);
      mx = LN::select(LN::gt(x, mx), x, mx);
      sum_w = LN::add(sum_w, wv(i));
      sum_x = LN::add(sum_x, LN::mul(wv(i), x));
    }
    mn = LN::select(LN::gt(mn, zero), zero, mn);
    const Mk flat = LN::eq(mx, mn);
    const V range = LN::sub(mx, mn);
    V iscale = LN::div(nmax, range);
    V scale = LN::div(LN::splat(1.0f), iscale);
    V min = mn;
    V best = zero;
    float* L = levels + g * n_ * N;
    for (int i = 0; i < n_; ++i) {
      const V l = nearest_clamped(LN::mul(iscale, LN::sub(xv(i), min)));
      LN::store(L + i * N, l);
      best = LN::add(best, LN::mul(wv(i), error_term(LN::sub(LN::add(LN::mul(scale, l), min), xv(i)))));
    }
    alignas(16) float aux[32 * N] = {};
    for (int step = 0; step <= nstep_; ++step) {
      const float offset = (rmin_ + 0.1f * static_cast<float>(step)) + static_cast<float>(L_.q_hi);
      // llama.cpp measures from the current best min, which the candidates before have updated
      iscale = LN::div(LN::splat(offset), LN::sub(mx, min));
      V sum_l = zero, sum_l2 = zero, sum_xl = zero;
      for (int i = 0; i < n_; ++i) {
        const V l = nearest_clamped(LN::mul(iscale, LN::sub(xv(i), min)));
        LN::store(aux + i * N, l);
        const V wl = LN::mul(wv(i), l);
        sum_l = LN::add(sum_l, wl);
        sum_l2 = LN::add(sum_l2, LN::mul(wl, l));
        sum_xl = LN::add(sum_xl, LN::mul(wl, xv(i)));
      }
      const V D = LN::sub(LN::mul(sum_w, sum_l2), LN::mul(sum_l, sum_l));
      V this_scale = LN::div(LN::sub(LN::mul(sum_w, sum_xl), LN::mul(sum_x, sum_l)), D);
      V this_min = LN::div(LN::sub(LN::mul(sum_l2, sum_x), LN::mul(sum_l, sum_xl)), D);
      const Mk positive = LN::gt(this_min, zero);
      this_min = LN::select(positive, zero, this_min);
      this_scale = LN::select(positive, LN::div(sum_xl, sum_l2), this_scale);
      V cur = zero;
      for (int i = 0; i < n_; ++i) {
        const V d = LN::sub(LN::add(LN::mul(this_scale, LN::load(aux + i * N)), this_min), xv(i));
        cur = LN::add(cur, LN::mul(wv(i), error_term(d)));
      }
      const Mk take = LN::and_(LN::gt(D, zero), LN::lt(cur, best));
      if (!LN::any(take)) continue;
      for (int i = 0; i < n_; ++i) LN::store(L + i * N, LN::select(take, LN::load(aux + i * N), LN::load(L + i * N)));
      best = LN::select(take, cur, best);
      scale = LN::select(take, this_scale, scale);
      min = LN::select(take, this_min, min);
    }
    // a flat sub-block: levels 0, scale 0, offset -min
    for (int i = 0; i < n_; ++i) LN::store(L + i * N, LN::select(flat, zero, LN::load(L + i * N)));
    LN::store(scale_out, LN::select(flat, zero, scale));
    LN::store(min_out, LN::sub(zero, LN::select(flat, mn, min)));
  }

  V error_term(V d) const { return mad_ ? LN::abs(d) : LN::mul(d, d); }

  // Codes against the largest scale and min, f16 super-scales (scalar, as llama.cpp).
  void quantize_codes(ReferenceBlock& out) const {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < L_.n_sub; ++j) {
      if (out.scale[j] > max_scale) max_scale = out.scale[j];
      if (out.min[j] > max_min) max_min = out.min[j];
    }
    Params& p = out.p;
    p = Params{};
    if (type_ == Type::Q2_K) {
      const float q4scale = 15.0f;
      if (max_scale > 0) {
        const float iscale = q4scale / max_scale;
        for (int j = 0; j < 16; ++j) p.sc[j] = static_cast<int16_t>(nearest_int(iscale * out.scale[j]) & 0xf);
        p.d = f32_to_f16(max_scale / q4scale);
      }
      if (max_min > 0) {
        const float iscale = q4scale / max_min;
        for (int j = 0; j < 16; ++j) p.m[j] = static_cast<int16_t>(nearest_int(iscale * out.min[j]) & 0xf);
        p.dmin = f32_to_f16(max_min / q4scale);
      }
      return;
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < 8; ++j) {
      const int ls = static_cast<uint8_t>(nearest_int(inv_scale * out.scale[j]));
      const int lm = static_cast<uint8_t>(nearest_int(inv_min * out.min[j]));
      p.sc[j] = static_cast<int16_t>(ls < 63 ? ls : 63);
      p.m[j] = static_cast<int16_t>(lm < 63 ? lm : 63);
    }
    p.d = f32_to_f16(max_scale / 63.0f);
    p.dmin = f32_to_f16(max_min / 63.0f);
  }

  // Final levels: nearest((x + dmin*m) / (d*sc)) where d*sc != 0, the search's levels elsewhere.
  void requantize(const float* x, const float* levels, ReferenceBlock& out) const {
    const float d = f16_to_f32(out.p.d), dmin = f16_to_f32(out.p.dmin);
    for (int j = 0; j < L_.n_sub; ++j) {
      const float D = d * static_cast<float>(out.p.sc[j]);
      const float M = dmin * static_cast<float>(out.p.m[j]);
      const int g = j / N, lane = j % N;
      for (int i = 0; i < n_; ++i) {
        int l;
        if (D != 0.0f) {
          l = nearest_int((x[j * n_ + i] + M) / D);
          l = l < 0 ? 0 : (l > L_.q_hi ? L_.q_hi : l);
        } else {
          l = static_cast<int>(levels[(g * n_ + i) * N + lane]);
        }
        out.q[j * n_ + i] = static_cast<int8_t>(l);
      }
    }
  }

  // llama.cpp's nearest_int: round half to even through the float mantissa (valid for |v| < 2^22,
  // reproduced bit for bit beyond).
  static int nearest_int(float v) {
    const float shifted = v + 12582912.0f;
    int32_t bits;
    std::memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
  }

  const Type type_;
  const Layout& L_;
  const int n_, groups_;
  float rmin_ = 0;
  int nstep_ = 0;
  bool mad_ = false;
};

}  // namespace hqq::gguf::kopt
