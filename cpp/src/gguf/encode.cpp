// Bit packing of every block type: parameters and levels in, the exact bytes of blocks.hpp out.
#include <cstring>

#include "gguf/codec.hpp"

namespace hqq::gguf {
namespace {

inline void put_word_le(uint8_t* p, uint32_t w) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(w >> (8 * i));
}

// 32 levels -> the 16 bytes of the legacy 4-bit field (halves in the two nibbles).
inline void pack_nibble_halves(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 0xF) | (q[j + 16] & 0xF) << 4);
}

// Bit 4 of each of 32 levels -> the 32-bit word qh.
inline uint32_t fifth_bits(const uint8_t* q) {
  uint32_t qh = 0;
  for (int j = 0; j < 32; ++j) qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  return qh;
}

// 256 2-bit values -> the 64-byte field of Q2_K / Q3_K.
inline void pack_2bit_field(const uint8_t* q, uint8_t* qs) {
  for (int half = 0; half < 2; ++half) {
    const uint8_t* h = q + 128 * half;
    for (int l = 0; l < 32; ++l) {
      qs[32 * half + l] = static_cast<uint8_t>((h[l] & 3) | (h[l + 32] & 3) << 2 |
                                               (h[l + 64] & 3) << 4 | (h[l + 96] & 3) << 6);
    }
  }
}

// One chosen bit of each of 256 levels -> the 32-byte field of Q3_K (hmask) / Q5_K (qh).
inline void pack_bit_field(const uint8_t* q, int bit, uint8_t* field) {
  std::memset(field, 0, 32);
  for (int n = 0; n < 256; ++n) field[n % 32] |= static_cast<uint8_t>(((q[n] >> bit) & 1) << (n / 32));
}

// 256 levels, low 4 bits -> the 128-byte field of Q4_K / Q5_K.
inline void pack_nibble_pairs(const uint8_t* q, uint8_t* qs) {
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l)
      qs[32 * p + l] = static_cast<uint8_t>((q[64 * p + l] & 0xF) | (q[64 * p + 32 + l] & 0xF) << 4);
}

}  // namespace

void encode_q4_0(uint16_t d, const uint8_t* q, BlockQ4_0& out) {
  out.d = d;
  pack_nibble_halves(q, out.qs);
}

void encode_q4_1(uint16_t d, uint16_t m, const uint8_t* q, BlockQ4_1& out) {
  out.d = d;
  out.m = m;
  pack_nibble_halves(q, out.qs);
}

void encode_q5_0(uint16_t d, const uint8_t* q, BlockQ5_0& out) {
  out.d = d;
  put_word_le(out.qh, fifth_bits(q));
  pack_nibble_halves(q, out.qs);
}

void encode_q5_1(uint16_t d, uint16_t m, const uint8_t* q, BlockQ5_1& out) {
  out.d = d;
  out.m = m;
  put_word_le(out.qh, fifth_bits(q));
  pack_nibble_halves(q, out.qs);
}

void encode_q8_0(uint16_t d, const int8_t* q, BlockQ8_0& out) {
  out.d = d;
  std::memcpy(out.qs, q, 32);
}

void encode_q2_K(uint16_t d, uint16_t dmin, const uint8_t* scales, const uint8_t* q, BlockQ2_K& out) {
  std::memcpy(out.scales, scales, 16);
  pack_2bit_field(q, out.qs);
  out.d = d;
  out.dmin = dmin;
}

void encode_q3_K(uint16_t d, const uint8_t* codes, const uint8_t* q, BlockQ3_K& out) {
  pack_bit_field(q, 2, out.hmask);
  pack_2bit_field(q, out.qs);
  pack_q3_K_scales(codes, out.scales);
  out.d = d;
}

void encode_q4_K(uint16_t d, uint16_t dmin, const uint8_t* sc, const uint8_t* mn, const uint8_t* q,
                 BlockQ4_K& out) {
  out.d = d;
  out.dmin = dmin;
  pack_scales_6bit(sc, mn, out.scales);
  pack_nibble_pairs(q, out.qs);
}

void encode_q5_K(uint16_t d, uint16_t dmin, const uint8_t* sc, const uint8_t* mn, const uint8_t* q,
                 BlockQ5_K& out) {
  out.d = d;
  out.dmin = dmin;
  pack_scales_6bit(sc, mn, out.scales);
  pack_bit_field(q, 4, out.qh);
  pack_nibble_pairs(q, out.qs);
}

void encode_q6_K(uint16_t d, const int8_t* scales, const uint8_t* q, BlockQ6_K& out) {
  for (int half = 0; half < 2; ++half) {
    const uint8_t* h = q + 128 * half;
    uint8_t* ql = out.ql + 64 * half;
    uint8_t* qh = out.qh + 32 * half;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((h[l] & 0xF) | (h[l + 64] & 0xF) << 4);
      ql[l + 32] = static_cast<uint8_t>((h[l + 32] & 0xF) | (h[l + 96] & 0xF) << 4);
      qh[l] = static_cast<uint8_t>((h[l] >> 4 & 3) | (h[l + 32] >> 4 & 3) << 2 |
                                   (h[l + 64] >> 4 & 3) << 4 | (h[l + 96] >> 4 & 3) << 6);
    }
  }
  std::memcpy(out.scales, scales, 16);
  out.d = d;
}

void pack_scales_6bit(const uint8_t* sc, const uint8_t* mn, uint8_t* out) {
  for (int j = 0; j < 4; ++j) {
    out[j] = static_cast<uint8_t>((sc[j] & 63) | (sc[j + 4] >> 4 & 3) << 6);
    out[j + 4] = static_cast<uint8_t>((mn[j] & 63) | (mn[j + 4] >> 4 & 3) << 6);
    out[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | (mn[j + 4] & 0xF) << 4);
  }
}

void unpack_scale_min_6bit(const uint8_t* s, int j, uint8_t* sc, uint8_t* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((s[j + 4] & 0xF) | (s[j - 4] >> 6) << 4);
    *mn = static_cast<uint8_t>((s[j + 4] >> 4) | (s[j] >> 6) << 4);
  }
}

void pack_q3_K_scales(const uint8_t* codes, uint8_t* out) {
  std::memset(out, 0, 12);
  for (int b = 0; b < 16; ++b) {
    const uint8_t c = codes[b] & 63;
    if (b < 8) out[b] |= c & 0xF;
    else out[b - 8] |= static_cast<uint8_t>((c & 0xF) << 4);
    out[8 + b % 4] |= static_cast<uint8_t>((c >> 4) << (2 * (b / 4)));
  }
}

uint8_t unpack_q3_K_scale(const uint8_t* s, int b) {
  const int low = b < 8 ? s[b] & 0xF : s[b - 8] >> 4;
  const int high = (s[8 + b % 4] >> (2 * (b / 4))) & 3;
  return static_cast<uint8_t>(low | high << 4);
}

}  // namespace hqq::gguf
