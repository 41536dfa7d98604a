// The per-super-block search of Method::Optimized for the K-quants, written once for any lane
// type (kopt_lanes.hpp): one lane per sub-block. optimize_kquants.cpp documents the algorithm;
// this file is its implementation. Every per-sub-block quantity is computed lane-wise with the
// same operations in the same order whatever the lane count, and every cross-sub-block quantity
// (super-scale candidates, totals, refit sums) is reduced in sub-block order, so the scalar and the
// SIMD instantiations produce identical bytes.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "gguf/codec.hpp"
#include "gguf/kopt_lanes.hpp"
#include "gguf/kopt_params.hpp"
#include "gguf/kopt_plan.hpp"
#include "gguf/kopt_reference.hpp"
#include "gguf/optimize_kquants.hpp"
#include "hqq/dtype.hpp"

namespace hqq::gguf::kopt {

template <class LN>
class SuperBlockSearch {
  using V = typename LN::V;
  using Mk = typename LN::Mask;
  static constexpr int N = LN::N;
  static constexpr float kInf = std::numeric_limits<float>::infinity();

 public:
  SuperBlockSearch(Type type, const SearchPlan& plan)
      : type_(type), L_(*layout_of(type)), plan_(plan), n_(L_.sub_len), groups_(L_.n_sub / N) {}

  // Writes the better of llama.cpp's block `ref` and ours into `out`; true when ours was taken.
  bool run(const float* x, const uint8_t* ref, uint8_t* out) {
    x_ = x;
    transpose();
    has_ref_fit_ = false;
    return search_against(ref, out);
  }

  // Affine types: computes llama.cpp's block itself (kopt_reference.hpp), then searches as run().
  // `ref_out` (may be nullptr) receives llama.cpp's block.
  bool run_with_own_reference(const float* x, uint8_t* out, uint8_t* ref_out = nullptr) {
    x_ = x;
    transpose();
    ReferenceBlock rb;
    reference_.run(x_, xt_, rb);
    uint8_t ref[kMaxBlockBytes];
    pack_block(type_, rb.p, rb.q, ref);
    if (ref_out != nullptr) std::memcpy(ref_out, ref, L_.bytes);
    // llama.cpp's continuous grid, before its codes were rounded, is the better starting point
    for (int j = 0; j < L_.n_sub; ++j) {
      ref_fit_D_[j] = rb.scale[j];
      ref_fit_M_[j] = rb.min[j];
    }
    has_ref_fit_ = true;
    return search_against(ref, out);
  }

 private:
  static constexpr std::size_t kMaxBlockBytes = 256;

  bool search_against(const uint8_t* ref, uint8_t* out) {
    unpack_params(type_, ref, ref_p_);
    float ref_r[kSuperBlock];
    decode_blocks(type_, ref, 1, ref_r);
    const ExactErr theirs = error_of(ref_r);
    if (!(theirs.se > 0) || !(theirs.l1 > 0) || !std::isfinite(theirs.se) || !std::isfinite(theirs.l1)) {
      return keep(ref, out);  // exact already, or not finite: nothing to gain
    }
    w_se_ = LN::splat(static_cast<float>(1.0 / theirs.se));
    w_l1_ = LN::splat(static_cast<float>(1.0 / theirs.l1));
    continuous_fits();
    if (!choose_super_scales()) return keep(ref, out);
    for (int r = 0; r < plan_.refits; ++r) {
      if (!refit_super_scales()) break;
    }
    if (L_.affine() && plan_.hqq_iters > 0) {
      hqq_zero_step();
      for (int r = 0; r < plan_.refits_after_hqq; ++r) {
        if (!refit_super_scales()) break;
      }
    }
    int8_t q[kSuperBlock];
    nearest_levels(best_, q);
    const ExactErr ours = exact_error(best_, q);
    // Strictly better on both sums, with a margin far above the rounding of any way of summing
    // them, so that the tensor statistics can only come out no worse.
    if (ours.l1 <= theirs.l1 * (1 - 1e-6) && ours.se <= theirs.se * (1 - 1e-6)) {
      pack_block(type_, best_, q, out);
      return true;
    }
    return keep(ref, out);
  }

