// Unit tests of grouping, the initial scale/zero rules and the solver options.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#if defined(__linux__)
#include <sys/resource.h>
#endif

#include "hqq/hqq.hpp"
#include "scratch.hpp"

namespace {

std::vector<float> normal(std::size_t n, float sigma, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

hqq::Config rtn(hqq::Bits bits, std::size_t g, int axis) {
  hqq::Config c;
  c.nbits = bits;
  c.group_size = g;
  c.axis = axis;
  c.optimize = false;
  return c;
}

// Independent statement of HQQ-SPEC section 2 for one group.
void expected_params(const std::vector<float>& group, int max_q, float* scale, float* zero) {
  float mn = group[0], mx = group[0];
  for (float v : group) mn = std::min(mn, v), mx = std::max(mx, v);
  const float d = mx - mn;
  float s = (1.0f / d) * static_cast<float>(max_q);
  if (std::fabs(d) <= 1e-4f) s = 1.0f;
  if (s > 2e4f) s = 2e4f;
  *scale = 1.0f / s;
  *zero = (-mn) * s;
}

}  // namespace

TEST_CASE("axis 1: a group is group_size consecutive values", "[quantize][grouping]") {
  const auto w = normal(8 * 16, 0.02f, 1);
  const auto q = hqq::quantize(w.data(), {8, 16}, rtn(hqq::Bits::b4, 8, 1));
  REQUIRE(q.n_groups() == 16);
  CHECK(q.grouped_rows == 16);
  CHECK(q.grouped_cols == 8);
  for (std::size_t grp = 0; grp < 16; ++grp) {
    std::vector<float> group(w.begin() + grp * 8, w.begin() + grp * 8 + 8);
    float scale, zero;
    expected_params(group, 15, &scale, &zero);
    CHECK(q.scale[grp] == scale);
    CHECK(q.zero[grp] == zero);
  }
}

TEST_CASE("axis 0: a group is a column of the [g, N/g] view (strided rows)", "[quantize][grouping]") {
  const std::size_t g = 8, rows = 8, cols = 16, n = rows * cols, n_groups = n / g;
  const auto w = normal(n, 0.02f, 2);
  const auto q = hqq::quantize(w.data(), {rows, cols}, rtn(hqq::Bits::b4, g, 0));
  REQUIRE(q.n_groups() == n_groups);
  CHECK(q.grouped_rows == g);
  CHECK(q.grouped_cols == n_groups);
  const auto levels = hqq::unpack_levels(q);
  for (std::size_t c = 0; c < n_groups; ++c) {
    std::vector<float> group;
    for (std::size_t k = 0; k < g; ++k) group.push_back(w[c + k * n_groups]);
    float scale, zero;
    expected_params(group, 15, &scale, &zero);
    CHECK(q.scale[c] == scale);
    CHECK(q.zero[c] == zero);
    for (std::size_t k = 0; k < g; ++k) {
      const float s = 1.0f / scale;
      const float expect = std::min(15.0f, std::max(0.0f, std::nearbyint(group[k] * s + zero)));
      CHECK(levels[k * n_groups + c] == static_cast<uint8_t>(expect));
    }
  }
  // Dequantization puts every value back at its original position.
  const auto recon = hqq::dequantize(q);
  for (std::size_t i = 0; i < n; ++i) CHECK(std::fabs(recon[i] - w[i]) <= 0.5f * q.scale[i % n_groups] * 1.0001f);
}

TEST_CASE("constant and all-zero groups", "[quantize]") {
  std::vector<float> w(4 * 8, 0.0f);
  for (int k = 0; k < 8; ++k) w[8 + k] = 0.5f;     // constant group
  for (int k = 0; k < 8; ++k) w[16 + k] = -3.25f;  // constant negative group
  for (int k = 0; k < 8; ++k) w[24 + k] = k * 1e-6f;  // range below 1e-4
  for (bool optimize : {false, true}) {
    auto cfg = rtn(hqq::Bits::b4, 8, 1);
    cfg.optimize = optimize;
    const auto q = hqq::quantize(w.data(), {4, 8}, cfg);
    INFO("optimize " << optimize);
    CHECK(q.scale[0] == 1.0f);  // |max - min| <= 1e-4 -> s = 1
    CHECK(q.scale[1] == 1.0f);
    CHECK(q.scale[3] == 1.0f);
    if (!optimize) {
      CHECK(q.zero[0] == 0.0f);
      CHECK(std::signbit(q.zero[0]));  // -0.0 * 1 for an all-zero group
      CHECK(q.zero[1] == -0.5f);
      CHECK(q.zero[2] == 3.25f);
    }
    const auto recon = hqq::dequantize(q);
    for (int i = 0; i < 24; ++i) CHECK(recon[i] == w[i]);  // constant groups are exact
    for (float v : hqq::unpack_levels(q)) CHECK(v <= 15);
  }
}

TEST_CASE("the inverse scale is clamped to 2e4", "[quantize]") {
  std::vector<float> w(32);  // two groups (4-bit packing pairs grouped rows)
  for (int k = 0; k < 32; ++k) w[k] = 1.0f + (k % 16) * (2e-4f / 15);  // range 2e-4: 15/2e-4 = 75000
  const auto q = hqq::quantize(w.data(), {32}, rtn(hqq::Bits::b4, 16, 1));
  CHECK(q.scale[0] == 1.0f / 2e4f);
  CHECK(q.zero[0] == -1.0f * 2e4f);
}

TEST_CASE("every bit width quantizes, packs and dequantizes consistently", "[quantize]") {
  const auto w = normal(64 * 128, 0.02f, 3);
  const std::pair<hqq::Bits, const char*> widths[] = {
      {hqq::Bits::b8, "8bit_u8"},   {hqq::Bits::b6, "8bit_u8"}, {hqq::Bits::b5, "8bit_u8"},
      {hqq::Bits::b4, "4bit_u8"},   {hqq::Bits::b3, "3bit_32"}, {hqq::Bits::b2, "2bit_u8"},
      {hqq::Bits::b1_58, "2bit_u8"}, {hqq::Bits::b1, "1bit_u8"}};
  double previous_error = 0;
  for (const auto& [bits, packing] : widths) {
    for (int axis : {1, 0}) {
      for (bool optimize : {false, true}) {
        auto cfg = rtn(bits, 64, axis);
        cfg.optimize = optimize;
        const auto q = hqq::quantize(w.data(), {64, 128}, cfg);
        INFO("nbits " << hqq::nbits_name(bits) << " axis " << axis << " optimize " << optimize);
        CHECK(std::string(hqq::packing_name(q.packing)) == packing);
        const int max_q = hqq::max_level(bits);
        const auto levels = hqq::unpack_levels(q);
        int top = 0;
        for (auto v : levels) top = std::max<int>(top, v);
        CHECK(top <= max_q);
        CHECK(top == max_q);  // a normal sample reaches the top level in some group
        const auto recon = hqq::dequantize(q);
        const std::size_t n_groups = q.n_groups();
        for (std::size_t i = 0; i < w.size(); i += 97) {
          const std::size_t grp = axis == 1 ? i / 64 : i % n_groups;
          CHECK(recon[i] == (static_cast<float>(levels[i]) - q.zero[grp]) * q.scale[grp]);
        }
        const auto st = hqq::error_stats(w.data(), recon.data(), w.size());
        CHECK(st.mean_abs == Approx(q.stats.mean_abs).epsilon(1e-6));  // float32 vs double differences
        double w2 = 0;
        for (float x : w) w2 += static_cast<double>(x) * x;
        CHECK(q.stats.weight_frobenius == Approx(std::sqrt(w2)).epsilon(1e-6));
        CHECK(st.weight_frobenius == Approx(std::sqrt(w2)).epsilon(1e-9));
        if (axis == 1 && !optimize) {
          CHECK(q.stats.mean_abs > previous_error);  // fewer bits, larger error
          previous_error = q.stats.mean_abs;
        }
        if (optimize) CHECK(q.iterations >= 1);
      }
    }
  }
  CHECK(hqq::max_level(hqq::Bits::b1_58) == 2);
}

TEST_CASE("optimize lowers the error of round-to-nearest", "[quantize][solver]") {
  const auto w = normal(128 * 256, 0.02f, 4);
  for (auto bits : {hqq::Bits::b4, hqq::Bits::b3, hqq::Bits::b2}) {
    auto cfg = rtn(bits, 64, 1);
    const auto plain = hqq::quantize(w.data(), {128, 256}, cfg);
    cfg.optimize = true;
    const auto opt = hqq::quantize(w.data(), {128, 256}, cfg);
    CHECK(opt.stats.mean_abs < plain.stats.mean_abs);
    REQUIRE(opt.error_trace.size() == static_cast<std::size_t>(opt.iterations));
    // The trace improves until the last entry (the one that triggered the stop, if any).
    for (std::size_t i = 1; i + 1 < opt.error_trace.size(); ++i) CHECK(opt.error_trace[i] < opt.error_trace[i - 1]);
  }
}

TEST_CASE("round_zero rounds the initial zero to an integer", "[quantize]") {
  const auto w = normal(32 * 64, 0.02f, 5);
  auto cfg = rtn(hqq::Bits::b4, 64, 1);
  cfg.round_zero = true;
  const auto q = hqq::quantize(w.data(), {32, 64}, cfg);
  for (float z : q.zero) CHECK(z == std::nearbyint(z));
}

TEST_CASE("solver options: iters 0 is RTN, kappa 1 and lp_norm 1 run", "[quantize][solver]") {
  auto w = normal(64 * 64, 1.0f, 6);  // unit scale: the shrink term is active
  hqq::Config cfg;
  cfg.solver.iters = 0;
  const auto q0 = hqq::quantize(w.data(), {64, 64}, cfg);
  const auto r = hqq::quantize(w.data(), {64, 64}, rtn(hqq::Bits::b4, 64, 1));
  CHECK(q0.packed == r.packed);
  CHECK(q0.zero == r.zero);
  CHECK(q0.iterations == 0);

  hqq::Config latest, pypi;
  pypi.solver.kappa = 1.0;
  const auto a = hqq::quantize(w.data(), {64, 64}, latest);
  const auto b = hqq::quantize(w.data(), {64, 64}, pypi);
  CHECK(a.zero != b.zero);  // beta grows in one and not the other

  hqq::Config l1;
  l1.solver.lp_norm = 1.0;
  const auto c = hqq::quantize(w.data(), {64, 64}, l1);
  CHECK(c.stats.mean_abs < r.stats.mean_abs * 1.05);
  CHECK(c.iterations >= 1);
}

TEST_CASE("float16 and bfloat16 input give the result of their float32 decoding", "[quantize][dtype]") {
  const auto w = normal(32 * 64, 0.02f, 7);
  std::vector<uint16_t> h(w.size()), b(w.size());
  hqq::encode_f16(w.data(), h.data(), w.size());
  hqq::encode_bf16(w.data(), b.data(), w.size());
  std::vector<float> hf(w.size()), bf(w.size());
  hqq::decode_f16(h.data(), hf.data(), w.size());
  hqq::decode_bf16(b.data(), bf.data(), w.size());
  const hqq::Config cfg;
  const auto qh = hqq::quantize(h.data(), hqq::InputDtype::f16, {32, 64}, cfg);
  const auto qb = hqq::quantize(b.data(), hqq::InputDtype::bf16, {32, 64}, cfg);
  const auto rh = hqq::quantize(hf.data(), {32, 64}, cfg);
  const auto rb = hqq::quantize(bf.data(), {32, 64}, cfg);
  CHECK(qh.packed == rh.packed);
  CHECK(qh.zero == rh.zero);
  CHECK(qb.packed == rb.packed);
  CHECK(qb.scale == rb.scale);
}

TEST_CASE("tensors of any rank quantize on their flat element order", "[quantize][grouping]") {
  const auto w = normal(4 * 8 * 16, 0.02f, 8);
  const auto a = hqq::quantize(w.data(), {4, 8, 16}, rtn(hqq::Bits::b4, 32, 1));
  const auto b = hqq::quantize(w.data(), {512}, rtn(hqq::Bits::b4, 32, 1));
  CHECK(a.packed == b.packed);
  CHECK(a.shape == hqq::Shape{4, 8, 16});
}

TEST_CASE("native builds reuse the working buffers of the previous call on this thread", "[quantize][memory]") {
  // Fresh buffers per call cost ~25,000 page faults for a 4096x4096 2-bit g16 tensor natively
  // (glibc returns large blocks to the kernel): see cpp/src/scratch.hpp.
  const auto w = normal(256 * 1024, 0.02f, 3);
  for (int axis : {1, 0}) {
    hqq::Config c;
    c.nbits = hqq::Bits::b2;
    c.group_size = 16;
    c.axis = axis;
    hqq::detail::release_thread_scratch();
    const auto first = hqq::quantize(w.data(), {256, 1024}, c);
    const std::size_t after_first = hqq::detail::scratch_allocations();
    const auto second = hqq::quantize(w.data(), {256, 1024}, c);
    CHECK(hqq::detail::scratch_allocations() == after_first);
    // Smaller tensors fit the kept buffers too.
    hqq::quantize(w.data(), {128, 1024}, c);
    CHECK(hqq::detail::scratch_allocations() == after_first);
    // Reuse leaves no trace in the results (buffers are fully rewritten).
    CHECK(second.packed == first.packed);
    CHECK(second.zero == first.zero);
    CHECK(second.stats.mean_abs == first.stats.mean_abs);
  }
  hqq::detail::release_thread_scratch();
  const std::size_t before = hqq::detail::scratch_allocations();
  hqq::Config c;
  hqq::quantize(w.data(), {256, 1024}, c);
  CHECK(hqq::detail::scratch_allocations() > before);  // released: allocated again
}

#if defined(__linux__) && !defined(__SANITIZE_ADDRESS__)
namespace {
long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}
}  // namespace
TEST_CASE("a repeated native quantize of a large tensor maps few fresh pages", "[quantize][memory]") {
  // The bench's 2-bit g16 case: before the working buffers were kept, every call faulted in
  // ~26,000 fresh pages (more than the 16,384 pages of the weights themselves).
  const auto w = normal(4096 * 4096, 0.02f, 5);
  hqq::Config c;
  c.nbits = hqq::Bits::b2;
  c.group_size = 16;
  hqq::quantize(w.data(), {4096, 4096}, c);
  const long before = minor_faults();
  hqq::quantize(w.data(), {4096, 4096}, c);
  const long faults = minor_faults() - before;
  INFO("minor page faults of the second call: " << faults);
  CHECK(faults < 8192);  // the outputs (packed, scale, zero: 12 MiB) are fresh; nothing else
}
#endif

