// See kquant_search.hpp. Written as plain loops with explicit float32 temporaries: the order of
// every operation is part of the contract (bytes identical to llama.cpp's).
#include "gguf/kquant_search.hpp"

#include <cmath>

namespace hqq::gguf::kquant {
namespace {

inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
inline float fl(int v) { return static_cast<float>(v); }

// The value of largest magnitude (the first one on ties) and that magnitude.
inline void signed_abs_max(int n, const float* x, float* max, float* amax) {
  *max = 0.0f;
  *amax = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > *amax) {
      *amax = ax;
      *max = x[i];
    }
  }
}

// Weighted sums of the symmetric levels for one inverse scale: sum w x l and sum w l^2.
void symmetric_sums(int n, int nmax, const float* x, const float* qw, int rmse_type, float iscale,
                    float* sumlx, float* suml2) {
  float slx = 0.0f, sl2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    const float w = qw ? qw[i] : rmse_weight(rmse_type, x[i]);
    const float wx = w * x[i];
    slx += wx * fl(l);
    const float wl = w * fl(l);
    sl2 += wl * fl(l);
  }
  *sumlx = slx;
  *suml2 = sl2;
}

void symmetric_levels(int n, int nmax, const float* x, float iscale, int8_t* L) {
  for (int i = 0; i < n; ++i) {
    const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l + nmax);
  }
}

}  // namespace

float rmse_weight(int rmse_type, float x) noexcept {
  switch (rmse_type) {
    case 1: return x * x;
    case 2: return 1.0f;
    case 3: return std::fabs(x);
    default: return std::sqrt(std::fabs(x));
  }
}

float symmetric_scale_search(int n, int nmax, const float* x, int8_t* L, int rmse_type,
                             const float* qw) noexcept {
  float max, amax;
  signed_abs_max(n, x, &max, &amax);
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  float iscale = fl(-nmax) / max;
  if (rmse_type == 0) {
    symmetric_levels(n, nmax, x, iscale, L);
    return 1.0f / iscale;
  }
  const bool return_early = rmse_type < 0;
  if (return_early) rmse_type = -rmse_type;
  symmetric_levels(n, nmax, x, iscale, L);
  float sumlx, suml2;
  symmetric_sums(n, nmax, x, qw, rmse_type, iscale, &sumlx, &suml2);
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  if (return_early) return suml2 > 0.0f ? 0.5f * (scale + 1.0f / iscale) : 1.0f / iscale;
  float best = scale * sumlx;
  for (int k = -9; k <= 9; ++k) {
    if (k == 0) continue;
    iscale = -(fl(nmax) + 0.1f * fl(k)) / max;
    symmetric_sums(n, nmax, x, qw, rmse_type, iscale, &sumlx, &suml2);
    if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
      symmetric_levels(n, nmax, x, iscale, L);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float q3_scale_search(int n, int nmax, const float* x, int8_t* L, bool do_rmse) noexcept {
  float max, amax;
  signed_abs_max(n, x, &max, &amax);
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float iscale = fl(-nmax) / max;
  if (!do_rmse) {
    symmetric_levels(n, nmax, x, iscale, L);
    return 1.0f / iscale;
  }
  // L holds signed levels during the passes, shifted to unsigned at the end.
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * fl(l);
    suml2 += w * fl(l) * fl(l);
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * fl(L[i]);
      if (!(slx > 0.0f)) continue;
      float sl2 = suml2 - w * fl(L[i]) * fl(L[i]);
      const int l = clamp_int(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
      if (l == L[i]) continue;
      slx += w * x[i] * fl(l);
      sl2 += w * fl(l) * fl(l);
      if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<int8_t>(l);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

float affine_scale_search(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                          float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                          bool use_mad) noexcept {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  if (min > 0.0f) min = 0.0f;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.0f;
  }
  float iscale = fl(nmax) / (max - min);
  float scale = 1.0f / iscale;
  auto error_of = [&](float s, float m, const uint8_t* levels) {
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      float diff = s * fl(levels[i]) + m - x[i];
      diff = use_mad ? std::fabs(diff) : diff * diff;
      err += weights[i] * diff;
    }
    return err;
  };
  for (int i = 0; i < n; ++i)
    L[i] = static_cast<uint8_t>(clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax));
  float best_error = error_of(scale, min, L);
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int step = 0; step <= nstep; ++step) {
    iscale = (rmin + rdelta * fl(step) + fl(nmax)) / (max - min);
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = static_cast<uint8_t>(l);
      const float wl = weights[i] * fl(l);
      sum_l += wl;
      sum_l2 += wl * fl(l);
      sum_xl += wl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (!(D > 0.0f)) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0.0f) {
      this_min = 0.0f;
      this_scale = sum_xl / sum_l2;
    }
    const float cur_error = error_of(this_scale, this_min, Laux);
    if (cur_error < best_error) {
      std::memcpy(L, Laux, static_cast<std::size_t>(n));
      best_error = cur_error;
      scale = this_scale;
      min = this_min;
    }
  }
  *the_min = -min;
  return scale;
}

}  // namespace hqq::gguf::kquant