  struct ExactErr {
    double l1 = 0, se = 0;
  };
  struct Sums {  // per-lane least-squares sums of one pass
    V sq, sqq, sxq;
  };

  bool keep(const uint8_t* ref, uint8_t* out) const {
    if (out != ref) std::memcpy(out, ref, L_.bytes);
    return false;
  }

  // --- per-element arithmetic -------------------------------------------------------------------
  V xv(int g, int i) const { return LN::load(xt_ + (g * n_ + i) * N); }
  V inverse(V D) const { return LN::select(LN::eq(D, LN::splat(0.0f)), LN::splat(0.0f), LN::div(LN::splat(1.0f), D)); }
  V level(V x, V M, V inv) const {
    return LN::min(LN::max(LN::nearest(LN::mul(LN::add(x, M), inv)), qlo_), qhi_);
  }
  V objective(V l1, V se) const { return LN::add(LN::mul(w_se_, se), LN::mul(w_l1_, l1)); }

  // Objective of the grid r = D*q - M with nearest levels.
  V eval(int g, V D, V M) const {
    const V inv = inverse(D);
    V l1 = LN::splat(0.0f), se = LN::splat(0.0f);
    for (int i = 0; i < n_; ++i) {
      const V x = xv(g, i);
      const V q = level(x, M, inv);
      const V d = LN::sub(x, LN::sub(LN::mul(D, q), M));
      l1 = LN::add(l1, LN::abs(d));
      se = LN::add(se, LN::mul(d, d));
    }
    return objective(l1, se);
  }

  // The same, plus the sums of a least-squares fit of (D, M) to those levels.
  V eval_sums(int g, V D, V M, Sums& s) const {
    const V inv = inverse(D);
    V l1 = LN::splat(0.0f), se = LN::splat(0.0f);
    s.sq = s.sqq = s.sxq = LN::splat(0.0f);
    for (int i = 0; i < n_; ++i) {
      const V x = xv(g, i);
      const V q = level(x, M, inv);
      const V d = LN::sub(x, LN::sub(LN::mul(D, q), M));
      l1 = LN::add(l1, LN::abs(d));
      se = LN::add(se, LN::mul(d, d));
      s.sq = LN::add(s.sq, q);
      s.sqq = LN::add(s.sqq, LN::mul(q, q));
      s.sxq = LN::add(s.sxq, LN::mul(x, q));
    }
    return objective(l1, se);
  }

  Mk finite(V v) const { return LN::eq(LN::sub(v, v), LN::splat(0.0f)); }

  // Least-squares grid for fixed levels: affine r = D*q - M with M >= 0 (the min code is
  // unsigned, so the offset can only lower the grid), symmetric r = D*q. Lanes where the levels
  // do not determine a usable D keep (D, M).
  void fit(int g, const Sums& s, V& D, V& M) const {
    const V zero = LN::splat(0.0f);
    if (!L_.affine()) {
      const V d = LN::div(s.sxq, s.sqq);
      const Mk ok = LN::and_(LN::and_(LN::gt(s.sqq, zero), finite(d)), LN::not_(LN::eq(d, zero)));
      D = LN::select(ok, d, D);
      return;
    }
    const V n = LN::splat(static_cast<float>(n_));
    const V sx = LN::load(sum_x_ + g * N);
    const V det = LN::sub(LN::mul(n, s.sqq), LN::mul(s.sq, s.sq));
    const V d2 = LN::div(LN::sub(LN::mul(n, s.sxq), LN::mul(s.sq, sx)), det);
    const V a2 = LN::div(LN::sub(LN::mul(s.sqq, sx), LN::mul(s.sq, s.sxq)), det);
    // offset above zero is not storable: fall back to the fit through the origin
    const Mk two = LN::and_(LN::gt(det, zero), LN::not_(LN::gt(a2, zero)));
    const V d1 = LN::div(s.sxq, s.sqq);
    const V d = LN::select(two, d2, d1);
    const V a = LN::select(two, a2, zero);
    const Mk ok = LN::and_(LN::and_(LN::gt(d, zero), finite(d)), LN::and_(finite(a), LN::gt(s.sqq, zero)));
    D = LN::select(ok, d, D);
    M = LN::select(ok, LN::sub(zero, a), M);
  }

