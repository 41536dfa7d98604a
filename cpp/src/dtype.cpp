// float16 / bfloat16 <-> float32 arrays (the scalar conversions are inline in dtype.hpp): exact,
// portable, no dependence on the compiler's _Float16 support.
#include "hqq/dtype.hpp"

namespace hqq {

void decode_f16(const uint16_t* in, float* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = f16_to_f32(in[i]);
}
void decode_bf16(const uint16_t* in, float* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(in[i]);
}
void encode_f16(const float* in, uint16_t* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = f32_to_f16(in[i]);
}
void encode_bf16(const float* in, uint16_t* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = f32_to_bf16(in[i]);
}

}  // namespace hqq
