// SIMD kernels of legacy_kernels.hpp. The searches run four blocks in the four lanes of a vector
// (Lane4: bit-identical to the scalar kernels' Lane1). The exact evaluations see a block as eight
// 4-lane vectors: levels and reconstructions equal the scalar ones, the double sums differ only
// in summation order.
#include <cmath>

#include "gguf/blocks.hpp"
#include "gguf/legacy_kernels.hpp"
#include "gguf/legacy_search.hpp"
#include "gguf/lanes_simd.hpp"

namespace hqq::gguf::opt {
namespace {

using namespace hqq::simd4;

static_assert(kLegacyBlock == 32, "the kernels below unroll a block as 8 vectors");

// Sixteen integral floats in -128..127 -> sixteen signed bytes.
inline void store_i8x16(int8_t* p, f4 a, f4 b, f4 c, f4 d) {
#if HQQ_SIMD4_WASM
  const v128_t ab = wasm_i16x8_narrow_i32x4(wasm_i32x4_trunc_sat_f32x4(a), wasm_i32x4_trunc_sat_f32x4(b));
  const v128_t cd = wasm_i16x8_narrow_i32x4(wasm_i32x4_trunc_sat_f32x4(c), wasm_i32x4_trunc_sat_f32x4(d));
  wasm_v128_store(p, wasm_i8x16_narrow_i16x8(ab, cd));
#else
  const __m128i ab = _mm_packs_epi32(_mm_cvttps_epi32(a), _mm_cvttps_epi32(b));
  const __m128i cd = _mm_packs_epi32(_mm_cvttps_epi32(c), _mm_cvttps_epi32(d));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm_packs_epi16(ab, cd));
#endif
}

// Exact error sums of four weights against their reconstruction: differences in double.
struct ExactSums {
  d2 abs = dsplat(0.0), sq = dsplat(0.0);
  void add(f4 x, f4 r) {
    const d2 lo = dsub(lo_to_d2(x), lo_to_d2(r)), hi = dsub(hi_to_d2(x), hi_to_d2(r));
    abs = dadd(abs, dadd(dabs(lo), dabs(hi)));
    sq = dadd(sq, dadd(dmul(lo, lo), dmul(hi, hi)));
  }
  BlockErrors total() const { return {dlane(abs, 0) + dlane(abs, 1), dlane(sq, 0) + dlane(sq, 1)}; }
};

void search_symmetric4(const float* x, int c, const float* ref_abs, const float* ref_sq, float* d, bool* found) noexcept {
  search_symmetric<lanes::Lane4>(x, c, ref_abs, ref_sq, d, found);
}

void search_affine4(const float* x, float top, const float* scale, const float* zero, const float* ref_abs,
                    const float* ref_sq, float* d, float* m, bool* found) noexcept {
  search_affine<lanes::Lane4>(x, top, scale, zero, ref_abs, ref_sq, d, m, found);
}

inline f4 inverse_or_zero(float d) { return splat(d != 0.0f ? 1.0f / d : 0.0f); }

BlockErrors exact_affine(const float* x, float d, float m, float top, uint8_t* levels) noexcept {
  const f4 vd = splat(d), vm = splat(m), vinv = inverse_or_zero(d), vtop = splat(top), zero = splat(0.0f);
  ExactSums sums;
  f4 q[8];
  for (int k = 0; k < 8; ++k) {
    const f4 xv = load(x + 4 * k);
    q[k] = min(max(nearest(mul(sub(xv, vm), vinv)), zero), vtop);
    sums.add(xv, add(mul(q[k], vd), vm));
  }
  store_u8x16(levels, q[0], q[1], q[2], q[3]);
  store_u8x16(levels + 16, q[4], q[5], q[6], q[7]);
  return sums.total();
}

BlockErrors exact_symmetric(const float* x, float d, float lo, float hi, int8_t* levels) noexcept {
  const f4 vd = splat(d), vinv = inverse_or_zero(d), vlo = splat(lo), vhi = splat(hi);
  ExactSums sums;
  f4 v[8];
  for (int k = 0; k < 8; ++k) {
    const f4 xv = load(x + 4 * k);
    v[k] = min(max(nearest(mul(xv, vinv)), vlo), vhi);
    sums.add(xv, mul(v[k], vd));
  }
  store_i8x16(levels, v[0], v[1], v[2], v[3]);
  store_i8x16(levels + 16, v[4], v[5], v[6], v[7]);
  return sums.total();
}

BlockErrors block_errors(const float* x, const float* r) noexcept {
  ExactSums sums;
  for (int k = 0; k < 8; ++k) sums.add(load(x + 4 * k), load(r + 4 * k));
  return sums.total();
}

constexpr LegacyKernels kSimd{
#if HQQ_SIMD4_WASM
    "wasm-simd128",
#else
    "sse4.1",
#endif
    4, search_symmetric4, search_affine4, exact_affine, exact_symmetric, block_errors};

}  // namespace

const LegacyKernels* simd_legacy_kernels_impl() noexcept {
#if HQQ_SIMD4_SSE && defined(__GNUC__)
  if (!__builtin_cpu_supports("sse4.1")) return nullptr;
#endif
  return &kSimd;
}

}  // namespace hqq::gguf::opt
