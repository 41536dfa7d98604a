// Lane4: the lanes.hpp vocabulary on four blocks at once (wasm SIMD128, or SSE4.1 natively).
// Only for translation units compiled with the SIMD flags (legacy_kernels_simd.cpp).
#pragma once

#include "gguf/lanes.hpp"
#include "kernels/simd4.hpp"

namespace hqq::gguf::lanes {

struct Lane4 {
  static constexpr std::size_t N = 4;
  using F = simd4::f4;
  using M = simd4::f4;  // all-ones / all-zeros lanes

  static F splat(float v) { return simd4::splat(v); }
  static F add(F a, F b) { return simd4::add(a, b); }
  static F sub(F a, F b) { return simd4::sub(a, b); }
  static F mul(F a, F b) { return simd4::mul(a, b); }
  static F abs(F a) { return simd4::abs(a); }
  static F nearest(F a) { return simd4::nearest(a); }
  static F min(F a, F b) { return simd4::min(a, b); }  // pmin: b < a ? b : a
  static F max(F a, F b) { return simd4::max(a, b); }  // pmax: a < b ? b : a
  static M lt(F a, F b) { return simd4::lt(a, b); }
  static F select(M m, F a, F b) { return simd4::select_f(m, a, b); }
  static bool any(M m) { return simd4::any_lane(m); }

#if HQQ_SIMD4_WASM
  static F div(F a, F b) { return wasm_f32x4_div(a, b); }
  static M le(F a, F b) { return wasm_f32x4_le(a, b); }
  static M eq(F a, F b) { return wasm_f32x4_eq(a, b); }
  static M both(M a, M b) { return wasm_v128_and(a, b); }
  static M either(M a, M b) { return wasm_v128_or(a, b); }
  static M negate(M a) { return wasm_v128_not(a); }
  static F round_bits_to_f16_normal(F a) {
    const v128_t odd = wasm_v128_and(wasm_u32x4_shr(a, 13), wasm_i32x4_splat(1));
    const v128_t up = wasm_i32x4_add(wasm_i32x4_add(a, wasm_i32x4_splat(0xFFF)), odd);
    return wasm_v128_and(up, wasm_i32x4_splat(static_cast<int32_t>(0xFFFFE000u)));
  }
  static F bits_add(F a, int32_t delta) { return wasm_i32x4_add(a, wasm_i32x4_splat(delta)); }
  static F copy_sign(F magnitude, F sign) {
    const v128_t s = wasm_i32x4_splat(static_cast<int32_t>(0x80000000u));
    return wasm_v128_or(wasm_v128_andnot(magnitude, s), wasm_v128_and(sign, s));
  }
  // 4x4 transpose of rows r0..r3 (lane j of the result i = element i of row j).
  static void transpose(F& r0, F& r1, F& r2, F& r3) {
    const v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
    const v128_t t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
    r0 = wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5);
    r1 = wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7);
    r2 = wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5);
    r3 = wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7);
  }
#else
  static F div(F a, F b) { return _mm_div_ps(a, b); }
  static M le(F a, F b) { return _mm_cmple_ps(a, b); }
  static M eq(F a, F b) { return _mm_cmpeq_ps(a, b); }
  static M both(M a, M b) { return _mm_and_ps(a, b); }
  static M either(M a, M b) { return _mm_or_ps(a, b); }
  static M negate(M a) { return _mm_xor_ps(a, _mm_castsi128_ps(_mm_set1_epi32(-1))); }
  static F round_bits_to_f16_normal(F a) {
    const __m128i u = _mm_castps_si128(a);
    const __m128i odd = _mm_and_si128(_mm_srli_epi32(u, 13), _mm_set1_epi32(1));
    const __m128i up = _mm_add_epi32(_mm_add_epi32(u, _mm_set1_epi32(0xFFF)), odd);
    return _mm_castsi128_ps(_mm_and_si128(up, _mm_set1_epi32(static_cast<int32_t>(0xFFFFE000u))));
  }
  static F bits_add(F a, int32_t delta) { return _mm_castsi128_ps(_mm_add_epi32(_mm_castps_si128(a), _mm_set1_epi32(delta))); }
  static F copy_sign(F magnitude, F sign) {
    const __m128 s = _mm_set1_ps(-0.0f);
    return _mm_or_ps(_mm_andnot_ps(s, magnitude), _mm_and_ps(sign, s));
  }
  static void transpose(F& r0, F& r1, F& r2, F& r3) { _MM_TRANSPOSE4_PS(r0, r1, r2, r3); }
#endif

  static void gather_blocks(const float* x, F* xt) {
    for (int k = 0; k < 32; k += 4) {
      F r0 = simd4::load(x + k), r1 = simd4::load(x + 32 + k), r2 = simd4::load(x + 64 + k), r3 = simd4::load(x + 96 + k);
      transpose(r0, r1, r2, r3);
      xt[k] = r0, xt[k + 1] = r1, xt[k + 2] = r2, xt[k + 3] = r3;
    }
  }
  static F load(const float* p) { return simd4::load(p); }
  static void store(float* p, F v) { simd4::store(p, v); }
  static void store_mask(bool* p, M m) {
    alignas(16) uint32_t u[4];
    std::memcpy(u, &m, 16);
    for (int i = 0; i < 4; ++i) p[i] = u[i] != 0;
  }
};

}  // namespace hqq::gguf::lanes