  // --- stages ---------------------------------------------------------------------------------
  void transpose() {
    for (int g = 0; g < groups_; ++g) {
      for (int i = 0; i < n_; ++i) {
        for (int l = 0; l < N; ++l) xt_[(g * n_ + i) * N + l] = x_[(g * N + l) * n_ + i];
      }
    }
    qlo_ = LN::splat(static_cast<float>(L_.q_lo));
    qhi_ = LN::splat(static_cast<float>(L_.q_hi));
    for (int j = 0; j < L_.n_sub; ++j) {
      float s = 0;
      for (int i = 0; i < n_; ++i) s += x_[j * n_ + i];
      sum_x_[j] = s;
    }
  }

  // Keeps, per lane, the candidate grid with the lowest objective.
  void offer(V J, V D, V M, V& bestJ, V& bestD, V& bestM) const {
    const Mk better = LN::lt(J, bestJ);
    bestJ = LN::select(better, J, bestJ);
    bestD = LN::select(better, D, bestD);
    bestM = LN::select(better, M, bestM);
  }

  // Alternating least squares from a starting grid: levels for the grid, grid for the levels.
  void run_candidate(int g, V D, V M, V& bestJ, V& bestD, V& bestM) const {
    for (int a = 0; a < plan_.alternations; ++a) {
      Sums s;
      const V J = eval_sums(g, D, M, s);
      offer(J, D, M, bestJ, bestD, bestM);
      fit(g, s, D, M);
    }
    offer(eval(g, D, M), D, M, bestJ, bestD, bestM);
  }

  // Stage 1: per sub-block, the best continuous grid (D*, M*) from the reference's own grid and a
  // few starting points spread around (max - min) / q_hi.
  void continuous_fits() {
    const float d_ref = f16_to_f32(ref_p_.d), dmin_ref = f16_to_f32(ref_p_.dmin);
    for (int g = 0; g < groups_; ++g) {
      V bestJ = LN::splat(kInf), bestD = LN::splat(0.0f), bestM = LN::splat(0.0f);
      alignas(16) float seedD[N], seedM[N];
      for (int l = 0; l < N; ++l) {
        const int j = g * N + l;
        seedD[l] = has_ref_fit_ ? ref_fit_D_[j] : d_ref * static_cast<float>(ref_p_.sc[j]);
        seedM[l] = has_ref_fit_ ? ref_fit_M_[j] : (L_.affine() ? dmin_ref * static_cast<float>(ref_p_.m[j]) : 0.0f);
      }
      run_candidate(g, LN::load(seedD), LN::load(seedM), bestJ, bestD, bestM);
      if (L_.affine()) {
        V mn = xv(g, 0), mx = mn;
        for (int i = 1; i < n_; ++i) {
          mn = LN::min(mn, xv(g, i));
          mx = LN::max(mx, xv(g, i));
        }
        mn = LN::min(mn, LN::splat(0.0f));
        const V range = LN::sub(mx, mn);
        const V M0 = LN::sub(LN::splat(0.0f), mn);
        for (int k = 0; k < plan_.n_grid; ++k) {
          const V D0 = LN::div(range, LN::splat(static_cast<float>(L_.q_hi) + plan_.grid[k]));
          run_candidate(g, D0, M0, bestJ, bestD, bestM);
        }
      } else {
        // the value of largest magnitude (the first one on ties), signed
        V amax = LN::splat(0.0f), vmax = LN::splat(0.0f);
        for (int i = 0; i < n_; ++i) {
          const V x = xv(g, i);
          const Mk bigger = LN::gt(LN::abs(x), amax);
          amax = LN::select(bigger, LN::abs(x), amax);
          vmax = LN::select(bigger, x, vmax);
        }
        const V zero = LN::splat(0.0f);
        for (int k = 0; k < plan_.n_grid; ++k) {
          // that value on the long end of the level range (q_lo), then on the short end (q_hi)
          const V D_lo = LN::div(vmax, LN::splat(static_cast<float>(L_.q_lo) - plan_.grid[k]));
          const V D_hi = LN::div(vmax, LN::splat(static_cast<float>(L_.q_hi) + plan_.grid[k]));
          run_candidate(g, D_lo, zero, bestJ, bestD, bestM);
          run_candidate(g, D_hi, zero, bestJ, bestD, bestM);
        }
      }
      LN::store(fit_D_ + g * N, bestD);
      LN::store(fit_M_ + g * N, bestM);
    }
  }

