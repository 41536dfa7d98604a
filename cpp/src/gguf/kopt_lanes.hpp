// Lane types for the K-quant search (kopt_search.hpp). The search treats each sub-block of a
// super-block as one lane; `ScalarLanes` runs one sub-block at a time and `Vec4Lanes` four at once
// (WebAssembly SIMD128 or SSE4.1). Every operation is the same IEEE float32 operation in both, and
// the search accumulates in the same order in both, so the two give bit-identical blocks
// (tests/cpp/test_gguf_kquants_opt.cpp checks this).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(HQQ_KOPT_VEC4)
#include "kernels/simd4.hpp"
#endif

namespace hqq::gguf::kopt {

struct ScalarLanes {
  static constexpr int N = 1;
  using V = float;
  using Mask = bool;
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V splat(float x) { return x; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V abs(V a) { return std::fabs(a); }
  static V nearest(V a) { return std::nearbyint(a); }
  static V floor(V a) { return std::floor(a); }
  static V sqrt(V a) { return std::sqrt(a); }
  // llama.cpp's nearest_int, as a float: round half to even through the mantissa of v + 1.5*2^23
  // (exact for |v| < 2^22; beyond, the same bits as llama.cpp).
  static V nearest_int(V v) {
    return static_cast<float>((bits(v + 12582912.0f) & 0x007fffff) - 0x00400000);
  }
  static bool any(Mask m) { return m; }
  static V min(V a, V b) { return b < a ? b : a; }
  static V max(V a, V b) { return a < b ? b : a; }
  static Mask lt(V a, V b) { return a < b; }
  static Mask gt(V a, V b) { return a > b; }
  static Mask eq(V a, V b) { return a == b; }
  static Mask and_(Mask a, Mask b) { return a && b; }
  static Mask or_(Mask a, Mask b) { return a || b; }
  static Mask not_(Mask a) { return !a; }
  static V select(Mask m, V a, V b) { return m ? a : b; }
  static float lane(V v, int) { return v; }
  // The bits of a float as an integer, and back (for the fast pow below).
  static int32_t bits(V v) {
    int32_t i;
    std::memcpy(&i, &v, 4);
    return i;
  }
  static V from_bits(int32_t i) {
    float f;
    std::memcpy(&f, &i, 4);
    return f;
  }
  // |u|^(-0.3) for |u| > 0 (see pow_m03 below): exponent and mantissa split, exact integer steps.
  static void split_exponent(V a, V& exponent, V& mantissa) {
    const int32_t b = bits(a);
    exponent = static_cast<float>((b >> 23) - 127);
    mantissa = from_bits((b & 0x007fffff) | 0x3f800000);
  }
  static V scale_by_pow2(V a, V k) {  // a * 2^k for integral k in range
    const uint32_t shifted = static_cast<uint32_t>(static_cast<int32_t>(k)) << 23;
    return from_bits(static_cast<int32_t>(static_cast<uint32_t>(bits(a)) + shifted));
  }
};

#if defined(HQQ_KOPT_VEC4)
struct Vec4Lanes {
  static constexpr int N = 4;
  using V = simd4::f4;
  using Mask = simd4::f4;
  static V load(const float* p) { return simd4::load(p); }
  static void store(float* p, V v) { simd4::store(p, v); }
  static V splat(float x) { return simd4::splat(x); }
  static V add(V a, V b) { return simd4::add(a, b); }
  static V sub(V a, V b) { return simd4::sub(a, b); }
  static V mul(V a, V b) { return simd4::mul(a, b); }
#if HQQ_SIMD4_WASM
  static V div(V a, V b) { return wasm_f32x4_div(a, b); }
  static V sqrt(V a) { return wasm_f32x4_sqrt(a); }
  static V nearest_int(V v) {
    const v128_t b = wasm_v128_and(wasm_f32x4_add(v, wasm_f32x4_splat(12582912.0f)), wasm_i32x4_splat(0x007fffff));
    return wasm_f32x4_convert_i32x4(wasm_i32x4_sub(b, wasm_i32x4_splat(0x00400000)));
  }
  static V floor(V a) { return wasm_f32x4_floor(a); }
  static Mask eq(V a, V b) { return wasm_f32x4_eq(a, b); }
  static Mask and_(Mask a, Mask b) { return wasm_v128_and(a, b); }
  static Mask not_(Mask a) { return wasm_v128_not(a); }
  static void split_exponent(V a, V& exponent, V& mantissa) {
    const v128_t b = a;
    exponent = wasm_f32x4_convert_i32x4(wasm_i32x4_sub(wasm_u32x4_shr(b, 23), wasm_i32x4_splat(127)));
    mantissa = wasm_v128_or(wasm_v128_and(b, wasm_i32x4_splat(0x007fffff)), wasm_i32x4_splat(0x3f800000));
  }
  static V scale_by_pow2(V a, V k) {
    return wasm_i32x4_add(a, wasm_i32x4_shl(wasm_i32x4_trunc_sat_f32x4(k), 23));
  }
#else
  static V div(V a, V b) { return _mm_div_ps(a, b); }
  static V sqrt(V a) { return _mm_sqrt_ps(a); }
  static V nearest_int(V v) {
    const __m128i b = _mm_and_si128(_mm_castps_si128(_mm_add_ps(v, _mm_set1_ps(12582912.0f))), _mm_set1_epi32(0x007fffff));
    return _mm_cvtepi32_ps(_mm_sub_epi32(b, _mm_set1_epi32(0x00400000)));
  }
  static V floor(V a) { return _mm_floor_ps(a); }
  static Mask eq(V a, V b) { return _mm_cmpeq_ps(a, b); }
  static Mask and_(Mask a, Mask b) { return _mm_and_ps(a, b); }
  static Mask not_(Mask a) { return _mm_xor_ps(a, _mm_castsi128_ps(_mm_set1_epi32(-1))); }
  static void split_exponent(V a, V& exponent, V& mantissa) {
    const __m128i b = _mm_castps_si128(a);
    exponent = _mm_cvtepi32_ps(_mm_sub_epi32(_mm_srli_epi32(b, 23), _mm_set1_epi32(127)));
    mantissa = _mm_castsi128_ps(_mm_or_si128(_mm_and_si128(b, _mm_set1_epi32(0x007fffff)), _mm_set1_epi32(0x3f800000)));
  }
  static V scale_by_pow2(V a, V k) {
    return _mm_castsi128_ps(_mm_add_epi32(_mm_castps_si128(a), _mm_slli_epi32(_mm_cvttps_epi32(k), 23)));
  }
#endif
  static V abs(V a) { return simd4::abs(a); }
  static V nearest(V a) { return simd4::nearest(a); }
  static V min(V a, V b) { return simd4::min(a, b); }
  static V max(V a, V b) { return simd4::max(a, b); }
  static Mask lt(V a, V b) { return simd4::lt(a, b); }
  static Mask gt(V a, V b) { return simd4::gt(a, b); }
  static Mask or_(Mask a, Mask b) { return simd4::or_mask(a, b); }
  static bool any(Mask m) { return simd4::any_lane(m); }
  static V select(Mask m, V a, V b) { return simd4::select_f(m, a, b); }
  static float lane(V v, int i) { return simd4::lane(v, i); }
};
#endif

// |u|^(-0.3) for u > 0 (finite, normal): 2^(-0.3 * log2 u) with polynomial log2 on [1, 2) and
// exp2 on [0, 1) (relative error about 1e-5, plenty for the shrinkage it feeds). Plain float32
// operations only, so every lane type computes the same bits.
template <class LN>
inline typename LN::V pow_m03(typename LN::V u) {
  using V = typename LN::V;
  V e, m;
  LN::split_exponent(u, e, m);
  const V t = LN::sub(m, LN::splat(1.0f));
  V p = LN::splat(0.04526829f);
  p = LN::add(LN::mul(p, t), LN::splat(-0.19351652f));
  p = LN::add(LN::mul(p, t), LN::splat(0.41524556f));
  p = LN::add(LN::mul(p, t), LN::splat(-0.70886522f));
  p = LN::add(LN::mul(p, t), LN::splat(1.44187990f));
  const V log2u = LN::add(e, LN::mul(p, t));
  const V y = LN::mul(LN::splat(-0.3f), log2u);
  const V k = LN::floor(y);
  const V f = LN::sub(y, k);
  V q = LN::splat(0.01358166f);
  q = LN::add(LN::mul(q, f), LN::splat(0.05194795f));
  q = LN::add(LN::mul(q, f), LN::splat(0.24144866f));
  q = LN::add(LN::mul(q, f), LN::splat(0.69301751f));
  q = LN::add(LN::mul(q, f), LN::splat(1.0f));
  return LN::scale_by_pow2(q, k);
}

}  // namespace hqq::gguf::kopt
