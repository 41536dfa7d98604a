// Decoding of every block type (blocks.hpp has the formulas). Each product and difference is its
// own float32 operation, in the order ggml's dequantize_row_* evaluates it, so the output is
// bit-identical (the build disables FMA contraction; wasm has none).
#include <cstring>

#include "gguf/codec.hpp"
#include "hqq/dtype.hpp"
#include "hqq/error.hpp"

namespace hqq::gguf {
namespace {

inline float f(int v) { return static_cast<float>(v); }
inline uint32_t word_le(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

template <typename Block>
void decode_run(const uint8_t* bytes, std::size_t n_blocks, float* out, std::size_t per_block,
                void (*decode)(const Block&, float*)) {
  for (std::size_t i = 0; i < n_blocks; ++i) {
    Block b;  // copied: the byte stream has no alignment guarantee
    std::memcpy(&b, bytes + i * sizeof(Block), sizeof(Block));
    decode(b, out + i * per_block);
  }
}

}  // namespace

void decode_q4_0(const BlockQ4_0& b, float* out) {
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < 16; ++j) {
    out[j] = f((b.qs[j] & 0xF) - 8) * d;
    out[j + 16] = f((b.qs[j] >> 4) - 8) * d;
  }
}

void decode_q4_1(const BlockQ4_1& b, float* out) {
  const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
  for (int j = 0; j < 16; ++j) {
    out[j] = f(b.qs[j] & 0xF) * d + m;
    out[j + 16] = f(b.qs[j] >> 4) * d + m;
  }
}

void decode_q5_0(const BlockQ5_0& b, float* out) {
  const float d = f16_to_f32(b.d);
  const uint32_t qh = word_le(b.qh);
  for (int j = 0; j < 16; ++j) {
    const int hi0 = static_cast<int>((qh >> j) & 1u) << 4;
    const int hi1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
    out[j] = f(((b.qs[j] & 0xF) | hi0) - 16) * d;
    out[j + 16] = f(((b.qs[j] >> 4) | hi1) - 16) * d;
  }
}

void decode_q5_1(const BlockQ5_1& b, float* out) {
  const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
  const uint32_t qh = word_le(b.qh);
  for (int j = 0; j < 16; ++j) {
    const int hi0 = static_cast<int>((qh >> j) & 1u) << 4;
    const int hi1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
    out[j] = f((b.qs[j] & 0xF) | hi0) * d + m;
    out[j + 16] = f((b.qs[j] >> 4) | hi1) * d + m;
  }
}

void decode_q8_0(const BlockQ8_0& b, float* out) {
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < 32; ++j) out[j] = f(b.qs[j]) * d;
}

void decode_q2_K(const BlockQ2_K& b, float* out) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int n = 0; n < 256; ++n) {
    const int half = n / 128, s = (n % 128) / 32, l = n % 32;
    const uint8_t sc = b.scales[n / 16];
    const float dl = d * f(sc & 0xF), ml = dmin * f(sc >> 4);
    const int q = (b.qs[32 * half + l] >> (2 * s)) & 3;
    out[n] = dl * f(q) - ml;
  }
}

void decode_q3_K(const BlockQ3_K& b, float* out) {
  const float d = f16_to_f32(b.d);
  for (int n = 0; n < 256; ++n) {
    const int half = n / 128, s = (n % 128) / 32, l = n % 32;
    const float dl = d * f(static_cast<int>(unpack_q3_K_scale(b.scales, n / 16)) - 32);
    const int low = (b.qs[32 * half + l] >> (2 * s)) & 3;
    const bool high = (b.hmask[n % 32] >> (n / 32)) & 1;
    out[n] = dl * f(low - (high ? 0 : 4));
  }
}

void decode_q4_K(const BlockQ4_K& b, float* out) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, mn;
    unpack_scale_min_6bit(b.scales, j, &sc, &mn);
    const float dl = d * f(sc), ml = dmin * f(mn);
    const uint8_t* qs = b.qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l) out[32 * j + l] = dl * f((qs[l] >> shift) & 0xF) - ml;
  }
}

void decode_q5_K(const BlockQ5_K& b, float* out) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, mn;
    unpack_scale_min_6bit(b.scales, j, &sc, &mn);
    const float dl = d * f(sc), ml = dmin * f(mn);
    const uint8_t* qs = b.qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l) {
      const int q = ((qs[l] >> shift) & 0xF) + (((b.qh[l] >> j) & 1) << 4);
      out[32 * j + l] = dl * f(q) - ml;
    }
  }
}

void decode_q6_K(const BlockQ6_K& b, float* out) {
  const float d = f16_to_f32(b.d);
  for (int n = 0; n < 256; ++n) {
    const int half = n / 128, k = (n % 128) / 32, l = n % 32;
    const uint8_t lo_byte = b.ql[64 * half + 32 * (k % 2) + l];
    const int low = k < 2 ? lo_byte & 0xF : lo_byte >> 4;
    const int high = (b.qh[32 * half + l] >> (2 * k)) & 3;
    out[n] = d * f(b.scales[n / 16]) * f((low | high << 4) - 32);
  }
}

void decode_blocks(Type type, const uint8_t* bytes, std::size_t n_blocks, float* out) {
  switch (type) {
    case Type::F32: std::memcpy(out, bytes, n_blocks * sizeof(float)); return;
    case Type::F16:
      for (std::size_t i = 0; i < n_blocks; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        out[i] = f16_to_f32(h);
      }
      return;
    case Type::BF16:
      for (std::size_t i = 0; i < n_blocks; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        out[i] = bf16_to_f32(h);
      }
      return;
    case Type::Q4_0: return decode_run<BlockQ4_0>(bytes, n_blocks, out, kLegacyBlock, decode_q4_0);
    case Type::Q4_1: return decode_run<BlockQ4_1>(bytes, n_blocks, out, kLegacyBlock, decode_q4_1);
    case Type::Q5_0: return decode_run<BlockQ5_0>(bytes, n_blocks, out, kLegacyBlock, decode_q5_0);
    case Type::Q5_1: return decode_run<BlockQ5_1>(bytes, n_blocks, out, kLegacyBlock, decode_q5_1);
    case Type::Q8_0: return decode_run<BlockQ8_0>(bytes, n_blocks, out, kLegacyBlock, decode_q8_0);
    case Type::Q2_K: return decode_run<BlockQ2_K>(bytes, n_blocks, out, kSuperBlock, decode_q2_K);
    case Type::Q3_K: return decode_run<BlockQ3_K>(bytes, n_blocks, out, kSuperBlock, decode_q3_K);
    case Type::Q4_K: return decode_run<BlockQ4_K>(bytes, n_blocks, out, kSuperBlock, decode_q4_K);
    case Type::Q5_K: return decode_run<BlockQ5_K>(bytes, n_blocks, out, kSuperBlock, decode_q5_K);
    case Type::Q6_K: return decode_run<BlockQ6_K>(bytes, n_blocks, out, kSuperBlock, decode_q6_K);
  }
  throw Error(ErrorCode::Internal, "decode_blocks: unhandled GGML type");
}

}  // namespace hqq::gguf
