// Kernel-level checks: the shrink shortcut is exact, and every SIMD kernel agrees with the scalar
// reference kernel.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "hqq/hqq.hpp"
#include "kernels/kernels.hpp"
#include "quantizer.hpp"
#include "solver.hpp"

namespace {

std::vector<float> sample(std::size_t n, float sigma, unsigned seed, bool heavy_tails) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::student_t_distribution<float> t(3.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = heavy_tails ? t(rng) * sigma : dist(rng);
  return v;
}

// Initial inverse scale, stored scale and zero of each group (HQQ-SPEC section 2, without the
// special cases: the samples never have flat groups).
struct GroupParams {
  std::vector<float> s, scale, z0;
};
GroupParams initial_params(const std::vector<float>& w, std::size_t g, float max_q) {
  GroupParams p;
  for (std::size_t grp = 0; grp < w.size() / g; ++grp) {
    float mn = w[grp * g], mx = mn;
    for (std::size_t i = 0; i < g; ++i) mn = std::min(mn, w[grp * g + i]), mx = std::max(mx, w[grp * g + i]);
    p.s.push_back((1.0f / (mx - mn)) * max_q);
    p.scale.push_back(1.0f / p.s.back());
    p.z0.push_back(-mn * p.s.back());
  }
  return p;
}

// The conformance tolerances, applied between the SIMD (b) and scalar reference (a) results.
void check_simd_matches_scalar(const hqq::QuantizedTensor& a, const hqq::QuantizedTensor& b) {
  const auto la = hqq::unpack_levels(a), lb = hqq::unpack_levels(b);
  std::size_t same = 0;
  for (std::size_t i = 0; i < la.size(); ++i) same += la[i] == lb[i];
  CHECK(static_cast<double>(same) / la.size() >= 0.999);
  CHECK(std::abs(a.iterations - b.iterations) <= 1);
  CHECK(b.stats.mean_abs <= a.stats.mean_abs * 1.001);
  CHECK(a.scale == b.scale);
}

}  // namespace

TEST_CASE("the shrink threshold shortcut gives the same zeros as always evaluating pow", "[kernels][solver]") {
  const auto& k = hqq::kernels::scalar_kernels();
  const std::size_t g = 64, n_groups = 64;
  const auto w = sample(g * n_groups, 1.0f, 11, true);  // unit scale: many |x| above threshold
  const int iters = 20;
  std::vector<float> inv_beta(iters), thr(iters), none(iters, -1.0f);
  const GroupParams params = initial_params(w, g, 15.0f);
  const auto &s = params.s, &scale = params.scale, &z0 = params.z0;
  double beta = 10;
  for (int i = 0; i < iters; ++i, beta *= 1.01) {
    inv_beta[i] = static_cast<float>(1.0 / beta);
    thr[i] = static_cast<float>(std::pow(static_cast<double>(inv_beta[i]), 1.0 / 1.3) * (1 - 1e-4));
  }
  auto run = [&](const std::vector<float>& threshold) {
    std::vector<float> hist(n_groups * (iters + 1));
    std::vector<double> err(iters, 0.0);
    hqq::kernels::SolveBlockArgs a;
    a.w = w.data(); a.n_groups = n_groups; a.g = g; a.s = s.data(); a.scale = scale.data();
    a.z0 = z0.data(); a.max_q = 15; a.iters = iters; a.inv_beta = inv_beta.data();
    a.threshold = threshold.data(); a.p_minus_1 = static_cast<float>(0.7 - 1.0);
    a.z_hist = hist.data(); a.hist_stride = n_groups; a.err_sum = err.data();
    k.solve_block(a);
    return std::make_pair(hist, err);
  };
  const auto fast = run(thr);
  const auto full = run(none);
  CHECK(fast.first == full.first);
  CHECK(fast.second == full.second);
}

