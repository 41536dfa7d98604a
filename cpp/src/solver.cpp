// The reference solver makes `iters` passes over the whole tensor, each followed by a whole-tensor
// error that decides whether to stop. Groups are independent apart from that decision, so here
// every block of groups runs all iterations while it sits in cache, recording its zero after each
// update and adding its share of each iteration's error sum. Once every block is done the stop
// point is picked from the summed errors exactly as the reference picks it, and each group takes
// the zero it had at that point. Same answer, one pass over memory instead of twenty.
#include "solver.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hqq::detail {
namespace {

// Elements per block: two float arrays of this size (weights and the kernel's scratch) stay in a
// 32 KiB L1 cache.
constexpr std::size_t kBlockElements = 4096;

struct Schedule {
  std::vector<float> inv_beta;   // f32(1 / beta_i), as torch casts the Python scalar
  std::vector<float> threshold;  // |x| <= threshold gives shrink(x) == 0 exactly
};

Schedule make_schedule(const SolverParams& p) {
  Schedule s;
  double beta = p.beta;
  const double exponent = 1.0 / (2.0 - p.lp_norm);
  for (int i = 0; i < p.iters; ++i) {
    const float inv_beta = static_cast<float>(1.0 / beta);
    s.inv_beta.push_back(inv_beta);
    // shrink(x) != 0  <=>  |x| - inv_beta * |x|^(p-1) > 0  <=>  |x| > inv_beta^(1/(2-p)).
    // A relative margin of 1e-4 (far above float32 rounding of the formula) keeps the shortcut
    // exact: below it the formula rounds to zero too, above it the formula is evaluated.
    s.threshold.push_back(
        static_cast<float>(std::pow(static_cast<double>(inv_beta), exponent) * (1.0 - 1e-4)));
    beta *= p.kappa;  // the reference multiplies after every iteration that did not stop
  }
  return s;
}

}  // namespace

SolveResult solve_zero(const kernels::Kernels& k, const float* w, std::size_t n_groups,
                       std::size_t g, const float* s, const float* scale, const float* z0,
                       float max_q, const SolverParams& params) {
  SolveResult result;
  const int iters = params.iters;
  if (iters == 0) {
    result.zero.assign(z0, z0 + n_groups);
    return result;
  }
  const Schedule schedule = make_schedule(params);
  const std::size_t block_groups = std::max<std::size_t>(1, kBlockElements / g);

  kernels::SolveBlockArgs args;
  args.g = g;
  args.max_q = max_q;
  args.iters = iters;
  args.inv_beta = schedule.inv_beta.data();
  args.threshold = schedule.threshold.data();
  args.p_minus_1 = static_cast<float>(params.lp_norm - 1.0);
  std::vector<float> scratch(kernels::solve_block_scratch_floats(block_groups, g));
  args.scratch = scratch.data();
  auto set_block = [&](std::size_t first, std::size_t count) {
    args.w = w + first * g;
    args.n_groups = count;
    args.s = s + first;
    args.scale = scale + first;
    args.z0 = z0 + first;
  };

  if (params.early_stop == EarlyStop::PerGroupBest) {
    result.zero.resize(n_groups);
    for (std::size_t first = 0; first < n_groups; first += block_groups) {
      set_block(first, std::min(block_groups, n_groups - first));
      args.z_best = result.zero.data() + first;
      k.solve_block(args);
    }
    result.iterations = iters;
    return result;
  }

  // Global early stop. The zero history is laid out [iteration][group] and costs (iters + 1)
  // floats per group; when that would be more than twice the weights themselves (many
  // iterations, tiny groups), keep only one block's history and run the blocks a second time up to
  // the stop point instead.
  const std::size_t steps = static_cast<std::size_t>(iters) + 1;
  const bool keep_history = steps <= 2 * g;
  std::vector<double> err_sum(static_cast<std::size_t>(iters), 0.0);
  std::vector<float> history(steps * (keep_history ? n_groups : block_groups));
  args.hist_stride = keep_history ? n_groups : block_groups;
  for (std::size_t first = 0; first < n_groups; first += block_groups) {
    set_block(first, std::min(block_groups, n_groups - first));
    args.z_hist = history.data() + (keep_history ? first : 0);
    args.err_sum = err_sum.data();
    k.solve_block(args);
  }

  // The reference's loop: the error of iteration i is the mean over the whole tensor, in float32;
  // the zero was already updated when the error fails to improve, so the returned zero is z_{i+1}.
  const double numel = static_cast<double>(n_groups) * static_cast<double>(g);
  float best = std::numeric_limits<float>::infinity();
  int stop = iters;
  for (int i = 0; i < iters; ++i) {
    const float err = static_cast<float>(err_sum[static_cast<std::size_t>(i)] / numel);
    result.error_trace.push_back(err);
    if (err < best) {
      best = err;
    } else {
      stop = i + 1;
      break;
    }
  }
  result.iterations = stop;
  const std::size_t stop_row = static_cast<std::size_t>(stop);

  if (keep_history) {
    const float* row = history.data() + stop_row * n_groups;
    result.zero.assign(row, row + n_groups);
    return result;
  }
  result.zero.resize(n_groups);
  std::vector<double> scratch_err(stop_row, 0.0);
  args.iters = stop;
  for (std::size_t first = 0; first < n_groups; first += block_groups) {
    const std::size_t count = std::min(block_groups, n_groups - first);
    set_block(first, count);
    args.z_hist = history.data();
    args.err_sum = scratch_err.data();
    k.solve_block(args);
    const float* row = history.data() + stop_row * block_groups;
    std::copy(row, row + count, result.zero.begin() + static_cast<std::ptrdiff_t>(first));
  }
  return result;
}

}  // namespace hqq::detail
