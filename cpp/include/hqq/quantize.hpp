// The HQQ quantizer: grouping, initial scale/zero, the proximal zero-point solver, packing and
// dequantization, following HQQ-SPEC sections 1-4.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "hqq/config.hpp"
#include "hqq/dtype.hpp"
#include "hqq/pack.hpp"

namespace hqq {

using Shape = std::vector<std::size_t>;

// Reconstruction error of dequantize(q) against the input, accumulated in double.
struct ErrorStats {
  double mean_abs = 0;
  double max_abs = 0;
  double frobenius = 0;      // sqrt(sum (W - W_r)^2)
  double rel_frobenius = 0;  // frobenius / ||W||_F (0 when W is all zero)
  double weight_frobenius = 0;  // ||W||_F, so callers can aggregate relative errors over tensors
};

struct QuantizedTensor {
  Shape shape;  // the original weight shape
  Config config;
  Packing packing = Packing::u8_4bit;
  std::size_t grouped_rows = 0;  // the grouped matrix: [N/g, g] (axis 1) or [g, N/g] (axis 0)
  std::size_t grouped_cols = 0;
  PackedShape packed_shape;
  std::vector<uint8_t> packed;  // reference layout; 3bit_32 holds little-endian int32 words
  std::vector<float> scale;     // per group, in group order: the dequantization multiplier
  std::vector<float> zero;      // per group, in level units (generally not an integer)
  int iterations = 0;           // solver iterations, counted as the reference counts them
  // Groups (range > 0) whose grid spans at most half its levels because of the reference's
  // limits on the inverse scale (1 for a range <= 1e-4, at most 2e4): tiny weights, whose error
  // is at least twice what their bits allow (far more for a range <= 1e-4). 0 normally.
  std::size_t limited_groups = 0;
  std::vector<float> error_trace;  // Global mode: whole-tensor mean |W - W_r| per iteration
  ErrorStats stats;
  std::size_t n_groups() const noexcept { return scale.size(); }
};

std::size_t checked_numel(const Shape& shape);  // throws on empty shape, zero or overflow

// `weights` holds numel(shape) float32 values, row-major. NaN or Inf anywhere is rejected with
// Error(InvalidValue) naming the first position (the reference would propagate NaN silently).
QuantizedTensor quantize(const float* weights, const Shape& shape, const Config& config);
// Same, decoding float16 / bfloat16 input first. `input_released`, when given, is called once the
// input has been decoded and will not be read again, so a caller that owns a copy of it can free
// that copy before the solver's working memory is allocated.
QuantizedTensor quantize(const uint16_t* weights, InputDtype dtype, const Shape& shape,
                         const Config& config, const std::function<void()>& input_released = {});

// Unpacked levels in the grouped layout [grouped_rows, grouped_cols].
std::vector<uint8_t> unpack_levels(const QuantizedTensor& q);
// (f32(level) - zero) * scale, elementwise in float32, in the original shape.
std::vector<float> dequantize(const QuantizedTensor& q);
void dequantize_into(const QuantizedTensor& q, float* out, std::size_t out_len);

// Statistics of `reconstruction` against `weights` (both numel long).
ErrorStats error_stats(const float* weights, const float* reconstruction, std::size_t numel);

}  // namespace hqq
