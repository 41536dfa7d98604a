// Every error path of the public API: the error code and a message that names the problem.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "hqq/hqq.hpp"

namespace {

void expect_error(const std::function<void()>& fn, hqq::ErrorCode code,
                  const std::vector<std::string>& fragments) {
  try {
    fn();
    FAIL("expected hqq::Error");
  } catch (const hqq::Error& e) {
    INFO("message: " << e.what());
    CHECK(hqq::error_code_name(e.code()) == std::string(hqq::error_code_name(code)));
    for (const auto& f : fragments) CHECK_THAT(e.what(), Catch::Contains(f));
  }
}

const std::vector<float> kW(64 * 64, 0.01f);

void quantize_with(const hqq::Config& cfg, const hqq::Shape& shape = {64, 64}) {
  hqq::quantize(kW.data(), shape, cfg);
}

}  // namespace

TEST_CASE("configuration errors name the option and the valid range", "[errors]") {
  using hqq::ErrorCode;
  expect_error([] { hqq::nbits_from_number(7); }, ErrorCode::InvalidArgument, {"nbits = 7", "8, 6, 5, 4, 3, 2, 1.58, 1"});
  expect_error([] { hqq::nbits_from_number(1.5); }, ErrorCode::InvalidArgument, {"nbits = 1.5"});
  hqq::Config c;
  c.group_size = 0;
  expect_error([&] { quantize_with(c); }, ErrorCode::InvalidArgument, {"group_size = 0"});
  c = {};
  c.group_size = 48;
  expect_error([&] { quantize_with(c); }, ErrorCode::InvalidArgument, {"group_size 48 does not divide", "[64, 64]"});
  c = {};
  c.axis = 2;
  expect_error([&] { quantize_with(c); }, ErrorCode::InvalidArgument, {"axis = 2"});
  for (double p : {0.0, -0.5, 1.5, std::nan("")}) {
    c = {};
    c.solver.lp_norm = p;
    expect_error([&] { quantize_with(c); }, ErrorCode::InvalidArgument, {"lp_norm", "0 < p <= 1"});
  }
  for (double b : {0.0, -1.0, std::numeric_limits<double>::infinity()}) {
    c = {};
    c.solver.beta = b;
    expect_error([&] { quantize_with(c); }, ErrorCode::InvalidArgument, {"beta", "> 0"});
  }
  c = {};
  c.solver.kappa = 0.5;
  expect_error([&] { quantize_with(c); }, ErrorCode::InvalidArgument, {"kappa = 0.5", ">= 1"});
  for (int it : {-1, hqq::kMaxIters + 1}) {
    c = {};
    c.solver.iters = it;
    expect_error([&] { quantize_with(c); }, ErrorCode::InvalidArgument, {"iters", "0..1000"});
  }
}

TEST_CASE("shape errors: empty, zero-sized, overflowing, unpackable", "[errors]") {
  using hqq::ErrorCode;
  const hqq::Config c;
  expect_error([&] { quantize_with(c, {}); }, ErrorCode::InvalidArgument, {"0-d"});
  expect_error([&] { quantize_with(c, {0, 64}); }, ErrorCode::InvalidArgument, {"[0, 64]", "no elements"});
  const std::size_t huge = std::size_t(1) << (sizeof(std::size_t) * 4);
  expect_error([&] { quantize_with(c, {huge, huge, 4}); }, ErrorCode::OutOfMemory, {"more elements than"});
  expect_error([&] { quantize_with(c, {huge / 4, huge, 1}); }, ErrorCode::OutOfMemory, {"too large"});
  // 3 groups of 64 cannot be paired by 4-bit packing.
  expect_error([&] { quantize_with(c, {3, 64}); }, ErrorCode::InvalidArgument,
               {"4bit_u8", "not a multiple of 2", "shape [3, 64]", "group_size 64"});
  hqq::Config two;
  two.nbits = hqq::Bits::b2;
  expect_error([&] { quantize_with(two, {2, 64}); }, ErrorCode::InvalidArgument, {"2bit_u8", "multiple of 4"});
  hqq::Config one;
  one.nbits = hqq::Bits::b1;
  expect_error([&] { quantize_with(one, {4, 64}); }, ErrorCode::InvalidArgument, {"1bit_u8", "multiple of 8"});
  hqq::Config three;
  three.nbits = hqq::Bits::b3;
  CHECK_NOTHROW(quantize_with(three, {3, 64}));  // 3-bit pads rows: any count works
}

