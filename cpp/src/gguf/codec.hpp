// Block codecs of the GGML types: decoding (dequantization, bit-identical to ggml's to_float) and
// encoding (bit packing of already chosen parameters and levels). No quantization decisions are
// made here; the quantizers (reference.hpp, optimize.hpp) choose parameters and levels and call
// the encoders. The byte layouts are documented in blocks.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/blocks.hpp"
#include "hqq/gguf.hpp"

namespace hqq::gguf {

// ---- decoding: one block into block_size(type) floats ----------------------------------------
void decode_q4_0(const BlockQ4_0& b, float* out);
void decode_q4_1(const BlockQ4_1& b, float* out);
void decode_q5_0(const BlockQ5_0& b, float* out);
void decode_q5_1(const BlockQ5_1& b, float* out);
void decode_q8_0(const BlockQ8_0& b, float* out);
void decode_q2_K(const BlockQ2_K& b, float* out);
void decode_q3_K(const BlockQ3_K& b, float* out);
void decode_q4_K(const BlockQ4_K& b, float* out);
void decode_q5_K(const BlockQ5_K& b, float* out);
void decode_q6_K(const BlockQ6_K& b, float* out);

// `n_blocks` consecutive blocks of `type` (any alignment) into n_blocks * block_size(type) floats.
void decode_blocks(Type type, const uint8_t* bytes, std::size_t n_blocks, float* out);

// ---- encoding: parameters (f16 bit patterns, small integer codes) and levels -> block ----------
// Levels are unsigned, as stored: q[j] in 0..2^bits - 1, in weight order. Bits above a field's
// width are dropped (callers pass valid levels; the tests check every encoder against decode).
void encode_q4_0(uint16_t d, const uint8_t* q, BlockQ4_0& out);
void encode_q4_1(uint16_t d, uint16_t m, const uint8_t* q, BlockQ4_1& out);
void encode_q5_0(uint16_t d, const uint8_t* q, BlockQ5_0& out);
void encode_q5_1(uint16_t d, uint16_t m, const uint8_t* q, BlockQ5_1& out);
void encode_q8_0(uint16_t d, const int8_t* q, BlockQ8_0& out);
// Q2_K: scales[b] = scale code | min code << 4, as stored (see q2k_scale_byte).
void encode_q2_K(uint16_t d, uint16_t dmin, const uint8_t* scales, const uint8_t* q, BlockQ2_K& out);
// Q3_K: codes[b] 0..63 (signed scale codes[b] - 32); q[n] 0..7 (signed level q - 4).
void encode_q3_K(uint16_t d, const uint8_t* codes, const uint8_t* q, BlockQ3_K& out);
// Q4_K / Q5_K: sc[j], mn[j] 0..63; q 0..15 / 0..31.
void encode_q4_K(uint16_t d, uint16_t dmin, const uint8_t* sc, const uint8_t* mn, const uint8_t* q,
                 BlockQ4_K& out);
void encode_q5_K(uint16_t d, uint16_t dmin, const uint8_t* sc, const uint8_t* mn, const uint8_t* q,
                 BlockQ5_K& out);
// Q6_K: signed 8-bit sub-block scales; q 0..63 (signed level q - 32).
void encode_q6_K(uint16_t d, const int8_t* scales, const uint8_t* q, BlockQ6_K& out);

// ---- the packed scale fields on their own -------------------------------------------------------
inline uint8_t q2k_scale_byte(uint8_t scale_code, uint8_t min_code) {
  return static_cast<uint8_t>((scale_code & 0xF) | (min_code << 4));
}
// Q4_K / Q5_K: eight 6-bit scale codes and eight 6-bit min codes <-> 12 bytes.
void pack_scales_6bit(const uint8_t* sc, const uint8_t* mn, uint8_t* out12);
void unpack_scale_min_6bit(const uint8_t* scales12, int j, uint8_t* sc, uint8_t* mn);
// Q3_K: sixteen 6-bit scale codes <-> 12 bytes.
void pack_q3_K_scales(const uint8_t* codes, uint8_t* out12);
uint8_t unpack_q3_K_scale(const uint8_t* scales12, int b);

}  // namespace hqq::gguf
