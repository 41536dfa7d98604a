// The bytes of every GGML block type this library reads and writes, documented once.
//
// Facts from llama.cpp (ggml/src/ggml-common.h: the structs; ggml/src/ggml-quants.c: the
// dequantize_row_* functions). All multi-byte fields are little-endian; `f16` is an IEEE binary16
// bit pattern. A block never has padding: each struct below is exactly its type_size.
//
// Notation. A block holds n weights x[0..n). "level" q is the unsigned integer stored for a weight;
// every reconstruction is evaluated in float32, one rounding per operation and in the order given
// (no FMA), which is what makes decoding bit-identical to ggml's:
//   - "a * b - c" means f32(f32(a * b) - c);
//   - an integer operand is converted to float32 first (exact: every level and code is small).
//
// Nibble and bit order. "Low nibble" is bits 0-3 of a byte, "high nibble" bits 4-7. Where a field
// holds one bit per weight as a 32-bit word, bit i is (word >> i) & 1 of the little-endian word.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hqq::gguf {

constexpr std::size_t kLegacyBlock = 32;   // weights per block of Q4_0 .. Q8_0
constexpr std::size_t kSuperBlock = 256;   // weights per super-block of the K-quants (QK_K)
constexpr std::size_t kScale6Bytes = 12;   // eight 6-bit scales + eight 6-bit mins (Q4_K, Q5_K)

// ---------------------------------------------------------------------------------------------
// Legacy types: 32 weights, one f16 scale d (and for the _1 types one f16 offset m).
//
// The 4-bit field `qs` of Q4_0/Q4_1/Q5_0/Q5_1 splits the block in halves: weight j (0 <= j < 16)
// is the low nibble of qs[j], weight j + 16 the high nibble of qs[j].
// ---------------------------------------------------------------------------------------------

// Q4_0: x[j] = (q[j] - 8) * d, q in 0..15 (so levels -8..7).
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_0) == 18, "Q4_0 block is 18 bytes");

// Q4_1: x[j] = q[j] * d + m, q in 0..15.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_1) == 20, "Q4_1 block is 20 bytes");

// Q5_0: x[j] = (q[j] - 16) * d, q in 0..31 (levels -16..15). The low 4 bits of q[j] are in qs as
// for Q4_0; bit 4 of q[j] is bit j of the little-endian 32-bit word qh.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_0) == 22, "Q5_0 block is 22 bytes");

// Q5_1: x[j] = q[j] * d + m, q in 0..31; qh and qs as for Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_1) == 24, "Q5_1 block is 24 bytes");

// Q8_0: x[j] = qs[j] * d, qs a signed byte (llama.cpp writes -127..127; decoding accepts -128).
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block is 34 bytes");

// ---------------------------------------------------------------------------------------------
// K-quants: 256 weights in sub-blocks of 16 or 32, each with a small integer scale (and for the
// affine types a small integer min) multiplied by f16 super-block factors.
//
// The 2-bit field `qs` of Q2_K and Q3_K (64 bytes) splits the super-block in two halves of 128
// weights; in half h, weight 128h + 32s + l (s = 0..3, l = 0..31) is bits 2s..2s+1 of qs[32h + l].
//
// The 1-bit field of Q3_K (hmask) and Q5_K (qh) (32 bytes): the extra bit of weight n is bit
// n / 32 of byte n % 32.
//
// The 4-bit field `qs` of Q4_K and Q5_K (128 bytes) holds pairs of 32-weight sub-blocks in 32
// bytes: weight 64p + l (l < 32) is the low nibble of qs[32p + l], weight 64p + 32 + l the high
// nibble.
// ---------------------------------------------------------------------------------------------

// Q2_K: 16 sub-blocks of 16 weights. scales[b]: low nibble = scale code sc_b, high nibble = min code
// mn_b (both 0..15). For weight n in sub-block b = n / 16, with q its 2-bit level (0..3):
//   x[n] = (d * sc_b) * q - (dmin * mn_b)
// i.e. dl = f32(d * sc_b), ml = f32(dmin * mn_b), x = f32(f32(dl * q) - ml).
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d;
  uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84, "Q2_K block is 84 bytes");

// Q3_K: 16 sub-blocks of 16 weights, symmetric. Weight n has 2 low bits in qs and its bit 2 in
// hmask (see above); its signed level is v = low2 - (bit2 ? 0 : 4), in -4..3 (so the unsigned
// level low2 | bit2 << 2 minus 4). Sub-block b has a 6-bit scale code c_b (0..63, signed scale
// c_b - 32), packed in the 12 bytes `scales`:
//   bits 0-3 of c_b: b < 8: low nibble of scales[b]; b >= 8: high nibble of scales[b - 8];
//   bits 4-5 of c_b: bits 2*(b / 4) .. 2*(b / 4) + 1 of scales[8 + b % 4].
//   x[n] = (d * (c_b - 32)) * v
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110, "Q3_K block is 110 bytes");

// The 6-bit scale/min packing of Q4_K and Q5_K: 8 sub-blocks j with scale code sc_j and min code
// mn_j (0..63) in 12 bytes:
//   j < 4:  sc_j = bits 0-5 of scales[j],     mn_j = bits 0-5 of scales[j + 4];
//   j >= 4: sc_j = low nibble of scales[j + 4] | (bits 6-7 of scales[j - 4]) << 4,
//           mn_j = high nibble of scales[j + 4] | (bits 6-7 of scales[j]) << 4.

// Q4_K: 8 sub-blocks of 32 weights, q a 4-bit level (0..15) in qs (see above):
//   x[n] = (d * sc_j) * q - (dmin * mn_j),  j = n / 32
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kScale6Bytes];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ4_K) == 144, "Q4_K block is 144 bytes");

// Q5_K: as Q4_K with a 5-bit level q = low nibble (qs) + 16 * (bit of qh), 0..31:
//   x[n] = (d * sc_j) * q - (dmin * mn_j)
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kScale6Bytes];
  uint8_t qh[32];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ5_K) == 176, "Q5_K block is 176 bytes");

// Q6_K: 16 sub-blocks of 16 weights, symmetric, a signed 8-bit scale per sub-block. A 6-bit level
// q (0..63) per weight: low 4 bits in ql, high 2 bits in qh. In half h (weights 128h .. 128h+127,
// bytes ql[64h ..], qh[32h ..]), for l = 0..31:
//   weight 128h + l:      low = low nibble of ql[64h + l],       high = bits 0-1 of qh[32h + l]
//   weight 128h + 32 + l: low = low nibble of ql[64h + 32 + l],  high = bits 2-3 of qh[32h + l]
//   weight 128h + 64 + l: low = high nibble of ql[64h + l],      high = bits 4-5 of qh[32h + l]
//   weight 128h + 96 + l: low = high nibble of ql[64h + 32 + l], high = bits 6-7 of qh[32h + l]
//   x[n] = (d * scales[n / 16]) * (q - 32)
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210, "Q6_K block is 210 bytes");

// Float types (one weight per "block"): F32 is the IEEE binary32 bit pattern, F16 binary16, BF16
// the top 16 bits of binary32. Encoding rounds to nearest, ties to even.

}  // namespace hqq::gguf
