// Method::Optimized for Q4_1 and Q5_1: HQQ in the form these types store.
//
// Q4_1/Q5_1 reconstruct x = q * d + m per 32 weights, d and m in f16: exactly HQQ's affine form
// W_r = (q - z) * scale with group size 32 along the row, d = scale and m = -z * scale. So:
//   1. HQQ's initial parameters (HQQ-SPEC section 2: scale = (max - min) / nmax, z = -min / scale)
//      and its proximal zero-point solver (solver.cpp, per-group-best early stop so that every
//      block is independent of the others and of how the tensor is split);
//   2. candidate A: d = f16(scale), m = f16(-z * scale), levels re-chosen for these rounded
//      values (the f16 rounding moves the grid, so levels chosen before it would be stale);
//   3. least-squares rounds from A: (d, m) re-fitted to the current levels, rounded to f16, levels
//      re-chosen (the solver minimises an l_p error with p < 1; this recovers the squared error);
//      then the f16 neighbours of the last d (rounding to nearest is not always best);
//   4. the best candidate that looks no worse than Reference (llama.cpp's min/max quantizer) by
//      both float32 error sums is measured exactly and replaces the Reference block only if it is
//      no worse by both sum |err| and sum err^2 (legacy_candidates.hpp).
// Steps 2-3 run four blocks at a time in SIMD lanes (legacy_search.hpp).
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "gguf/codec.hpp"
#include "gguf/legacy_candidates.hpp"
#include "gguf/legacy_kernels.hpp"
#include "gguf/optimize.hpp"
#include "hqq/dtype.hpp"
#include "kernels/kernels.hpp"
#include "solver.hpp"

