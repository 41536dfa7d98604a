// The SIMD instantiation of the K-quant search: four sub-blocks per vector (see kopt_lanes.hpp).
#define HQQ_KOPT_VEC4 1
#include "gguf/kopt_search.hpp"
#include "gguf/optimize_kquants.hpp"

namespace hqq::gguf::kopt::detail {

OptimizeCounts optimize_blocks_simd(Type type, const SearchPlan& plan, const float* x,
                                    std::size_t n_blocks, const uint8_t* reference, uint8_t* out) {
  const Layout& L = *layout_of(type);
  SuperBlockSearch<Vec4Lanes> search(type, plan);
  OptimizeCounts counts;
  for (std::size_t b = 0; b < n_blocks; ++b) {
    counts.improved += search.run(x + b * kSuperBlock, reference + b * L.bytes, out + b * L.bytes) ? 1 : 0;
    ++counts.blocks;
  }
  return counts;
}

}  // namespace hqq::gguf::kopt::detail
