// llama.cpp's reference quantizers of the K-quants (see reference.hpp), built on the scale
// searches of kquant_search.hpp. Each super-block runs in three steps:
//   1. every sub-block gets a float scale (and min) from its search;
//   2. the sub-block scales (and mins) become small integer codes against the super-block's
//      largest one, which is stored as the f16 super-scale;
//   3. every sub-block whose reconstructed scale is non-zero is re-quantized with the scale the
//      decoder will actually use (f16 super-scale times code); the others keep the search levels.
#include <cmath>
#include <cstring>

#include "gguf/codec.hpp"
#include "gguf/kquant_search.hpp"
#include "gguf/reference.hpp"
#include "hqq/dtype.hpp"

namespace hqq::gguf::ref {
namespace {

using kquant::nearest_int;

inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
inline float fl(int v) { return static_cast<float>(v); }

template <typename Block>
inline void store(const Block& b, uint8_t* out, std::size_t i) {
  std::memcpy(out + i * sizeof(Block), &b, sizeof(Block));
}

// Step 3 of the affine types: levels l = nearest((x + dm) / d) in [0, nmax] per sub-block.
void requantize_affine(const float* x, int sub, float d, float dm, int nmax, uint8_t* L) {
  for (int i = 0; i < sub; ++i) L[i] = static_cast<uint8_t>(clamp_int(nearest_int((x[i] + dm) / d), 0, nmax));
}

// Steps 1-2 of Q4_K and Q5_K (identical apart from the level count and the search grid): the
// 6-bit scale and min codes and the f16 super-scales.
struct Affine6Params {
  uint8_t sc[8], mn[8];
  uint16_t d, dmin;
};

Affine6Params affine6_params(const float* x, int nmax, float rmin, int nstep, uint8_t* L) {
  float scales[8], mins[8], weights[32];
  uint8_t aux[32];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0.0f;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = kquant::affine_scale_search(32, nmax, xs, weights, L + 32 * j, &mins[j], aux, rmin,
                                            0.1f, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  Affine6Params p;
  for (int j = 0; j < 8; ++j) {
    // The code is stored into a byte first (wrapping), then capped at 63, as llama.cpp does.
    const uint8_t ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
    const uint8_t lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
    p.sc[j] = ls < 63 ? ls : 63;
    p.mn[j] = lm < 63 ? lm : 63;
  }
  p.d = f32_to_f16(max_scale / 63.0f);
  p.dmin = f32_to_f16(max_min / 63.0f);
  return p;
}

void requantize_affine6(const float* x, const Affine6Params& p, int nmax, uint8_t* L) {
  const float d = f16_to_f32(p.d), dmin = f16_to_f32(p.dmin);
  for (int j = 0; j < 8; ++j) {
    const float dj = d * fl(p.sc[j]);
    if (dj == 0.0f) continue;
    requantize_affine(x + 32 * j, 32, dj, dmin * fl(p.mn[j]), nmax, L + 32 * j);
  }
}

}  // namespace

void quantize_q2_K(const float* x, std::size_t n_blocks, uint8_t* out) {
  for (std::size_t i = 0; i < n_blocks; ++i, x += kSuperBlock) {
    uint8_t L[kSuperBlock], aux[16], bytes[16];
    float weights[16], scales[16], mins[16];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = kquant::affine_scale_search(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], aux,
                                              -0.5f, 0.1f, 15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    uint16_t d = 0, dmin = 0;
    std::memset(bytes, 0, sizeof bytes);
    if (max_scale > 0.0f) {
      const float iscale = 15.0f / max_scale;
      for (int j = 0; j < 16; ++j) bytes[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
      d = f32_to_f16(max_scale / 15.0f);
    }
    if (max_min > 0.0f) {
      const float iscale = 15.0f / max_min;
      for (int j = 0; j < 16; ++j)
        bytes[j] = static_cast<uint8_t>(bytes[j] | static_cast<uint32_t>(nearest_int(iscale * mins[j])) << 4);
      dmin = f32_to_f16(max_min / 15.0f);
    }
    const float df = f16_to_f32(d), dminf = f16_to_f32(dmin);
    for (int j = 0; j < 16; ++j) {
      const float dj = df * fl(bytes[j] & 0xF);
      if (dj == 0.0f) continue;
      requantize_affine(x + 16 * j, 16, dj, dminf * fl(bytes[j] >> 4), 3, L + 16 * j);
    }
    BlockQ2_K b;
    encode_q2_K(d, dmin, bytes, L, b);
    store(b, out, i);
  }
}

void quantize_q3_K(const float* x, std::size_t n_blocks, uint8_t* out) {
  for (std::size_t i = 0; i < n_blocks; ++i, x += kSuperBlock) {
    int8_t L[kSuperBlock];
    float scales[16];
    float max_scale = 0.0f, amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
      scales[j] = kquant::q3_scale_search(16, 4, x + 16 * j, L + 16 * j, true);
      const float a = std::fabs(scales[j]);
      if (a > amax) {
        amax = a;
        max_scale = scales[j];
      }
    }
    uint8_t codes[16] = {};
    uint16_t d = 0;
    if (max_scale != 0.0f) {
      const float iscale = -32.0f / max_scale;
      for (int j = 0; j < 16; ++j) {
        const int8_t l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
        codes[j] = static_cast<uint8_t>(clamp_int(l, -32, 31) + 32);
      }
      d = f32_to_f16(1.0f / iscale);
    }
    const float df = f16_to_f32(d);
    for (int j = 0; j < 16; ++j) {
      const float dj = df * fl(static_cast<int>(codes[j]) - 32);
      if (dj == 0.0f) continue;
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = static_cast<int8_t>(clamp_int(nearest_int(x[16 * j + l] / dj), -4, 3) + 4);
    }
    uint8_t q[kSuperBlock];
    for (std::size_t n = 0; n < kSuperBlock; ++n) q[n] = static_cast<uint8_t>(L[n]);
    BlockQ3_K b;
    encode_q3_K(d, codes, q, b);
    store(b, out, i);
  }
}

void quantize_q4_K(const float* x, std::size_t n_blocks, uint8_t* out) {
  for (std::size_t i = 0; i < n_blocks; ++i, x += kSuperBlock) {
    uint8_t L[kSuperBlock];
    const Affine6Params p = affine6_params(x, 15, -1.0f, 20, L);
    requantize_affine6(x, p, 15, L);
    BlockQ4_K b;
    encode_q4_K(p.d, p.dmin, p.sc, p.mn, L, b);
    store(b, out, i);
  }
}

void quantize_q5_K(const float* x, std::size_t n_blocks, uint8_t* out) {
  for (std::size_t i = 0; i < n_blocks; ++i, x += kSuperBlock) {
    uint8_t L[kSuperBlock];
    const Affine6Params p = affine6_params(x, 31, -0.5f, 15, L);
    requantize_affine6(x, p, 31, L);
    BlockQ5_K b;
    encode_q5_K(p.d, p.dmin, p.sc, p.mn, L, b);
    store(b, out, i);
  }
}

void quantize_q6_K(const float* x, std::size_t n_blocks, uint8_t* out) {
  for (std::size_t i = 0; i < n_blocks; ++i, x += kSuperBlock) {
    int8_t L[kSuperBlock];
    float scales[16];
    float max_scale = 0.0f, max_abs_scale = 0.0f;
    for (int j = 0; j < 16; ++j) {
      scales[j] = kquant::symmetric_scale_search(16, 32, x + 16 * j, L + 16 * j, 1);
      const float a = std::fabs(scales[j]);
      if (a > max_abs_scale) {
        max_abs_scale = a;
        max_scale = scales[j];
      }
    }
    BlockQ6_K b;
    if (max_abs_scale < kquant::kGroupMaxEps) {
      std::memset(&b, 0, sizeof b);  // all-zero super-block: every byte 0
      store(b, out, i);
      continue;
    }
    const float iscale = -128.0f / max_scale;
    const uint16_t d = f32_to_f16(1.0f / iscale);
    int8_t sub_scales[16];
    for (int j = 0; j < 16; ++j) {
      const int s = nearest_int(iscale * scales[j]);
      sub_scales[j] = static_cast<int8_t>(s < 127 ? s : 127);
    }
    const float df = f16_to_f32(d);
    for (int j = 0; j < 16; ++j) {
      const float dj = df * fl(sub_scales[j]);
      if (dj == 0.0f) continue;
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = static_cast<int8_t>(clamp_int(nearest_int(x[16 * j + l] / dj), -32, 31) + 32);
    }
    uint8_t q[kSuperBlock];
    for (std::size_t n = 0; n < kSuperBlock; ++n) q[n] = static_cast<uint8_t>(L[n]);
    encode_q6_K(d, sub_scales, q, b);
    store(b, out, i);
  }
}

}  // namespace hqq::gguf::ref
