// Method::Reference: llama.cpp's reference quantizer of every type without an importance matrix
// (quantize_row_<type>_ref in ggml/src/ggml-quants.c, which is what llama-quantize runs when no
// imatrix is given), reimplemented from the algorithm. Output bytes equal llama.cpp's byte for
// byte, natively and in wasm (float32 operations in the same order, no FMA).
//
// Every quantizer here has the BlockQuantizer shape: `x` holds n_blocks * block_size(type)
// weights, `out` receives n_blocks * type_size(type) bytes; blocks are independent, so any run of
// whole blocks (a row range, a single block) can be quantized on its own.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hqq/gguf.hpp"

namespace hqq::gguf {

using BlockQuantizer = void (*)(const float* x, std::size_t n_blocks, uint8_t* out);

namespace ref {

void quantize_f32(const float* x, std::size_t n, uint8_t* out);
void quantize_f16(const float* x, std::size_t n, uint8_t* out);   // round to nearest even
void quantize_bf16(const float* x, std::size_t n, uint8_t* out);  // round to nearest even
void quantize_q4_0(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q4_1(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q5_0(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q5_1(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q8_0(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q2_K(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q3_K(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q4_K(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q5_K(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q6_K(const float* x, std::size_t n_blocks, uint8_t* out);

// The quantizer above for `type`.
BlockQuantizer quantizer(Type type);

// float -> integer conversion as llama.cpp's x86-64 build performs it (cvttss2si): truncation
// toward zero, and INT32_MIN for NaN or anything outside the int32 range (C leaves that case
// undefined; the legacy quantizers reach it only for blocks whose scale underflows, e.g. all
// weights below 1e-38). Narrowing to 8 bits then keeps the low byte.
inline int32_t truncate_like_x86(float v) {
  if (!(v > -2147483904.0f && v < 2147483648.0f)) return INT32_MIN;
  return static_cast<int32_t>(v);
}

}  // namespace ref
}  // namespace hqq::gguf
