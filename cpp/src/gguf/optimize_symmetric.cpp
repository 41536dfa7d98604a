// Method::Optimized for Q8_0, Q4_0 and Q5_0: symmetric blocks x = v * d (v a signed level in
// [lo, hi] = [-c, c - 1], c = 128, 8, 16; d in f16). There is no zero point, so HQQ's zero solver
// does not apply; the scale is chosen by an error-minimising search instead.
//
// The search, per block of 32 (M = the value of largest magnitude):
//   1. a grid of scales that map M onto the negative end (d = M / -(c + t)) or onto the positive
//      end (d = M / (c - 1 + t)) of the level range, t in kSymmetricStretch (level units: t > 0
//      clips M a little in exchange for a finer grid everywhere else; Reference is t = 0 on the
//      negative end, with llama.cpp's truncating level rule and, for Q8_0, levels -127..127
//      only). Both ends are tried at the first two grid points, the rest on the better end;
//   2. every scale is rounded to f16 first and the levels are the nearest ones for that rounded
//      scale (what the decoder multiplies by);
//   3. least-squares rounds from the best grid point: d = sum(x v) / sum(v^2) for its levels,
//      rounded to f16, levels re-chosen; then the f16 neighbours of the last d;
//   4. the best candidate that looks no worse than Reference by both float32 error sums is
//      measured exactly and replaces the Reference block only if it is no worse by both
//      sum |err| and sum err^2 (legacy_candidates.hpp).
// The search runs four blocks at a time in SIMD lanes (legacy_search.hpp).
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "gguf/codec.hpp"
#include "gguf/legacy_candidates.hpp"
#include "gguf/legacy_kernels.hpp"
#include "gguf/legacy_search.hpp"
#include "gguf/optimize.hpp"
#include "hqq/dtype.hpp"

namespace hqq::gguf::opt {
namespace {

constexpr std::size_t kBlock = kLegacyBlock;

struct SymmetricFormat {
  int c;  // levels -c .. c - 1
  std::size_t block_bytes;
  BlockQuantizer reference;
  void (*decode)(const uint8_t* block, float* out) noexcept;
  void (*encode)(uint16_t d, const int8_t* v, uint8_t* block) noexcept;
};

template <typename Block, void (*Decode)(const Block&, float*) noexcept>
void decode_bytes(const uint8_t* bytes, float* out) noexcept {
  Block b;
  std::memcpy(&b, bytes, sizeof b);
  Decode(b, out);
}

// Signed levels -> the stored unsigned ones (level + C) of Q4_0 / Q5_0.
template <typename Block, int C, void (*Encode)(uint16_t, const uint8_t*, Block&) noexcept>
void encode_offset(uint16_t d, const int8_t* v, uint8_t* out) noexcept {
  uint8_t q[kBlock];
  for (std::size_t j = 0; j < kBlock; ++j) q[j] = static_cast<uint8_t>(v[j] + C);
  Block b;
  Encode(d, q, b);
  std::memcpy(out, &b, sizeof b);
}
void encode_q8_0_bytes(uint16_t d, const int8_t* v, uint8_t* out) noexcept {
  BlockQ8_0 b;
  encode_q8_0(d, v, b);
  std::memcpy(out, &b, sizeof b);
}

const SymmetricFormat kQ4_0{8, sizeof(BlockQ4_0), ref::quantize_q4_0, decode_bytes<BlockQ4_0, decode_q4_0>,
                            encode_offset<BlockQ4_0, 8, encode_q4_0>};
const SymmetricFormat kQ5_0{16, sizeof(BlockQ5_0), ref::quantize_q5_0, decode_bytes<BlockQ5_0, decode_q5_0>,
                            encode_offset<BlockQ5_0, 16, encode_q5_0>};
const SymmetricFormat kQ8_0{128, sizeof(BlockQ8_0), ref::quantize_q8_0, decode_bytes<BlockQ8_0, decode_q8_0>,
                            encode_q8_0_bytes};

void quantize_symmetric(const SymmetricFormat& fmt, const float* x, std::size_t n_blocks, uint8_t* out) {
  fmt.reference(x, n_blocks, out);  // the Reference blocks, overwritten where a candidate wins
  std::vector<BlockErrors> ref(n_blocks);
  std::vector<float> ref_abs(n_blocks), ref_sq(n_blocks), best(n_blocks);
  const std::unique_ptr<bool[]> found(new bool[n_blocks]);
  const LegacyKernels& lk = default_legacy_kernels();
  float r[kBlock];
  for (std::size_t b = 0; b < n_blocks; ++b) {
    fmt.decode(out + b * fmt.block_bytes, r);
    ref[b] = lk.block_errors(x + b * kBlock, r);
    // Nothing to improve, or a block Reference cannot represent (its f16 scale overflows): no
    // search, Reference's bytes stay, so the caller refuses the same inputs for both methods.
    const bool search = ref[b].abs > 0.0 && std::isfinite(ref[b].sq);
    ref_abs[b] = search ? static_cast<float>(ref[b].abs) : 0.0f;
    ref_sq[b] = static_cast<float>(ref[b].sq);
  }
  search_blocks(lk, n_blocks, [&](const LegacyKernels& k, std::size_t b) {
    k.search_symmetric(x + b * kBlock, fmt.c, &ref_abs[b], &ref_sq[b], &best[b], &found[b]);
  });
  const float lo = static_cast<float>(-fmt.c), hi = static_cast<float>(fmt.c - 1);
  for (std::size_t b = 0; b < n_blocks; ++b) {
    if (!found[b]) continue;
    int8_t v[kBlock];
    if (better(lk.exact_symmetric(x + b * kBlock, best[b], lo, hi, v), ref[b]))
      fmt.encode(f32_to_f16(best[b]), v, out + b * fmt.block_bytes);  // best[b] is an exact f16 value
  }
}

}  // namespace

void quantize_q8_0(const float* x, std::size_t n_blocks, uint8_t* out) { quantize_symmetric(kQ8_0, x, n_blocks, out); }
void quantize_q4_0(const float* x, std::size_t n_blocks, uint8_t* out) { quantize_symmetric(kQ4_0, x, n_blocks, out); }
void quantize_q5_0(const float* x, std::size_t n_blocks, uint8_t* out) { quantize_symmetric(kQ5_0, x, n_blocks, out); }

}  // namespace hqq::gguf::opt
