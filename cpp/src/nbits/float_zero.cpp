// Float zero points: the HQQ quantizer's own initialisation and solver (HQQ-SPEC sections 2-3) run
// on the blocks of the MatMulNBits weight, with the SIMD kernels of the HQQ path.
#include <algorithm>
#include <cmath>

#include "hqq/error.hpp"
#include "kernels/kernels.hpp"
#include "nbits/block.hpp"
#include "solver.hpp"

namespace hqq::nbits::detail {
namespace {

struct Groups {
  std::vector<float> scale, zero;
  std::vector<uint8_t> levels;
  int iterations = 0;
};

// HQQ on n groups of g consecutive weights (group-major `gm`).
Groups hqq_groups(const float* gm, std::size_t n, std::size_t g, int max_q, const Options& o) {
  const auto& k = kernels::default_kernels();
  const float mq = static_cast<float>(max_q);
  std::vector<float> mn(n), mx(n), s(n);
  Groups r;
  r.scale.resize(n);
  r.zero.resize(n);
  k.group_min_max(gm, n, g, mn.data(), mx.data());  // finite: gather_columns checked the weights
  for (std::size_t i = 0; i < n; ++i) {
    const float d = mx[i] - mn[i];
    if (!std::isfinite(d)) {
      throw Error(ErrorCode::InvalidValue, "a block's range (max - min) overflows float32; scale the weight down or leave it unquantized");
    }
    // HQQ-SPEC section 2, operation by operation, without the reference's two limits on the
    // inverse scale (1 when the range is <= 1e-4, at most 2e4): they are HQQLinear's, and on the
    // small weights of real models (a block spanning less than 15 / 2e4 at 4 bits) they left a
    // grid too coarse for the block, or every weight on one level, worse than round-to-nearest.
    // Only a constant block (or one whose range is too small to invert) takes 1.
    float si = (1.0f / d) * mq;
    if (!(d > 0.0f) || !std::isfinite(si)) si = 1.0f;
    s[i] = si;
    r.zero[i] = (-mn[i]) * si;
    r.scale[i] = 1.0f / si;
  }
  if (o.optimize) {
    SolverParams p = o.solver;
    p.early_stop = EarlyStop::PerGroupBest;
    hqq::detail::SolveResult sr = hqq::detail::solve_zero(k, gm, n, g, s.data(), r.scale.data(), r.zero.data(), mq, p);
    r.zero = std::move(sr.zero);
    r.iterations = sr.iterations;
  }
  r.levels.resize(n * g);
  k.quantize_levels(gm, n, g, s.data(), r.zero.data(), mq, r.levels.data(), r.scale.data(), nullptr);
  for (std::size_t i = 0; i < n; ++i) {
    r.scale[i] = to_stored(r.scale[i], o.scale_type);
    r.zero[i] = to_stored(r.zero[i], o.scale_type);
  }
  return r;
}

}  // namespace

FloatBlocks float_zero_blocks(const float* columns, const Geometry& g, const Options& o) {
  const std::size_t tail = g.K % g.bs;
  const std::size_t full = g.K / g.bs;  // full blocks per column
  FloatBlocks out;
  out.scale.resize(g.N * g.n_blocks);
  out.zero.resize(g.N * g.n_blocks);
  out.levels.assign(g.N * g.n_blocks * g.bs, 0);
  if (full > 0) {
    // Without a tail the columns are already group-major; otherwise copy the full blocks out.
    std::vector<float> copy;
    const float* gm = columns;
    if (tail != 0) {
      copy.resize(g.N * full * g.bs);
      for (std::size_t n = 0; n < g.N; ++n) std::copy_n(columns + n * g.K, full * g.bs, copy.data() + n * full * g.bs);
      gm = copy.data();
    }
    Groups r = hqq_groups(gm, g.N * full, g.bs, g.max_q, o);
    out.iterations = r.iterations;
    for (std::size_t n = 0; n < g.N; ++n) {
      for (std::size_t b = 0; b < full; ++b) {
        const std::size_t src = n * full + b, dst = n * g.n_blocks + b;
        out.scale[dst] = r.scale[src];
        out.zero[dst] = r.zero[src];
        std::copy_n(r.levels.data() + src * g.bs, g.bs, out.levels.data() + dst * g.bs);
      }
    }
  }
  if (tail != 0) {
    std::vector<float> gm(g.N * tail);
    for (std::size_t n = 0; n < g.N; ++n) std::copy_n(columns + n * g.K + full * g.bs, tail, gm.data() + n * tail);
    Groups r = hqq_groups(gm.data(), g.N, tail, g.max_q, o);
    out.iterations = std::max(out.iterations, r.iterations);
    for (std::size_t n = 0; n < g.N; ++n) {
      const std::size_t dst = n * g.n_blocks + full;
      out.scale[dst] = r.scale[n];
      out.zero[dst] = r.zero[n];
      std::copy_n(r.levels.data() + n * tail, tail, out.levels.data() + dst * g.bs);
    }
  }
  return out;
}

}  // namespace hqq::nbits::detail
