// The SIMD kernels of the Optimized legacy quantizers against their scalar ground truth, and the
// f16 rounding the searches use against the library's f16 conversion.
#include <limits>

#include "gguf/lanes.hpp"
#include "gguf/legacy_kernels.hpp"
#include "gguf/legacy_search.hpp"
#include "gguf_test_util.hpp"
#include "hqq/dtype.hpp"

using namespace gguf_test;
namespace opt = hqq::gguf::opt;

namespace {

// Named tolerances. The searches are bit-identical by construction (the same float32 operations
// on every lane, no sums across lanes). The exact evaluations add the same double terms in a
// different order: relative difference at most a few ulps of the sum.
constexpr double kExactSumRelTol = 1e-13;

// Blocks of every kind the searches meet: Gaussian, heavy-tailed, outliers, tiny (f16 subnormal
// scales), zero and constant blocks, values on a grid (ties).
std::vector<float> test_blocks(std::size_t n_blocks, unsigned seed) {
  std::vector<float> w = matrix(1, n_blocks * 32, Dist::StudentT, 0.02f, seed);
  std::mt19937 rng(seed);
  for (std::size_t b = 0; b < n_blocks; ++b) {
    float* x = w.data() + 32 * b;
    switch (b % 8) {
      case 1: for (int j = 0; j < 32; ++j) x[j] *= 1e-6f; break;
      case 2: for (int j = 0; j < 32; ++j) x[j] = 0.0f; break;
      case 3: for (int j = 0; j < 32; ++j) x[j] = 0.125f; break;
      case 4: for (int j = 0; j < 32; ++j) x[j] = std::round(x[j] * 200.0f) / 100.0f; break;
      case 5: x[rng() % 32] *= 50.0f; break;
      case 6: for (int j = 0; j < 32; ++j) x[j] = std::fabs(x[j]) + 3.0f; break;  // far from zero
      default: break;
    }
  }
  return w;
}

// Reference-like error sums to search against (the searches only need plausible values).
void reference_sums(const std::vector<float>& w, std::size_t n_blocks, std::vector<float>& ra, std::vector<float>& rs) {
  for (std::size_t b = 0; b < n_blocks; ++b) {
    double a = 0, s = 0;
    for (int j = 0; j < 32; ++j) a += std::fabs(w[32 * b + j]) * 0.05, s += w[32 * b + j] * w[32 * b + j] * 0.003;
    ra.push_back(b % 8 == 2 ? 0.0f : static_cast<float>(a));
    rs.push_back(static_cast<float>(s));
  }
}

bool same_bits(float a, float b) { return bits_of(a) == bits_of(b); }

}  // namespace

TEST_CASE("round16 is f16_to_f32(f32_to_f16(x)) for every kind of float", "[gguf][kernels]") {
  using S = opt::LaneSearch<hqq::gguf::lanes::Lane1>;
  std::mt19937 rng(5);
  std::vector<float> values;
  for (uint32_t h = 0; h < 0x7C00u; ++h) {  // every finite f16, its neighbourhood and midpoints
    const float f = hqq::f16_to_f32(static_cast<uint16_t>(h));
    values.push_back(f);
    values.push_back(std::nextafter(f, 1e9f));
    values.push_back(std::nextafter(f, -1e9f));
    if (h + 1 < 0x7C00u) values.push_back(0.5f * (f + hqq::f16_to_f32(static_cast<uint16_t>(h + 1))));
  }
  for (int i = 0; i < 200000; ++i) {  // random bit patterns of finite floats
    float f;
    const uint32_t u = static_cast<uint32_t>(rng());
    std::memcpy(&f, &u, 4);
    if (std::isfinite(f)) values.push_back(f);
  }
  for (float v : {65519.0f, 65520.0f, 1e10f, 3e38f, 0x1p-25f, 0x1.0p-24f, 0x1.8p-24f})
    values.push_back(v), values.push_back(-v);
  std::size_t bad = 0;
  for (float v : values) {
    const float expected = hqq::f16_to_f32(hqq::f32_to_f16(v));
    if (!same_bits(S::round16(v), expected) && bad++ < 5) FAIL_CHECK(v << " rounds to " << S::round16(v) << ", expected " << expected);
  }
  CHECK(bad == 0);
}

TEST_CASE("f16 neighbours are the adjacent f16 values", "[gguf][kernels]") {
  using S = opt::LaneSearch<hqq::gguf::lanes::Lane1>;
  for (uint32_t h = 0; h < 0x7C00u; ++h) {
    for (uint32_t sign : {0u, 0x8000u}) {
      const auto bits = static_cast<uint16_t>(h | sign);
      float up, down;
      S::neighbours(hqq::f16_to_f32(bits), &up, &down);
      const uint16_t up_bits = h < 0x7BFFu ? static_cast<uint16_t>((h + 1) | sign) : bits;
      REQUIRE(same_bits(up, hqq::f16_to_f32(up_bits)));
      const uint16_t down_bits = h == 0 ? static_cast<uint16_t>(0x0001 | (sign ^ 0x8000u)) : static_cast<uint16_t>((h - 1) | sign);
      REQUIRE(same_bits(down, hqq::f16_to_f32(down_bits)));
    }
  }
}

