// (algorithm description: to be written once the plan is settled)
#include "gguf/optimize_kquants.hpp"

#include "gguf/kopt_search.hpp"

namespace hqq::gguf::kopt {

const SearchPlan& default_plan(Type type) noexcept {
  static const SearchPlan affine{3, {-1.0f, 0.0f, 1.0f}, 2, 3, {1.0f, 0.97f, 1.03f}, 2, 5, 1};
  static const SearchPlan symmetric{3, {-0.5f, 0.0f, 0.5f}, 2, 3, {1.0f, 0.97f, 1.03f}, 2, 0, 0};
  (void)type;
  return layout_of(type) != nullptr && layout_of(type)->affine() ? affine : symmetric;
}

bool have_simd_search() noexcept {
#if defined(HQQ_HAVE_SIMD_KERNELS)
  return true;
#else
  return false;
#endif
}

namespace detail {
OptimizeCounts optimize_blocks_scalar(Type type, const SearchPlan& plan, const float* x,
                                      std::size_t n_blocks, const uint8_t* reference, uint8_t* out) {
  const Layout& L = *layout_of(type);
  SuperBlockSearch<ScalarLanes> search(type, plan);
  OptimizeCounts counts;
  for (std::size_t b = 0; b < n_blocks; ++b) {
    counts.improved += search.run(x + b * kSuperBlock, reference + b * L.bytes, out + b * L.bytes) ? 1 : 0;
    ++counts.blocks;
  }
  return counts;
}
}  // namespace detail

OptimizeCounts optimize_blocks(Type type, const float* x, std::size_t n_blocks,
                               const uint8_t* reference, uint8_t* out, const OptimizeOptions& options) {
  if (layout_of(type) == nullptr) return {};
  const SearchPlan& plan = options.plan != nullptr ? *options.plan : default_plan(type);
#if defined(HQQ_HAVE_SIMD_KERNELS)
  if (!options.scalar) return detail::optimize_blocks_simd(type, plan, x, n_blocks, reference, out);
#endif
  return detail::optimize_blocks_scalar(type, plan, x, n_blocks, reference, out);
}

}  // namespace hqq::gguf::kopt
