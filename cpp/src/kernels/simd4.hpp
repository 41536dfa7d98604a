// A four-lane float32 vector with the handful of operations the kernels need, mapped onto
// WebAssembly SIMD128 or, for native builds and benchmarks of the same source, SSE4.1. Every
// operation is an exact IEEE operation (no approximations), so results match the scalar kernels
// wherever the order of operations is the same.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#define HQQ_SIMD4_WASM 1
#elif defined(__SSE4_1__)
#include <smmintrin.h>
#define HQQ_SIMD4_SSE 1
#else
#error "simd4.hpp needs WebAssembly SIMD128 (-msimd128) or SSE4.1 (-msse4.1)"
#endif

namespace hqq::simd4 {

#if HQQ_SIMD4_WASM
using f4 = v128_t;
using i4 = v128_t;
inline f4 load(const float* p) { return wasm_v128_load(p); }
inline void store(float* p, f4 v) { wasm_v128_store(p, v); }
inline f4 splat(float x) { return wasm_f32x4_splat(x); }
inline f4 add(f4 a, f4 b) { return wasm_f32x4_add(a, b); }
inline f4 sub(f4 a, f4 b) { return wasm_f32x4_sub(a, b); }
inline f4 mul(f4 a, f4 b) { return wasm_f32x4_mul(a, b); }
inline f4 abs(f4 a) { return wasm_f32x4_abs(a); }
inline f4 nearest(f4 a) { return wasm_f32x4_nearest(a); }  // round half to even
// b < a ? b : a, and a < b ? b : a: the cheap non-NaN-propagating forms (inputs are finite).
inline f4 min(f4 a, f4 b) { return wasm_f32x4_pmin(a, b); }
inline f4 max(f4 a, f4 b) { return wasm_f32x4_pmax(a, b); }
inline float lane(f4 a, int i) {
  switch (i) {
    case 0: return wasm_f32x4_extract_lane(a, 0);
    case 1: return wasm_f32x4_extract_lane(a, 1);
    case 2: return wasm_f32x4_extract_lane(a, 2);
    default: return wasm_f32x4_extract_lane(a, 3);
  }
}
// Four bytes -> four floats.
inline f4 from_u8x4(const uint8_t* p) {
  uint32_t word;
  std::memcpy(&word, p, 4);
  const v128_t bytes = wasm_i32x4_make(static_cast<int32_t>(word), 0, 0, 0);
  return wasm_f32x4_convert_u32x4(wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(bytes)));
}
// Sixteen bytes -> four vectors of four floats.
inline void from_u8x16(const uint8_t* p, f4* out) {
  const v128_t bytes = wasm_v128_load(p);
  const v128_t lo = wasm_u16x8_extend_low_u8x16(bytes), hi = wasm_u16x8_extend_high_u8x16(bytes);
  out[0] = wasm_f32x4_convert_u32x4(wasm_u32x4_extend_low_u16x8(lo));
  out[1] = wasm_f32x4_convert_u32x4(wasm_u32x4_extend_high_u16x8(lo));
  out[2] = wasm_f32x4_convert_u32x4(wasm_u32x4_extend_low_u16x8(hi));
  out[3] = wasm_f32x4_convert_u32x4(wasm_u32x4_extend_high_u16x8(hi));
}
// Sixteen floats already in 0..255 (integral) -> sixteen bytes.
inline void store_u8x16(uint8_t* p, f4 a, f4 b, f4 c, f4 d) {
  const v128_t ab = wasm_i16x8_narrow_i32x4(wasm_i32x4_trunc_sat_f32x4(a), wasm_i32x4_trunc_sat_f32x4(b));
  const v128_t cd = wasm_i16x8_narrow_i32x4(wasm_i32x4_trunc_sat_f32x4(c), wasm_i32x4_trunc_sat_f32x4(d));
  wasm_v128_store(p, wasm_u8x16_narrow_i16x8(ab, cd));
}
// u16 x 4 -> u32 x 4 (zero-extended), and integer helpers for 16-bit float decoding.
inline i4 load_u16x4(const uint16_t* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return wasm_u32x4_extend_low_u16x8(wasm_i64x2_make(static_cast<int64_t>(word), 0));
}
inline i4 isplat(uint32_t x) { return wasm_i32x4_splat(static_cast<int32_t>(x)); }
inline i4 iand(i4 a, i4 b) { return wasm_v128_and(a, b); }
inline i4 ior(i4 a, i4 b) { return wasm_v128_or(a, b); }
inline i4 ishl(i4 a, int n) { return wasm_i32x4_shl(a, n); }
inline i4 igt(i4 a, i4 b) { return wasm_i32x4_gt(a, b); }  // signed compare: lanes are < 2^31
inline i4 select(i4 mask, i4 a, i4 b) { return wasm_v128_bitselect(a, b, mask); }
inline f4 as_f4(i4 a) { return a; }
inline i4 as_i4(f4 a) { return a; }
inline f4 lt(f4 a, f4 b) { return wasm_f32x4_lt(a, b); }  // all-ones lanes where a < b
inline f4 gt(f4 a, f4 b) { return wasm_f32x4_gt(a, b); }
inline f4 or_mask(f4 a, f4 b) { return wasm_v128_or(a, b); }
inline bool any_lane(f4 mask) { return wasm_v128_any_true(mask); }
inline f4 select_f(f4 mask, f4 a, f4 b) { return wasm_v128_bitselect(a, b, mask); }  // mask ? a : b
// Byte and word helpers for bit packing.
inline i4 load16(const void* p) { return wasm_v128_load(p); }
inline void store16(void* p, i4 v) { wasm_v128_store(p, v); }
// Byte shifts through 16-bit lanes plus a mask: clang 14 scalarises i8x16.shl/shr_u with a
// variable count into per-lane extract/replace sequences.
inline i4 shl_u8(i4 v, unsigned n) {
  return wasm_v128_and(wasm_i16x8_shl(v, n), wasm_i8x16_splat(static_cast<int8_t>(0xFFu << n)));
}
inline i4 shr_u8(i4 v, unsigned n) {
  return wasm_v128_and(wasm_u16x8_shr(v, n), wasm_i8x16_splat(static_cast<int8_t>(0xFFu >> n)));
}
inline i4 splat_u8(uint8_t x) { return wasm_i8x16_splat(static_cast<int8_t>(x)); }
inline i4 max_u8(i4 a, i4 b) { return wasm_u8x16_max(a, b); }
inline uint8_t hmax_u8(i4 v) {
  alignas(16) uint8_t b[16];
  wasm_v128_store(b, v);
  uint8_t m = 0;
  for (uint8_t x : b) m = x > m ? x : m;
  return m;
}
inline i4 u8x4_to_u32x4(const uint8_t* p) {
  uint32_t word;
  std::memcpy(&word, p, 4);
  return wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(wasm_i32x4_make(static_cast<int32_t>(word), 0, 0, 0)));
}
inline i4 shl_u32(i4 v, unsigned n) { return wasm_i32x4_shl(v, n); }
inline i4 shr_u32(i4 v, unsigned n) { return wasm_u32x4_shr(v, n); }
inline void store_u32x4_as_u8x4(uint8_t* p, i4 v) {  // lanes already 0..255
  const v128_t b = wasm_u8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(v, v), wasm_i16x8_narrow_i32x4(v, v));
  const uint32_t word = static_cast<uint32_t>(wasm_i32x4_extract_lane(b, 0));
  std::memcpy(p, &word, 4);
}
// Two-lane double vectors, for sums that must not lose float32 precision.
using d2 = v128_t;
inline d2 dsplat(double x) { return wasm_f64x2_splat(x); }
inline d2 lo_to_d2(f4 a) { return wasm_f64x2_promote_low_f32x4(a); }
inline d2 hi_to_d2(f4 a) { return wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(a, a, 2, 3, 0, 1)); }
inline d2 dadd(d2 a, d2 b) { return wasm_f64x2_add(a, b); }
inline d2 dsub(d2 a, d2 b) { return wasm_f64x2_sub(a, b); }
inline d2 dmul(d2 a, d2 b) { return wasm_f64x2_mul(a, b); }
inline d2 dabs(d2 a) { return wasm_f64x2_abs(a); }
inline d2 dmax(d2 a, d2 b) { return wasm_f64x2_pmax(a, b); }
inline double dlane(d2 a, int i) { return i == 0 ? wasm_f64x2_extract_lane(a, 0) : wasm_f64x2_extract_lane(a, 1); }
#else
using f4 = __m128;
using i4 = __m128i;
inline f4 load(const float* p) { return _mm_loadu_ps(p); }
inline void store(float* p, f4 v) { _mm_storeu_ps(p, v); }
inline f4 splat(float x) { return _mm_set1_ps(x); }
inline f4 add(f4 a, f4 b) { return _mm_add_ps(a, b); }
inline f4 sub(f4 a, f4 b) { return _mm_sub_ps(a, b); }
inline f4 mul(f4 a, f4 b) { return _mm_mul_ps(a, b); }
inline f4 abs(f4 a) { return _mm_andnot_ps(_mm_set1_ps(-0.0f), a); }
inline f4 nearest(f4 a) { return _mm_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline f4 min(f4 a, f4 b) { return _mm_min_ps(b, a); }  // b < a ? b : a
inline f4 max(f4 a, f4 b) { return _mm_max_ps(b, a); }  // b > a ? b : a
inline float lane(f4 a, int i) {
  alignas(16) float v[4];
  _mm_store_ps(v, a);
  return v[i];
}
inline f4 from_u8x4(const uint8_t* p) {
  int32_t word;
  std::memcpy(&word, p, 4);
  return _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(word)));
}
inline void from_u8x16(const uint8_t* p, f4* out) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  out[0] = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(bytes));
  out[1] = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_srli_si128(bytes, 4)));
  out[2] = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_srli_si128(bytes, 8)));
  out[3] = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_srli_si128(bytes, 12)));
}
inline void store_u8x16(uint8_t* p, f4 a, f4 b, f4 c, f4 d) {
  const __m128i ab = _mm_packs_epi32(_mm_cvttps_epi32(a), _mm_cvttps_epi32(b));
  const __m128i cd = _mm_packs_epi32(_mm_cvttps_epi32(c), _mm_cvttps_epi32(d));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm_packus_epi16(ab, cd));
}
inline i4 load_u16x4(const uint16_t* p) {
  return _mm_cvtepu16_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
inline i4 isplat(uint32_t x) { return _mm_set1_epi32(static_cast<int32_t>(x)); }
inline i4 iand(i4 a, i4 b) { return _mm_and_si128(a, b); }
inline i4 ior(i4 a, i4 b) { return _mm_or_si128(a, b); }
inline i4 ishl(i4 a, int n) { return _mm_slli_epi32(a, n); }
inline i4 igt(i4 a, i4 b) { return _mm_cmpgt_epi32(a, b); }
inline i4 select(i4 mask, i4 a, i4 b) { return _mm_blendv_epi8(b, a, mask); }
inline f4 as_f4(i4 a) { return _mm_castsi128_ps(a); }
inline i4 as_i4(f4 a) { return _mm_castps_si128(a); }
inline f4 lt(f4 a, f4 b) { return _mm_cmplt_ps(a, b); }
inline f4 gt(f4 a, f4 b) { return _mm_cmpgt_ps(a, b); }
inline f4 or_mask(f4 a, f4 b) { return _mm_or_ps(a, b); }
inline bool any_lane(f4 mask) { return _mm_movemask_ps(mask) != 0; }
inline f4 select_f(f4 mask, f4 a, f4 b) { return _mm_blendv_ps(b, a, mask); }
inline i4 load16(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline void store16(void* p, i4 v) { _mm_storeu_si128(static_cast<__m128i*>(p), v); }
inline i4 splat_u8(uint8_t x) { return _mm_set1_epi8(static_cast<char>(x)); }
// SSE has no byte shifts: shift 16-bit lanes and clear the bits that crossed a byte boundary.
inline i4 shl_u8(i4 v, unsigned n) {
  return _mm_and_si128(_mm_sll_epi16(v, _mm_cvtsi32_si128(static_cast<int>(n))), splat_u8(static_cast<uint8_t>(0xFFu << n)));
}
inline i4 shr_u8(i4 v, unsigned n) {
  return _mm_and_si128(_mm_srl_epi16(v, _mm_cvtsi32_si128(static_cast<int>(n))), splat_u8(static_cast<uint8_t>(0xFFu >> n)));
}
inline i4 max_u8(i4 a, i4 b) { return _mm_max_epu8(a, b); }
inline uint8_t hmax_u8(i4 v) {
  alignas(16) uint8_t b[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(b), v);
  uint8_t m = 0;
  for (uint8_t x : b) m = x > m ? x : m;
  return m;
}
inline i4 u8x4_to_u32x4(const uint8_t* p) {
  int32_t word;
  std::memcpy(&word, p, 4);
  return _mm_cvtepu8_epi32(_mm_cvtsi32_si128(word));
}
inline i4 shl_u32(i4 v, unsigned n) { return _mm_sll_epi32(v, _mm_cvtsi32_si128(static_cast<int>(n))); }
inline i4 shr_u32(i4 v, unsigned n) { return _mm_srl_epi32(v, _mm_cvtsi32_si128(static_cast<int>(n))); }
inline void store_u32x4_as_u8x4(uint8_t* p, i4 v) {
  const __m128i b = _mm_packus_epi16(_mm_packs_epi32(v, v), _mm_packs_epi32(v, v));
  const int32_t word = _mm_cvtsi128_si32(b);
  std::memcpy(p, &word, 4);
}
using d2 = __m128d;
inline d2 dsplat(double x) { return _mm_set1_pd(x); }
inline d2 lo_to_d2(f4 a) { return _mm_cvtps_pd(a); }
inline d2 hi_to_d2(f4 a) { return _mm_cvtps_pd(_mm_movehl_ps(a, a)); }
inline d2 dadd(d2 a, d2 b) { return _mm_add_pd(a, b); }
inline d2 dsub(d2 a, d2 b) { return _mm_sub_pd(a, b); }
inline d2 dmul(d2 a, d2 b) { return _mm_mul_pd(a, b); }
inline d2 dabs(d2 a) { return _mm_andnot_pd(_mm_set1_pd(-0.0), a); }
inline d2 dmax(d2 a, d2 b) { return _mm_max_pd(b, a); }
inline double dlane(d2 a, int i) {
  alignas(16) double v[2];
  _mm_store_pd(v, a);
  return v[i];
}
#endif

inline float hsum(f4 a) { return (lane(a, 0) + lane(a, 1)) + (lane(a, 2) + lane(a, 3)); }
inline float hmax(f4 a) {
  const float x = lane(a, 0) > lane(a, 1) ? lane(a, 0) : lane(a, 1);
  const float y = lane(a, 2) > lane(a, 3) ? lane(a, 2) : lane(a, 3);
  return x > y ? x : y;
}
inline float hmin(f4 a) {
  const float x = lane(a, 0) < lane(a, 1) ? lane(a, 0) : lane(a, 1);
  const float y = lane(a, 2) < lane(a, 3) ? lane(a, 2) : lane(a, 3);
  return x < y ? x : y;
}

}  // namespace hqq::simd4
