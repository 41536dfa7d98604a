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
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/reference_ops.hpp"
#include "kernels/simd4.hpp"

namespace hqq::kernels {
namespace {

using namespace simd4;

bool group_min_max(const float* w, std::size_t n_groups, std::size_t g, float* mn, float* mx) {
  // v - v is 0 for finite v and NaN for NaN/Inf: one extra add per vector finds them all.
  f4 poison = splat(0.0f);
  float scalar_poison = 0.0f;
  for (std::size_t grp = 0; grp < n_groups; ++grp) {
    const float* row = w + grp * g;
    std::size_t k = 0;
    float lo = row[0], hi = row[0];
    if (g >= 4) {
      f4 vlo = load(row), vhi = vlo;
      for (k = 0; k + 4 <= g; k += 4) {
        const f4 v = load(row + k);
        vlo = min(vlo, v);
        vhi = max(vhi, v);
        poison = add(poison, sub(v, v));
      }
      lo = hmin(vlo);
      hi = hmax(vhi);
    }
    for (; k < g; ++k) {
      lo = row[k] < lo ? row[k] : lo;
      hi = row[k] > hi ? row[k] : hi;
      scalar_poison += row[k] - row[k];
    }
    mn[grp] = lo;
    mx[grp] = hi;
  }
  return hsum(poison) == 0.0f && scalar_poison == 0.0f;
}

inline f4 levels4(f4 ws, f4 z, f4 zero, f4 top) { return min(max(nearest(add(ws, z)), zero), top); }

void quantize_levels(const float* w, std::size_t n_groups, std::size_t g, const float* s,
                     const float* z, float max_q, uint8_t* q, const float* scale, ErrorSums* sums) {
  // With sums: float32 differences and float32 partial sums over at most 16 vectors, double
  // totals (relative error of the sums ~1e-7, far below what they are used for).
  const f4 zero = splat(0.0f), top = splat(max_q);
  ErrorSums e;
  f4 vmax = zero;
  for (std::size_t grp = 0; grp < n_groups; ++grp) {
    const float* row = w + grp * g;
    uint8_t* out = q + grp * g;
    const f4 vs = splat(s[grp]), vz = splat(z[grp]);
    const f4 vscale = sums ? splat(scale[grp]) : zero;
    f4 a = zero, b = zero, c = zero;
    std::size_t k = 0;
    for (; k + 16 <= g; k += 16) {
      f4 wv[4], lv[4];
      for (int j = 0; j < 4; ++j) {
        wv[j] = load(row + k + 4 * j);
        lv[j] = levels4(mul(wv[j], vs), vz, zero, top);
      }
      store_u8x16(out + k, lv[0], lv[1], lv[2], lv[3]);
      if (sums == nullptr) continue;
      for (int j = 0; j < 4; ++j) {
        const f4 d = sub(wv[j], mul(sub(lv[j], vz), vscale));
        const f4 ad = abs(d);
        a = add(a, ad);
        b = add(b, mul(d, d));
        c = add(c, mul(wv[j], wv[j]));
        vmax = max(vmax, ad);
      }
      if ((k / 16) % 16 == 15) {  // move the partial sums to double every 256 values
        e.sum_abs += hsum(a), e.sum_sq += hsum(b), e.sum_w_sq += hsum(c);
        a = b = c = zero;
      }
    }
    if (sums) e.sum_abs += hsum(a), e.sum_sq += hsum(b), e.sum_w_sq += hsum(c);
    for (; k < g; ++k) {
      const float level = ref::level_of(row[k], s[grp], z[grp], max_q);
      out[k] = static_cast<uint8_t>(level);
      if (sums == nullptr) continue;
      const float d = row[k] - (level - z[grp]) * scale[grp];
      e.sum_abs += std::fabs(d);
      e.sum_sq += static_cast<double>(d) * d;
      e.sum_w_sq += static_cast<double>(row[k]) * row[k];
      e.max_abs = std::fabs(d) > e.max_abs ? std::fabs(d) : e.max_abs;
    }
  }
  if (sums) {
    e.max_abs = std::fmax(e.max_abs, static_cast<double>(hmax(vmax)));
    *sums = e;
  }
}

// The solver runs four groups at a time, one group per lane: the block's W*s (and W, for the
// per-group-best metric) is rewritten once as [batch][k][lane], so every per-group sum is a plain
// vertical accumulation with no horizontal reductions in the loop.
constexpr std::size_t kLanes = 4;

struct alignas(16) Lanes {
  float v[kLanes];
};

// Also records, per group, min and max of W * s: they bound |v - q| in every iteration (see
// solve_block) and give the scale of the rounding in W * s.
void interleave_block(const SolveBlockArgs& a, float* ws4, float* w4, float* ws_min, float* ws_max) {
  const std::size_t g = a.g, batches = (a.n_groups + kLanes - 1) / kLanes;
  for (std::size_t b = 0; b < batches; ++b) {
    for (std::size_t lane = 0; lane < kLanes; ++lane) {
      const std::size_t grp = b * kLanes + lane;
      float* dst_ws = ws4 + b * g * kLanes + lane;
      float* dst_w = w4 ? w4 + b * g * kLanes + lane : nullptr;
      if (grp >= a.n_groups) {  // padding lanes: zeros, results discarded
        ws_min[b * kLanes + lane] = ws_max[b * kLanes + lane] = 0.0f;
        for (std::size_t k = 0; k < g; ++k) dst_ws[k * kLanes] = 0.0f;
        if (dst_w)
          for (std::size_t k = 0; k < g; ++k) dst_w[k * kLanes] = 0.0f;
        continue;
      }
      const float* src = a.w + grp * g;
      const float s = a.s[grp];
      float lo = src[0] * s, hi = lo;
      for (std::size_t k = 0; k < g; ++k) {
        const float ws = src[k] * s;  // exactly f32(w * s)
        dst_ws[k * kLanes] = ws;
        lo = ws < lo ? ws : lo;
        hi = ws > hi ? ws : hi;
      }
      ws_min[b * kLanes + lane] = lo;
      ws_max[b * kLanes + lane] = hi;
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
  const std::size_t iters = static_cast<std::size_t>(a.iters);
  float* ws4 = a.scratch;
  float* w4 = best_mode ? a.scratch + batches * g * kLanes : nullptr;
  float* ws_min = a.scratch + 2 * batches * g * kLanes;
  float* ws_max = ws_min + batches * kLanes;
  interleave_block(a, ws4, w4, ws_min, ws_max);

  const f4 zero = splat(0.0f), top = splat(a.max_q);
  const f4 inv_g = splat(1.0f / static_cast<float>(g));
  // Per-iteration error of the whole block, one float32 partial sum per lane (padding lanes add
  // exactly 0: their W*s and z are 0, so v = q = 0), moved into the double totals every
  // kFlushBatches batches so that float32 never sums more than a few dozen terms: the early stop
  // compares errors that differ in the sixth digit.
  constexpr std::size_t kMaxStackIters = 64, kFlushBatches = 8;
  alignas(16) float err_stack[kMaxStackIters * kLanes] = {};
  std::vector<float> err_heap(iters > kMaxStackIters ? iters * kLanes : 0, 0.0f);
  float* err_acc = iters > kMaxStackIters ? err_heap.data() : err_stack;
  auto flush = [&](float* acc) {
    for (std::size_t it = 0; it < iters; ++it) {
      a.err_sum[it] += static_cast<double>(hsum(load(acc + it * kLanes)));
      store(acc + it * kLanes, zero);
    }
  };

  for (std::size_t b = 0; b < batches; ++b) {
    const float* bws = ws4 + b * g * kLanes;
    const float* bw = best_mode ? w4 + b * g * kLanes : nullptr;
    const std::size_t first = b * kLanes;
    const std::size_t lanes = std::min(kLanes, a.n_groups - first);
    Lanes s{}, scale{}, z0{};
    for (std::size_t l = 0; l < kLanes; ++l) {
      // Padding lanes get an enormous s so that their threshold (in level units) is never
      // reached: they must not send the batch down the exact path.
      s.v[l] = l < lanes ? a.s[first + l] : 1e30f;
      scale.v[l] = l < lanes ? a.scale[first + l] : 1.0f;
      z0.v[l] = l < lanes ? a.z0[first + l] : 0.0f;
    }
    const f4 vs = load(s.v), vscale = load(scale.v);
    // Rounding slack of the fast path in level units: v = f32(f32(W*s) + z) and the reference's
    // own x = W - f32(f32(q - z) / s) each round at most a few ulps of max(|W*s|, |z|, max_q).
    const f4 lo_ws = load(ws_min + first), hi_ws = load(ws_max + first);
    const f4 ws_mag = add(max(abs(lo_ws), abs(hi_ws)), top);
    f4 vz = load(z0.v), best_err = zero, best_z = vz;
    if (!best_mode)
      for (std::size_t l = 0; l < lanes; ++l) a.z_hist[first + l] = z0.v[l];

    for (std::size_t it = 0; it < iters; ++it) {
      // Two independent sets of accumulators (even and odd k): the loop is bound by the latency
      // of the additions, not by their number.
      f4 e_sum[2] = {zero, zero}, e_abs[2] = {zero, zero};
      f4 m_abs[2] = {zero, zero};
      auto step = [&](std::size_t k, int acc) {
        const f4 v = add(load(bws + k * kLanes), vz);
        const f4 q = min(max(nearest(v), zero), top);
        const f4 e = sub(v, q);
        const f4 ae = abs(e);
        e_sum[acc] = add(e_sum[acc], e);
        e_abs[acc] = add(e_abs[acc], ae);
        if (best_mode) m_abs[acc] = add(m_abs[acc], abs(sub(load(bw + k * kLanes), mul(sub(q, vz), vscale))));
      };
      std::size_t k = 0;
      for (; k + 2 <= g; k += 2) {
        step(k, 0);
        step(k + 1, 1);
      }
      if (k < g) step(k, 0);
      // z' = mean(q - W*s) = z - mean(v - q); error |W - (q - z)/s| ~ |v - q| / s.
      f4 z_next = sub(vz, mul(add(e_sum[0], e_sum[1]), inv_g));
      f4 err = mul(add(e_abs[0], e_abs[1]), vscale);
      f4 merr = add(m_abs[0], m_abs[1]);
      // |x| = |W - W_r| ~ |v - q| / s: while every |v - q| stays below the shrink threshold in
      // level units, less a 1e-3 margin, shrink() is exactly zero and the fast path is the
      // reference's arithmetic. A group needs the exact path when it may reach the threshold, or
      // when its rounding slack could exceed the margin (huge |W*s| or |z|: far-off-centre groups).
      const f4 threshold_levels = mul(splat(a.threshold[it]), vs);
      const f4 margin = mul(threshold_levels, splat(1e-3f));
      const f4 slack = mul(add(ws_mag, abs(vz)), splat(0x1p-20f));
      // max |v - q| without a per-element max: an element that rounds inside [0, max_q] is within
      // 0.5 of its level; one that clamps is off by -(v) below 0 or v - max_q above, largest at
      // the group's extreme W*s. So max |v - q| <= max(0.5, -(min W*s + z), max W*s + z - max_q).
      const f4 e_bound = max(max(splat(0.5f), sub(zero, add(lo_ws, vz))), sub(add(hi_ws, vz), top));
      const f4 exact = or_mask(gt(e_bound, sub(threshold_levels, margin)), gt(slack, margin));
      if (any_lane(exact)) {
        Lanes zn, er, me, zc, need;
        store(zn.v, z_next);
        store(er.v, err);
        store(me.v, merr);
        store(zc.v, vz);
        store(need.v, exact);
        for (std::size_t l = 0; l < lanes; ++l) {
          uint32_t bits;
          std::memcpy(&bits, &need.v[l], 4);
          if (bits == 0) continue;
          const float* wg = a.w + (first + l) * g;
          double e = 0;
          zn.v[l] = ref::group_iteration(wg, g, s.v[l], zc.v[l], a.max_q, a.inv_beta[it],
                                         a.threshold[it], a.p_minus_1, &e);
          er.v[l] = static_cast<float>(e);
          if (best_mode)
            me.v[l] = static_cast<float>(ref::group_dequant_error(wg, g, s.v[l], scale.v[l], zc.v[l], a.max_q));
        }
        z_next = load(zn.v);
        err = load(er.v);
        merr = load(me.v);
      }
      if (best_mode) {
        const f4 better = it == 0 ? lt(splat(-1.0f), zero) : lt(merr, best_err);  // first: all lanes
        best_err = select_f(better, merr, best_err);
        best_z = select_f(better, vz, best_z);
      } else {
        store(err_acc + it * kLanes, add(load(err_acc + it * kLanes), err));
        float* row = a.z_hist + (it + 1) * a.hist_stride + first;
        if (lanes == kLanes) {
          store(row, z_next);
        } else {
          Lanes zn;
          store(zn.v, z_next);
          for (std::size_t l = 0; l < lanes; ++l) row[l] = zn.v[l];
        }
      }
      vz = z_next;
    }
    if (best_mode) {
      // z after the last update has not been scored yet.
      const f4 last = dequant_error4(bws, bw, g, vz, vscale, top);
      if (iters == 0) {
        best_z = vz;
      } else {
        best_z = select_f(lt(last, best_err), vz, best_z);
      }
      Lanes out;
      store(out.v, best_z);
      for (std::size_t l = 0; l < lanes; ++l) a.z_best[first + l] = out.v[l];
    }
    if (!best_mode && ((b + 1) % kFlushBatches == 0 || b + 1 == batches)) flush(err_acc);
  }
}

void dequantize_rows(const uint8_t* q, std::size_t rows, std::size_t cols, const float* scale,
                     const float* zero, float* out) {
  for (std::size_t r = 0; r < rows; ++r) {
    const f4 vs = splat(scale[r]), vz = splat(zero[r]);
    const uint8_t* src = q + r * cols;
    float* dst = out + r * cols;
    std::size_t c = 0;
    for (; c + 16 <= cols; c += 16) {
      f4 levels[4];
      from_u8x16(src + c, levels);
      for (int j = 0; j < 4; ++j) store(dst + c + 4 * j, mul(sub(levels[j], vz), vs));
    }
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

void or_shifted_u8(uint8_t* dst, const uint8_t* src, std::size_t n, unsigned shift) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) store16(dst + i, ior(load16(dst + i), shl_u8(load16(src + i), shift)));
  for (; i < n; ++i) dst[i] = static_cast<uint8_t>(dst[i] | (src[i] << shift));
}

void extract_u8(uint8_t* dst, const uint8_t* src, std::size_t n, unsigned shift, unsigned mask) {
  const i4 m = splat_u8(static_cast<uint8_t>(mask));
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) store16(dst + i, iand(shr_u8(load16(src + i), shift), m));
  for (; i < n; ++i) dst[i] = static_cast<uint8_t>((src[i] >> shift) & mask);
}

void or_shifted_u32(uint32_t* dst, const uint8_t* src, std::size_t n, unsigned shift) {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) store16(dst + i, ior(load16(dst + i), shl_u32(u8x4_to_u32x4(src + i), shift)));
  for (; i < n; ++i) dst[i] |= static_cast<uint32_t>(src[i]) << shift;
}

void extract_u32(uint8_t* dst, const uint32_t* src, std::size_t n, unsigned shift, unsigned mask) {
  const i4 m = isplat(mask);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) store_u32x4_as_u8x4(dst + i, iand(shr_u32(load16(src + i), shift), m));
  for (; i < n; ++i) dst[i] = static_cast<uint8_t>((src[i] >> shift) & mask);
}

uint8_t byte_max(const uint8_t* src, std::size_t n) {
  i4 m = splat_u8(0);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) m = max_u8(m, load16(src + i));
  uint8_t top = hmax_u8(m);
  for (; i < n; ++i) top = src[i] > top ? src[i] : top;
  return top;
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
    group_min_max, quantize_levels, solve_block, dequantize_rows, dequantize_cols, error_sums, or_shifted_u8, extract_u8, or_shifted_u32, extract_u32, byte_max,
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
