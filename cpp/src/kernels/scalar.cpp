// Scalar reference kernels: HQQ-SPEC followed operation by operation, every float32 operation
// rounded on its own (the build uses -ffp-contract=off so nothing fuses into an FMA). These are
// the ground truth the SIMD kernels are tested against, and the kernels of the non-SIMD build.
#include <cmath>
#include <cstring>

#include "hqq/dtype.hpp"
#include "kernels/kernels.hpp"
#include "kernels/reference_ops.hpp"

namespace hqq::kernels {
namespace {

using ref::level_of;

bool group_min_max(const float* w, std::size_t n_groups, std::size_t g, float* mn, float* mx) {
  bool finite = true;
  for (std::size_t grp = 0; grp < n_groups; ++grp) {
    const float* row = w + grp * g;
    float lo = row[0], hi = row[0];
    for (std::size_t k = 0; k < g; ++k) {
      finite = finite && std::isfinite(row[k]);
      lo = row[k] < lo ? row[k] : lo;
      hi = row[k] > hi ? row[k] : hi;
    }
    mn[grp] = lo;
    mx[grp] = hi;
  }
  return finite;
}

void quantize_levels(const float* w, std::size_t n_groups, std::size_t g, const float* s,
                     const float* z, float max_q, uint8_t* q, const float* scale, ErrorSums* sums) {
  ErrorSums e;
  for (std::size_t grp = 0; grp < n_groups; ++grp) {
    const float sg = s[grp], zg = z[grp];
    for (std::size_t k = 0; k < g; ++k) {
      const std::size_t i = grp * g + k;
      const float level = level_of(w[i], sg, zg, max_q);
      q[i] = static_cast<uint8_t>(level);
      if (sums == nullptr) continue;
      const float r = (level - zg) * scale[grp];
      const double ad = std::fabs(static_cast<double>(w[i] - r));
      e.sum_abs += ad;
      e.sum_sq += ad * ad;
      e.max_abs = ad > e.max_abs ? ad : e.max_abs;
      e.sum_w_sq += static_cast<double>(w[i]) * static_cast<double>(w[i]);
    }
  }
  if (sums) *sums = e;
}

void solve_block(const SolveBlockArgs& a) {
  const std::size_t g = a.g;
  const bool best_mode = a.z_best != nullptr;
  for (std::size_t grp = 0; grp < a.n_groups; ++grp) {
    const float* w = a.w + grp * g;
    const float s = a.s[grp];
    float z = a.z0[grp];
    double best_err = 0;
    float best_z = z;
    if (!best_mode) a.z_hist[grp] = z;
    for (int it = 0; it < a.iters; ++it) {
      if (best_mode) {
        const double e = ref::group_dequant_error(w, g, s, a.scale[grp], z, a.max_q);
        if (it == 0 || e < best_err) best_err = e, best_z = z;
      }
      double err = 0;
      const float z_next = ref::group_iteration(w, g, s, z, a.max_q, a.inv_beta[it],
                                                a.threshold[it], a.p_minus_1, &err);
      if (!best_mode) {
        a.err_sum[it] += err;
        a.z_hist[(static_cast<std::size_t>(it) + 1) * a.hist_stride + grp] = z_next;
      }
      z = z_next;
    }
    if (best_mode) {
      // z after the last update has not been scored yet.
      const double e = ref::group_dequant_error(w, g, s, a.scale[grp], z, a.max_q);
      if (a.iters == 0 || e < best_err) best_z = z;
      a.z_best[grp] = best_z;
    }
  }
}

void dequantize_rows(const uint8_t* q, std::size_t rows, std::size_t cols, const float* scale,
                     const float* zero, float* out) {
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      out[r * cols + c] = (static_cast<float>(q[r * cols + c]) - zero[r]) * scale[r];
    }
  }
}

void dequantize_cols(const uint8_t* q, std::size_t rows, std::size_t cols, const float* scale,
                     const float* zero, float* out) {
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      out[r * cols + c] = (static_cast<float>(q[r * cols + c]) - zero[c]) * scale[c];
    }
  }
}

void error_sums(const float* w, const float* r, std::size_t n, double* sum_abs, double* sum_sq,
                double* max_abs, double* sum_w_sq) {
  double sa = 0, sq = 0, mx = 0, sw = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(w[i]) - static_cast<double>(r[i]);
    const double ad = std::fabs(d);
    sa += ad;
    sq += d * d;
    mx = ad > mx ? ad : mx;
    sw += static_cast<double>(w[i]) * static_cast<double>(w[i]);
  }
  *sum_abs = sa;
  *sum_sq = sq;
  *max_abs = mx;
  *sum_w_sq = sw;
}

void or_shifted_u8(uint8_t* dst, const uint8_t* src, std::size_t n, unsigned shift) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(dst[i] | (src[i] << shift));
}
void extract_u8(uint8_t* dst, const uint8_t* src, std::size_t n, unsigned shift, unsigned mask) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>((src[i] >> shift) & mask);
}
void or_shifted_u32(uint32_t* dst, const uint8_t* src, std::size_t n, unsigned shift) {
  for (std::size_t i = 0; i < n; ++i) dst[i] |= static_cast<uint32_t>(src[i]) << shift;
}
void extract_u32(uint8_t* dst, const uint32_t* src, std::size_t n, unsigned shift, unsigned mask) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>((src[i] >> shift) & mask);
}
uint8_t byte_max(const uint8_t* src, std::size_t n) {
  uint8_t m = 0;
  for (std::size_t i = 0; i < n; ++i) m = src[i] > m ? src[i] : m;
  return m;
}

void decode_f16_kernel(const uint16_t* in, float* out, std::size_t n) { decode_f16(in, out, n); }
void decode_bf16_kernel(const uint16_t* in, float* out, std::size_t n) { decode_bf16(in, out, n); }

constexpr Kernels kScalar{
    "scalar",        group_min_max,   quantize_levels, solve_block,       dequantize_rows,
    dequantize_cols, error_sums,      or_shifted_u8,     extract_u8,
    or_shifted_u32,  extract_u32,      byte_max,         decode_f16_kernel, decode_bf16_kernel,
};

}  // namespace

const Kernels& scalar_kernels() noexcept { return kScalar; }

}  // namespace hqq::kernels
