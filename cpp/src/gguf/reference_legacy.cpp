// llama.cpp's reference quantizers of the float types and the 32-weight types (see reference.hpp).
//
// The legacy types set their parameters in one pass from the block's extremes:
//   Q4_0 / Q5_0: d = (signed value of largest magnitude) / -8 (or -16): that value lands exactly
//                on the most negative level; levels = trunc(x / d + 8.5) (or + 16.5), capped;
//   Q4_1 / Q5_1: d = (max - min) / 15 (or 31), m = min; levels = trunc((x - min) / d + 0.5);
//   Q8_0:        d = max |x| / 127; levels = round-half-away(x / d).
// Division is by multiplication with id = 1 / d (0 when d is 0), as llama.cpp does.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "gguf/codec.hpp"
#include "gguf/reference.hpp"
#include "hqq/dtype.hpp"
#include "kernels/kernels.hpp"

namespace hqq::gguf::ref {
namespace {

inline uint8_t low_byte(int32_t v) { return static_cast<uint8_t>(static_cast<uint32_t>(v) & 0xFFu); }
// (int8_t)(v), then MIN(cap, .) in int, as the reference writes its capped levels.
inline uint8_t capped_level(float v, int cap) {
  const int level = static_cast<int8_t>(low_byte(truncate_like_x86(v)));
  return static_cast<uint8_t>(level < cap ? level : cap);
}

// Per-block minimum and maximum as llama.cpp's scan finds them (`if (v < min) min = v`, ...),
// computed by the SIMD min/max kernel: the values agree except that the scan keeps the first of
// -0 and +0, so a block whose extreme is a zero is scanned again in order.
void block_min_max(const float* x, std::size_t n_blocks, float* mn, float* mx) {
  kernels::default_kernels().group_min_max(x, n_blocks, kLegacyBlock, mn, mx);
  for (std::size_t b = 0; b < n_blocks; ++b) {
    if (mn[b] != 0.0f && mx[b] != 0.0f) continue;
    float lo = 3.40282347e+38f, hi = -3.40282347e+38f;
    for (std::size_t j = 0; j < kLegacyBlock; ++j) {
      const float v = x[b * kLegacyBlock + j];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    mn[b] = lo;
    mx[b] = hi;
  }
}

// The first value of largest magnitude, with its sign (llama.cpp: `if (amax < fabsf(v))`), from
// the block's minimum and maximum: 0 (+0) for an all-zero block.
float signed_abs_max(const float* x, float mn, float mx) {
  const float amax = std::fmax(std::fabs(mn), std::fabs(mx));
  if (amax == 0.0f) return 0.0f;
  for (std::size_t j = 0;; ++j)
    if (std::fabs(x[j]) == amax) return x[j];
}

// Runs `per_block(x_block, min, max, index)` over the blocks, with their extremes from the SIMD
// kernel, a stack-sized batch at a time.
template <typename PerBlock>
void for_blocks(const float* x, std::size_t n_blocks, PerBlock&& per_block) {
  constexpr std::size_t kBatch = 128;
  float mn[kBatch], mx[kBatch];
  for (std::size_t first = 0; first < n_blocks; first += kBatch) {
    const std::size_t n = std::min(kBatch, n_blocks - first);
    block_min_max(x + first * kLegacyBlock, n, mn, mx);
    for (std::size_t b = 0; b < n; ++b) per_block(x + (first + b) * kLegacyBlock, mn[b], mx[b], first + b);
  }
}

// roundf (half away from zero) without a libm call (wasm has no instruction for it): truncate,
// then step away from zero when the dropped fraction (exact: x - trunc(x)) is at least one half.
inline float round_half_away(float x) {
  const float t = std::trunc(x);
  const float frac = x - t;
  if (frac >= 0.5f) return t + 1.0f;
  if (frac <= -0.5f) return t - 1.0f;
  return t;
}

inline float inverse_or_zero(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

template <typename Block>
inline void store(const Block& b, uint8_t* out, std::size_t i) {
  std::memcpy(out + i * sizeof(Block), &b, sizeof(Block));
}

}  // namespace

void quantize_f32(const float* x, std::size_t n, uint8_t* out) { std::memcpy(out, x, n * sizeof(float)); }

void quantize_f16(const float* x, std::size_t n, uint8_t* out) {
  for (std::size_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_f16(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

void quantize_bf16(const float* x, std::size_t n, uint8_t* out) {
  for (std::size_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_bf16(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

void quantize_q4_0(const float* x_all, std::size_t n_blocks, uint8_t* out) {
  for_blocks(x_all, n_blocks, [&](const float* x, float lo, float hi, std::size_t i) {
    const float d = signed_abs_max(x, lo, hi) / -8.0f;
    const float id = inverse_or_zero(d);
    uint8_t q[kLegacyBlock];
    for (std::size_t j = 0; j < kLegacyBlock; ++j) q[j] = capped_level(x[j] * id + 8.5f, 15);
    BlockQ4_0 b;
    encode_q4_0(f32_to_f16(d), q, b);
    store(b, out, i);
  });
}

void quantize_q4_1(const float* x_all, std::size_t n_blocks, uint8_t* out) {
  for_blocks(x_all, n_blocks, [&](const float* x, float mn, float mx, std::size_t i) {
    const float d = (mx - mn) / 15.0f;
    const float id = inverse_or_zero(d);
    uint8_t q[kLegacyBlock];
    for (std::size_t j = 0; j < kLegacyBlock; ++j) q[j] = capped_level((x[j] - mn) * id + 0.5f, 15);
    BlockQ4_1 b;
    encode_q4_1(f32_to_f16(d), f32_to_f16(mn), q, b);
    store(b, out, i);
  });
}

void quantize_q5_0(const float* x_all, std::size_t n_blocks, uint8_t* out) {
  for_blocks(x_all, n_blocks, [&](const float* x, float lo, float hi, std::size_t i) {
    const float d = signed_abs_max(x, lo, hi) / -16.0f;
    const float id = inverse_or_zero(d);
    uint8_t q[kLegacyBlock];
    for (std::size_t j = 0; j < kLegacyBlock; ++j) q[j] = capped_level(x[j] * id + 16.5f, 31);
    BlockQ5_0 b;
    encode_q5_0(f32_to_f16(d), q, b);
    store(b, out, i);
  });
}

void quantize_q5_1(const float* x_all, std::size_t n_blocks, uint8_t* out) {
  for_blocks(x_all, n_blocks, [&](const float* x, float mn, float mx, std::size_t i) {
    const float d = (mx - mn) / 31.0f;
    const float id = inverse_or_zero(d);
    uint8_t q[kLegacyBlock];
    // No cap here in llama.cpp: (x - min) * id never exceeds 31 by more than rounding.
    for (std::size_t j = 0; j < kLegacyBlock; ++j) q[j] = low_byte(truncate_like_x86((x[j] - mn) * id + 0.5f));
    BlockQ5_1 b;
    encode_q5_1(f32_to_f16(d), f32_to_f16(mn), q, b);
    store(b, out, i);
  });
}

void quantize_q8_0(const float* x_all, std::size_t n_blocks, uint8_t* out) {
  for_blocks(x_all, n_blocks, [&](const float* x, float mn, float mx, std::size_t i) {
    const float amax = std::fmax(std::fabs(mn), std::fabs(mx));  // llama.cpp: MAX(amax, fabsf(v))
    const float d = amax / 127.0f;
    const float id = inverse_or_zero(d);
    int8_t q[kLegacyBlock];
    for (std::size_t j = 0; j < kLegacyBlock; ++j)
      q[j] = static_cast<int8_t>(low_byte(truncate_like_x86(round_half_away(x[j] * id))));
    BlockQ8_0 b;
    encode_q8_0(f32_to_f16(d), q, b);
    store(b, out, i);
  });
}

BlockQuantizer quantizer(Type type) {
  switch (type) {
    case Type::F32: return quantize_f32;
    case Type::F16: return quantize_f16;
    case Type::BF16: return quantize_bf16;
    case Type::Q4_0: return quantize_q4_0;
    case Type::Q4_1: return quantize_q4_1;
    case Type::Q5_0: return quantize_q5_0;
    case Type::Q5_1: return quantize_q5_1;
    case Type::Q8_0: return quantize_q8_0;
    case Type::Q2_K: return quantize_q2_K;
    case Type::Q3_K: return quantize_q3_K;
    case Type::Q4_K: return quantize_q4_K;
    case Type::Q5_K: return quantize_q5_K;
    case Type::Q6_K: return quantize_q6_K;
  }
  return nullptr;
}

}  // namespace hqq::gguf::ref
