// The MatMulNBits quantizer: validation, the float32 column copy, the per-block quantizers, packing
// and the error sums. The numerics live in rtn.cpp, int_zero.cpp and float_zero.cpp.
#include <algorithm>
#include <cmath>
#include <memory>
#include <new>
#include <sstream>

#include "hqq/error.hpp"
#include "nbits/block.hpp"
#include "nbits/geometry.hpp"

namespace hqq::nbits {

void Sums::add(const Sums& o) noexcept {
  count += o.count;
  sum_abs += o.sum_abs;
  sum_sq += o.sum_sq;
  sum_w_sq += o.sum_w_sq;
  max_abs = std::max(max_abs, o.max_abs);
}

namespace detail {
namespace {

void add_block(Sums& s, const BlockError& e, std::size_t len) {
  s.count += static_cast<double>(len);
  s.sum_abs += e.sum_abs;
  s.sum_sq += e.sum_sq;
  s.max_abs = std::max(s.max_abs, e.max_abs);
}

[[noreturn]] void overflow(const Geometry& g, std::size_t n, std::size_t b, const char* what, float value, ScaleType st) {
  std::ostringstream msg;
  msg << "the " << what << " of " << block_name(g, n, b) << " is " << value;
  if (st == ScaleType::f16) {
    msg << ", beyond float16 (largest finite value 65504): the weights of that block "
        << (what[0] == 's' ? "span too wide a range" : "lie far from zero relative to their range")
        << ". Use scaleType 'float32' (a float32 A input), or leave this MatMul unquantized";
  } else {
    msg << ": the weights of that block span a range beyond float32. Scale the weight down, or leave this MatMul unquantized";
  }
  throw Error(ErrorCode::InvalidValue, msg.str());
}

// Packs one block's levels (len real ones, the rest `pad`) into qweight.
void pack_block(const Geometry& g, const uint8_t* levels, std::size_t len, uint8_t pad, uint8_t* scratch, uint8_t* out) {
  std::copy_n(levels, len, scratch);
  std::fill(scratch + len, scratch + g.bs, pad);
  pack_levels(scratch, g.bs, g.bits, out);
}

// Uint8 zero points: RTN per block (the baseline), then the integer-zero solver from it.
int quantize_uint8(const float* cols, const Geometry& g, const Options& o, Result& r, std::vector<uint8_t>& zps) {
  std::vector<uint8_t> q(g.bs), qwork(2 * g.bs), scratch(g.bs);
  const Schedule sched = make_schedule(o.solver);
  int iterations = 0;
  for (std::size_t n = 0; n < g.N; ++n) {
    for (std::size_t b = 0; b < g.n_blocks; ++b) {
      const std::size_t len = g.block_len(b), idx = n * g.n_blocks + b;
      const float* w = cols + n * g.K + b * g.bs;
      IntBlock blk = rtn_block(w, len, g.max_q, o.scale_type, q.data());
      if (!std::isfinite(blk.scale)) overflow(g, n, b, "scale", blk.scale_f32, o.scale_type);
      BlockError err = block_error(w, q.data(), len, blk.scale, static_cast<float>(blk.zero));
      add_block(r.baseline, err, len);
      if (o.optimize) {
        iterations = std::max(iterations, int_zero_block(w, len, g.max_q, o.scale_type, sched, blk, err, q.data(), qwork.data()));
      }
      add_block(r.stats, err, len);
      put_scale(r.scales.data(), idx, blk.scale, o.scale_type);
      zps[idx] = static_cast<uint8_t>(blk.zero);
      pack_block(g, q.data(), len, static_cast<uint8_t>(blk.zero), scratch.data(), r.qweight.data() + idx * g.block_bytes);
    }
  }
  return iterations;
}

// Float zero points: HQQ over all blocks, then checks, packing and the error sums.
int quantize_float(const float* cols, const Geometry& g, const Options& o, Result& r) {
  FloatBlocks fb = float_zero_blocks(cols, g, o);
  std::vector<uint8_t> scratch(g.bs), q(g.bs);
  const float mq = static_cast<float>(g.max_q);
  for (std::size_t n = 0; n < g.N; ++n) {
    for (std::size_t b = 0; b < g.n_blocks; ++b) {
      const std::size_t len = g.block_len(b), idx = n * g.n_blocks + b;
      const float* w = cols + n * g.K + b * g.bs;
      const float scale = fb.scale[idx], zero = fb.zero[idx];
      if (!std::isfinite(scale)) overflow(g, n, b, "scale", scale, o.scale_type);
      if (!std::isfinite(zero)) overflow(g, n, b, "zero point", zero, o.scale_type);
      const uint8_t* levels = fb.levels.data() + idx * g.bs;
      add_block(r.stats, block_error(w, levels, len, scale, zero), len);
      if (o.compare_baseline) {
        const IntBlock blk = rtn_block(w, len, g.max_q, o.scale_type, q.data());
        if (std::isfinite(blk.scale)) add_block(r.baseline, block_error(w, q.data(), len, blk.scale, static_cast<float>(blk.zero)), len);
      }
      put_scale(r.scales.data(), idx, scale, o.scale_type);
      put_scale(r.zero_points.data(), idx, zero, o.scale_type);
      // Padding: the level nearest the zero point, so it dequantizes to (nearly) 0.
      const auto pad = static_cast<uint8_t>(std::clamp(std::nearbyint(zero), 0.0f, mq));
      pack_block(g, levels, len, pad, scratch.data(), r.qweight.data() + idx * g.block_bytes);
    }
  }
  return fb.iterations;
}

Result quantize_impl(const void* data, InputDtype dtype, std::size_t rows, std::size_t cols, const Options& o) {
  if (data == nullptr) throw Error(ErrorCode::InvalidArgument, "weights pointer is null");
  validate(o.solver);
  const std::size_t K = o.layout == Layout::KN ? rows : cols, N = o.layout == Layout::KN ? cols : rows;
  const Geometry g = make_geometry(K, N, o.bits, o.block_size);
  // float32 [N, K] input is already N columns of K weights: used in place. Anything else is
  // copied; uninitialised on purpose, gather_columns writes every element.
  std::unique_ptr<float[]> copy;
  const float* columns = static_cast<const float*>(data);
  if (o.layout == Layout::NK && dtype == InputDtype::f32) {
    check_finite_columns(columns, g);
  } else {
    copy.reset(new float[g.N * g.K]);
    gather_columns(data, dtype, o.layout, g, copy.get());
    columns = copy.get();
  }

  Result r;
  r.K = g.K;
  r.N = g.N;
  r.n_blocks = g.n_blocks;
  r.qweight.assign(g.N * g.n_blocks * g.block_bytes, 0);
  r.scales.assign(g.N * g.n_blocks * scale_bytes(o.scale_type), 0);
  if (o.zero_points == ZeroPoints::Uint8) {
    std::vector<uint8_t> zps(g.N * g.n_blocks);
    r.iterations = quantize_uint8(columns, g, o, r, zps);
    r.has_baseline = o.compare_baseline;
    // Packed like B, one byte-aligned row per column; unused slots hold 2^(bits-1) as MLAS writes.
    r.zero_points.assign(g.N * g.zp_row_bytes, 0);
    std::vector<uint8_t> row((g.zp_row_bytes * 8) / static_cast<std::size_t>(g.bits));
    for (std::size_t n = 0; n < g.N; ++n) {
      std::fill(row.begin(), row.end(), static_cast<uint8_t>(1u << (g.bits - 1)));
      std::copy_n(zps.data() + n * g.n_blocks, g.n_blocks, row.data());
      pack_levels(row.data(), row.size(), g.bits, r.zero_points.data() + n * g.zp_row_bytes);
    }
  } else {
    r.zero_points.assign(g.N * g.n_blocks * scale_bytes(o.scale_type), 0);
    r.iterations = quantize_float(columns, g, o, r);
    r.has_baseline = o.compare_baseline;
  }
  double w_sq = 0;
  for (std::size_t i = 0; i < g.N * g.K; ++i) w_sq += static_cast<double>(columns[i]) * static_cast<double>(columns[i]);
  r.stats.sum_w_sq = w_sq;
  r.baseline.sum_w_sq = w_sq;
  if (!r.has_baseline) r.baseline = Sums{};
  return r;
}

}  // namespace
}  // namespace detail

Result quantize(const void* data, InputDtype dtype, std::size_t rows, std::size_t cols, const Options& options) {
  try {
    return detail::quantize_impl(data, dtype, rows, cols, options);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::OutOfMemory, "out of memory quantizing a [" + std::to_string(rows) + ", " + std::to_string(cols) +
                                            "] weight to MatMulNBits (needs about 2x its float32 size); quantize fewer weights at once");
  }
}

}  // namespace hqq::nbits
