// Randomised configurations and shapes: every call either returns a consistent result or throws
// hqq::Error; never anything else (run under ASan/UBSan by npm test). SIMD and scalar kernels must
// also agree on each valid case within the conformance tolerances.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "hqq/hqq.hpp"
#include "kernels/kernels.hpp"
#include "quantizer.hpp"

TEST_CASE("random configurations: a consistent result or hqq::Error", "[random]") {
  std::mt19937 rng(2026);
  const double widths[] = {8, 6, 5, 4, 3, 2, 1.58, 1};
  int valid = 0, rejected = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t rows = 1 + rng() % 48, cols = 1 + rng() % 96;
    const std::size_t n = rows * cols;
    std::vector<float> w(n);
    std::student_t_distribution<float> t(2.0f + static_cast<float>(rng() % 5));
    const float scale = std::pow(10.0f, static_cast<float>(static_cast<int>(rng() % 7) - 4));
    for (auto& x : w) x = t(rng) * scale;
    if (rng() % 10 == 0) std::fill(w.begin(), w.begin() + static_cast<long>(n / 2), 0.25f);  // flat groups
    hqq::Config cfg;
    cfg.nbits = hqq::nbits_from_number(widths[rng() % 8]);
    // Mostly a divisor of the element count (valid unless the packing objects), sometimes anything.
    std::vector<std::size_t> divisors;
    for (std::size_t d = 1; d <= std::min<std::size_t>(n, 256); ++d)
      if (n % d == 0) divisors.push_back(d);
    cfg.group_size = rng() % 5 ? divisors[rng() % divisors.size()] : 1 + rng() % 80;
    cfg.axis = static_cast<int>(rng() % 2);
    cfg.optimize = rng() % 4 != 0;
    cfg.round_zero = rng() % 2 == 0;
    cfg.solver.iters = static_cast<int>(rng() % 25);
    cfg.solver.kappa = rng() % 2 ? 1.0 : 1.01;
    cfg.solver.lp_norm = rng() % 3 ? 0.7 : 1.0;
    cfg.solver.early_stop = rng() % 3 ? hqq::EarlyStop::Global : hqq::EarlyStop::PerGroupBest;
    INFO("trial " << trial << ": [" << rows << ", " << cols << "] nbits " << hqq::nbits_name(cfg.nbits)
                  << " g " << cfg.group_size << " axis " << cfg.axis);
    hqq::QuantizedTensor q;
    try {
      q = hqq::quantize(w.data(), {rows, cols}, cfg);
    } catch (const hqq::Error& e) {
      CHECK(e.code() == hqq::ErrorCode::InvalidArgument);  // only shape/group/packing mismatches here
      ++rejected;
      continue;
    }
    ++valid;
    const auto levels = hqq::unpack_levels(q);
    const int max_q = hqq::max_level(cfg.nbits);
    for (auto v : levels) REQUIRE(v <= max_q);
    const auto recon = hqq::dequantize(q);
    REQUIRE(recon.size() == n);
    for (float x : recon) REQUIRE(std::isfinite(x));
    CHECK(q.stats.mean_abs == Approx(hqq::error_stats(w.data(), recon.data(), n).mean_abs).epsilon(1e-5).margin(1e-30));
    if (const auto* simd = hqq::kernels::simd_kernels()) {
      const auto a = hqq::detail::quantize_with(hqq::kernels::scalar_kernels(), w.data(), {rows, cols}, cfg);
      const auto b = hqq::detail::quantize_with(*simd, w.data(), {rows, cols}, cfg);
      CHECK(a.scale == b.scale);
      CHECK(std::abs(a.iterations - b.iterations) <= 1);
      // Where the error is pure float32 rounding noise (e.g. two values per group, both exactly on
      // levels) the ratio means nothing: allow noise at 1e-5 of the weights' magnitude.
      double mean_w = 0;
      for (float x : w) mean_w += std::fabs(x);
      mean_w /= static_cast<double>(n);
      CHECK(b.stats.mean_abs <= a.stats.mean_abs * 1.01 + 1e-5 * mean_w);
    }
  }
  CHECK(valid > 50);
  CHECK(rejected > 20);
}
