// One vocabulary for "N blocks at once" code: the legacy-type searches (legacy_search.hpp) are
// written once against it and compiled with Lane1 (one block: the scalar ground truth) and with
// Lane4 (lanes_simd.hpp: four blocks in the four lanes of a SIMD vector). Every operation is the
// same IEEE float32 operation on every lane, and nothing ever sums across lanes, so both give
// bit-identical results, block for block.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hqq::gguf::lanes {

struct Lane1 {
  static constexpr std::size_t N = 1;
  using F = float;
  using M = bool;

  static F splat(float v) { return v; }
  static F add(F a, F b) { return a + b; }
  static F sub(F a, F b) { return a - b; }
  static F mul(F a, F b) { return a * b; }
  static F div(F a, F b) { return a / b; }
  static F abs(F a) { return std::fabs(a); }
  static F nearest(F a) { return std::nearbyint(a); }  // ties to even
  // The SIMD pmin/pmax semantics, spelled out: b < a ? b : a and a < b ? b : a.
  static F min(F a, F b) { return b < a ? b : a; }
  static F max(F a, F b) { return a < b ? b : a; }
  static M lt(F a, F b) { return a < b; }
  static M le(F a, F b) { return a <= b; }
  static M eq(F a, F b) { return a == b; }
  static M both(M a, M b) { return a && b; }
  static M either(M a, M b) { return a || b; }
  static M negate(M a) { return !a; }
  static F select(M m, F a, F b) { return m ? a : b; }  // m ? a : b per lane
  static bool any(M m) { return m; }

  // Bit manipulation of non-negative floats, for f16 precision.
  static uint32_t bits(F a) {
    uint32_t u;
    std::memcpy(&u, &a, 4);
    return u;
  }
  static F from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  // Round a positive float in the f16 normal range to the nearest f16 value (ties to even) by
  // rounding away its 13 low mantissa bits; a carry into the exponent is the right answer.
  static F round_bits_to_f16_normal(F a) {
    const uint32_t u = bits(a);
    return from_bits((u + 0xFFFu + ((u >> 13) & 1u)) & 0xFFFFE000u);
  }
  static F bits_add(F a, int32_t delta) { return from_bits(bits(a) + static_cast<uint32_t>(delta)); }
  static F copy_sign(F magnitude, F sign) { return from_bits((bits(magnitude) & 0x7FFFFFFFu) | (bits(sign) & 0x80000000u)); }

  // Block `lane` of `x` (lanes consecutive 32-weight blocks) as 32 values per lane: xt[k].
  static void gather_blocks(const float* x, F* xt) {
    for (int k = 0; k < 32; ++k) xt[k] = x[k];
  }
  static F load(const float* p) { return p[0]; }  // one value per lane
  static void store(float* p, F v) { p[0] = v; }
  static void store_mask(bool* p, M m) { p[0] = m; }
};

}  // namespace hqq::gguf::lanes
