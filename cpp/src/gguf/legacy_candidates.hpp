// What the Optimized legacy quantizers (optimize_affine.cpp, optimize_symmetric.cpp) share: the
// per-block "keep the better" guard and the batching of the searches.
//
// The searches (legacy_search.hpp) rank candidates by float32 sums; the candidate a search
// returns is then measured exactly, on the reconstruction the decoder will produce, and replaces
// the Reference block only if it is no worse by both sum |err| and sum err^2 and better by one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/legacy_kernels.hpp"

namespace hqq::gguf::opt {

// The guard: a candidate may replace the Reference block only if it is no worse by both sums.
inline bool no_worse(const BlockErrors& c, const BlockErrors& ref) { return c.abs <= ref.abs && c.sq <= ref.sq; }
inline bool better(const BlockErrors& c, const BlockErrors& ref) {
  return no_worse(c, ref) && (c.abs < ref.abs || c.sq < ref.sq);
}

// Runs a search over n_blocks blocks: `lanes` blocks per call of the fast kernels, the tail one
// block at a time with the scalar kernels (bit-identical, so the split does not show).
template <typename Search>
void search_blocks(const LegacyKernels& fast, std::size_t n_blocks, Search&& search) {
  std::size_t b = 0;
  for (; b + fast.lanes <= n_blocks; b += fast.lanes) search(fast, b);
  for (; b < n_blocks; ++b) search(scalar_legacy_kernels(), b);
}

}  // namespace hqq::gguf::opt
