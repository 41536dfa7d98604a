// SIMD kernels (WebAssembly SIMD128; SSE4.1 for native builds of the same source).
//
// The solver kernel exploits two facts of HQQ-SPEC section 3:
//  * s never changes, so W*s is computed once per block instead of once per iteration;
//  * shrink() is exactly zero below a threshold, which typical weights never reach. Then the
//    zero update reduces to z' = mean(q - W*s) = z - mean(v - q) with v = W*s + z, and the error
//    |W - (q - z)/s| to |v - q| / s: a handful of vector operations per element and no pow.
// Whenever any element of a group could reach the threshold in an iteration, that group's
// iteration is redone by the exact per-element reference code (reference_ops.hpp), so outliers
// and unit-scale inputs still get the shrinkage. Differences to the scalar kernels are rounding
// only (the level computation itself is identical); tests/cpp/test_kernels.cpp bounds them.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "kernels/kernels.hpp"
#include "kernels/reference_ops.hpp"
#include "kernels/simd4.hpp"

namespace hqq::kernels {
namespace {

using namespace simd4;

void group_min_max(const float* w, std::size_t n_groups, std::size_t g, float* mn, float* mx) {
  for (std::size_t grp = 0; grp < n_groups; ++grp) {
    const float* row = w + grp * g;
    std::size_t k = 0;
    float lo = row[0], hi = row[0];
    if (g >= 4) {
      f4 vlo = load(row), vhi = vlo;
      for (k = 4; k + 4 <= g; k += 4) {
        const f4 v = load(row + k);
        vlo = min(vlo, v);
        vhi = max(vhi, v);
      }
      lo = hmin(vlo);
      hi = hmax(vhi);
    }
    for (; k < g; ++k) {
      lo = row[k] < lo ? row[k] : lo;
      hi = row[k] > hi ? row[k] : hi;
    }
    mn[grp] = lo;
    mx[grp] = hi;
  }
}

inline f4 levels4(f4 ws, f4 z, f4 zero, f4 top) { return min(max(nearest(add(ws, z)), zero), top); }

void quantize_levels(const float* w, std::size_t n_groups, std::size_t g, const float* s,
                     const float* z, float max_q, uint8_t* q) {
  const f4 zero = splat(0.0f), top = splat(max_q);
  for (std::size_t grp = 0; grp < n_groups; ++grp) {
    const float* row = w + grp * g;
    uint8_t* out = q + grp * g;
    const f4 vs = splat(s[grp]), vz = splat(z[grp]);
    std::size_t k = 0;
    for (; k + 16 <= g; k += 16) {
      store_u8x16(out + k, levels4(mul(load(row + k), vs), vz, zero, top),
                  levels4(mul(load(row + k + 4), vs), vz, zero, top),
                  levels4(mul(load(row + k + 8), vs), vz, zero, top),
                  levels4(mul(load(row + k + 12), vs), vz, zero, top));
    }
    for (; k < g; ++k) out[k] = static_cast<uint8_t>(ref::level_of(row[k], s[grp], z[grp], max_q));
  }
}

// The solver runs four groups at a time, one group per lane: the block's W*s (and W, for the
// per-group-best metric) is rewritten once as [batch][k][lane], so every per-group sum is a plain
// vertical accumulation with no horizontal reductions in the loop.
constexpr std::size_t kLanes = 4;

struct alignas(16) Lanes {
  float v[kLanes];
};

void interleave_block(const SolveBlockArgs& a, float* ws4, float* w4) {
  const std::size_t g = a.g, batches = (a.n_groups + kLanes - 1) / kLanes;
  for (std::size_t b = 0; b < batches; ++b) {
    for (std::size_t lane = 0; lane < kLanes; ++lane) {
      const std::size_t grp = b * kLanes + lane;
      float* dst_ws = ws4 + b * g * kLanes + lane;
      float* dst_w = w4 ? w4 + b * g * kLanes + lane : nullptr;
      if (grp >= a.n_groups) {  // padding lanes: zeros, results discarded
        for (std::size_t k = 0; k < g; ++k) dst_ws[k * kLanes] = 0.0f;
        if (dst_w)
          for (std::size_t k = 0; k < g; ++k) dst_w[k * kLanes] = 0.0f;
        continue;
      }
      const float* src = a.w + grp * g;
      const float s = a.s[grp];
      for (std::size_t k = 0; k < g; ++k) dst_ws[k * kLanes] = src[k] * s;  // exactly f32(w * s)
      if (dst_w)
        for (std::size_t k = 0; k < g; ++k) dst_w[k * kLanes] = src[k];
    }
  }
}

// Sum over each lane's group of |W - (q - z) * scale| (the final dequantization error).
inline f4 dequant_error4(const float* ws4, const float* w4, std::size_t g, f4 z, f4 scale, f4 top) {
  const f4 zero = splat(0.0f);
  f4 acc = zero;
  for (std::size_t k = 0; k < g; ++k) {
    const f4 q = min(max(nearest(add(load(ws4 + k * kLanes), z)), zero), top);
    acc = add(acc, abs(sub(load(w4 + k * kLanes), mul(sub(q, z), scale))));
  }
  return acc;
}

void solve_block(const SolveBlockArgs& a) {
  const std::size_t g = a.g, batches = (a.n_groups + kLanes - 1) / kLanes;
  const bool best_mode = a.z_best != nullptr;
  float* ws4 = a.scratch;
  float* w4 = best_mode ? a.scratch + batches * g * kLanes : nullptr;
  interleave_block(a, ws4, w4);

  const f4 zero = splat(0.0f), top = splat(a.max_q);
  const f4 inv_g = splat(1.0f / static_cast<float>(g));
  for (std::size_t b = 0; b < batches; ++b) {
    const float* bws = ws4 + b * g * kLanes;
    const float* bw = best_mode ? w4 + b * g * kLanes : nullptr;
    const std::size_t first = b * kLanes;
    const std::size_t lanes = std::min(kLanes, a.n_groups - first);
    Lanes s{}, scale{}, z{};
    for (std::size_t l = 0; l < kLanes; ++l) {
      s.v[l] = l < lanes ? a.s[first + l] : 1.0f;
      scale.v[l] = l < lanes ? a.scale[first + l] : 1.0f;
      z.v[l] = l < lanes ? a.z0[first + l] : 0.0f;
    }
    const f4 vscale = load(scale.v);
    Lanes best_err{}, best_z = z;
    if (!best_mode)
      for (std::size_t l = 0; l < lanes; ++l) a.z_hist[first + l] = z.v[l];

    for (int it = 0; it < a.iters; ++it) {
      const f4 vz = load(z.v);
      f4 e_sum = zero, e_abs = zero, e_max = zero, m_abs = zero;
      for (std::size_t k = 0; k < g; ++k) {
        const f4 v = add(load(bws + k * kLanes), vz);
        const f4 q = min(max(nearest(v), zero), top);
        const f4 e = sub(v, q);
        const f4 ae = abs(e);
        e_sum = add(e_sum, e);
        e_abs = add(e_abs, ae);
        e_max = max(e_max, ae);
        if (best_mode) m_abs = add(m_abs, abs(sub(load(bw + k * kLanes), mul(sub(q, vz), vscale))));
      }
      // z' = mean(q - W*s) = z - mean(v - q); error |W - (q - z)/s| ~ |v - q| / s.
      Lanes z_next, err, emax, merr;
      store(z_next.v, sub(vz, mul(e_sum, inv_g)));
      store(err.v, mul(e_abs, vscale));
      store(emax.v, e_max);
      store(merr.v, m_abs);
      // |x| = |W - W_r| ~ |v - q| / s: while every |v - q| stays below the shrink threshold in
      // level units (with a margin for this approximation) shrink() is exactly zero and the fast
      // path is the reference's arithmetic. Otherwise this group's iteration is redone exactly.
      const float threshold = a.threshold[it] * (1.0f - 1e-3f);
      double err_total = 0;
      for (std::size_t l = 0; l < lanes; ++l) {
        double e = err.v[l];
        if (emax.v[l] > threshold * s.v[l]) {
          const float* wg = a.w + (first + l) * g;
          z_next.v[l] = ref::group_iteration(wg, g, s.v[l], z.v[l], a.max_q, a.inv_beta[it],
                                             a.threshold[it], a.p_minus_1, &e);
          if (best_mode)
            merr.v[l] = static_cast<float>(ref::group_dequant_error(wg, g, s.v[l], scale.v[l], z.v[l], a.max_q));
        }
        err_total += e;
      }
      if (best_mode) {
        for (std::size_t l = 0; l < lanes; ++l)
          if (it == 0 || merr.v[l] < best_err.v[l]) best_err.v[l] = merr.v[l], best_z.v[l] = z.v[l];
      } else {
        a.err_sum[it] += err_total;
        float* row = a.z_hist + (static_cast<std::size_t>(it) + 1) * a.hist_stride + first;
        for (std::size_t l = 0; l < lanes; ++l) row[l] = z_next.v[l];
      }
      z = z_next;
    }
    if (best_mode) {
      // z after the last update has not been scored yet.
      Lanes last;
      store(last.v, dequant_error4(bws, bw, g, load(z.v), vscale, top));
      for (std::size_t l = 0; l < lanes; ++l) {
        if (a.iters == 0 || last.v[l] < best_err.v[l]) best_z.v[l] = z.v[l];
        a.z_best[first + l] = best_z.v[l];
      }
    }
  }
}

void dequantize_rows(const uint8_t* q, std::size_t rows, std::size_t cols, const float* scale,
                     const float* zero, float* out) {
  for (std::size_t r = 0; r < rows; ++r) {
    const f4 vs = splat(scale[r]), vz = splat(zero[r]);
    const uint8_t* src = q + r * cols;
    float* dst = out + r * cols;
    std::size_t c = 0;
    for (; c + 4 <= cols; c += 4) store(dst + c, mul(sub(from_u8x4(src + c), vz), vs));
    for (; c < cols; ++c) dst[c] = (static_cast<float>(src[c]) - zero[r]) * scale[r];
  }
}

void dequantize_cols(const uint8_t* q, std::size_t rows, std::size_t cols, const float* scale,
                     const float* zero, float* out) {
  for (std::size_t r = 0; r < rows; ++r) {
    const uint8_t* src = q + r * cols;
    float* dst = out + r * cols;
    std::size_t c = 0;
    for (; c + 4 <= cols; c += 4)
      store(dst + c, mul(sub(from_u8x4(src + c), load(zero + c)), load(scale + c)));
    for (; c < cols; ++c) dst[c] = (static_cast<float>(src[c]) - zero[c]) * scale[c];
  }
}

void error_sums(const float* w, const float* r, std::size_t n, double* sum_abs, double* sum_sq,
                double* max_abs, double* sum_w_sq) {
  // Differences formed in double, as the scalar kernel does: only the summation order differs.
  d2 sa = dsplat(0), sq = dsplat(0), sw = dsplat(0), mx = dsplat(0);
  std::size_t i = 0;
  auto accumulate = [&](d2 wv, d2 rv) {
    const d2 d = dsub(wv, rv);
    sa = dadd(sa, dabs(d));
    sq = dadd(sq, dmul(d, d));
    sw = dadd(sw, dmul(wv, wv));
    mx = dmax(mx, dabs(d));
  };
  for (; i + 4 <= n; i += 4) {
    const f4 wv = load(w + i), rv = load(r + i);
    accumulate(lo_to_d2(wv), lo_to_d2(rv));
    accumulate(hi_to_d2(wv), hi_to_d2(rv));
  }
  double a = dlane(sa, 0) + dlane(sa, 1), b = dlane(sq, 0) + dlane(sq, 1);
  double c = dlane(sw, 0) + dlane(sw, 1), m = std::fmax(dlane(mx, 0), dlane(mx, 1));
  for (; i < n; ++i) {
    const double d = static_cast<double>(w[i]) - static_cast<double>(r[i]);
    a += std::fabs(d);
    b += d * d;
    c += static_cast<double>(w[i]) * static_cast<double>(w[i]);
    m = std::fabs(d) > m ? std::fabs(d) : m;
  }
  *sum_abs = a;
  *sum_sq = b;
  *sum_w_sq = c;
  *max_abs = m;
}

void decode_f16(const uint16_t* in, float* out, std::size_t n) {
  // Normal and subnormal halves: the 15 magnitude bits shifted into a float32 and multiplied by
  // 2^112 re-bias the exponent (subnormals become normal floats exactly). Inf/NaN keep their
  // payload with the all-ones exponent.
  const f4 rebias = splat(0x1p112f);
  const i4 mag_mask = isplat(0x7fff), sign_mask = isplat(0x8000), inf_or_nan = isplat(0x7bff);
  const i4 exp_all_ones = isplat(0x7f800000u);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const i4 h = load_u16x4(in + i);
    const i4 mag = iand(h, mag_mask);
    const i4 sign = ishl(iand(h, sign_mask), 16);
    const i4 finite = as_i4(mul(as_f4(ishl(mag, 13)), rebias));
    const i4 special = ior(ishl(mag, 13), exp_all_ones);
    const i4 bits = select(igt(mag, inf_or_nan), special, finite);
    store(out + i, as_f4(ior(bits, sign)));
  }
  for (; i < n; ++i) {
    out[i] = [](uint16_t h) {
      const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
      const uint32_t mag = h & 0x7fffu;
      uint32_t bits;
      if (mag > 0x7bffu) {
        bits = (mag << 13) | 0x7f800000u;
      } else {
        float f;
        const uint32_t shifted = mag << 13;
        std::memcpy(&f, &shifted, 4);
        f *= 0x1p112f;
        std::memcpy(&bits, &f, 4);
      }
      bits |= sign;
      float r;
      std::memcpy(&r, &bits, 4);
      return r;
    }(in[i]);
  }
}

void decode_bf16(const uint16_t* in, float* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) store(out + i, as_f4(ishl(load_u16x4(in + i), 16)));
  for (; i < n; ++i) {
    const uint32_t bits = static_cast<uint32_t>(in[i]) << 16;
    std::memcpy(out + i, &bits, 4);
  }
}

constexpr Kernels kSimd{
#if HQQ_SIMD4_WASM
    "wasm-simd128",
#else
    "sse4.1",
#endif
    group_min_max, quantize_levels, solve_block, dequantize_rows, dequantize_cols, error_sums,
    decode_f16,    decode_bf16,
};

}  // namespace

const Kernels* simd_kernels_impl() noexcept {
#if HQQ_SIMD4_SSE && defined(__GNUC__)
  if (!__builtin_cpu_supports("sse4.1")) return nullptr;
#endif
  return &kSimd;
}

}  // namespace hqq::kernels
