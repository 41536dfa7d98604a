// MatMulNBits bytes back to float32, as the operator computes its weight: (q - zero_point) * scale
// in float32, zero point 2^(bits - 1) when the model has none.
#include <cmath>
#include <string>

#include "hqq/error.hpp"
#include "nbits/geometry.hpp"

namespace hqq::nbits {
namespace {

void check_size(const char* what, std::size_t got, std::size_t want, const detail::Geometry& g) {
  if (got == want) return;
  throw Error(ErrorCode::InvalidArgument,
              std::string(what) + " holds " + std::to_string(got) + " bytes, but K = " + std::to_string(g.K) + ", N = " +
                  std::to_string(g.N) + ", bits = " + std::to_string(g.bits) + ", blockSize = " + std::to_string(g.bs) +
                  " need " + std::to_string(want) + "; pass the arrays and attributes of the same MatMulNBits node");
}

void check_finite_params(const char* what, const uint8_t* bytes, std::size_t n, ScaleType t) {
  for (std::size_t i = 0; i < n; ++i) {
    const float v = detail::get_scale(bytes, i, t);
    if (std::isfinite(v)) continue;
    throw Error(ErrorCode::InvalidValue, std::string(what) + " value " + std::to_string(i) + " is not finite (" +
                                             std::to_string(v) + "): the quantized weight is corrupt");
  }
}

}  // namespace

std::vector<float> dequantize(const uint8_t* qweight, std::size_t qweight_bytes, const uint8_t* scales,
                              std::size_t scales_bytes, const uint8_t* zero_points,
                              std::size_t zero_points_bytes, const DequantizeParams& p) {
  const detail::Geometry g = detail::make_geometry(p.K, p.N, p.bits, p.block_size);
  const std::size_t blocks = g.N * g.n_blocks;
  const std::size_t sb = detail::scale_bytes(p.scale_type);
  check_size("qweight", qweight_bytes, blocks * g.block_bytes, g);
  check_size("scales", scales_bytes, blocks * sb, g);
  if (p.zero_points == StoredZeros::Uint8) check_size("zeroPoints", zero_points_bytes, g.N * g.zp_row_bytes, g);
  if (p.zero_points == StoredZeros::Float) check_size("zeroPoints", zero_points_bytes, blocks * sb, g);
  if (p.zero_points != StoredZeros::None && zero_points == nullptr) {
    throw Error(ErrorCode::InvalidArgument, "zeroPoints are missing; pass them, or zeroPoints: 'none' for a node without them");
  }
  check_finite_params("scales", scales, blocks, p.scale_type);
  if (p.zero_points == StoredZeros::Float) check_finite_params("zeroPoints", zero_points, blocks, p.scale_type);

  std::vector<float> out(g.K * g.N);
  const float default_zero = static_cast<float>(1 << (g.bits - 1));
  for (std::size_t n = 0; n < g.N; ++n) {
    for (std::size_t b = 0; b < g.n_blocks; ++b) {
      const std::size_t idx = n * g.n_blocks + b;
      const float scale = detail::get_scale(scales, idx, p.scale_type);
      float zero = default_zero;
      if (p.zero_points == StoredZeros::Float) zero = detail::get_scale(zero_points, idx, p.scale_type);
      if (p.zero_points == StoredZeros::Uint8) zero = static_cast<float>(detail::packed_at(zero_points + n * g.zp_row_bytes, b, g.bits));
      const uint8_t* row = qweight + idx * g.block_bytes;
      for (std::size_t i = 0; i < g.block_len(b); ++i) {
        const float v = (static_cast<float>(detail::packed_at(row, i, g.bits)) - zero) * scale;
        const std::size_t k = b * g.bs + i;
        out[p.layout == Layout::KN ? k * g.N + n : n * g.K + k] = v;
      }
    }
  }
  return out;
}

}  // namespace hqq::nbits
