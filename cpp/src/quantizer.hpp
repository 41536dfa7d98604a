// Internal entry points of the quantizer that take an explicit kernel table, so tests can run the
// whole pipeline with the scalar reference kernels and with the SIMD kernels and compare.
#pragma once

#include "hqq/quantize.hpp"
#include "kernels/kernels.hpp"

namespace hqq::detail {

QuantizedTensor quantize_with(const kernels::Kernels& k, const float* weights, const Shape& shape,
                              const Config& config);

}  // namespace hqq::detail
