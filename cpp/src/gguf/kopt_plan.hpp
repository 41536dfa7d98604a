// How hard the K-quant search works, per type (see optimize_kquants.cpp for what each stage is).
#pragma once

#include "hqq/gguf.hpp"

namespace hqq::gguf::kopt {

struct SearchPlan {
  // Stage 1, per sub-block: starting grids besides llama.cpp's own. Affine types start from
  // D = (max - min) / (q_hi + t); symmetric ones from D = v / (q_lo - t) and v / (q_hi + t), v the
  // value of largest magnitude. Each start gets `alternations` least-squares re-fits.
  int n_grid = 0;
  float grid[8] = {};
  int alternations = 1;
  // Stage 2: super-scale candidates d = f16(max_j D*_j / code range * mult).
  int n_mult = 1;
  float mult[8] = {1.0f};
  // Stage 3: least-squares re-fits of the f16 super-scales for the chosen codes.
  int refits = 1;
  // Stage 4 (affine types): HQQ proximal zero iterations on the quantised scales, then re-fits.
  int hqq_iters = 0;
  int refits_after_hqq = 0;
};

const SearchPlan& default_plan(Type type) noexcept;

}  // namespace hqq::gguf::kopt
