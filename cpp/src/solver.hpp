// The proximal zero-point solver of HQQ-SPEC section 3, run block by block (see solver.cpp).
#pragma once

#include <cstddef>
#include <vector>

#include "hqq/config.hpp"
#include "kernels/kernels.hpp"

namespace hqq::detail {

// The shrinkage step of every iteration (HQQ-SPEC section 3), shared by this solver and the
// integer-zero solver of MatMulNBits (nbits/int_zero.cpp).
struct Schedule {
  std::vector<float> inv_beta;   // f32(1 / beta_i), as torch casts the Python scalar
  std::vector<float> threshold;  // |x| <= threshold gives shrink(x) == 0 exactly
  float p_minus_1 = 0;           // the lp-norm's p - 1, as the kernels take it
};
Schedule make_schedule(const SolverParams& p);

struct SolveResult {
  std::vector<float> zero;         // per group
  int iterations = 0;              // counted as the reference counts them
  std::vector<float> error_trace;  // Global mode: whole-tensor mean |W - W_r| per iteration run
};

// `w` is group-major ([n_groups][g]); s is the inverse scale, scale = 1/s; z0 the initial zero.
SolveResult solve_zero(const kernels::Kernels& k, const float* w, std::size_t n_groups,
                       std::size_t g, const float* s, const float* scale, const float* z0,
                       float max_q, const SolverParams& params, int max_round_length = 0);

// Iterations per round (see solver.cpp); max_round_length > 0 caps them (tests).
std::vector<int> round_schedule(int iters, std::size_t n_groups, std::size_t numel, int max_round_length = 0);

}  // namespace hqq::detail
