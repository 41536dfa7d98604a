// 16-bit float decoding against a direct formula, for every one of the 65536 bit patterns.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "hqq/dtype.hpp"

namespace {
uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
// IEEE half: (-1)^s * 2^(e-15) * (1 + m/1024), subnormal 2^-14 * m/1024, e = 31: Inf/NaN.
double half_formula(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  const double sign = s ? -1.0 : 1.0;
  if (e == 0) return sign * std::ldexp(m / 1024.0, -14);
  if (e == 31) return m ? std::nan("") : sign * INFINITY;
  return sign * std::ldexp(1.0 + m / 1024.0, e - 15);
}
// bfloat16: the top 16 bits of a float32: (-1)^s * 2^(e-127) * (1 + m/128), subnormal 2^-126 m/128.
double bf16_formula(uint16_t h) {
  const int s = h >> 15, e = (h >> 7) & 255, m = h & 127;
  const double sign = s ? -1.0 : 1.0;
  if (e == 0) return sign * std::ldexp(m / 128.0, -126);
  if (e == 255) return m ? std::nan("") : sign * INFINITY;
  return sign * std::ldexp(1.0 + m / 128.0, e - 127);
}
}  // namespace

TEST_CASE("float16 decoding matches the IEEE formula for all 65536 patterns", "[dtype]") {
  int mismatches = 0;
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float got = hqq::f16_to_f32(h);
    const double want = half_formula(h);
    bool ok;
    if (std::isnan(want)) ok = std::isnan(got) && std::signbit(got) == bool(h >> 15);
    else ok = static_cast<double>(got) == want && std::signbit(got) == bool(h >> 15);
    if (!ok) ++mismatches;
  }
  CHECK(mismatches == 0);
  CHECK(hqq::f16_to_f32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(hqq::f16_to_f32(0x7bff) == 65504.0f);
  CHECK(bits_of(hqq::f16_to_f32(0x8000)) == 0x80000000u);  // -0
}

TEST_CASE("bfloat16 decoding matches the formula for all 65536 patterns", "[dtype]") {
  int mismatches = 0;
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float got = hqq::bf16_to_f32(h);
    const double want = bf16_formula(h);
    bool ok;
    if (std::isnan(want)) ok = std::isnan(got);
    else ok = static_cast<double>(got) == want && std::signbit(got) == bool(h >> 15);
    if (!ok) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("float32 -> float16/bfloat16 round to nearest even and round-trip", "[dtype]") {
  // Every finite half value survives f16 -> f32 -> f16.
  int bad = 0;
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    if (((h >> 10) & 31) == 31 && (h & 1023)) continue;  // NaN payloads are canonicalised below
    if (hqq::f32_to_f16(hqq::f16_to_f32(h)) != h) ++bad;
    if (hqq::f32_to_bf16(hqq::bf16_to_f32(h)) != h && !(((h >> 7) & 255) == 255 && (h & 127))) ++bad;
  }
  CHECK(bad == 0);
  CHECK(hqq::f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);  // tie -> even (down)
  CHECK(hqq::f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);  // tie -> even (up)
  CHECK(hqq::f32_to_f16(65520.0f) == 0x7c00);  // rounds to Inf
  CHECK(hqq::f32_to_f16(65519.0f) == 0x7bff);
  CHECK(hqq::f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);  // tie between 0 and 2^-24 -> 0
  CHECK(hqq::f32_to_f16(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK(hqq::f32_to_f16(std::nanf("")) >= 0x7c01);
  CHECK(hqq::f32_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);  // tie -> even
  CHECK(std::isnan(hqq::bf16_to_f32(hqq::f32_to_bf16(std::nanf("")))));
}
