// (research version: the algorithm description goes here once settled)
#include "gguf/optimize_kquants.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "gguf/kquant_params.hpp"
#include "hqq/dtype.hpp"

namespace hqq::gguf::kquant {

KnobSet g_knobs;

namespace {

struct Err {
  float l1 = 0, se = 0;
};
inline Err operator+(Err a, Err b) { return {a.l1 + b.l1, a.se + b.se}; }

// The objective the search minimises: sum err^2 and sum |err|, each normalised by llama.cpp's
// value on the same super-block, so that a candidate that halves either halves its term.
struct Objective {
  float w_se = 1, w_l1 = 1;
  float operator()(Err e) const { return w_se * e.se + w_l1 * e.l1; }
};

inline float f16_round(float v) { return f16_to_f32(f32_to_f16(v)); }

// Levels and error of one sub-block for the grid r = D*q - M (q in [q_lo, q_hi]), computed with the
// same float32 operations as llama.cpp's dequantization.
Err eval_grid(const float* x, int n, float D, float M, float q_lo, float q_hi, int8_t* q_out) {
  Err e;
  if (D == 0.0f) {
    for (int i = 0; i < n; ++i) {
      const float r = 0.0f - M;
      const float d = x[i] - r;
      e.l1 += std::fabs(d);
      e.se += d * d;
      if (q_out) q_out[i] = static_cast<int8_t>(std::max(q_lo, 0.0f));
    }
    return e;
  }
  const float inv = 1.0f / D;
  for (int i = 0; i < n; ++i) {
    float q = std::nearbyint((x[i] + M) * inv);
    q = q < q_lo ? q_lo : (q > q_hi ? q_hi : q);
    const float r = D * q - M;
    const float d = x[i] - r;
    e.l1 += std::fabs(d);
    e.se += d * d;
    if (q_out) q_out[i] = static_cast<int8_t>(q);
  }
  return e;
}

inline void levels(const float* x, int n, float D, float M, float q_lo, float q_hi, float* q) {
  const float inv = D != 0.0f ? 1.0f / D : 0.0f;
  for (int i = 0; i < n; ++i) {
    float v = std::nearbyint((x[i] + M) * inv);
    q[i] = v < q_lo ? q_lo : (v > q_hi ? q_hi : v);
  }
}

// Least-squares (D, M) for fixed levels, r = D*q - M, with M >= 0 (the offset can only lower the
// grid: the stored min code is unsigned). Returns false when the levels do not determine D > 0.
bool fit_affine(const float* x, const float* q, int n, float& D, float& M) {
  float sq = 0, sqq = 0, sx = 0, sxq = 0;
  for (int i = 0; i < n; ++i) {
    sq += q[i];
    sqq += q[i] * q[i];
    sx += x[i];
    sxq += x[i] * q[i];
  }
  const float fn = static_cast<float>(n);
  const float det = fn * sqq - sq * sq;
  float d = 0, a = 0;  // x ~ d*q + a, a = -M
  if (det > 0) {
    d = (fn * sxq - sq * sx) / det;
    a = (sqq * sx - sq * sxq) / det;
  }
  if (!(det > 0) || a > 0) {
    if (!(sqq > 0)) return false;
    a = 0;
    d = sxq / sqq;
  }
  if (!(d > 0) || !std::isfinite(d) || !std::isfinite(a)) return false;
  D = d;
  M = -a;
  return true;
}

bool fit_symmetric(const float* x, const float* q, int n, float& D) {
  float sqq = 0, sxq = 0;
  for (int i = 0; i < n; ++i) {
    sqq += q[i] * q[i];
    sxq += x[i] * q[i];
  }
  if (!(sqq > 0)) return false;
  const float d = sxq / sqq;
  if (!std::isfinite(d) || d == 0.0f) return false;
  D = d;
  return true;
}

struct SubFit {
  float D = 0, M = 0;
  float J = std::numeric_limits<float>::infinity();
};

// --- continuous search per sub-block ---------------------------------------------------------

SubFit search_affine_sub(const float* x, int n, float q_hi, const Objective& obj) {
  float mn = x[0], mx = x[0];
  for (int i = 1; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  if (mn > 0) mn = 0;
  SubFit best;
  if (mx == mn) {
    best.D = 0;
    best.M = -mn;
    best.J = obj(eval_grid(x, n, 0, best.M, 0, q_hi, nullptr));
    return best;
  }
  float q[32];
  const int steps = g_knobs.grid_steps;
  for (int s = 0; s <= steps; ++s) {
    const float t = g_knobs.grid_lo + (g_knobs.grid_hi - g_knobs.grid_lo) * static_cast<float>(s) / static_cast<float>(steps);
    float D = (mx - mn) / (q_hi + t), M = -mn;
    for (int it = 0; it <= g_knobs.alternations; ++it) {
      levels(x, n, D, M, 0, q_hi, q);
      float D2 = D, M2 = M;
      if (!fit_affine(x, q, n, D2, M2)) break;
      D = D2;
      M = M2;
    }
    const float J = obj(eval_grid(x, n, D, M, 0, q_hi, nullptr));
    if (J < best.J) best = {D, M, J};
  }
  return best;
}

SubFit search_symmetric_sub(const float* x, int n, float q_lo, float q_hi, const Objective& obj) {
  float amax = 0, vmax = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      vmax = x[i];
    }
  }
  SubFit best;
  if (amax == 0.0f) {
    best.J = 0;
    return best;
  }
  float q[32];
  const int steps = g_knobs.grid_steps;
  for (int side = 0; side < 2; ++side) {
    // side 0: the largest magnitude lands on the long end of the level range (q_lo), side 1: on q_hi
    const float end = side == 0 ? q_lo : q_hi;
    const float sgn = end < 0 ? -1.0f : 1.0f;
    for (int s = 0; s <= steps; ++s) {
      const float t = g_knobs.grid_lo + (g_knobs.grid_hi - g_knobs.grid_lo) * static_cast<float>(s) / static_cast<float>(steps);
      float D = vmax / (end + sgn * t);
      for (int it = 0; it <= g_knobs.alternations; ++it) {
        levels(x, n, D, 0, q_lo, q_hi, q);
        float D2 = D;
        if (!fit_symmetric(x, q, n, D2)) break;
        D = D2;
      }
      const float J = obj(eval_grid(x, n, D, 0, q_lo, q_hi, nullptr));
      if (J < best.J) best = {D, 0, J};
    }
  }
  return best;
}

// --- HQQ's proximal zero step ------------------------------------------------------------------

// HQQ-SPEC section 3 with the scale fixed at the quantised D: z <- mean(q - (x - W_e)/D), W_e the
// lp-shrunk residual. The residual is measured in quantisation steps so that the step does the same
// thing at any weight scale. Returns the offset M = D*z with the lowest objective seen.
float hqq_zero(const float* x, int n, float D, float M0, float q_hi, const Objective& obj, float* J_out) {
  float z = M0 / D;
  float best_M = M0, best_J = std::numeric_limits<float>::infinity();
  float beta = 10.0f;
  const float p_minus_1 = -0.3f;
  for (int it = 0; it < g_knobs.hqq_iters; ++it) {
    const float M = D * z;
    Err e;
    float acc = 0;
    for (int i = 0; i < n; ++i) {
      float q = std::nearbyint(x[i] / D + z);
      q = q < 0 ? 0 : (q > q_hi ? q_hi : q);
      const float r = D * q - M;
      const float d = x[i] - r;
      e.l1 += std::fabs(d);
      e.se += d * d;
      const float u = d / D;  // residual in steps
      const float au = std::fabs(u);
      float shr = 0;
      if (au > 0) {
        const float s = au - (1.0f / beta) * std::pow(au, p_minus_1);
        shr = s > 0 ? (u < 0 ? -s : s) : 0;
      }
      acc += q - (x[i] / D - shr);
    }
    const float J = obj(e);
    if (J < best_J) {
      best_J = J;
      best_M = M;
    }
    z = acc / static_cast<float>(n);
    if (z < 0) z = 0;
    beta *= 1.01f;
  }
  *J_out = best_J;
  return best_M;
}

// --- super-block assembly ----------------------------------------------------------------------

struct Candidate {
  Params p;
  float d = 0, dmin = 0;  // f32 values of the f16 super-scales
  float J = std::numeric_limits<float>::infinity();
  float Jsub[16] = {};
};

inline void try_codes(const float* x, int n, const Layout& L, float d, float dmin, int sc, int m,
                      const Objective& obj, int& best_sc, int& best_m, float& best_J) {
  sc = std::clamp(sc, L.sc_lo, L.sc_hi);
  m = std::clamp(m, 0, L.m_hi);
  const float D = d * static_cast<float>(sc);
  const float M = dmin * static_cast<float>(m);
  const float J = obj(eval_grid(x, n, D, M, static_cast<float>(L.q_lo), static_cast<float>(L.q_hi), nullptr));
  if (J < best_J) {
    best_J = J;
    best_sc = sc;
    best_m = m;
  }
}

// Best codes of one affine sub-block for given super-scales, near its continuous optimum.
void codes_affine(const float* x, int n, const Layout& L, const SubFit& f, float d, float dmin,
                  const Objective& obj, int& sc_out, int& m_out, float& J_out) {
  int best_sc = 0, best_m = 0;
  float best_J = std::numeric_limits<float>::infinity();
  const float s = d > 0 ? f.D / d : 0;
  const float mu = dmin > 0 ? f.M / dmin : 0;
  const int s0 = static_cast<int>(std::floor(s)), m0 = static_cast<int>(std::floor(mu));
  for (int ds = 0; ds <= 1; ++ds) {
    const int sc = std::clamp(s0 + ds, L.sc_lo, L.sc_hi);
    for (int dm = 0; dm <= 1; ++dm) try_codes(x, n, L, d, dmin, sc, m0 + dm, obj, best_sc, best_m, best_J);
    if (g_knobs.hqq_iters > 0 && sc > 0 && dmin > 0) {
      const float D = d * static_cast<float>(sc);
      float Jh;
      const float Mh = hqq_zero(x, n, D, dmin * static_cast<float>(std::clamp(m0, 0, L.m_hi)), static_cast<float>(L.q_hi), obj, &Jh);
      const int mh = static_cast<int>(std::floor(Mh / dmin));
      try_codes(x, n, L, d, dmin, sc, mh, obj, best_sc, best_m, best_J);
      try_codes(x, n, L, d, dmin, sc, mh + 1, obj, best_sc, best_m, best_J);
    }
  }
  sc_out = best_sc;
  m_out = best_m;
  J_out = best_J;
}

void codes_symmetric(const float* x, int n, const Layout& L, const SubFit& f, float d,
                     const Objective& obj, int& sc_out, float& J_out) {
  int best_sc = 0, best_m = 0;
  float best_J = std::numeric_limits<float>::infinity();
  const float s = d != 0 ? f.D / d : 0;
  const int s0 = static_cast<int>(std::floor(s));
  for (int ds = 0; ds <= 1; ++ds) try_codes(x, n, L, d, 0, s0 + ds, 0, obj, best_sc, best_m, best_J);
  sc_out = best_sc;
  J_out = best_J;
}

Err eval_params(const float* x, const Layout& L, const Params& p, int8_t* q) {
  const float d = f16_to_f32(p.d), dmin = f16_to_f32(p.dmin);
  Err total;
  for (int j = 0; j < L.n_sub; ++j) {
    const float D = d * static_cast<float>(p.sc[j]);
    const float M = L.affine() ? dmin * static_cast<float>(p.m[j]) : 0.0f;
    total = total + eval_grid(x + j * L.sub_len, L.sub_len, D, M, static_cast<float>(L.q_lo),
                              static_cast<float>(L.q_hi), q ? q + j * L.sub_len : nullptr);
  }
  return total;
}

// Codes for every sub-block given the super-scales; returns the total objective.
float assign_codes(const float* x, const Layout& L, const SubFit* fits, float d, float dmin,
                   const Objective& obj, Params& p) {
  float J = 0;
  p.d = f32_to_f16(d);
  p.dmin = f32_to_f16(dmin);
  for (int j = 0; j < L.n_sub; ++j) {
    int sc = 0, m = 0;
    float Jj = 0;
    if (L.affine()) {
      codes_affine(x + j * L.sub_len, L.sub_len, L, fits[j], d, dmin, obj, sc, m, Jj);
    } else {
      codes_symmetric(x + j * L.sub_len, L.sub_len, L, fits[j], d, obj, sc, Jj);
    }
    p.sc[j] = static_cast<int16_t>(sc);
    p.m[j] = static_cast<int16_t>(m);
    J += Jj;
  }
  return J;
}

// Least-squares super-scales for fixed codes and levels: x ~ d*(sc*q) - dmin*m.
bool refit_super(const float* x, const Layout& L, const Params& p, const int8_t* q, float& d, float& dmin) {
  double saa = 0, sab = 0, sbb = 0, sxa = 0, sxb = 0;
  for (int j = 0; j < L.n_sub; ++j) {
    for (int i = 0; i < L.sub_len; ++i) {
      const int e = j * L.sub_len + i;
      const double a = static_cast<double>(p.sc[j]) * q[e];
      const double b = L.affine() ? -static_cast<double>(p.m[j]) : 0.0;
      saa += a * a;
      sab += a * b;
      sbb += b * b;
      sxa += x[e] * a;
      sxb += x[e] * b;
    }
  }
  if (!L.affine() || sbb == 0) {
    if (saa <= 0) return false;
    d = static_cast<float>(sxa / saa);
    return std::isfinite(d);
  }
  const double det = saa * sbb - sab * sab;
  if (!(det > 0)) return false;
  d = static_cast<float>((sxa * sbb - sxb * sab) / det);
  dmin = static_cast<float>((saa * sxb - sab * sxa) / det);
  if (!(dmin >= 0)) dmin = 0;
  return std::isfinite(d) && std::isfinite(dmin);
}

// Error of given levels under given parameters (the decoded reconstruction).
Err eval_levels(const float* x, const Layout& L, const Params& p, const int8_t* q) {
  const float d = f16_to_f32(p.d), dmin = f16_to_f32(p.dmin);
  Err e;
  for (int k = 0; k < kSuperBlock; ++k) {
    const int j = k / L.sub_len;
    const float D = d * static_cast<float>(p.sc[j]);
    const float M = L.affine() ? dmin * static_cast<float>(p.m[j]) : 0.0f;
    const float r = D * static_cast<float>(q[k]) - M;
    const float dd = x[k] - r;
    e.l1 += std::fabs(dd);
    e.se += dd * dd;
  }
  return e;
}

// The same in double precision, one summation order for both sides of the final comparison.
struct ExactErr {
  double l1 = 0, se = 0;
};
ExactErr exact_error(const float* x, const Layout& L, const Params& p, const int8_t* q) {
  const float d = f16_to_f32(p.d), dmin = f16_to_f32(p.dmin);
  ExactErr e;
  for (int k = 0; k < kSuperBlock; ++k) {
    const int j = k / L.sub_len;
    const float D = d * static_cast<float>(p.sc[j]);
    const float M = L.affine() ? dmin * static_cast<float>(p.m[j]) : 0.0f;
    const float r = D * static_cast<float>(q[k]) - M;
    const double dd = static_cast<double>(x[k]) - static_cast<double>(r);
    e.l1 += std::fabs(dd);
    e.se += dd * dd;
  }
  return e;
}

bool finite_f16(float v) { return std::isfinite(f16_round(v)); }

}  // namespace

