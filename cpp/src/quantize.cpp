// The quantizer: grouping, the initial scale/zero of HQQ-SPEC section 2, the solver, packing and
// the error statistics. Numeric inner loops live in the kernels; this file owns validation,
// layout and memory.
#include "hqq/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <new>
#include <sstream>

#include "hqq/error.hpp"
#include "quantizer.hpp"
#include "scratch.hpp"
#include "solver.hpp"

namespace hqq {
namespace {

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

// Rejects NaN and Inf, naming the first position in the caller's shape.
void check_finite(const float* w, std::size_t n, const Shape& shape) {
  std::size_t first = n, count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(w[i])) {
      if (first == n) first = i;
      ++count;
    }
  }
  if (count == 0) return;
  std::ostringstream msg;
  msg << "weights of shape " << shape_str(shape) << " contain " << count
      << " non-finite value(s) (NaN or Inf); the first is " << w[first] << " at flat index " << first;
  if (shape.size() == 2) msg << " (row " << first / shape[1] << ", column " << first % shape[1] << ")";
  msg << ". HQQ cannot quantize them: fix or mask these values, or leave this tensor unquantized";
  throw Error(ErrorCode::InvalidValue, msg.str());
}

// [rows][cols] -> [cols][rows], in tiles so both sides stay in cache.
template <typename T>
void transpose(const T* in, std::size_t rows, std::size_t cols, T* out) {
  constexpr std::size_t tile = 32;
  for (std::size_t r0 = 0; r0 < rows; r0 += tile) {
    const std::size_t r1 = std::min(rows, r0 + tile);
    for (std::size_t c0 = 0; c0 < cols; c0 += tile) {
      const std::size_t c1 = std::min(cols, c0 + tile);
      for (std::size_t r = r0; r < r1; ++r)
        for (std::size_t c = c0; c < c1; ++c) out[c * rows + r] = in[r * cols + c];
    }
  }
}

ErrorStats stats_from_sums(double sum_abs, double sum_sq, double max_abs, double sum_w_sq,
                           std::size_t numel) {
  ErrorStats st;
  st.mean_abs = sum_abs / static_cast<double>(numel);
  st.max_abs = max_abs;
  st.frobenius = std::sqrt(sum_sq);
  st.rel_frobenius = sum_w_sq > 0 ? std::sqrt(sum_sq / sum_w_sq) : 0.0;
  st.weight_frobenius = std::sqrt(sum_w_sq);
  return st;
}

// Rounds scale and zero to their storage dtype in place (what the file will hold) and refuses a
// value the dtype cannot hold: a float16 scale above 65504 would be stored as Inf, and every
// weight of its group would dequantize to NaN or Inf.
void round_to_storage(std::vector<float>& scale, std::vector<float>& zero, StorageDtype dtype,
                      const Shape& shape) {
  if (dtype == StorageDtype::f32) return;
  const bool f16 = dtype == StorageDtype::f16;
  auto round = [f16](float v) { return f16 ? f16_to_f32(f32_to_f16(v)) : bf16_to_f32(f32_to_bf16(v)); };
  for (auto* values : {&scale, &zero}) {
    for (std::size_t i = 0; i < values->size(); ++i) {
      const float v = (*values)[i];
      const float r = round(v);
      if (!std::isfinite(r)) {
        std::ostringstream msg;
        msg << (values == &scale ? "scale" : "zero") << " of group " << i << " of shape " << shape_str(shape)
            << " is " << v << ", which overflows " << storage_dtype_name(dtype)
            << (f16 ? " (largest finite value 65504)" : "")
            << (values == &scale ? ": the weights of that group span too wide a range"
                                 : ": that group lies far from zero relative to its range")
            << ". Store scale/zero as " << (f16 ? "bfloat16 or float32" : "float32")
            << " (compute dtype; CLI --compute-dtype), or leave this tensor unquantized";
        throw Error(ErrorCode::InvalidValue, msg.str());
      }
      (*values)[i] = r;
    }
  }
}

