// Method::Optimized for the K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K): see optimize_kquants.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hqq/gguf.hpp"

namespace hqq::gguf::kquant {

// Research knobs (temporary).
struct KnobSet {
  float w_se = 1, w_l1 = 1;
  int grid_steps = 20;
  float grid_lo = -1, grid_hi = 1;
  int alternations = 2;
  int hqq_iters = 0;
  int n_dmult = 1;
  float dmult[16] = {1};
  int refits = 2;
};
extern KnobSet g_knobs;

// Per-block outcome counts, for tests and benchmarks.
struct OptimizeCounts {
  std::size_t blocks = 0;
  std::size_t improved = 0;  // blocks where our parameters replaced llama.cpp's
};

// `x`: n_blocks * 256 weights (finite); `reference`: llama.cpp's reference encoding of the same
// weights (Method::Reference, n_blocks blocks); `out`: n_blocks blocks. Every output block is
// either the reference block or one whose reconstruction has no larger sum |err| and no larger
// sum err^2 over its 256 weights. `out` may alias `reference`.
OptimizeCounts optimize_blocks(Type type, const float* x, std::size_t n_blocks,
                               const uint8_t* reference, uint8_t* out);

}  // namespace hqq::gguf::kquant
