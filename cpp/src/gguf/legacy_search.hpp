// The candidate searches of the Optimized legacy quantizers, written once for N blocks at a time
// (lanes.hpp: Lane1 is the scalar ground truth, Lane4 four blocks per SIMD vector, bit-identical).
// Each lane runs its own block's search; every parameter tried is an exact f16 value (what the
// decoder will multiply by) and every score is the sum of the candidate's two float32 error sums,
// each relative to Reference's. A lane's result is the best candidate that looks no worse than
// Reference by both float32 sums; the caller then measures it exactly before it may replace the
// Reference block (optimize_affine.cpp, optimize_symmetric.cpp document the searches).
#pragma once

#include <cstddef>
#include <iterator>
#include <limits>

#include "gguf/lanes.hpp"

namespace hqq::gguf::opt {

// The search grids, measured on Gaussian and Student-t weights: the symmetric grid (in level
// units, see optimize_symmetric.cpp) is within 0.2% of a 13-point one; 2 symmetric and 5 affine
// least-squares rounds get what more rounds would.
constexpr float kSymmetricStretch[] = {0.0f, 0.5f, 0.25f, 0.75f, 1.0f, 1.5f};
constexpr int kSymmetricRefitRounds = 2;
constexpr int kAffineRefitRounds = 5;

template <class L>
struct LaneSearch {
  using F = typename L::F;
  using M = typename L::M;
  static constexpr int kBlock = 32;

  static F splat(float v) { return L::splat(v); }

  // The f16 value nearest to d (ties to even), as a float: f16_to_f32(f32_to_f16(d)) for finite d.
  static F round16(F d) {
    const F a = L::abs(d);
    const F normal = L::round_bits_to_f16_normal(a);
    const F subnormal = L::mul(L::nearest(L::mul(a, splat(0x1p24f))), splat(0x1p-24f));
    F r = L::select(L::lt(a, splat(0x1p-14f)), subnormal, normal);
    r = L::select(L::le(splat(65520.0f), a), splat(std::numeric_limits<float>::infinity()), r);
    return L::copy_sign(r, d);
  }

  // The f16 values next to the f16 value r in magnitude, same sign (for 0: both signs of the
  // smallest subnormal); the largest finite f16 is its own upper neighbour.
  static void neighbours(F r, F* up, F* down) {
    const F a = L::abs(r), min_normal = splat(0x1p-14f), step = splat(0x1p-24f);
    F u = L::select(L::lt(a, min_normal), L::add(a, step), L::bits_add(a, 0x2000));
    u = L::min(u, splat(65504.0f));
    const F dn = L::select(L::le(a, min_normal), L::sub(a, step), L::bits_add(a, -0x2000));
    *up = L::copy_sign(u, r);
    *down = L::select(L::eq(a, splat(0.0f)), L::sub(splat(0.0f), *up), L::copy_sign(dn, r));
  }

  static F inverse_or_zero(F d) {
    return L::select(L::eq(d, splat(0.0f)), splat(0.0f), L::div(splat(1.0f), d));
  }

  // The best candidate of each lane so far.
  struct Best {
    F score = splat(std::numeric_limits<float>::infinity());
    F d = splat(0.0f), m = splat(0.0f);
    F ref_abs, ref_sq, inv_ref_abs, inv_ref_sq;
    M active;

