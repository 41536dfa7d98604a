// Decoding of 16-bit floating-point weights to float32. Exact for every bit pattern (subnormals,
// infinities, NaN payloads keep their sign and top payload bits).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hqq {

enum class InputDtype : uint8_t { f32, f16, bf16 };

// The scalar conversions are inline (they run per parameter in the GGUF quantizers' searches):
// f16/bf16 -> f32 exactly, and round-to-nearest-even f32 -> f16/bf16 (NaN stays NaN).
namespace detail {
inline float bits_to_float(uint32_t bits) noexcept {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline uint32_t float_to_bits(float f) noexcept {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}
}  // namespace detail

inline float f16_to_f32(uint16_t h) noexcept {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float32 (scaling by a power of two).
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return detail::bits_to_float(detail::float_to_bits(magnitude) | sign);
  }
  if (exponent == 0x1f) return detail::bits_to_float(sign | 0x7f800000u | (mantissa << 13));  // Inf / NaN
  return detail::bits_to_float(sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13));
}

inline float bf16_to_f32(uint16_t b) noexcept { return detail::bits_to_float(static_cast<uint32_t>(b) << 16); }

inline uint16_t f32_to_f16(float value) noexcept {
  const uint32_t x = detail::float_to_bits(value);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520: Inf
  if (ax < 0x38800000u) {
    // Below 2^-14: a float16 subnormal (or zero). Round m * 2^(e-150) to a multiple of 2^-24.
    const uint32_t e = ax >> 23;
    if (e < 102) return static_cast<uint16_t>(sign);  // below 2^-25: rounds to zero
    const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - e;  // 14..24
    uint32_t result = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (result & 1u))) ++result;
    return static_cast<uint16_t>(sign | result);
  }
  // Normal: re-bias the exponent and round the 13 dropped mantissa bits to nearest even; a carry
  // into the exponent is the correct result.
  const uint32_t rounded = ax + 0xfffu + ((ax >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

inline uint16_t f32_to_bf16(float value) noexcept {
  const uint32_t x = detail::float_to_bits(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}


void decode_f16(const uint16_t* in, float* out, std::size_t n) noexcept;
void decode_bf16(const uint16_t* in, float* out, std::size_t n) noexcept;
void encode_f16(const float* in, uint16_t* out, std::size_t n) noexcept;
void encode_bf16(const float* in, uint16_t* out, std::size_t n) noexcept;

}  // namespace hqq