  // Codes of every sub-block for super-scales (d, dmin): per sub-block, the best of the floor and
  // ceiling of D*/d (and of M*/dmin), by the objective of the re-rounded levels. Returns the total.
  float assign_codes(float d, float dmin, Params& p, float* J_sub) const {
    const V vd = LN::splat(d), vdmin = LN::splat(dmin);
    const V inv_d = LN::splat(1.0f / d);
    const V inv_dmin = LN::splat(dmin > 0 ? 1.0f / dmin : 0.0f);
    const V sc_lo = LN::splat(static_cast<float>(L_.sc_lo)), sc_hi = LN::splat(static_cast<float>(L_.sc_hi));
    const V m_hi = LN::splat(static_cast<float>(L_.m_hi));
    const V zero = LN::splat(0.0f), one = LN::splat(1.0f);
    alignas(16) float sc_out[16], m_out[16];
    for (int g = 0; g < groups_; ++g) {
      const V s0 = LN::floor(LN::mul(LN::load(fit_D_ + g * N), inv_d));
      const V m0 = LN::floor(LN::mul(LN::load(fit_M_ + g * N), inv_dmin));
      V bestJ = LN::splat(kInf), bestS = zero, bestMc = zero;
      const int m_steps = L_.affine() && dmin > 0 ? 2 : 1;
      for (int ds = 0; ds < 2; ++ds) {
        const V sc = LN::min(LN::max(LN::add(s0, LN::splat(static_cast<float>(ds))), sc_lo), sc_hi);
        const V D = LN::mul(vd, sc);
        for (int dm = 0; dm < m_steps; ++dm) {
          const V mc = LN::min(LN::max(LN::add(m0, dm ? one : zero), zero), m_hi);
          const V M = LN::mul(vdmin, mc);
          offer(eval(g, D, M), sc, mc, bestJ, bestS, bestMc);
        }
      }
      LN::store(J_sub + g * N, bestJ);
      LN::store(sc_out + g * N, bestS);
      LN::store(m_out + g * N, bestMc);
    }
    p.d = f32_to_f16(d);
    p.dmin = f32_to_f16(dmin);
    float total = 0;
    for (int j = 0; j < L_.n_sub; ++j) {
      p.sc[j] = static_cast<int16_t>(sc_out[j]);
      p.m[j] = L_.affine() ? static_cast<int16_t>(m_out[j]) : int16_t{0};
      total += J_sub[j];
    }
    return total;
  }

  void offer_codes(float d, float dmin) {
    Params p;
    float J_sub[16];
    const float J = assign_codes(d, dmin, p, J_sub);
    if (J < best_J_) {
      best_J_ = J;
      best_ = p;
      std::memcpy(best_J_sub_, J_sub, sizeof J_sub);
    }
  }

  static float f16_round(float v) { return f16_to_f32(f32_to_f16(v)); }
  static bool usable(float d) { return std::isfinite(d) && d != 0.0f; }