    Best(const float* ref_abs_in, const float* ref_sq_in, M lanes_active)
        : ref_abs(L::load(ref_abs_in)), ref_sq(L::load(ref_sq_in)), active(lanes_active) {
      inv_ref_abs = inverse_or_zero(ref_abs);
      inv_ref_sq = inverse_or_zero(ref_sq);
    }
    F score_of(F abs, F sq) const { return L::add(L::mul(abs, inv_ref_abs), L::mul(sq, inv_ref_sq)); }
    void offer(F abs, F sq, F d_try, F m_try) {
      const M admissible = L::both(active, L::both(L::le(abs, ref_abs), L::le(sq, ref_sq)));
      const F s = score_of(abs, sq);
      const M better = L::both(admissible, L::lt(s, score));
      score = L::select(better, s, score);
      d = L::select(better, d_try, d);
      m = L::select(better, m_try, m);
    }
    void store(float* d_out, float* m_out, bool* found) const {
      L::store(d_out, d);
      if (m_out) L::store(m_out, m);
      L::store_mask(found, L::lt(score, splat(std::numeric_limits<float>::infinity())));
    }
  };
};

// Symmetric blocks (x ~ v d, v in [-c, c - 1]): lanes blocks of 32 from x, Reference's error sums
// per block (ref_abs 0 marks a block not to search). Writes the best d and whether there is one.
template <class L>
void search_symmetric(const float* x, int c, const float* ref_abs, const float* ref_sq, float* out_d,
                      bool* found) {
  const float* stretch = kSymmetricStretch;
  const std::size_t n_stretch = std::size(kSymmetricStretch);
  const int refit_rounds = kSymmetricRefitRounds;
  using S = LaneSearch<L>;
  using F = typename L::F;
  using M = typename L::M;
  F xt[S::kBlock];
  L::gather_blocks(x, xt);
  const float lo = static_cast<float>(-c), hi = static_cast<float>(c - 1);
  const F vlo = S::splat(lo), vhi = S::splat(hi), zero = S::splat(0.0f);

  // The first value of largest magnitude, per lane.
  F amax = zero;
  for (int k = 0; k < S::kBlock; ++k) amax = L::max(amax, L::abs(xt[k]));
  F top = zero;
  M taken = L::lt(S::splat(1.0f), zero);  // all false
  for (int k = 0; k < S::kBlock; ++k) {
    const M hit = L::both(L::eq(L::abs(xt[k]), amax), L::negate(taken));
    top = L::select(hit, xt[k], top);
    taken = L::either(taken, hit);
  }
  typename S::Best best(ref_abs, ref_sq, L::both(L::lt(zero, amax), L::lt(zero, L::load(ref_abs))));

  struct Fit {
    F abs, sq, sxv, svv;
  };
  auto fit = [&](F d) {
    const F inv = S::inverse_or_zero(d);
    Fit f{zero, zero, zero, zero};
    for (int k = 0; k < S::kBlock; ++k) {
      const F v = L::min(L::max(L::nearest(L::mul(xt[k], inv)), vlo), vhi);
      const F e = L::sub(xt[k], L::mul(v, d));
      f.abs = L::add(f.abs, L::abs(e));
      f.sq = L::add(f.sq, L::mul(e, e));
      f.sxv = L::add(f.sxv, L::mul(xt[k], v));
      f.svv = L::add(f.svv, L::mul(v, v));
    }
    best.offer(f.abs, f.sq, d, zero);
    return f;
  };
  // The grid, and the best grid point by score ("centre") for the least-squares rounds.
  F centre = zero, centre_score = S::splat(std::numeric_limits<float>::infinity());
  Fit centre_fit{zero, zero, zero, zero};
  auto try_end = [&](F end) {
    const F d = S::round16(L::div(top, end));
    const Fit f = fit(d);
    const F s = best.score_of(f.abs, f.sq);
    const M better = L::lt(s, centre_score);
    centre_score = L::select(better, s, centre_score);
    centre = L::select(better, d, centre);
    centre_fit = {L::select(better, f.abs, centre_fit.abs), L::select(better, f.sq, centre_fit.sq),
                  L::select(better, f.sxv, centre_fit.sxv), L::select(better, f.svv, centre_fit.svv)};
    return s;
  };
  // Both ends of the level range at the first two grid points, the rest on each lane's better end.
  F end_score[2];
  for (int side = 0; side < 2; ++side) {
    const F a = try_end(S::splat(side == 0 ? lo - stretch[0] : hi + stretch[0]));
    const F b = try_end(S::splat(side == 0 ? lo - stretch[1] : hi + stretch[1]));
    end_score[side] = L::min(a, b);
  }
  const M positive_end = L::lt(end_score[1], end_score[0]);
  for (std::size_t i = 2; i < n_stretch; ++i)
    try_end(L::select(positive_end, S::splat(hi + stretch[i]), S::splat(lo - stretch[i])));
  for (int round = 0; round < refit_rounds; ++round) {
    const M ok = L::lt(zero, centre_fit.svv);
    centre = L::select(ok, S::round16(L::div(centre_fit.sxv, centre_fit.svv)), centre);
    centre_fit = fit(centre);
  }
  F up, down;
  S::neighbours(centre, &up, &down);
  fit(up);
  fit(down);
  best.store(out_d, nullptr, found);
}

// Affine blocks (x ~ q d + m, q in [0, top]) from HQQ's scale and zero per block: candidate A
// (the rounded HQQ parameters), least-squares rounds, then the f16 neighbours of the last d.
template <class L>
void search_affine(const float* x, float top_level, const float* scale, const float* zero_point,
                   const float* ref_abs, const float* ref_sq, float* out_d, float* out_m, bool* found) {
  const int refit_rounds = kAffineRefitRounds;
  using S = LaneSearch<L>;
  using F = typename L::F;
  F xt[S::kBlock];
  L::gather_blocks(x, xt);
  const F zero = S::splat(0.0f), top = S::splat(top_level), n = S::splat(static_cast<float>(S::kBlock));
  F sum_x = zero;
  for (int k = 0; k < S::kBlock; ++k) sum_x = L::add(sum_x, xt[k]);
  const F s = L::load(scale);
  typename S::Best best(ref_abs, ref_sq, L::both(L::lt(zero, s), L::lt(zero, L::load(ref_abs))));

  struct Fit {
    F abs, sq, sq_levels, sqq, sqx;
  };
  auto fit = [&](F d, F m) {
    const F inv = S::inverse_or_zero(d);
    Fit f{zero, zero, zero, zero, zero};
    for (int k = 0; k < S::kBlock; ++k) {
      const F q = L::min(L::max(L::nearest(L::mul(L::sub(xt[k], m), inv)), zero), top);
      const F e = L::sub(xt[k], L::add(L::mul(q, d), m));
      f.abs = L::add(f.abs, L::abs(e));
      f.sq = L::add(f.sq, L::mul(e, e));
      f.sq_levels = L::add(f.sq_levels, q);
      f.sqq = L::add(f.sqq, L::mul(q, q));
      f.sqx = L::add(f.sqx, L::mul(q, xt[k]));
    }
    best.offer(f.abs, f.sq, d, m);
    return f;
  };
  F d = S::round16(s);
  F m = S::round16(L::mul(L::mul(L::load(zero_point), s), S::splat(-1.0f)));
  Fit f = fit(d, m);
  for (int round = 0; round < refit_rounds; ++round) {
    // Least squares for the current levels: sums of q and q^2 are exact integers in float32, so
    // the determinant n sum(q^2) - sum(q)^2 is exact.
    const F den = L::sub(L::mul(n, f.sqq), L::mul(f.sq_levels, f.sq_levels));
    const auto ok = L::lt(zero, den);
    const F slope = L::div(L::sub(L::mul(n, f.sqx), L::mul(f.sq_levels, sum_x)), den);
    const F offset = L::div(L::sub(sum_x, L::mul(slope, f.sq_levels)), n);
    d = L::select(ok, S::round16(slope), d);
    m = L::select(ok, S::round16(offset), m);
    f = fit(d, m);
  }
  F up, down;
  S::neighbours(d, &up, &down);
  fit(up, m);
  fit(down, m);
  best.store(out_d, out_m, found);
}

}  // namespace hqq::gguf::opt
