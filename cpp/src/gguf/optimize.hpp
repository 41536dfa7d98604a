// Method::Optimized: this library's quantizers (BlockQuantizer shape, see reference.hpp). Each one
// is never worse than the Reference quantizer of its type on any block, by both sum |W - W_r| and
// sum (W - W_r)^2: it evaluates its candidates and the Reference result on every block and keeps
// a candidate only where it is no worse on both.
#pragma once

#include "gguf/reference.hpp"

namespace hqq::gguf {

// The Method::Optimized quantizer of `type` (optimize_dispatch.cpp: the one place that decides
// which implementation each type uses).
BlockQuantizer optimized_quantizer(Type type);

// A Method::Optimized quantizer that also writes the Reference blocks of the same weights into
// `reference_out` (n_blocks blocks). The K-quant search computes llama.cpp's block anyway (it
// must never be worse than it), so a caller that wants both (compare_reference) gets the second
// for free instead of running the Reference quantizer again.
using PairedQuantizer = void (*)(const float* x, std::size_t n_blocks, uint8_t* out, uint8_t* reference_out);

// The paired quantizer of `type`, or nullptr where there is none (then run both quantizers).
PairedQuantizer optimized_quantizer_with_reference(Type type);

namespace opt {

// Legacy affine types (optimize_affine.cpp): HQQ's proximal zero solver in the Q4_1/Q5_1 form.
void quantize_q4_1(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q5_1(const float* x, std::size_t n_blocks, uint8_t* out);

// Legacy symmetric types (optimize_symmetric.cpp): an error-minimising scale search.
void quantize_q8_0(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q4_0(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q5_0(const float* x, std::size_t n_blocks, uint8_t* out);

}  // namespace opt
}  // namespace hqq::gguf
