// The SIMD instantiation of the K-quant search: four sub-blocks per vector (see kopt_lanes.hpp).
#define HQQ_KOPT_VEC4 1
#include "gguf/kopt_search.hpp"
#include "gguf/optimize_kquants.hpp"

namespace hqq::gguf::kopt::detail {

OptimizeCounts optimize_blocks_simd(Type type, const SearchPlan& plan, const float* x,
                                    std::size_t n_blocks, const uint8_t* reference, uint8_t* out,
                                    uint8_t* reference_out) {
  return search_blocks<Vec4Lanes>(type, plan, x, n_blocks, reference, out, reference_out);
}

void reference_blocks_simd(Type type, const float* x, std::size_t n_blocks, uint8_t* out) {
  reference_blocks<Vec4Lanes>(type, x, n_blocks, out);
}

}  // namespace hqq::gguf::kopt::detail