TEST_CASE("value errors: NaN, Inf, overflowing range, null pointers", "[errors]") {
  using hqq::ErrorCode;
  std::vector<float> w(kW);
  w[3 * 64 + 5] = std::nanf("");
  w[10] = std::numeric_limits<float>::infinity();
  expect_error([&] { hqq::quantize(w.data(), {64, 64}, hqq::Config{}); }, ErrorCode::InvalidValue,
               {"2 non-finite", "flat index 10", "row 0, column 10"});
  std::vector<float> big(kW);
  big[0] = 3e38f;
  big[1] = -3e38f;
  expect_error([&] { hqq::quantize(big.data(), {64, 64}, hqq::Config{}); }, ErrorCode::InvalidValue,
               {"group 0", "overflows float32"});
  expect_error([] { hqq::quantize(static_cast<const float*>(nullptr), {64, 64}, hqq::Config{}); },
               ErrorCode::InvalidArgument, {"null"});
  std::vector<uint16_t> h(64 * 64, 0x3c00);
  h[7] = 0x7e00;  // float16 NaN
  expect_error([&] { hqq::quantize(h.data(), hqq::InputDtype::f16, {64, 64}, hqq::Config{}); },
               ErrorCode::InvalidValue, {"NaN or Inf", "flat index 7"});
  expect_error([&] { hqq::quantize(h.data(), hqq::InputDtype::f32, {64, 64}, hqq::Config{}); },
               ErrorCode::InvalidArgument, {"f16 or bf16"});
}

TEST_CASE("dequantize and unpack reject inconsistent tensors", "[errors]") {
  using hqq::ErrorCode;
  auto q = hqq::quantize(kW.data(), {64, 64}, hqq::Config{});
  std::vector<float> out(10);
  expect_error([&] { hqq::dequantize_into(q, out.data(), out.size()); }, ErrorCode::InvalidArgument,
               {"holds 10 values", "4096"});
  auto broken = q;
  broken.packed.pop_back();
  expect_error([&] { hqq::dequantize(broken); }, ErrorCode::InvalidArgument, {"4bit_u8", "must hold 2048 bytes"});
  broken = q;
  broken.scale.pop_back();
  expect_error([&] { hqq::dequantize(broken); }, ErrorCode::InvalidArgument, {"scale/zero hold 63/64"});
}

TEST_CASE("scale/zero that overflow their storage dtype are refused, naming the dtype and the fix", "[errors][storage]") {
  using hqq::ErrorCode;
  // Weights of std 3e5: a 4-bit scale of ~1.5e5 is beyond float16's 65504 (issue 9, finding 4).
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 3e5f);
  std::vector<float> w(64 * 64);
  for (auto& x : w) x = dist(rng);
  hqq::Config c;
  c.scale_dtype = hqq::StorageDtype::f16;
  expect_error([&] { hqq::quantize(w.data(), {64, 64}, c); }, ErrorCode::InvalidValue,
               {"scale of group", "overflows float16", "65504", "bfloat16 or float32"});
  c.scale_dtype = hqq::StorageDtype::bf16;
  const auto q = hqq::quantize(w.data(), {64, 64}, c);
  for (float v : q.scale) CHECK(std::isfinite(v));
  // A group far from zero relative to its range: its zero (level units) overflows float16.
  std::vector<float> off(64 * 64, 1e6f);
  for (std::size_t i = 0; i < off.size(); ++i) off[i] += static_cast<float>(i % 3) * 0.5f;
  c.scale_dtype = hqq::StorageDtype::f16;
  c.optimize = false;
  expect_error([&] { hqq::quantize(off.data(), {64, 64}, c); }, ErrorCode::InvalidValue, {"zero of group 0", "overflows float16"});
}

TEST_CASE("dequantize refuses NaN or Inf scale and zero", "[errors][storage]") {
  using hqq::ErrorCode;
  std::vector<float> w(64 * 64);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i));
  auto q = hqq::quantize(w.data(), {64, 64}, hqq::Config{});
  auto nan_scale = q;
  nan_scale.scale[5] = std::nanf("");
  expect_error([&] { hqq::dequantize(nan_scale); }, ErrorCode::InvalidValue, {"scale holds 1 non-finite value", "group 5", "corrupt"});
  auto inf_zero = q;
  inf_zero.zero[0] = INFINITY;
  inf_zero.zero[9] = -INFINITY;
  expect_error([&] { hqq::dequantize(inf_zero); }, ErrorCode::InvalidValue, {"zero holds 2 non-finite value", "group 0"});
}
