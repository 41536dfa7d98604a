// The reference solver makes `iters` passes over the whole tensor, each followed by a whole-tensor
// error that decides whether to stop. Groups are independent apart from that decision, so here
// every block of groups runs all iterations while it sits in cache, recording its zero after each
// update and adding its share of each iteration's error sum. Once every block is done the stop
// point is picked from the summed errors exactly as the reference picks it, and each group takes
// the zero it had at that point. Same answer, one pass over memory instead of twenty.
#include "solver.hpp"

#include "hqq/error.hpp"
#include "scratch.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hqq::detail {
namespace {

// Elements per block: two float arrays of this size (weights and the kernel's scratch) stay in a
// 32 KiB L1 cache.
constexpr std::size_t kBlockElements = 4096;

}  // namespace

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
  s.p_minus_1 = static_cast<float>(p.lp_norm - 1.0);
  return s;
}

// Iterations per round. Each extra round costs one more pass over the weights in memory (about
// one iteration's time), so rounds are as long as the zero history allows: that history holds
// (round length + 1) zeros per group and is kept no larger than the weights themselves.
std::vector<int> round_schedule(int iters, std::size_t n_groups, std::size_t numel, int max_round_length) {
  const std::size_t budget = std::max<std::size_t>(numel, std::size_t(1) << 20);  // floats
  const std::size_t fit = budget / n_groups;
  int length = static_cast<int>(std::clamp<std::size_t>(fit > 1 ? fit - 1 : 1, 1, static_cast<std::size_t>(iters)));
  if (max_round_length > 0) length = std::min(length, max_round_length);
  std::vector<int> rounds;
  for (int done = 0; done < iters; done += rounds.back()) rounds.push_back(std::min(length, iters - done));
  return rounds;
}

SolveResult solve_zero(const kernels::Kernels& k, const float* w, std::size_t n_groups,
                       std::size_t g, const float* s, const float* scale, const float* z0,
                       float max_q, const SolverParams& params, int max_round_length) {
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
  args.p_minus_1 = schedule.p_minus_1;
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

  // Global early stop, in rounds: every block runs the iterations of a round, then the summed
  // errors show whether the reference would have stopped inside it. Iterations past the stop are
  // never computed beyond the end of their round, and only one round's zero history is kept
  // ([iteration][group], rows 0..round length; row 0 is the zero the round starts from).
  std::vector<double> err_sum(static_cast<std::size_t>(iters), 0.0);
  const std::vector<int> rounds = round_schedule(iters, n_groups, n_groups * g, max_round_length);
  const int longest = *std::max_element(rounds.begin(), rounds.end());
  const std::size_t history_floats = (static_cast<std::size_t>(longest) + 1) * n_groups;
  const Scratch history_buffer(ScratchSlot::history, history_floats * sizeof(float));
  float* history = history_buffer.as<float>();  // every row is written before it is read
  std::copy(z0, z0 + n_groups, history);
  args.hist_stride = n_groups;
  const double numel = static_cast<double>(n_groups) * static_cast<double>(g);
  float best = std::numeric_limits<float>::infinity();
  int begin = 0;
  for (const int length : rounds) {
    args.iters = length;
    args.inv_beta = schedule.inv_beta.data() + begin;
    args.threshold = schedule.threshold.data() + begin;
    args.err_sum = err_sum.data() + begin;
    for (std::size_t first = 0; first < n_groups; first += block_groups) {
      set_block(first, std::min(block_groups, n_groups - first));
      args.z0 = history + first;  // row 0: where this round starts
      args.z_hist = history + first;
      k.solve_block(args);
    }
    // The reference's loop: the error of iteration i is the mean over the whole tensor, in
    // float32; the zero was already updated when the error fails to improve, so the returned
    // zero is z_{i+1}.
    int stop = -1;
    for (int i = begin; i < begin + length; ++i) {
      const float err = static_cast<float>(err_sum[static_cast<std::size_t>(i)] / numel);
      result.error_trace.push_back(err);
      if (err < best) {
        best = err;
      } else {
        stop = i + 1;
        break;
      }
    }
    const bool last_round = begin + length == iters;
    if (stop >= 0 || last_round) {
      result.iterations = stop >= 0 ? stop : iters;
      const float* row = history + static_cast<std::size_t>(result.iterations - begin) * n_groups;
      result.zero.assign(row, row + n_groups);
      return result;
    }
    std::copy_n(history + static_cast<std::size_t>(length) * n_groups, n_groups, history);
    begin += length;
  }
  throw Error(ErrorCode::Internal, "solver round schedule does not cover the iterations");
}

}  // namespace hqq::detail
