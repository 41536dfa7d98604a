// The K-quant super-blocks (Q2_K..Q6_K, 256 weights) seen as the optimiser sees them: two f16
// super-scales, one integer scale code (and, for the affine types, one min code) per sub-block,
// and one integer level per weight. Every K-quant type reconstructs weight i of sub-block j as
//
//     r_i = D_j * q_i - M_j,   D_j = f32(d) * sc_j,   M_j = f32(dmin) * m_j   (M_j = 0: symmetric)
//
// with each product rounded to float32 in exactly that order (llama.cpp's dequantize_row_q*_K),
// so an error computed from (D_j, M_j, q_i) here is the error of the decoded tensor, bit for bit.
// The byte layouts themselves are documented in blocks.hpp; this file only converts between those
// bytes and the parameters above, through the encoders of codec.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hqq/gguf.hpp"

namespace hqq::gguf::kopt {

constexpr int kSuperBlock = 256;

// The shape of a K-quant type's parameters.
struct Layout {
  int n_sub;       // sub-blocks per super-block
  int sub_len;     // weights per sub-block (n_sub * sub_len == 256)
  int q_lo, q_hi;  // level range
  int sc_lo, sc_hi;  // scale code range
  int m_hi;          // min code range [0, m_hi]; 0 for the symmetric types (Q3_K, Q6_K)
  std::size_t bytes;  // block size
  bool affine() const { return m_hi > 0; }
};

// nullptr when `type` is not a K-quant.
const Layout* layout_of(Type type) noexcept;

struct Params {
  uint16_t d = 0, dmin = 0;  // f16 bits (dmin unused by the symmetric types)
  int16_t sc[16] = {};
  int16_t m[16] = {};
};

// Reads the super-scales and codes of one block (signed scale codes for Q3_K and Q6_K).
void unpack_params(Type type, const uint8_t* block, Params& p);
// Writes one block from its parameters and signed levels q_lo..q_hi (codes and levels in range).
void pack_block(Type type, const Params& p, const int8_t* q, uint8_t* block);

}  // namespace hqq::gguf::kopt
