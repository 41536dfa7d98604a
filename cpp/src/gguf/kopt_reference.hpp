// llama.cpp's reference quantizers of the K-quants (without an importance matrix:
// quantize_row_q*_K_ref in ggml-quants.c), one sub-block per lane (kopt_lanes.hpp), so that
// Method::Optimized gets the reference block, which it must never be worse than, at SIMD speed.
// The affine types (Q2_K, Q4_K, Q5_K) first, the symmetric ones (Q3_K, Q6_K) below.
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

// Sub-blocks whose largest |x| is below this are all zero to llama.cpp (GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

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
    alignas(16) float w[32 * N];  // every element used is written first (no memset per group)
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
    alignas(16) float aux[32 * N];
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
      // The error only grows as terms are added (each is >= 0, and adding one never lowers a float
      // sum), so once no lane's partial sum is below its best, no lane can take this candidate:
      // stop early, with exactly the outcome of the full sum. Checked every 8 weights.
      V cur = zero;
      bool hopeless = false;
      for (int i = 0; i < n_ && !hopeless; i += 8) {
        for (int k = i; k < i + 8; ++k) {
          const V d = LN::sub(LN::add(LN::mul(this_scale, LN::load(aux + k * N)), this_min), xv(k));
          cur = LN::add(cur, LN::mul(wv(k), error_term(d)));
        }
        hopeless = !LN::any(LN::and_(LN::gt(D, zero), LN::lt(cur, best)));
      }
      if (hopeless) continue;
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
 public:
  static int nearest_int(float v) {
    const float shifted = v + 12582912.0f;
    int32_t bits;
    std::memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
  }

 private:
  const Type type_;
  const Layout& L_;
  const int n_, groups_;
  float rmin_ = 0;
  int nstep_ = 0;
  bool mad_ = false;
};

// llama.cpp's reference quantizer of the symmetric K-quants, one sub-block per lane:
//  - Q6_K (make_qx_quants with x^2 weights): the largest-magnitude value v maps to level -32;
//    the scale is the weighted least-squares fit of that rounding, and 18 nearby inverse scales
//    -(32 + 0.1 k) / v (k = -9..9, k != 0) replace it when their fit explains more of the weighted
//    energy (sum_lx^2 / sum_l2 larger). Codes: int8 against the largest |scale| (mapped to -128).
//  - Q3_K (make_q3_quants with do_rmse): v maps to level -4, then up to five sweeps re-round each
//    level to the value that best fits the others' weighted least-squares scale, keeping changes
//    that raise sum_lx^2 / sum_l2. Codes: 6-bit signed against the largest |scale| (mapped to -32).
// Then levels nearest(x / (d * sc)) wherever d * sc != 0 (elsewhere the search's levels stay).
template <class LN>
class SymmetricReference {
  using V = typename LN::V;
  using Mk = typename LN::Mask;
  static constexpr int N = LN::N;
  static constexpr int kSub = 16;  // both types: 16 sub-blocks of 16

 public:
  explicit SymmetricReference(Type type) : type_(type), nmax_(type == Type::Q6_K ? 32 : 4) {}

  void run(const float* x, const float* xt, ReferenceBlock& out) const {
    alignas(16) float levels[kSuperBlock];  // signed, [group][i][lane]
    for (int g = 0; g < kSub / N; ++g) {
      if (type_ == Type::Q6_K) {
        search_q6(g, xt, levels, out.scale + g * N);
      } else {
        search_q3(g, xt, levels, out.scale + g * N);
      }
    }
    for (int j = 0; j < kSub; ++j) out.min[j] = 0;
    quantize_codes(out);
    requantize(x, levels, out);
  }

 private:
  V clamp_level(V l) const {
    return LN::min(LN::max(l, LN::splat(static_cast<float>(-nmax_))), LN::splat(static_cast<float>(nmax_ - 1)));
  }

  // The signed value of largest magnitude (the first on ties) and its magnitude.
  void largest(int g, const float* xt, V& vmax, V& amax) const {
    vmax = amax = LN::splat(0.0f);
    for (int i = 0; i < kSub; ++i) {
      const V x = LN::load(xt + (g * kSub + i) * N);
      const Mk bigger = LN::gt(LN::abs(x), amax);
      amax = LN::select(bigger, LN::abs(x), amax);
      vmax = LN::select(bigger, x, vmax);
    }
  }