// Error sums of the reconstruction (level - zero) * scale against the group-major weights, block
// by block through a small buffer (one pass, no tensor-sized temporary).
kernels::ErrorSums reconstruction_sums(const kernels::Kernels& k, const float* gm, const uint8_t* levels,
                                       std::size_t n_groups, std::size_t g, const float* scale,
                                       const float* zero) {
  constexpr std::size_t kBlockElements = 4096;
  const std::size_t block = std::max<std::size_t>(1, kBlockElements / g);
  std::vector<float> recon(block * g);
  kernels::ErrorSums total;
  for (std::size_t first = 0; first < n_groups; first += block) {
    const std::size_t count = std::min(block, n_groups - first);
    k.dequantize_rows(levels + first * g, count, g, scale + first, zero + first, recon.data());
    double a, b, m, w;
    k.error_sums(gm + first * g, recon.data(), count * g, &a, &b, &m, &w);
    total.sum_abs += a;
    total.sum_sq += b;
    total.sum_w_sq += w;
    total.max_abs = std::max(total.max_abs, m);
  }
  return total;
}

struct Layout {
  std::size_t numel, g, n_groups, rows, cols;
  Packing packing;
};

Layout plan_layout(const Shape& shape, const Config& config) {
  validate(config);
  Layout l{};
  l.numel = checked_numel(shape);
  l.g = config.group_size;
  if (l.numel % l.g != 0) {
    throw Error(ErrorCode::InvalidArgument,
                "group_size " + std::to_string(l.g) + " does not divide the " +
                    std::to_string(l.numel) + " elements of shape " + shape_str(shape) +
                    "; choose a group size that divides the element count (e.g. one that divides "
                    "the last dimension)");
  }
  l.n_groups = l.numel / l.g;
  l.rows = config.axis == 1 ? l.n_groups : l.g;
  l.cols = config.axis == 1 ? l.g : l.n_groups;
  l.packing = packing_for(config.nbits);
  try {
    check_packable(l.packing, l.rows, l.cols);
  } catch (const Error& e) {
    throw Error(e.code(), std::string(e.what()) + " (shape " + shape_str(shape) + ", group_size " +
                              std::to_string(l.g) + ", axis " + std::to_string(config.axis) + ")");
  }
  // Working memory is a few times the tensor; refuse sizes whose byte counts overflow size_t
  // (4 GiB in wasm32) before trying to allocate them.
  if (l.numel > static_cast<std::size_t>(-1) / 16) {
    throw Error(ErrorCode::OutOfMemory, "tensor of shape " + shape_str(shape) + " (" +
                                            std::to_string(l.numel) +
                                            " elements) is too large for this address space");
  }
  return l;
}

