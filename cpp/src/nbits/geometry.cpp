#include "nbits/geometry.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "hqq/error.hpp"

namespace hqq::nbits::detail {

Geometry make_geometry(std::size_t K, std::size_t N, int bits, std::size_t block_size) {
  if (bits != 2 && bits != 4 && bits != 8) {
    throw Error(ErrorCode::InvalidArgument,
                "bits = " + std::to_string(bits) + " is not supported by MatMulNBits here; use 2, 4 or 8");
  }
  if (block_size < 16 || (block_size & (block_size - 1)) != 0) {
    throw Error(ErrorCode::InvalidArgument,
                "blockSize = " + std::to_string(block_size) +
                    " is invalid: MatMulNBits needs a power of two >= 16 (e.g. 32, the default, 64 or 128)");
  }
  if (K == 0 || N == 0) {
    throw Error(ErrorCode::InvalidArgument, "the weight has no elements (K = " + std::to_string(K) +
                                                ", N = " + std::to_string(N) + "); there is nothing to quantize");
  }
  Geometry g;
  g.K = K;
  g.N = N;
  g.bs = block_size;
  g.bits = bits;
  g.max_q = (1 << bits) - 1;
  g.n_blocks = (K + block_size - 1) / block_size;
  g.block_bytes = block_size * static_cast<std::size_t>(bits) / 8;
  g.zp_row_bytes = (g.n_blocks * static_cast<std::size_t>(bits) + 7) / 8;
  // Working memory is the float32 copy plus the outputs; refuse counts whose byte sizes overflow.
  const std::size_t padded = g.n_blocks * block_size;
  if (padded / block_size != g.n_blocks || N > std::numeric_limits<std::size_t>::max() / 8 / padded) {
    throw Error(ErrorCode::OutOfMemory, "a [" + std::to_string(K) + ", " + std::to_string(N) +
                                            "] weight is too large for this address space; quantize it in column ranges");
  }
  return g;
}

std::size_t scale_bytes(ScaleType t) noexcept { return t == ScaleType::f32 ? 4 : 2; }

void put_scale(uint8_t* out, std::size_t i, float v, ScaleType t) noexcept {
  if (t == ScaleType::f32) {
    std::memcpy(out + 4 * i, &v, 4);  // wasm and x86 are little-endian, as ONNX raw data
  } else {
    const uint16_t h = f32_to_f16(v);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

float get_scale(const uint8_t* in, std::size_t i, ScaleType t) noexcept {
  if (t == ScaleType::f32) {
    float v;
    std::memcpy(&v, in + 4 * i, 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, in + 2 * i, 2);
  return f16_to_f32(h);
}

void pack_levels(const uint8_t* levels, std::size_t len, int bits, uint8_t* out) noexcept {
  const std::size_t per = 8 / static_cast<std::size_t>(bits);
  for (std::size_t j = 0; j < len / per; ++j) {
    unsigned byte = 0;
    for (std::size_t e = 0; e < per; ++e) byte |= static_cast<unsigned>(levels[j * per + e]) << (e * static_cast<std::size_t>(bits));
    out[j] = static_cast<uint8_t>(byte);
  }
}

namespace {

float load(const void* data, InputDtype dtype, std::size_t i) noexcept {
  switch (dtype) {
    case InputDtype::f32: return static_cast<const float*>(data)[i];
    case InputDtype::f16: return f16_to_f32(static_cast<const uint16_t*>(data)[i]);
    case InputDtype::bf16: return bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
  }
  return 0.0f;
}

[[noreturn]] void report_non_finite(const void* data, InputDtype dtype, Layout layout, const Geometry& g) {
  const std::size_t rows = layout == Layout::KN ? g.K : g.N, cols = layout == Layout::KN ? g.N : g.K;
  std::size_t count = 0, first = 0;
  for (std::size_t i = 0; i < rows * cols; ++i) {
    if (std::isfinite(load(data, dtype, i))) continue;
    if (count++ == 0) first = i;
  }
  std::ostringstream msg;
  msg << "the " << (layout == Layout::KN ? "[K, N]" : "[N, K]") << " weight [" << rows << ", " << cols
      << "] contains " << count << " non-finite value(s) (NaN or Inf); the first is " << load(data, dtype, first)
      << " at row " << first / cols << ", column " << first % cols
      << ". MatMulNBits cannot hold them: fix the weight, or leave this MatMul unquantized";
  throw Error(ErrorCode::InvalidValue, msg.str());
}

}  // namespace

void gather_columns(const void* data, InputDtype dtype, Layout layout, const Geometry& g, float* out) {
  bool finite = true;
  if (layout == Layout::NK) {
    for (std::size_t i = 0; i < g.N * g.K; ++i) {
      out[i] = load(data, dtype, i);
      finite = finite && std::isfinite(out[i]);
    }
  } else {
    // [K][N] -> [N][K] in tiles, so both sides stay in cache.
    constexpr std::size_t tile = 32;
    for (std::size_t k0 = 0; k0 < g.K; k0 += tile) {
      const std::size_t k1 = std::min(g.K, k0 + tile);
      for (std::size_t n0 = 0; n0 < g.N; n0 += tile) {
        const std::size_t n1 = std::min(g.N, n0 + tile);
        for (std::size_t k = k0; k < k1; ++k) {
          for (std::size_t n = n0; n < n1; ++n) {
            const float v = load(data, dtype, k * g.N + n);
            finite = finite && std::isfinite(v);
            out[n * g.K + k] = v;
          }
        }
      }
    }
  }
  if (!finite) report_non_finite(data, dtype, layout, g);
}

void check_finite_columns(const float* data, const Geometry& g) {
  bool finite = true;
  for (std::size_t i = 0; i < g.N * g.K; ++i) finite = finite && std::isfinite(data[i]);
  if (!finite) report_non_finite(data, InputDtype::f32, Layout::NK, g);
}

std::string block_name(const Geometry& g, std::size_t n, std::size_t b) {
  return "output column n = " + std::to_string(n) + ", block " + std::to_string(b) + " (k = " +
         std::to_string(b * g.bs) + ".." + std::to_string(b * g.bs + g.block_len(b) - 1) + ")";
}

}  // namespace hqq::nbits::detail