TEST_CASE("SIMD legacy kernels agree with the scalar ones", "[gguf][kernels]") {
  const opt::LegacyKernels* simd = opt::simd_legacy_kernels();
#if defined(HQQ_EXPECT_SIMD)
  REQUIRE(simd != nullptr);
#endif
  if (simd == nullptr) return;
  const opt::LegacyKernels& scalar = opt::scalar_legacy_kernels();
  REQUIRE(scalar.lanes == 1);
  const std::size_t n_blocks = 64 * simd->lanes;
  const std::vector<float> w = test_blocks(n_blocks, 9);
  std::vector<float> ra, rs;
  reference_sums(w, n_blocks, ra, rs);

  SECTION("searches: bit-identical per block") {
    std::vector<float> scale(n_blocks), zero(n_blocks);
    for (std::size_t b = 0; b < n_blocks; ++b) {
      float mn = w[32 * b], mx = mn;
      for (int j = 0; j < 32; ++j) mn = std::min(mn, w[32 * b + j]), mx = std::max(mx, w[32 * b + j]);
      scale[b] = mx > mn ? (mx - mn) / 15.0f : 0.0f;
      zero[b] = mx > mn ? -mn / scale[b] + 0.3f : 0.0f;
    }
    for (int c : {8, 16, 128}) {
      std::vector<float> d1(n_blocks), d4(n_blocks);
      std::unique_ptr<bool[]> f1(new bool[n_blocks]), f4(new bool[n_blocks]);
      for (std::size_t b = 0; b < n_blocks; ++b) scalar.search_symmetric(&w[32 * b], c, &ra[b], &rs[b], &d1[b], &f1[b]);
      for (std::size_t b = 0; b < n_blocks; b += simd->lanes) simd->search_symmetric(&w[32 * b], c, &ra[b], &rs[b], &d4[b], &f4[b]);
      for (std::size_t b = 0; b < n_blocks; ++b) {
        INFO("symmetric c = " << c << ", block " << b);
        REQUIRE(f1[b] == f4[b]);
        if (f1[b]) REQUIRE(same_bits(d1[b], d4[b]));
      }
    }
    for (float top : {15.0f, 31.0f}) {
      std::vector<float> d1(n_blocks), d4(n_blocks), m1(n_blocks), m4(n_blocks);
      std::unique_ptr<bool[]> f1(new bool[n_blocks]), f4(new bool[n_blocks]);
      for (std::size_t b = 0; b < n_blocks; ++b)
        scalar.search_affine(&w[32 * b], top, &scale[b], &zero[b], &ra[b], &rs[b], &d1[b], &m1[b], &f1[b]);
      for (std::size_t b = 0; b < n_blocks; b += simd->lanes)
        simd->search_affine(&w[32 * b], top, &scale[b], &zero[b], &ra[b], &rs[b], &d4[b], &m4[b], &f4[b]);
      std::size_t found = 0;
      for (std::size_t b = 0; b < n_blocks; ++b) {
        INFO("affine top = " << top << ", block " << b);
        REQUIRE(f1[b] == f4[b]);
        if (!f1[b]) continue;
        ++found;
        REQUIRE(same_bits(d1[b], d4[b]));
        REQUIRE(same_bits(m1[b], m4[b]));
      }
      CHECK(found > n_blocks / 8);  // the comparison is not vacuous
    }
  }

  SECTION("exact evaluations: the same levels, sums within kExactSumRelTol") {
    std::mt19937 rng(3);
    for (std::size_t b = 0; b < n_blocks; ++b) {
      const float* x = &w[32 * b];
      const float d = hqq::f16_to_f32(hqq::f32_to_f16(0.003f * static_cast<float>(1 + rng() % 7)));
      const float m = hqq::f16_to_f32(hqq::f32_to_f16(-0.04f));
      uint8_t q1[32], q4[32];
      const opt::BlockErrors a1 = scalar.exact_affine(x, d, m, 15.0f, q1), a4 = simd->exact_affine(x, d, m, 15.0f, q4);
      REQUIRE(std::memcmp(q1, q4, 32) == 0);
      CHECK(a4.abs == Approx(a1.abs).epsilon(kExactSumRelTol));
      CHECK(a4.sq == Approx(a1.sq).epsilon(kExactSumRelTol));
      int8_t v1[32], v4[32];
      const opt::BlockErrors s1 = scalar.exact_symmetric(x, d, -8.0f, 7.0f, v1), s4 = simd->exact_symmetric(x, d, -8.0f, 7.0f, v4);
      REQUIRE(std::memcmp(v1, v4, 32) == 0);
      CHECK(s4.abs == Approx(s1.abs).epsilon(kExactSumRelTol));
      CHECK(s4.sq == Approx(s1.sq).epsilon(kExactSumRelTol));
      const opt::BlockErrors e1 = scalar.block_errors(x, x + (b + 1 < n_blocks ? 32 : -32));
      const opt::BlockErrors e4 = simd->block_errors(x, x + (b + 1 < n_blocks ? 32 : -32));
      CHECK(e4.abs == Approx(e1.abs).epsilon(kExactSumRelTol));
      CHECK(e4.sq == Approx(e1.sq).epsilon(kExactSumRelTol));
    }
  }
}