namespace hqq::gguf::opt {
namespace {

constexpr std::size_t kBlock = kLegacyBlock;
// Measured on Gaussian and Student-t weights (mean |err| ratio to Reference, Q4_1): 0 iterations
// 0.936, 1: 0.932, 2: 0.930, 3: 0.929, 5 to 40: 0.928 (per-group-best early stop). Three
// iterations keep nearly all of the gain at 60% of the cost of five.
constexpr int kSolverIters = 3;

struct AffineFormat {
  int nmax;  // 15 (Q4_1) or 31 (Q5_1)
  std::size_t block_bytes;
  BlockQuantizer reference;
  void (*decode)(const uint8_t* block, float* out) noexcept;
  void (*encode)(uint16_t d, uint16_t m, const uint8_t* q, uint8_t* block) noexcept;
};

template <typename Block, void (*Decode)(const Block&, float*) noexcept>
void decode_bytes(const uint8_t* bytes, float* out) noexcept {
  Block b;
  std::memcpy(&b, bytes, sizeof b);
  Decode(b, out);
}
template <typename Block, void (*Encode)(uint16_t, uint16_t, const uint8_t*, Block&) noexcept>
void encode_bytes(uint16_t d, uint16_t m, const uint8_t* q, uint8_t* out) noexcept {
  Block b;
  Encode(d, m, q, b);
  std::memcpy(out, &b, sizeof b);
}

const AffineFormat kQ4_1{15, sizeof(BlockQ4_1), ref::quantize_q4_1, decode_bytes<BlockQ4_1, decode_q4_1>,
                         encode_bytes<BlockQ4_1, encode_q4_1>};
const AffineFormat kQ5_1{31, sizeof(BlockQ5_1), ref::quantize_q5_1, decode_bytes<BlockQ5_1, decode_q5_1>,
                         encode_bytes<BlockQ5_1, encode_q5_1>};

// HQQ-SPEC section 2 without the reference's fp16 safety clamps (tiny ranges keep their true
// scale here). A block whose range is 0 or whose inverse range overflows gets scale 0: the solver
// still runs on it (with a harmless s = 1) but its result is not used.
void initial_parameters(const kernels::Kernels& k, const float* x, std::size_t n_blocks, int nmax,
                        std::vector<float>& s, std::vector<float>& scale, std::vector<float>& z) {
  std::vector<float> mn(n_blocks), mx(n_blocks);
  k.group_min_max(x, n_blocks, kBlock, mn.data(), mx.data());
  for (std::size_t b = 0; b < n_blocks; ++b) {
    const float range = mx[b] - mn[b];
    const float sb = (1.0f / range) * static_cast<float>(nmax);
    const bool usable = range > 0.0f && std::isfinite(range) && std::isfinite(sb);
    s[b] = usable ? sb : 1.0f;
    scale[b] = usable ? 1.0f / sb : 0.0f;
    z[b] = usable ? -mn[b] * sb : 0.0f;
  }
}

void quantize_affine(const AffineFormat& fmt, const float* x, std::size_t n_blocks, uint8_t* out) {
  const auto& k = kernels::default_kernels();
  std::vector<float> s(n_blocks), scale(n_blocks), z0(n_blocks);
  initial_parameters(k, x, n_blocks, fmt.nmax, s, scale, z0);
  SolverParams params;  // HQQ's defaults (p = 0.7, beta = 10, kappa = 1.01) ...
  params.early_stop = EarlyStop::PerGroupBest;
  params.iters = kSolverIters;  // ... with fewer iterations (see kSolverIters)
  const detail::SolveResult solved =
      detail::solve_zero(k, x, n_blocks, kBlock, s.data(), scale.data(), z0.data(),
                         static_cast<float>(fmt.nmax), params);

  fmt.reference(x, n_blocks, out);  // the Reference blocks, overwritten where a candidate wins
  std::vector<BlockErrors> ref(n_blocks);
  std::vector<float> ref_abs(n_blocks), ref_sq(n_blocks), best_d(n_blocks), best_m(n_blocks);
  const std::unique_ptr<bool[]> found(new bool[n_blocks]);
  const LegacyKernels& lk = default_legacy_kernels();
  float r[kBlock];
  for (std::size_t b = 0; b < n_blocks; ++b) {
    fmt.decode(out + b * fmt.block_bytes, r);
    ref[b] = lk.block_errors(x + b * kBlock, r);
    // Nothing to improve, a flat or degenerate block (scale 0), or a block Reference cannot
    // represent (its f16 parameters overflow): no search, Reference's bytes stay, so the caller
    // refuses the same inputs for both methods.
    const bool search = ref[b].abs > 0.0 && std::isfinite(ref[b].sq) && scale[b] != 0.0f;
    ref_abs[b] = search ? static_cast<float>(ref[b].abs) : 0.0f;
    ref_sq[b] = static_cast<float>(ref[b].sq);
  }
  const float top = static_cast<float>(fmt.nmax);
  search_blocks(lk, n_blocks, [&](const LegacyKernels& kk, std::size_t b) {
    kk.search_affine(x + b * kBlock, top, &scale[b], &solved.zero[b], &ref_abs[b], &ref_sq[b], &best_d[b],
                     &best_m[b], &found[b]);
  });
  for (std::size_t b = 0; b < n_blocks; ++b) {
    if (!found[b]) continue;
    uint8_t q[kBlock];
    if (better(lk.exact_affine(x + b * kBlock, best_d[b], best_m[b], top, q), ref[b])) {
      // best_d and best_m are exact f16 values: the conversions are exact.
      fmt.encode(f32_to_f16(best_d[b]), f32_to_f16(best_m[b]), q, out + b * fmt.block_bytes);
    }
  }
}

}  // namespace

void quantize_q4_1(const float* x, std::size_t n_blocks, uint8_t* out) { quantize_affine(kQ4_1, x, n_blocks, out); }
void quantize_q5_1(const float* x, std::size_t n_blocks, uint8_t* out) { quantize_affine(kQ5_1, x, n_blocks, out); }

}  // namespace hqq::gguf::opt
