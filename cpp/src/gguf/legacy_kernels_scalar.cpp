// Scalar ground truth of legacy_kernels.hpp (the searches with one block per lane), and the choice
// of the default table.
#include <cmath>

#include "gguf/blocks.hpp"
#include "gguf/legacy_kernels.hpp"
#include "gguf/legacy_search.hpp"

namespace hqq::gguf::opt {
namespace {

using lanes::Lane1;

inline void add_error(BlockErrors& e, float x, float r) {
  const double d = static_cast<double>(x) - static_cast<double>(r);
  e.abs += std::fabs(d);
  e.sq += d * d;
}

void search_symmetric1(const float* x, int c, const float* ref_abs, const float* ref_sq, float* d, bool* found) noexcept {
  search_symmetric<Lane1>(x, c, ref_abs, ref_sq, d, found);
}

void search_affine1(const float* x, float top, const float* scale, const float* zero, const float* ref_abs,
                    const float* ref_sq, float* d, float* m, bool* found) noexcept {
  search_affine<Lane1>(x, top, scale, zero, ref_abs, ref_sq, d, m, found);
}

BlockErrors exact_affine(const float* x, float d, float m, float top, uint8_t* levels) noexcept {
  const float inv = LaneSearch<Lane1>::inverse_or_zero(d);
  BlockErrors e;
  for (std::size_t j = 0; j < kLegacyBlock; ++j) {
    const float q = Lane1::min(Lane1::max(std::nearbyint((x[j] - m) * inv), 0.0f), top);
    levels[j] = static_cast<uint8_t>(q);
    add_error(e, x[j], q * d + m);
  }
  return e;
}

BlockErrors exact_symmetric(const float* x, float d, float lo, float hi, int8_t* levels) noexcept {
  const float inv = LaneSearch<Lane1>::inverse_or_zero(d);
  BlockErrors e;
  for (std::size_t j = 0; j < kLegacyBlock; ++j) {
    const float v = Lane1::min(Lane1::max(std::nearbyint(x[j] * inv), lo), hi);
    levels[j] = static_cast<int8_t>(v);
    add_error(e, x[j], v * d);
  }
  return e;
}

BlockErrors block_errors(const float* x, const float* r) noexcept {
  BlockErrors e;
  for (std::size_t j = 0; j < kLegacyBlock; ++j) add_error(e, x[j], r[j]);
  return e;
}

constexpr LegacyKernels kScalar{"scalar", 1, search_symmetric1, search_affine1, exact_affine, exact_symmetric, block_errors};

}  // namespace

const LegacyKernels& scalar_legacy_kernels() noexcept { return kScalar; }

#if defined(HQQ_HAVE_SIMD_KERNELS)
const LegacyKernels* simd_legacy_kernels_impl() noexcept;
const LegacyKernels* simd_legacy_kernels() noexcept { return simd_legacy_kernels_impl(); }
#else
const LegacyKernels* simd_legacy_kernels() noexcept { return nullptr; }
#endif

const LegacyKernels& default_legacy_kernels() noexcept {
  const LegacyKernels* simd = simd_legacy_kernels();
  return simd ? *simd : kScalar;
}

}  // namespace hqq::gguf::opt
