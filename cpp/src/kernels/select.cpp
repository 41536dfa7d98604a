// Compile-time choice of the default kernel table.
#include "kernels/kernels.hpp"

namespace hqq::kernels {

#if defined(HQQ_HAVE_SIMD_KERNELS)
const Kernels* simd_kernels_impl() noexcept;
const Kernels* simd_kernels() noexcept { return simd_kernels_impl(); }
const Kernels& default_kernels() noexcept {
  const Kernels* simd = simd_kernels_impl();  // null on a CPU without the instructions
  return simd ? *simd : scalar_kernels();
}
#else
const Kernels* simd_kernels() noexcept { return nullptr; }
const Kernels& default_kernels() noexcept { return scalar_kernels(); }
#endif

}  // namespace hqq::kernels