TEST_CASE("SIMD kernels agree with the scalar reference kernels", "[kernels][simd]") {
  const hqq::kernels::Kernels* simd = hqq::kernels::simd_kernels();
#if defined(HQQ_EXPECT_SIMD)
  REQUIRE(simd != nullptr);
#endif
  if (simd == nullptr) {
    // This build has only the scalar kernels; default_kernels() must then be them.
    CHECK(&hqq::kernels::default_kernels() == &hqq::kernels::scalar_kernels());
    return;
  }
  const auto& ref = hqq::kernels::scalar_kernels();
  const std::size_t g = 64, n_groups = 96, n = g * n_groups;
  const auto w = sample(n, 0.02f, 12, true);

  SECTION("min/max, levels, dequantize and 16-bit decoding are exact") {
    std::vector<float> mn1(n_groups), mx1(n_groups), mn2(n_groups), mx2(n_groups);
    CHECK(ref.group_min_max(w.data(), n_groups, g, mn1.data(), mx1.data()));
    CHECK(simd->group_min_max(w.data(), n_groups, g, mn2.data(), mx2.data()));
    CHECK(mn1 == mn2);
    CHECK(mx1 == mx2);
    std::vector<float> s(n_groups), z(n_groups), scale(n_groups);
    for (std::size_t i = 0; i < n_groups; ++i) {
      s[i] = (1.0f / (mx1[i] - mn1[i])) * 15.0f;
      z[i] = -mn1[i] * s[i] + 0.37f;
      scale[i] = 1.0f / s[i];
    }
    std::vector<uint8_t> q1(n), q2(n);
    hqq::kernels::ErrorSums es1, es2;
    ref.quantize_levels(w.data(), n_groups, g, s.data(), z.data(), 15.0f, q1.data(), scale.data(), &es1);
    simd->quantize_levels(w.data(), n_groups, g, s.data(), z.data(), 15.0f, q2.data(), scale.data(), &es2);
    CHECK(q1 == q2);
    // Fused reconstruction error: float32 partial sums in the SIMD kernel (named tolerance 1e-6).
    CHECK(es2.sum_abs == Approx(es1.sum_abs).epsilon(1e-6));
    CHECK(es2.sum_sq == Approx(es1.sum_sq).epsilon(1e-6));
    CHECK(es2.max_abs == Approx(es1.max_abs).epsilon(1e-6));
    CHECK(es2.sum_w_sq == Approx(es1.sum_w_sq).epsilon(1e-6));
    std::fill(q2.begin(), q2.end(), 0);
    simd->quantize_levels(w.data(), n_groups, g, s.data(), z.data(), 15.0f, q2.data(), nullptr, nullptr);
    CHECK(q1 == q2);
    std::vector<float> r1(n), r2(n);
    ref.dequantize_rows(q1.data(), n_groups, g, scale.data(), z.data(), r1.data());
    simd->dequantize_rows(q1.data(), n_groups, g, scale.data(), z.data(), r2.data());
    CHECK(r1 == r2);
    ref.dequantize_cols(q1.data(), g, n_groups, scale.data(), z.data(), r1.data());
    simd->dequantize_cols(q1.data(), g, n_groups, scale.data(), z.data(), r2.data());
    CHECK(r1 == r2);
    std::vector<uint16_t> all(65536 + 3);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i * 40503u);
    std::vector<float> d1(all.size()), d2(all.size());
    ref.decode_f16(all.data(), d1.data(), all.size());
    simd->decode_f16(all.data(), d2.data(), all.size());
    CHECK(std::memcmp(d1.data(), d2.data(), d1.size() * 4) == 0);
    ref.decode_bf16(all.data(), d1.data(), all.size());
    simd->decode_bf16(all.data(), d2.data(), all.size());
    CHECK(std::memcmp(d1.data(), d2.data(), d1.size() * 4) == 0);
    // Error sums: the same values summed in another order (named tolerance: 1e-12 relative).
    double a1, b1, c1, e1, a2, b2, c2, e2;
    ref.error_sums(w.data(), r1.data(), n, &a1, &b1, &c1, &e1);
    simd->error_sums(w.data(), r1.data(), n, &a2, &b2, &c2, &e2);
    CHECK(a2 == Approx(a1).epsilon(1e-12));
    CHECK(b2 == Approx(b1).epsilon(1e-12));
    CHECK(c2 == c1);
    CHECK(e2 == Approx(e1).epsilon(1e-12));
    // NaN and Inf are reported by min/max.
    auto bad = w;
    bad[77] = std::nanf("");
    CHECK_FALSE(simd->group_min_max(bad.data(), n_groups, g, mn2.data(), mx2.data()));
    CHECK_FALSE(ref.group_min_max(bad.data(), n_groups, g, mn1.data(), mx1.data()));
    bad[77] = -INFINITY;
    CHECK_FALSE(simd->group_min_max(bad.data(), n_groups, g, mn2.data(), mx2.data()));
  }

  SECTION("bit-packing primitives are exact (every shift, lengths with tails)") {
    std::mt19937 rng(5);
    for (std::size_t len : {1u, 15u, 16u, 17u, 63u, 1000u}) {
      std::vector<uint8_t> src(len), d1(len), d2(len);
      for (auto& v : src) v = static_cast<uint8_t>(rng());
      for (unsigned shift = 0; shift < 8; ++shift) {
        std::vector<uint8_t> low(src);
        for (auto& v : low) v = static_cast<uint8_t>(v >> shift);  // fits after << shift
        for (std::size_t i = 0; i < len; ++i) d1[i] = d2[i] = static_cast<uint8_t>(rng() & 1);
        ref.or_shifted_u8(d1.data(), low.data(), len, shift);
        simd->or_shifted_u8(d2.data(), low.data(), len, shift);
        CHECK(d1 == d2);
        for (unsigned mask : {1u, 3u, 7u, 15u, 255u}) {
          ref.extract_u8(d1.data(), src.data(), len, shift, mask);
          simd->extract_u8(d2.data(), src.data(), len, shift, mask);
          CHECK(d1 == d2);
        }
      }
      std::vector<uint32_t> w1(len), w2(len);
      for (std::size_t i = 0; i < len; ++i) w1[i] = w2[i] = static_cast<uint32_t>(rng()) & 0x3u;
      std::vector<uint8_t> levels(len);
      for (auto& v : levels) v = static_cast<uint8_t>(rng() & 7u);
      for (unsigned shift = 0; shift <= 27; shift += 3) {
        ref.or_shifted_u32(w1.data(), levels.data(), len, shift);
        simd->or_shifted_u32(w2.data(), levels.data(), len, shift);
        CHECK(w1 == w2);
        ref.extract_u32(d1.data(), w1.data(), len, shift, 7u);
        simd->extract_u32(d2.data(), w1.data(), len, shift, 7u);
        CHECK(d1 == d2);
      }
      CHECK(ref.byte_max(src.data(), len) == simd->byte_max(src.data(), len));
    }
  }

  SECTION("whole quantizer: SIMD solver within the conformance tolerances of the scalar one") {
    for (auto bits : {hqq::Bits::b4, hqq::Bits::b2, hqq::Bits::b8, hqq::Bits::b3}) {
      for (float sigma : {0.02f, 1.0f}) {
        for (auto stop : {hqq::EarlyStop::Global, hqq::EarlyStop::PerGroupBest}) {
          hqq::Config cfg;
          cfg.nbits = bits;
          cfg.solver.early_stop = stop;
          const auto x = sample(128 * 256, sigma, 13, true);
          const auto a = hqq::detail::quantize_with(ref, x.data(), {128, 256}, cfg);
          const auto b = hqq::detail::quantize_with(*simd, x.data(), {128, 256}, cfg);
          INFO("nbits " << hqq::nbits_name(bits) << " sigma " << sigma << " per-group-best "
                        << (stop == hqq::EarlyStop::PerGroupBest));
          check_simd_matches_scalar(a, b);
        }
      }
    }
  }
}

