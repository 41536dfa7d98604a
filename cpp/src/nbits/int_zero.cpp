// The integer-zero HQQ solver for MatMulNBits uint8 zero points; the derivation is in README.md
// next to this file. In short, per block: W ~ (q - z) * d with integer z in [0, max_q]. HQQ's
// half-quadratic splitting alternates
//   q-step:     q = clamp(nearest(W / d + z))                    (exact for any norm, given d, z)
//   shrink:     W_e = shrink_lp(W - (q - z) * d)                 (HQQ's proximal step, beta grows)
//   (d,z)-step: argmin over d > 0, integer z of sum ((q - z) * d - (W - W_e))^2
// The (d,z)-step has a closed form per z (d = a / b from four sums), so every integer z can be
// scored exactly; HQQ's own zero-only update would be useless here, because with an integer z the
// reconstruction is round(W / d) whatever z is, except where it clamps: the scale must move too.
// Every iterate is scored with the scale as stored (rounded to the scale type) and the block keeps
// the best one that is not worse than the start by sum |err| and has a lower sum err^2.
#include <algorithm>
#include <cmath>

#include "kernels/reference_ops.hpp"
#include "nbits/block.hpp"
#include "nbits/geometry.hpp"
#include "nbits/int_zero_kernels.hpp"

namespace hqq::nbits::detail {
namespace {

struct FitSums {
  double sq = 0, sqq = 0, st = 0, sqt = 0, n = 0;
};

// Scores integer zero z: the best d for it and the drop in squared error a^2 / b it gives.
bool fit_for_zero(const FitSums& s, int z, double* d, double* gain) noexcept {
  const double zd = static_cast<double>(z);
  const double a = s.sqt - zd * s.st;
  const double b = s.sqq - 2.0 * zd * s.sq + s.n * zd * zd;  // sum (q - z)^2
  if (!(b > 0.0) || !(a > 0.0)) return false;               // d must be positive
  *d = a / b;
  *gain = a * a / b;
  return true;
}

// The (d, z)-step. Up to 4 bits every zero is scored (at most 16); at 8 bits the candidates are the
// integers around the unconstrained least-squares zero and the current one.
bool fit_scale_zero(const FitSums& s, int max_q, int z_now, double* d_out, int* z_out) noexcept {
  int lo = 0, hi = max_q;
  int extra = z_now;
  if (max_q > 15) {
    const double det = s.sqq * s.n - s.sq * s.sq;
    const double d_ls = det != 0.0 ? (s.n * s.sqt - s.sq * s.st) / det : 0.0;
    const double c_ls = det != 0.0 ? (s.sqq * s.st - s.sq * s.sqt) / det : 0.0;  // = z * d
    const double z_ls = d_ls > 0.0 ? c_ls / d_ls : static_cast<double>(z_now);
    const double zc = std::clamp(std::nearbyint(z_ls), 0.0, static_cast<double>(max_q));
    lo = std::max(0, static_cast<int>(zc) - 1);
    hi = std::min(max_q, static_cast<int>(zc) + 1);
  }
  double best_gain = -1.0;
  auto consider = [&](int z) {
    double d, gain;
    if (fit_for_zero(s, z, &d, &gain) && gain > best_gain) best_gain = gain, *d_out = d, *z_out = z;
  };
  for (int z = lo; z <= hi; ++z) consider(z);
  if (extra < lo || extra > hi) consider(extra);
  return best_gain >= 0.0;
}

// q-step and score with the stored scale d.
BlockError quantize_with(const float* w, std::size_t len, int max_q, float d, int z, uint8_t* q) noexcept {
  const Score s = score_levels(w, len, 1.0f / d, static_cast<float>(z), static_cast<float>(max_q), d, q);
  return BlockError{s.abs.total(), s.sq.total(), s.max_abs};
}

// The best iterate so far of one block, and the bound it must respect (the start's sum |err|).
struct Best {
  BlockError err;
  IntBlock params;
  double abs_cap = 0;
  uint8_t* q = nullptr;
};

void consider(Best& b, const BlockError& e, float d, int z, const uint8_t* q, std::size_t len) noexcept {
  // A relative margin far above rounding: a candidate taken here is better in any summation
  // order (tests sum per block sequentially), not only in this one.
  constexpr double margin = 1.0 - 1e-9;
  if (!(e.sum_sq < b.err.sum_sq * margin) || e.sum_abs > b.abs_cap * margin) return;
  b.err = e;
  b.params.scale = d;
  b.params.zero = z;
  std::copy(q, q + len, b.q);
}

// HQQ's half-quadratic iterations from (d, z); every iterate is scored. Returns iterations run.
int descend(const float* w, std::size_t len, int max_q, ScaleType st, const Schedule& sched, double d, int z,
            Best& best, uint8_t* qwork) noexcept {
  const int iters = static_cast<int>(sched.inv_beta.size());
  int it = 0;
  for (; it < iters; ++it) {
    const float d_st = to_stored(static_cast<float>(d), st);
    if (!(d_st > 0.0f) || !std::isfinite(d_st)) break;
    consider(best, quantize_with(w, len, max_q, d_st, z, qwork), d_st, z, qwork, len);
    // Shrink step (HQQ-SPEC section 3, in weight units) and the sums of the (d, z)-step.
    const float inv_beta = sched.inv_beta[it], threshold = sched.threshold[it];
    const FitLanes f = fit_sums(w, qwork, len, static_cast<float>(z), d_st, inv_beta, sched.p_minus_1, threshold);
    FitSums s;
    s.n = static_cast<double>(len);
    s.sq = f.q.total();
    s.sqq = f.qq.total();
    s.st = f.t.total();
    s.sqt = f.qt.total();
    const bool shrunk = f.shrunk;  // any W_e != 0: the next iterate can differ even at a fixed (d, z)
    double d_next = d;
    int z_next = z;
    if (!fit_scale_zero(s, max_q, z, &d_next, &z_next)) break;
    const bool fixed = z_next == z && to_stored(static_cast<float>(d_next), st) == d_st;
    d = d_next;
    z = z_next;
    if (fixed && !shrunk) {
      ++it;  // converged: every further iteration would repeat this one
      break;
    }
  }
  return it;
}

}  // namespace

int int_zero_block(const float* w, std::size_t len, int max_q, ScaleType st, const Schedule& sched,
                   IntBlock& start, BlockError& start_err, uint8_t* q, uint8_t* qwork) noexcept {
  if (!(start.scale > 0.0f)) return 0;  // an all-zero block: RTN is exact
  Best best{start_err, start, start_err.sum_abs, q};
  int iterations = descend(w, len, max_q, st, sched, static_cast<double>(start.scale), start.zero, best, qwork);
  // A second start from the block's own range (not widened to include 0), the best of a grid of
  // scales range / (max_q + t): the descent is local, blocks that do not straddle 0 or whose
  // extremes are outliers have better optima elsewhere, and at 8 bits (error dominated by rounding,
  // 32 weights on 256 levels) some scales put far more weights near a level than others. The grid
  // (t in levels) was sized against a brute-force search of every scale and zero
  // (README.md): it reaches within ~0.5% of that bound at every width.
  struct Grid {
    double first, step;
    int count;
  };
  const Grid grid = max_q <= 3 ? Grid{-0.5, 0.25, 9} : max_q <= 15 ? Grid{-2.0, 0.5, 13} : Grid{-32.0, 1.0, 65};
  float mn = w[0], mx = w[0];
  for (std::size_t i = 1; i < len; ++i) mn = std::min(mn, w[i]), mx = std::max(mx, w[i]);
  double best_d = 0;
  int best_z = 0;
  Best probe{BlockError{HUGE_VAL, HUGE_VAL, 0}, start, HUGE_VAL, qwork + len};
  for (int k = 0; k < grid.count; ++k) {
    const double d = (static_cast<double>(mx) - mn) / (max_q + grid.first + grid.step * k);
    if (!(d > 0.0)) continue;
    const int z = static_cast<int>(std::clamp(std::nearbyint(-mn / d), 0.0, static_cast<double>(max_q)));
    const float d_st = to_stored(static_cast<float>(d), st);
    if (!(d_st > 0.0f) || !std::isfinite(d_st)) continue;
    const double before = probe.err.sum_sq;
    consider(probe, quantize_with(w, len, max_q, d_st, z, qwork), d_st, z, qwork, len);
    if (probe.err.sum_sq < before) best_d = d, best_z = z;
  }
  if (best_d > 0.0) iterations = std::max(iterations, descend(w, len, max_q, st, sched, best_d, best_z, best, qwork));
  start = best.params;
  start_err = best.err;
  return iterations;
}

}  // namespace hqq::nbits::detail