TEST_CASE("stored in float16/bfloat16, scale and zero are rounded and the stats describe them", "[quantize][storage]") {
  // Issue 9, finding 5: the stats used the float32 scale/zero, not the file's.
  const auto w = normal(128 * 256, 0.02f, 21);
  for (auto dtype : {hqq::StorageDtype::f16, hqq::StorageDtype::bf16}) {
    for (int nbits : {8, 4}) {
      hqq::Config c;
      c.nbits = hqq::nbits_from_number(nbits);
      c.scale_dtype = dtype;
      const auto q = hqq::quantize(w.data(), {128, 256}, c);
      hqq::Config f = c;
      f.scale_dtype = hqq::StorageDtype::f32;
      const auto q32 = hqq::quantize(w.data(), {128, 256}, f);
      CHECK(q.packed == q32.packed);  // the levels are the reference's (float32 zero)
      for (std::size_t i = 0; i < q.scale.size(); ++i) {
        const float s = dtype == hqq::StorageDtype::f16 ? hqq::f16_to_f32(hqq::f32_to_f16(q32.scale[i])) : hqq::bf16_to_f32(hqq::f32_to_bf16(q32.scale[i]));
        const float z = dtype == hqq::StorageDtype::f16 ? hqq::f16_to_f32(hqq::f32_to_f16(q32.zero[i])) : hqq::bf16_to_f32(hqq::f32_to_bf16(q32.zero[i]));
        REQUIRE(q.scale[i] == s);
        REQUIRE(q.zero[i] == z);
      }
      // The stats are those of what dequantize() of the stored values gives.
      const auto restored = hqq::dequantize(q);
      const auto st = hqq::error_stats(w.data(), restored.data(), w.size());
      CHECK(q.stats.mean_abs == Approx(st.mean_abs).epsilon(1e-6));
      CHECK(q.stats.frobenius == Approx(st.frobenius).epsilon(1e-6));
      CHECK(q.stats.max_abs == Approx(st.max_abs).epsilon(1e-6));
      if (nbits == 8 && dtype == hqq::StorageDtype::bf16) CHECK(q.stats.mean_abs > q32.stats.mean_abs * 1.1);  // bf16 costs 8-bit a lot
    }
  }
}
