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

// One iteration of one group on the fast path. Returns false (and changes nothing) when an
// element may reach the shrink threshold; the caller then runs the exact reference iteration.
// On success: *z_next, *err = sum |W - W_r| (W units), *err_mul = sum |W - (q - z) * scale| when
// want_mul.
inline bool fast_iteration(const float* w, const float* ws, std::size_t g, float s, float scale,
                           float z, float max_q, float level_threshold, bool want_mul,
                           float* z_next, double* err, double* err_mul) {
  const f4 vz = splat(z), zero = splat(0.0f), top = splat(max_q), vscale = splat(scale);
  f4 e_sum = zero, e_abs = zero, e_max = zero, m_abs = zero;
  std::size_t k = 0;
  for (; k + 4 <= g; k += 4) {
    const f4 v = add(load(ws + k), vz);
    const f4 q = min(max(nearest(v), zero), top);
    const f4 e = sub(v, q);
    const f4 ae = abs(e);
    e_sum = add(e_sum, e);
    e_abs = add(e_abs, ae);
    e_max = max(e_max, ae);
    if (want_mul) m_abs = add(m_abs, abs(sub(load(w + k), mul(sub(q, vz), vscale))));
  }
  float es = hsum(e_sum), ea = hsum(e_abs), em = hmax(e_max), ma = hsum(m_abs);
  for (; k < g; ++k) {
    const float v = ws[k] + z;
    const float q = ref::clamp_level(std::nearbyint(v), max_q);
    const float e = v - q;
    es += e;
    ea += std::fabs(e);
    em = std::fabs(e) > em ? std::fabs(e) : em;
    if (want_mul) ma += std::fabs(w[k] - (q - z) * scale);
  }
  if (em > level_threshold) return false;
  *z_next = static_cast<float>(static_cast<double>(z) - static_cast<double>(es) / static_cast<double>(g));
  *err = static_cast<double>(ea) / static_cast<double>(s);
  *err_mul = static_cast<double>(ma);
  return true;
}

void solve_block(const SolveBlockArgs& a) {
  const std::size_t g = a.g, n = a.n_groups * g;
  const bool best_mode = a.z_best != nullptr;
  const std::size_t hist_stride = static_cast<std::size_t>(a.iters) + 1;

  // W * s once for the whole block: the only product the iterations need.
  float* ws = a.scratch;
  for (std::size_t grp = 0; grp < a.n_groups; ++grp) {
    const float* row = a.w + grp * g;
    float* out = ws + grp * g;
    const f4 vs = splat(a.s[grp]);
    std::size_t k = 0;
    for (; k + 4 <= g; k += 4) store(out + k, mul(load(row + k), vs));
    for (; k < g; ++k) out[k] = row[k] * a.s[grp];
  }
  (void)n;

  for (std::size_t grp = 0; grp < a.n_groups; ++grp) {
    const float* w = a.w + grp * g;
    const float* wsg = ws + grp * g;
    const float s = a.s[grp], scale = a.scale[grp];
    float z = a.z0[grp];
    double best_err = 0;
    float best_z = z;
    if (!best_mode) a.z_hist[grp * hist_stride] = z;
    for (int it = 0; it < a.iters; ++it) {
      // |x| = |W - W_r| ~ |v - q| / s: the fast path is safe while every |v - q| stays below the
      // shrink threshold in level units, with a margin for the rounding of this approximation.
      const float level_threshold = a.threshold[it] * s * (1.0f - 1e-3f);
      float z_next;
      double err, err_mul = 0;
      if (!fast_iteration(w, wsg, g, s, scale, z, a.max_q, level_threshold, best_mode, &z_next,
                          &err, &err_mul)) {
        z_next = ref::group_iteration(w, g, s, z, a.max_q, a.inv_beta[it], a.threshold[it],
                                      a.p_minus_1, &err);
        if (best_mode) err_mul = ref::group_dequant_error(w, g, s, scale, z, a.max_q);
      }
      if (best_mode) {
        if (it == 0 || err_mul < best_err) best_err = err_mul, best_z = z;
      } else {
        a.err_sum[it] += err;
        a.z_hist[grp * hist_stride + static_cast<std::size_t>(it) + 1] = z_next;
      }
      z = z_next;
    }
    if (best_mode) {
      const double e = ref::group_dequant_error(w, g, s, scale, z, a.max_q);
      if (a.iters == 0 || e < best_err) best_z = z;
      a.z_best[grp] = best_z;
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