QuantizedTensor quantize_impl(const kernels::Kernels& k, const float* weights, const Shape& shape,
                              const Config& config) {
  const Layout l = plan_layout(shape, config);
  const float max_q = static_cast<float>(max_level(config.nbits));

  // Group-major view: axis 1 groups are already contiguous; axis 0 groups are columns.
  std::unique_ptr<detail::Scratch> transposed;
  const float* gm = weights;
  if (config.axis == 0) {
    transposed = std::make_unique<detail::Scratch>(detail::ScratchSlot::transposed, l.numel * sizeof(float));
    transpose(weights, l.rows, l.cols, transposed->as<float>());
    gm = transposed->as<float>();
  }

  // HQQ-SPEC section 2. Working arrays are scratch (see scratch.hpp); z and scale are returned.
  const detail::Scratch mn_buf(detail::ScratchSlot::group_min, l.n_groups * sizeof(float));
  const detail::Scratch mx_buf(detail::ScratchSlot::group_max, l.n_groups * sizeof(float));
  const detail::Scratch s_buf(detail::ScratchSlot::inv_scale, l.n_groups * sizeof(float));
  float* mn = mn_buf.as<float>();
  float* mx = mx_buf.as<float>();
  float* s = s_buf.as<float>();
  std::vector<float> z(l.n_groups), scale(l.n_groups);
  std::size_t limited = 0;  // QuantizedTensor::limited_groups
  if (!k.group_min_max(gm, l.n_groups, l.g, mn, mx)) {
    check_finite(weights, l.numel, shape);  // finds and reports the first NaN/Inf
    throw Error(ErrorCode::Internal, "min/max reported a non-finite value that the scan did not find");
  }
  for (std::size_t i = 0; i < l.n_groups; ++i) {
    const float d = mx[i] - mn[i];
    if (!std::isfinite(d)) {
      throw Error(ErrorCode::InvalidValue,
                  "group " + std::to_string(i) + " of shape " + shape_str(shape) +
                      " spans a range (max - min) that overflows float32; scale the weights down "
                      "or leave this tensor unquantized");
    }
    float si = (1.0f / d) * max_q;  // reciprocal first, then multiply: bit-exact with torch
    if (std::fabs(d) <= 1e-4f) si = 1.0f;
    si = std::min(si, 2e4f);
    if (d > 0.0f && d * si <= 0.5f * max_q) ++limited;  // the limits left half the levels unused
    s[i] = si;
    float zi = (-mn[i]) * si;
    if (config.round_zero) zi = std::nearbyint(zi);
    z[i] = zi;
    scale[i] = 1.0f / si;
  }

  QuantizedTensor q;
  q.shape = shape;
  q.config = config;
  q.packing = l.packing;
  q.grouped_rows = l.rows;
  q.grouped_cols = l.cols;
  q.limited_groups = limited;
  if (config.optimize) {
    detail::SolveResult r = detail::solve_zero(k, gm, l.n_groups, l.g, s, scale.data(),
                                               z.data(), max_q, config.solver);
    z = std::move(r.zero);
    q.iterations = r.iterations;
    q.error_trace = std::move(r.error_trace);
  }

  const detail::Scratch levels_buf(detail::ScratchSlot::levels, l.numel);
  uint8_t* levels = levels_buf.as<uint8_t>();
  // Levels and the error statistics of the final reconstruction in one pass over the weights
  // (group-major layout: the same elements as the original).
  // Stored in float16/bfloat16, scale and zero are rounded first and the statistics describe the
  // rounded values; the levels are those of the float32 zero, as the reference computes them.
  kernels::ErrorSums sums;
  if (config.scale_dtype == StorageDtype::f32) {
    k.quantize_levels(gm, l.n_groups, l.g, s, z.data(), max_q, levels, scale.data(), &sums);
  } else {
    k.quantize_levels(gm, l.n_groups, l.g, s, z.data(), max_q, levels, scale.data(), nullptr);
    round_to_storage(scale, z, config.scale_dtype, shape);
    sums = reconstruction_sums(k, gm, levels, l.n_groups, l.g, scale.data(), z.data());
  }
  q.stats = stats_from_sums(sums.sum_abs, sums.sum_sq, sums.max_abs, sums.sum_w_sq, l.numel);
  transposed.reset();  // the weights are not read again

  std::unique_ptr<detail::Scratch> grouped;
  if (config.axis == 0) {
    grouped = std::make_unique<detail::Scratch>(detail::ScratchSlot::grouped, l.numel);
    transpose(levels, l.n_groups, l.g, grouped->as<uint8_t>());
    levels = grouped->as<uint8_t>();
  }
  q.packed_shape = packed_shape(l.packing, l.rows, l.cols);
  q.packed = pack(l.packing, levels, l.rows, l.cols);
  q.scale = std::move(scale);
  q.zero = std::move(z);
  return q;
}

}  // namespace

std::size_t checked_numel(const Shape& shape) {
  if (shape.empty()) {
    throw Error(ErrorCode::InvalidArgument,
                "shape is empty (a 0-d scalar); HQQ quantizes tensors with at least one dimension");
  }
  std::size_t n = 1;
  for (std::size_t d : shape) {
    if (d == 0) {
      throw Error(ErrorCode::InvalidArgument,
                  "shape " + shape_str(shape) + " has no elements; there is nothing to quantize");
    }
    if (n > static_cast<std::size_t>(-1) / d) {
      throw Error(ErrorCode::OutOfMemory,
                  "shape " + shape_str(shape) + " has more elements than this address space holds");
    }
    n *= d;
  }
  return n;
}

namespace detail {
QuantizedTensor quantize_with(const kernels::Kernels& k, const float* weights, const Shape& shape,
                              const Config& config) {
  try {
    return quantize_impl(k, weights, shape, config);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::OutOfMemory,
                "out of memory while quantizing a tensor of shape " + shape_str(shape) +
                    " (needs roughly 3x its float32 size in working memory); quantize fewer "
                    "tensors at once or use a machine/engine with more memory");
  }
}
}  // namespace detail

