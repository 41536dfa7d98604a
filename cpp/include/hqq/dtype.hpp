// Decoding of 16-bit floating-point weights to float32. Exact for every bit pattern (subnormals,
// infinities, NaN payloads keep their sign and top payload bits).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hqq {

enum class InputDtype : uint8_t { f32, f16, bf16 };

float f16_to_f32(uint16_t bits) noexcept;
float bf16_to_f32(uint16_t bits) noexcept;
// Round-to-nearest-even float32 -> float16 / bfloat16 (NaN stays NaN), for writing compute-dtype
// scale/zero.
uint16_t f32_to_f16(float value) noexcept;
uint16_t f32_to_bf16(float value) noexcept;

void decode_f16(const uint16_t* in, float* out, std::size_t n) noexcept;
void decode_bf16(const uint16_t* in, float* out, std::size_t n) noexcept;
void encode_f16(const float* in, uint16_t* out, std::size_t n) noexcept;
void encode_bf16(const float* in, uint16_t* out, std::size_t n) noexcept;

}  // namespace hqq
