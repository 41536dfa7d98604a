// Shapes and byte layout of MatMulNBits tensors, shared by the quantizers and the dequantizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "hqq/dtype.hpp"
#include "hqq/nbits.hpp"

namespace hqq::nbits::detail {

struct Geometry {
  std::size_t K = 0, N = 0, bs = 0, n_blocks = 0;
  int bits = 0;
  int max_q = 0;                // 2^bits - 1
  std::size_t block_bytes = 0;  // bs * bits / 8
  std::size_t zp_row_bytes = 0; // ceil(n_blocks * bits / 8)
  // Real weights of block b (the last one may be partial).
  std::size_t block_len(std::size_t b) const noexcept {
    return b + 1 < n_blocks ? bs : K - b * bs;
  }
};

// Checks bits, block size and sizes (InvalidArgument / OutOfMemory, messages naming the option).
Geometry make_geometry(std::size_t K, std::size_t N, int bits, std::size_t block_size);

// f32 -> the stored scale type and back (round to nearest even; float16 may give Inf).
inline float to_stored(float v, ScaleType t) noexcept {
  return t == ScaleType::f32 ? v : f16_to_f32(f32_to_f16(v));
}
std::size_t scale_bytes(ScaleType t) noexcept;
// Writes value i of an [N, n_blocks] array in the scale type (little-endian).
void put_scale(uint8_t* out, std::size_t i, float v, ScaleType t) noexcept;
float get_scale(const uint8_t* in, std::size_t i, ScaleType t) noexcept;

// Packs `len` levels (len a multiple of 8 / bits) into bytes, low bits first.
void pack_levels(const uint8_t* levels, std::size_t len, int bits, uint8_t* out) noexcept;
// Element i of a packed row.
inline unsigned packed_at(const uint8_t* row, std::size_t i, int bits) noexcept {
  const std::size_t per = 8 / static_cast<std::size_t>(bits);
  const unsigned shift = static_cast<unsigned>((i % per) * static_cast<std::size_t>(bits));
  return (row[i / per] >> shift) & ((1u << bits) - 1u);
}

// Gathers the weights as N columns of K float32 values ([N][K], block-major along K), decoding
// 16-bit input and transposing KN input. Rejects NaN/Inf naming the first position in the caller's
// layout.
void gather_columns(const void* data, InputDtype dtype, Layout layout, const Geometry& g, float* out);
// The same check for float32 [N, K] input used in place (no copy).
void check_finite_columns(const float* data, const Geometry& g);

std::string block_name(const Geometry& g, std::size_t n, std::size_t b);  // "column n, block b (k0..k1)"

}  // namespace hqq::nbits::detail