TEST_CASE("far-off-centre groups (huge |W*s| and |z|) take the exact path in the SIMD solver", "[kernels][simd]") {
  const hqq::kernels::Kernels* simd = hqq::kernels::simd_kernels();
  if (simd == nullptr) {
    CHECK(&hqq::kernels::default_kernels() == &hqq::kernels::scalar_kernels());
    return;
  }
  // Every group sits near 1000 with a spread of ~0.01: W*s ~ 2.5e5 level units, whose float32
  // rounding dwarfs the fast path's margin; the results must still follow the scalar kernels.
  auto w = sample(64 * 256, 0.01f, 31, true);
  for (auto& x : w) x += 1000.0f;
  for (auto stop : {hqq::EarlyStop::Global, hqq::EarlyStop::PerGroupBest}) {
    hqq::Config cfg;
    cfg.solver.early_stop = stop;
    const auto a = hqq::detail::quantize_with(hqq::kernels::scalar_kernels(), w.data(), {64, 256}, cfg);
    const auto b = hqq::detail::quantize_with(*simd, w.data(), {64, 256}, cfg);
    check_simd_matches_scalar(a, b);
  }
}

TEST_CASE("solver rounds: any round length gives the single-round answer", "[solver]") {
  const std::size_t g = 16, n_groups = 512;
  for (float sigma : {0.02f, 1.0f}) {
    const auto w = sample(g * n_groups, sigma, 21, true);
    const GroupParams params = initial_params(w, g, 3.0f);
    const auto &s = params.s, &scale = params.scale, &z0 = params.z0;
    hqq::SolverParams p;
    for (const auto* k : {&hqq::kernels::scalar_kernels(), hqq::kernels::simd_kernels()}) {
      if (k == nullptr) continue;
      const auto whole = hqq::detail::solve_zero(*k, w.data(), n_groups, g, s.data(), scale.data(), z0.data(), 3.0f, p);
      for (int len : {1, 3, 7, 19}) {
        INFO("kernels " << k->name << " sigma " << sigma << " round length " << len);
        CHECK(hqq::detail::round_schedule(20, n_groups, g * n_groups, len).size() == static_cast<std::size_t>((20 + len - 1) / len));
        const auto split = hqq::detail::solve_zero(*k, w.data(), n_groups, g, s.data(), scale.data(), z0.data(), 3.0f, p, len);
        CHECK(split.iterations == whole.iterations);
        CHECK(split.error_trace == whole.error_trace);
        CHECK(split.zero == whole.zero);
      }
    }
  }
}