  // Stage 2: super-scales from the largest continuous scale and min (as llama.cpp does, and a few
  // multiples of it), plus the reference's own super-scales; codes for each.
  bool choose_super_scales() {
    float dmax = 0, dmax_signed = 0, mmax = 0;
    for (int j = 0; j < L_.n_sub; ++j) {
      if (std::fabs(fit_D_[j]) > dmax) {
        dmax = std::fabs(fit_D_[j]);
        dmax_signed = fit_D_[j];
      }
      mmax = std::max(mmax, fit_M_[j]);
    }
    best_J_ = kInf;
    if (!(dmax > 0)) return false;
    const float d_base = L_.affine() ? dmax / static_cast<float>(L_.sc_hi) : dmax_signed / static_cast<float>(L_.sc_lo);
    const float dmin = L_.affine() ? f16_round(mmax / static_cast<float>(L_.m_hi)) : 0.0f;
    if (!std::isfinite(dmin)) return false;
    for (int k = 0; k < plan_.n_mult; ++k) {
      const float d = f16_round(d_base * plan_.mult[k]);
      if (usable(d)) offer_codes(d, dmin);
    }
    const float d_ref = f16_to_f32(ref_p_.d), dmin_ref = f16_to_f32(ref_p_.dmin);
    if (usable(d_ref) && std::isfinite(dmin_ref) && dmin_ref >= 0) offer_codes(d_ref, L_.affine() ? dmin_ref : 0.0f);
    return best_J_ < kInf;
  }

  // Nearest levels of the current best codes, per sub-block in order (exactly the stored levels).
  // N weights of one sub-block at a time (the same float operations as one by one: nearest is
  // round-half-even either way).
  void nearest_levels(const Params& p, int8_t* q) const {
    const float d = f16_to_f32(p.d), dmin = f16_to_f32(p.dmin);
    alignas(16) float v[N];
    for (int j = 0; j < L_.n_sub; ++j) {
      const float D = d * static_cast<float>(p.sc[j]);
      const float M = L_.affine() ? dmin * static_cast<float>(p.m[j]) : 0.0f;
      const V vM = LN::splat(M), vinv = LN::splat(D == 0.0f ? 0.0f : 1.0f / D);
      for (int i = 0; i < n_; i += N) {
        LN::store(v, LN::min(LN::max(LN::nearest(LN::mul(LN::add(LN::load(x_ + j * n_ + i), vM), vinv)), qlo_), qhi_));
        for (int l = 0; l < N; ++l) q[j * n_ + i + l] = static_cast<int8_t>(v[l]);
      }
    }
  }

  // Stage 3: least-squares super-scales for the chosen codes and levels,
  // x ~ d * (sc_j * q) - dmin * m_j, rounded to f16, then codes again. False when nothing improved.
  bool refit_super_scales() {
    int8_t q[kSuperBlock];
    nearest_levels(best_, q);
    double saa = 0, sab = 0, sbb = 0, sxa = 0, sxb = 0;
    for (int j = 0; j < L_.n_sub; ++j) {
      float sq = 0, sqq = 0, sxq = 0;
      for (int i = 0; i < n_; ++i) {
        const float qv = q[j * n_ + i], x = x_[j * n_ + i];
        sq += qv;
        sqq += qv * qv;
        sxq += x * qv;
      }
      const double sc = best_.sc[j], m = L_.affine() ? best_.m[j] : 0;
      saa += sc * sc * sqq;
      sab -= sc * m * sq;
      sbb += static_cast<double>(n_) * m * m;
      sxa += sc * sxq;
      sxb -= m * sum_x_[j];
    }
    float d = 0, dmin = 0;
    if (L_.affine() && sbb > 0) {
      const double det = saa * sbb - sab * sab;
      if (!(det > 0)) return false;
      d = static_cast<float>((sxa * sbb - sxb * sab) / det);
      dmin = static_cast<float>((saa * sxb - sab * sxa) / det);
      if (!(dmin >= 0)) dmin = 0;
    } else {
      if (!(saa > 0)) return false;
      d = static_cast<float>(sxa / saa);
    }
    d = f16_round(d);
    dmin = f16_round(dmin);
    if (!usable(d) || !std::isfinite(dmin)) return false;
    const float before = best_J_;
    offer_codes(d, dmin);
    return best_J_ < before;
  }