  void search_q6(int g, const float* xt, float* levels, float* scale_out) const {
    const V zero = LN::splat(0.0f);
    auto xv = [&](int i) { return LN::load(xt + (g * kSub + i) * N); };
    float* L = levels + g * kSub * N;
    V vmax, amax;
    largest(g, xt, vmax, amax);
    const Mk empty = LN::lt(amax, LN::splat(kGroupMaxEps));
    // weighted sums of the rounding for inverse scale `iscale`
    auto sums = [&](V iscale, V& sumlx, V& suml2, bool store) {
      sumlx = suml2 = zero;
      for (int i = 0; i < kSub; ++i) {
        const V x = xv(i);
        const V l = clamp_level(LN::nearest_int(LN::mul(iscale, x)));
        if (store) LN::store(L + i * N, l);
        const V w = LN::mul(x, x);
        sumlx = LN::add(sumlx, LN::mul(LN::mul(w, x), l));
        suml2 = LN::add(suml2, LN::mul(LN::mul(w, l), l));
      }
    };
    V sumlx, suml2;
    sums(LN::div(LN::splat(static_cast<float>(-nmax_)), vmax), sumlx, suml2, true);
    V scale = LN::select(LN::eq(suml2, zero), zero, LN::div(sumlx, suml2));
    V best = LN::mul(scale, sumlx);
    for (int k = -9; k <= 9; ++k) {
      if (k == 0) continue;
      const float t = static_cast<float>(nmax_) + 0.1f * static_cast<float>(k);
      const V iscale = LN::div(LN::splat(-t), vmax);
      V slx, sl2;
      sums(iscale, slx, sl2, false);
      const Mk take = LN::and_(LN::gt(sl2, zero), LN::gt(LN::mul(slx, slx), LN::mul(best, sl2)));
      if (!LN::any(take)) continue;
      for (int i = 0; i < kSub; ++i) {
        const V l = clamp_level(LN::nearest_int(LN::mul(iscale, xv(i))));
        LN::store(L + i * N, LN::select(take, l, LN::load(L + i * N)));
      }
      scale = LN::select(take, LN::div(slx, sl2), scale);
      best = LN::select(take, LN::mul(LN::div(slx, sl2), slx), best);
    }
    // an all-zero sub-block: stored level 0 (signed -32), scale 0
    for (int i = 0; i < kSub; ++i) LN::store(L + i * N, LN::select(empty, LN::splat(static_cast<float>(-nmax_)), LN::load(L + i * N)));
    LN::store(scale_out, LN::select(empty, zero, scale));
  }

  void search_q3(int g, const float* xt, float* levels, float* scale_out) const {
    const V zero = LN::splat(0.0f);
    auto xv = [&](int i) { return LN::load(xt + (g * kSub + i) * N); };
    float* L = levels + g * kSub * N;
    V vmax, amax;
    largest(g, xt, vmax, amax);
    const Mk empty = LN::lt(amax, LN::splat(kGroupMaxEps));
    const V iscale = LN::div(LN::splat(static_cast<float>(-nmax_)), vmax);
    V sumlx = zero, suml2 = zero;
    for (int i = 0; i < kSub; ++i) {
      const V x = xv(i);
      const V l = clamp_level(LN::nearest_int(LN::mul(iscale, x)));
      LN::store(L + i * N, l);
      const V w = LN::mul(x, x);
      sumlx = LN::add(sumlx, LN::mul(LN::mul(w, x), l));
      suml2 = LN::add(suml2, LN::mul(LN::mul(w, l), l));
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      Mk changed = LN::lt(zero, zero);  // all false
      for (int i = 0; i < kSub; ++i) {
        const V x = xv(i);
        const V w = LN::mul(x, x);
        const V li = LN::load(L + i * N);
        V slx = LN::sub(sumlx, LN::mul(LN::mul(w, x), li));
        const Mk pos = LN::gt(slx, zero);
        V sl2 = LN::sub(suml2, LN::mul(LN::mul(w, li), li));
        const V nl = clamp_level(LN::nearest_int(LN::div(LN::mul(x, sl2), slx)));
        const Mk differs = LN::and_(pos, LN::not_(LN::eq(nl, li)));
        slx = LN::add(slx, LN::mul(LN::mul(w, x), nl));
        sl2 = LN::add(sl2, LN::mul(LN::mul(w, nl), nl));
        const Mk better = LN::gt(LN::mul(LN::mul(slx, slx), suml2), LN::mul(LN::mul(sumlx, sumlx), sl2));
        const Mk take = LN::and_(differs, LN::and_(LN::gt(sl2, zero), better));
        LN::store(L + i * N, LN::select(take, nl, li));
        sumlx = LN::select(take, slx, sumlx);
        suml2 = LN::select(take, sl2, suml2);
        changed = LN::or_(changed, take);
      }
      if (!LN::any(changed)) break;
    }
    // an all-zero sub-block: stored level 0 (signed -4), scale 0
    for (int i = 0; i < kSub; ++i) LN::store(L + i * N, LN::select(empty, LN::splat(static_cast<float>(-nmax_)), LN::load(L + i * N)));
    const V scale = LN::select(LN::gt(suml2, zero), LN::div(sumlx, suml2), zero);
    LN::store(scale_out, LN::select(empty, zero, scale));
  }