OptimizeCounts optimize_blocks(Type type, const float* x_all, std::size_t n_blocks,
                               const uint8_t* reference, uint8_t* out) {
  const Layout* lay = layout_of(type);
  OptimizeCounts counts;
  if (lay == nullptr) return counts;
  const Layout& L = *lay;
  for (std::size_t b = 0; b < n_blocks; ++b) {
    const float* x = x_all + b * kSuperBlock;
    const uint8_t* ref = reference + b * L.bytes;
    uint8_t* dst = out + b * L.bytes;
    ++counts.blocks;

    Params ref_p;
    unpack_params(type, ref, ref_p);
    int8_t ref_q[kSuperBlock];
    unpack_levels(type, ref, ref_q);
    const Err ref_e = eval_levels(x, L, ref_p, ref_q);
    if (!(ref_e.se > 0) || !(ref_e.l1 > 0) || !std::isfinite(ref_e.se)) {
      if (dst != ref) std::memcpy(dst, ref, L.bytes);
      continue;
    }
    Objective obj{g_knobs.w_se / ref_e.se, g_knobs.w_l1 / ref_e.l1};

    SubFit fits[16];
    float Dmax = 0, Dmax_signed = 0, Mmax = 0;
    for (int j = 0; j < L.n_sub; ++j) {
      const float* xj = x + j * L.sub_len;
      fits[j] = L.affine() ? search_affine_sub(xj, L.sub_len, static_cast<float>(L.q_hi), obj)
                           : search_symmetric_sub(xj, L.sub_len, static_cast<float>(L.q_lo), static_cast<float>(L.q_hi), obj);
      if (std::fabs(fits[j].D) > Dmax) {
        Dmax = std::fabs(fits[j].D);
        Dmax_signed = fits[j].D;
      }
      Mmax = std::max(Mmax, fits[j].M);
    }

    Params best_p = ref_p;
    float best_J = obj(ref_e);
    int8_t q[kSuperBlock];

    auto consider = [&](const Params& p) {
      const Err e = eval_params(x, L, p, nullptr);
      const float J = obj(e);
      if (J < best_J) {
        best_J = J;
        best_p = p;
      }
    };

    if (Dmax > 0) {
      const float code_range = L.affine() ? static_cast<float>(L.sc_hi) : static_cast<float>(-L.sc_lo);
      const float d_base = L.affine() ? Dmax / code_range : -Dmax_signed / code_range;
      const float m_base = Mmax / static_cast<float>(L.m_hi > 0 ? L.m_hi : 1);
      for (int k = 0; k < g_knobs.n_dmult; ++k) {
        const float d = f16_round(d_base * g_knobs.dmult[k]);
        const float dmin = L.affine() ? f16_round(m_base) : 0.0f;
        if (!finite_f16(d) || d == 0.0f) continue;
        Params p;
        assign_codes(x, L, fits, d, dmin, obj, p);
        consider(p);
      }
      // polish the best: refit the super-scales for its codes and levels, re-choose codes
      for (int r = 0; r < g_knobs.refits; ++r) {
        eval_params(x, L, best_p, q);
        float d = f16_to_f32(best_p.d), dmin = f16_to_f32(best_p.dmin);
        if (!refit_super(x, L, best_p, q, d, dmin)) break;
        d = f16_round(d);
        dmin = f16_round(dmin);
        if (!std::isfinite(d) || !std::isfinite(dmin) || d == 0.0f) break;
        // re-fit each sub-block's continuous target around its current codes
        Params p;
        assign_codes(x, L, fits, d, dmin, obj, p);
        const float before = best_J;
        consider(p);
        if (!(best_J < before)) break;
      }
    }

    // final dominance check against the reference, on the decoded values
    eval_params(x, L, best_p, q);
    const ExactErr ours = exact_error(x, L, best_p, q), theirs = exact_error(x, L, ref_p, ref_q);
    const bool better = ours.l1 <= theirs.l1 * (1 - 1e-6) && ours.se <= theirs.se * (1 - 1e-6);
    if (better) {
      pack_block(type, best_p, q, dst);
      ++counts.improved;
    } else if (dst != ref) {
      std::memcpy(dst, ref, L.bytes);
    }
  }
  return counts;
}

}  // namespace hqq::gguf::kquant