  // Stage 4 (affine types): HQQ's proximal zero step with each sub-block's quantised scale
  // D = d * sc fixed; the offset it settles on is rounded to the min codes around it.
  void hqq_zero_step() {
    const float d = f16_to_f32(best_.d), dmin = f16_to_f32(best_.dmin);
    if (!(dmin > 0)) return;
    alignas(16) float scf[16], mcf[16], Jcur[16];
    for (int j = 0; j < L_.n_sub; ++j) {
      scf[j] = best_.sc[j];
      mcf[j] = best_.m[j];
      Jcur[j] = best_J_sub_[j];
    }
    const V vd = LN::splat(d), vdmin = LN::splat(dmin), inv_dmin = LN::splat(1.0f / dmin);
    const V zero = LN::splat(0.0f), one = LN::splat(1.0f), m_hi = LN::splat(static_cast<float>(L_.m_hi));
    for (int g = 0; g < groups_; ++g) {
      const V sc = LN::load(scf + g * N);
      const V D = LN::mul(vd, sc);
      const V M0 = LN::mul(vdmin, LN::load(mcf + g * N));
      V bestJ = LN::splat(kInf), bestM = M0, unusedD = D;
      hqq_iterations(g, D, M0, bestJ, unusedD, bestM);
      // the min codes around the offset HQQ settled on
      V J = LN::load(Jcur + g * N), mc = LN::load(mcf + g * N), dummy = sc;
      const V m0 = LN::floor(LN::mul(bestM, inv_dmin));
      for (int dm = 0; dm < 2; ++dm) {
        const V cand = LN::min(LN::max(LN::add(m0, dm ? one : zero), zero), m_hi);
        offer(eval(g, D, LN::mul(vdmin, cand)), sc, cand, J, dummy, mc);
      }
      LN::store(mcf + g * N, mc);
      LN::store(Jcur + g * N, J);
    }
    float total = 0;
    for (int j = 0; j < L_.n_sub; ++j) {
      best_.m[j] = static_cast<int16_t>(mcf[j]);
      best_J_sub_[j] = Jcur[j];
      total += Jcur[j];
    }
    best_J_ = total;
  }

  // HQQ-SPEC section 3 with the residual measured in quantisation steps (u = (x - r) / D), so
  // that the step behaves the same at any weight scale: z <- mean(q - (x/D - shrink(u))), where
  // shrink(u) = sign(u) max(|u| - |u|^(p-1) / beta, 0), p = 0.7, beta = 10 growing by 1.01 per
  // iteration, and z = M / D. Keeps, per lane, the offset with the lowest objective.
  void hqq_iterations(int g, V D, V M, V& bestJ, V& bestD, V& bestM) const {
    const V inv = inverse(D);
    const V zero = LN::splat(0.0f);
    V z = LN::mul(M, inv);
    float beta = 10.0f;
    const V inv_n = LN::splat(1.0f / static_cast<float>(n_));
    for (int it = 0; it < plan_.hqq_iters; ++it) {
      const V Mz = LN::mul(D, z);
      const V inv_beta = LN::splat(1.0f / beta);
      V l1 = zero, se = zero, acc = zero;
      for (int i = 0; i < n_; ++i) {
        const V x = xv(g, i);
        const V xs = LN::mul(x, inv);
        const V q = LN::min(LN::max(LN::nearest(LN::add(xs, z)), qlo_), qhi_);
        const V d = LN::sub(x, LN::sub(LN::mul(D, q), Mz));
        l1 = LN::add(l1, LN::abs(d));
        se = LN::add(se, LN::mul(d, d));
        const V u = LN::mul(d, inv);
        const V au = LN::abs(u);
        // |u| at or below 0.1^(1/1.3) ~ 0.17 shrinks to 0; guarding at 0.1 keeps pow's input normal
        const Mk active = LN::gt(au, LN::splat(0.1f));
        const V t = LN::sub(au, LN::mul(inv_beta, pow_m03<LN>(LN::max(au, LN::splat(0.1f)))));
        const V mag = LN::select(LN::and_(active, LN::gt(t, zero)), t, zero);
        const V shr = LN::select(LN::lt(u, zero), LN::sub(zero, mag), mag);
        acc = LN::add(acc, LN::sub(q, LN::sub(xs, shr)));
      }
      offer(objective(l1, se), D, Mz, bestJ, bestD, bestM);
      z = LN::max(LN::mul(acc, inv_n), zero);
      beta *= 1.01f;
    }
  }