  void quantize_codes(ReferenceBlock& out) const {
    float max_scale = 0, max_abs = 0;
    for (int j = 0; j < kSub; ++j) {
      if (std::fabs(out.scale[j]) > max_abs) {
        max_abs = std::fabs(out.scale[j]);
        max_scale = out.scale[j];
      }
    }
    Params& p = out.p;
    p = Params{};
    if (type_ == Type::Q6_K) {
      if (max_abs < kGroupMaxEps) return;  // all-zero block: every byte 0
      const float iscale = -128.0f / max_scale;
      p.d = f32_to_f16(1.0f / iscale);
      for (int j = 0; j < kSub; ++j) {
        const int l = AffineReference<LN>::nearest_int(iscale * out.scale[j]);
        p.sc[j] = static_cast<int8_t>(l < 127 ? l : 127);
      }
      return;
    }
    if (max_scale == 0.0f) {
      for (int j = 0; j < kSub; ++j) p.sc[j] = -32;  // the code bytes stay 0: signed -32, d = 0
      return;
    }
    const float iscale = -32.0f / max_scale;
    for (int j = 0; j < kSub; ++j) {
      const int8_t l = static_cast<int8_t>(AffineReference<LN>::nearest_int(iscale * out.scale[j]));
      p.sc[j] = static_cast<int16_t>(l < -32 ? -32 : (l > 31 ? 31 : l));
    }
    p.d = f32_to_f16(1.0f / iscale);
  }

  void requantize(const float* x, const float* levels, ReferenceBlock& out) const {
    const float d = f16_to_f32(out.p.d);
    const bool zero_block = type_ == Type::Q6_K && out.p.d == 0 && out.p.sc[0] == 0 && all_zero_codes(out.p);
    for (int j = 0; j < kSub; ++j) {
      const float D = d * static_cast<float>(out.p.sc[j]);
      const int g = j / N, lane = j % N;
      for (int i = 0; i < kSub; ++i) {
        int l;
        if (zero_block) {
          l = -nmax_;  // memset 0: stored level 0
        } else if (D != 0.0f) {
          l = AffineReference<LN>::nearest_int(x[j * kSub + i] / D);
          l = l < -nmax_ ? -nmax_ : (l > nmax_ - 1 ? nmax_ - 1 : l);
        } else {
          l = static_cast<int>(levels[(g * kSub + i) * N + lane]);
        }
        out.q[j * kSub + i] = static_cast<int8_t>(l);
      }
    }
  }

  static bool all_zero_codes(const Params& p) {
    for (int j = 0; j < kSub; ++j) {
      if (p.sc[j] != 0) return false;
    }
    return true;
  }

  const Type type_;
  const int nmax_;
};

// Either of the above, by type.
template <class LN>
class ReferenceLanes {
 public:
  explicit ReferenceLanes(Type type)
      : affine_(layout_of(type)->affine()), a_(affine_ ? type : Type::Q4_K), s_(affine_ ? Type::Q6_K : type) {}
  void run(const float* x, const float* xt, ReferenceBlock& out) const {
    if (affine_) {
      a_.run(x, xt, out);
    } else {
      s_.run(x, xt, out);
    }
  }

 private:
  bool affine_;
  AffineReference<LN> a_;
  SymmetricReference<LN> s_;
};

}  // namespace hqq::gguf::kopt