QuantizedTensor quantize(const float* weights, const Shape& shape, const Config& config) {
  if (weights == nullptr) throw Error(ErrorCode::InvalidArgument, "weights pointer is null");
  return detail::quantize_with(kernels::default_kernels(), weights, shape, config);
}

QuantizedTensor quantize(const uint16_t* weights, InputDtype dtype, const Shape& shape,
                         const Config& config, const std::function<void()>& input_released) {
  if (weights == nullptr) throw Error(ErrorCode::InvalidArgument, "weights pointer is null");
  if (dtype == InputDtype::f32) {
    throw Error(ErrorCode::InvalidArgument,
                "16-bit input needs dtype f16 or bf16; pass float32 weights as const float*");
  }
  plan_layout(shape, config);  // reject bad shapes before allocating the decoded copy
  const std::size_t n = checked_numel(shape);
  try {
    std::vector<float> decoded(n);
    const auto& k = kernels::default_kernels();
    (dtype == InputDtype::f16 ? k.decode_f16 : k.decode_bf16)(weights, decoded.data(), n);
    if (input_released) input_released();
    return detail::quantize_with(k, decoded.data(), shape, config);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::OutOfMemory, "out of memory decoding a 16-bit tensor of shape " +
                                            shape_str(shape) + " to float32");
  }
}

std::vector<uint8_t> unpack_levels(const QuantizedTensor& q) {
  return unpack(q.packing, q.packed.data(), q.packed.size(), q.grouped_rows, q.grouped_cols);
}

void dequantize_into(const QuantizedTensor& q, float* out, std::size_t out_len) {
  const std::size_t n = q.grouped_rows * q.grouped_cols;
  if (out_len != n) {
    throw Error(ErrorCode::InvalidArgument, "dequantize output holds " + std::to_string(out_len) +
                                                " values, the tensor has " + std::to_string(n));
  }
  const std::size_t n_groups = q.config.axis == 1 ? q.grouped_rows : q.grouped_cols;
  if (q.scale.size() != n_groups || q.zero.size() != n_groups) {
    throw Error(ErrorCode::InvalidArgument,
                "scale/zero hold " + std::to_string(q.scale.size()) + "/" +
                    std::to_string(q.zero.size()) + " values but the layout has " +
                    std::to_string(n_groups) + " groups");
  }
  // Scale and zero come from files too: NaN or Inf would silently turn a group into NaN.
  for (const auto* values : {&q.scale, &q.zero}) {
    for (std::size_t i = 0; i < n_groups; ++i) {
      if (std::isfinite((*values)[i])) continue;
      std::size_t bad = 0;
      for (float v : *values) bad += std::isfinite(v) ? 0 : 1;
      std::ostringstream msg;
      msg << (values == &q.scale ? "scale" : "zero") << " holds " << bad << " non-finite value(s) (NaN or Inf); the first is "
          << (*values)[i] << " for group " << i << ". Dequantizing would give NaN/Inf weights: the quantized tensor is corrupt";
      throw Error(ErrorCode::InvalidValue, msg.str());
    }
  }
  const std::vector<uint8_t> levels = unpack_levels(q);
  const auto& k = kernels::default_kernels();
  // The grouped matrix is the row-major reshape of the original, so writing it in order gives
  // the original shape: groups are rows (axis 1) or columns (axis 0) of it.
  if (q.config.axis == 1)
    k.dequantize_rows(levels.data(), q.grouped_rows, q.grouped_cols, q.scale.data(), q.zero.data(), out);
  else
    k.dequantize_cols(levels.data(), q.grouped_rows, q.grouped_cols, q.scale.data(), q.zero.data(), out);
}

std::vector<float> dequantize(const QuantizedTensor& q) {
  std::vector<float> out(q.grouped_rows * q.grouped_cols);
  dequantize_into(q, out.data(), out.size());
  return out;
}

ErrorStats error_stats(const float* weights, const float* reconstruction, std::size_t numel) {
  if (numel == 0) return {};
  double sum_abs, sum_sq, max_abs, sum_w_sq;
  kernels::default_kernels().error_sums(weights, reconstruction, numel, &sum_abs, &sum_sq, &max_abs,
                                        &sum_w_sq);
  return stats_from_sums(sum_abs, sum_sq, max_abs, sum_w_sq, numel);
}

}  // namespace hqq