  // Sum |x - r| and sum (x - r)^2 of a decoded block, in double, in one fixed order.
  ExactErr error_of(const float* r) const {
    ExactErr e;
    for (int k = 0; k < kSuperBlock; ++k) {
      const double diff = static_cast<double>(x_[k]) - static_cast<double>(r[k]);
      e.l1 += std::fabs(diff);
      e.se += diff * diff;
    }
    return e;
  }

  // The same for our parameters and levels, reconstructed exactly as the decoder does.
  ExactErr exact_error(const Params& p, const int8_t* q) const {
    const float d = f16_to_f32(p.d), dmin = f16_to_f32(p.dmin);
    float r[kSuperBlock];
    for (int k = 0; k < kSuperBlock; ++k) {
      const int j = k / n_;
      const float D = d * static_cast<float>(p.sc[j]);
      const float M = L_.affine() ? dmin * static_cast<float>(p.m[j]) : 0.0f;
      r[k] = D * static_cast<float>(q[k]) - M;
    }
    return error_of(r);
  }

  const Type type_;
  const Layout& L_;
  const SearchPlan& plan_;
  const int n_, groups_;
  const float* x_ = nullptr;
  alignas(16) float xt_[kSuperBlock];
  alignas(16) float sum_x_[16];
  alignas(16) float fit_D_[16];
  alignas(16) float fit_M_[16];
  V qlo_{}, qhi_{}, w_se_{}, w_l1_{};
  Params ref_p_;
  Params best_;
  float best_J_ = kInf;
  ReferenceLanes<LN> reference_{type_};
  bool has_ref_fit_ = false;
  float ref_fit_D_[16] = {}, ref_fit_M_[16] = {};
  float best_J_sub_[16] = {};
};

// llama.cpp's reference blocks of a K-quant, one sub-block per lane.
template <class LN>
void reference_blocks(Type type, const float* x, std::size_t n_blocks, uint8_t* out) {
  const Layout& L = *layout_of(type);
  constexpr int N = LN::N;
  const ReferenceLanes<LN> reference(type);
  alignas(16) float xt[kSuperBlock];
  ReferenceBlock rb;
  for (std::size_t b = 0; b < n_blocks; ++b) {
    const float* xb = x + b * kSuperBlock;
    for (int g = 0; g < L.n_sub / N; ++g) {
      for (int i = 0; i < L.sub_len; ++i) {
        for (int l = 0; l < N; ++l) xt[(g * L.sub_len + i) * N + l] = xb[(g * N + l) * L.sub_len + i];
      }
    }
    reference.run(xb, xt, rb);
    pack_block(type, rb.p, rb.q, out + b * L.bytes);
  }
}

// Runs the search over consecutive blocks; `reference` == nullptr: the search computes llama.cpp's
// blocks itself (and then writes them into `reference_out` when that is not nullptr).
template <class LN>
OptimizeCounts search_blocks(Type type, const SearchPlan& plan, const float* x, std::size_t n_blocks,
                             const uint8_t* reference, uint8_t* out, uint8_t* reference_out = nullptr) {
  const std::size_t bytes = layout_of(type)->bytes;
  SuperBlockSearch<LN> search(type, plan);
  OptimizeCounts counts;
  for (std::size_t b = 0; b < n_blocks; ++b) {
    const float* xb = x + b * kSuperBlock;
    const bool ours = reference != nullptr ? search.run(xb, reference + b * bytes, out + b * bytes)
                                           : search.run_with_own_reference(xb, out + b * bytes,
                                                                           reference_out ? reference_out + b * bytes : nullptr);
    counts.improved += ours ? 1 : 0;
    ++counts.blocks;
  }
  return counts;
}

}  // namespace hqq::gguf::kopt
