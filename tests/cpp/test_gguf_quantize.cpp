// The GGUF quantize / dequantize API: properties of every quantizer that hold without llama.cpp
// (llama.cpp itself is compared in tests/runtimes/llama-harness), statistics, and every error.
#include <limits>

#include "gguf/codec.hpp"
#include "gguf_test_util.hpp"
#include "hqq/dtype.hpp"

using namespace gguf_test;
namespace gg = hqq::gguf;

namespace {

const gg::Method kMethods[] = {gg::Method::Reference, gg::Method::Optimized};
const char* method_name(gg::Method m) { return m == gg::Method::Reference ? "reference" : "optimized"; }

gg::QuantizeResult run(Type t, const std::vector<float>& w, std::size_t rows, std::size_t cols,
                       gg::Method method, bool compare = false) {
  gg::QuantizeOptions o;
  o.method = method;
  o.compare_reference = compare;
  return gg::quantize(t, w.data(), rows, cols, o);
}

// Statistics recomputed from scratch: dequantize the bytes, accumulate in double.
hqq::ErrorStats recompute(Type t, const std::vector<uint8_t>& bytes, const std::vector<float>& w,
                          std::size_t rows, std::size_t cols) {
  const std::vector<float> r = gg::dequantize(t, bytes.data(), bytes.size(), rows, cols);
  return hqq::error_stats(w.data(), r.data(), w.size());
}

}  // namespace

TEST_CASE("every type and method: sizes, statistics of the bytes written, determinism", "[gguf]") {
  const std::size_t rows = 5, cols = 512;
  const auto w = matrix(rows, cols, Dist::StudentT, 0.02f, 1);
  for (Type t : all_types()) {
    for (gg::Method m : kMethods) {
      INFO(gg::type_name(t) << " " << method_name(m));
      const auto r = run(t, w, rows, cols, m, true);
      REQUIRE(r.bytes.size() == gg::tensor_bytes(t, rows, cols));
      const hqq::ErrorStats st = recompute(t, r.bytes, w, rows, cols);
      CHECK(r.stats.mean_abs == Approx(st.mean_abs).epsilon(1e-12));
      CHECK(r.stats.frobenius == Approx(st.frobenius).epsilon(1e-12));
      CHECK(r.stats.rel_frobenius == Approx(st.rel_frobenius).epsilon(1e-12));
      CHECK(r.stats.max_abs == st.max_abs);
      CHECK(r.stats.weight_frobenius == Approx(st.weight_frobenius).epsilon(1e-12));
      REQUIRE(r.has_reference);
      const auto ref = run(t, w, rows, cols, gg::Method::Reference);
      CHECK(r.reference.mean_abs == ref.stats.mean_abs);
      CHECK(r.reference.frobenius == ref.stats.frobenius);
      CHECK(run(t, w, rows, cols, m).bytes == r.bytes);
      if (t == Type::F32) CHECK(r.stats.max_abs == 0.0);
    }
  }
}

TEST_CASE("blocks are independent: row ranges quantized apart give the same bytes", "[gguf]") {
  const std::size_t rows = 6, cols = 768;
  const auto w = matrix(rows, cols, Dist::Outliers, 0.05f, 2);
  for (Type t : all_types()) {
    for (gg::Method m : kMethods) {
      INFO(gg::type_name(t) << " " << method_name(m));
      const auto whole = run(t, w, rows, cols, m).bytes;
      std::vector<uint8_t> parts;
      for (std::size_t first = 0; first < rows; first += 4) {
        const std::size_t n = std::min<std::size_t>(4, rows - first);
        const std::vector<float> slice(w.begin() + first * cols, w.begin() + (first + n) * cols);
        const auto b = run(t, slice, n, cols, m).bytes;
        parts.insert(parts.end(), b.begin(), b.end());
      }
      CHECK(parts == whole);
    }
  }
}

TEST_CASE("16-bit input gives the bytes of its float32 decoding", "[gguf]") {
  const std::size_t rows = 3, cols = 20000 / 256 * 256;  // more than one internal chunk
  const auto w = matrix(rows, cols, Dist::Normal, 0.03f, 3);
  for (hqq::InputDtype dt : {hqq::InputDtype::f16, hqq::InputDtype::bf16}) {
    std::vector<uint16_t> bits(w.size());
    std::vector<float> decoded(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
      bits[i] = dt == hqq::InputDtype::f16 ? hqq::f32_to_f16(w[i]) : hqq::f32_to_bf16(w[i]);
      decoded[i] = dt == hqq::InputDtype::f16 ? hqq::f16_to_f32(bits[i]) : hqq::bf16_to_f32(bits[i]);
    }
    for (Type t : all_types()) {
      INFO(gg::type_name(t));
      gg::QuantizeOptions o;
      o.compare_reference = true;
      const auto a = gg::quantize(t, bits.data(), dt, rows, cols, o);
      const auto b = gg::quantize(t, decoded.data(), rows, cols, o);
      CHECK(a.bytes == b.bytes);
      CHECK(a.stats.frobenius == b.stats.frobenius);
      CHECK(a.reference.frobenius == b.reference.frobenius);
    }
  }
}

TEST_CASE("all-zero rows reconstruct as zeros; the float types are exact where they can be", "[gguf]") {
  const std::size_t rows = 2, cols = 256;
  std::vector<float> w(rows * cols, 0.0f);
  for (std::size_t c = 0; c < cols; ++c) w[cols + c] = 0.25f * static_cast<float>(c % 7) - 0.75f;
  for (Type t : all_types()) {
    for (gg::Method m : kMethods) {
      INFO(gg::type_name(t) << " " << method_name(m));
      const auto r = run(t, w, rows, cols, m);
      const auto back = gg::dequantize(t, r.bytes.data(), r.bytes.size(), rows, cols);
      for (std::size_t c = 0; c < cols; ++c) REQUIRE(back[c] == 0.0f);
      if (t == Type::F32 || t == Type::F16 || t == Type::BF16) {
        for (std::size_t i = 0; i < w.size(); ++i) REQUIRE(back[i] == w[i]);  // quarters are exact
      }
    }
  }
}

TEST_CASE("Reference Q8_0 levels stay in -127..127 and within half a step", "[gguf]") {
  const auto w = matrix(4, 256, Dist::StudentT, 1.0f, 4);
  const auto r = run(Type::Q8_0, w, 4, 256, gg::Method::Reference);
  const auto back = gg::dequantize(Type::Q8_0, r.bytes.data(), r.bytes.size(), 4, 256);
  for (std::size_t b = 0; b < w.size() / 32; ++b) {
    const uint8_t* block = r.bytes.data() + b * 34;
    const float d = hqq::f16_to_f32(u16_at(block));
    for (int j = 0; j < 32; ++j) {
      const int q = static_cast<int8_t>(block[2 + j]);
      REQUIRE(q >= -127);
      // Half a step, plus the f16 rounding of d applied to at most 127 steps.
      CHECK(std::fabs(w[32 * b + j] - back[32 * b + j]) <= 0.5f * std::fabs(d) * 1.001f + 127 * std::fabs(d) * 0x1p-11f);
    }
  }
}

TEST_CASE("quantize errors: bad shapes, NaN/Inf, overflowing scales, null data", "[gguf][errors]") {
  using hqq::ErrorCode;
  const std::vector<float> ok(4 * 256, 0.01f);
  expect_error([&] { gg::quantize(Type::Q4_K, ok.data(), 8, 128); }, ErrorCode::InvalidArgument, {"Q4_K", "blocks of 256", "128 columns"});
  expect_error([&] { gg::quantize(Type::Q4_0, ok.data(), 0, 256); }, ErrorCode::InvalidArgument, {"[0, 256]", "no elements"});
  expect_error([&] { gg::quantize(Type::Q4_0, nullptr, 1, 256); }, ErrorCode::InvalidArgument, {"null"});
  expect_error([&] { gg::quantize(static_cast<Type>(9), ok.data(), 1, 256); }, ErrorCode::InvalidArgument, {"9"});
  const std::size_t huge = static_cast<std::size_t>(-1) / 64;
  expect_error([&] { gg::quantize(Type::Q4_0, ok.data(), huge, 256); }, ErrorCode::OutOfMemory, {"row ranges"});
  const uint16_t* bits = reinterpret_cast<const uint16_t*>(ok.data());
  expect_error([&] { gg::quantize(Type::Q4_0, bits, hqq::InputDtype::f32, 1, 256); }, ErrorCode::InvalidArgument, {"f16 or bf16"});

  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    for (Type t : all_types()) {
      INFO(gg::type_name(t));
      std::vector<float> w = ok;
      w[2 * 256 + 17] = bad;
      expect_error([&] { gg::quantize(t, w.data(), 4, 256); }, ErrorCode::InvalidValue,
                   {"row 2, column 17", "non-finite", gg::type_name(t)});
    }
  }
  // Weights whose f16 scales overflow: refused rather than written as Inf/NaN.
  for (Type t : block_types()) {
    for (gg::Method m : kMethods) {
      INFO(gg::type_name(t) << " " << method_name(m));
      std::vector<float> w = ok;
      for (int j = 0; j < 256; ++j) w[256 + j] = (j % 2 ? 1.0f : -1.0f) * 3e9f;
      gg::QuantizeOptions o;
      o.method = m;
      expect_error([&] { gg::quantize(t, w.data(), 4, 256, o); }, ErrorCode::InvalidValue,
                   {gg::type_name(t), "row 1", "float16 scales overflow"});
    }
  }
  std::vector<float> w = ok;
  w[5] = 70000.0f;
  expect_error([&] { gg::quantize(Type::F16, w.data(), 4, 256); }, ErrorCode::InvalidValue, {"70000", "row 0, column 5", "F16", "BF16"});
  CHECK(gg::quantize(Type::BF16, w.data(), 4, 256).stats.max_abs > 0);
}

TEST_CASE("dequantize errors name the expected byte count", "[gguf][errors]") {
  using hqq::ErrorCode;
  const std::vector<uint8_t> bytes(2 * 144);
  expect_error([&] { gg::dequantize(Type::Q4_K, bytes.data(), bytes.size() - 1, 1, 512); }, ErrorCode::InvalidArgument,
               {"Q4_K", "[1, 512]", "288 bytes", "287"});
  expect_error([&] { gg::dequantize(Type::Q4_K, bytes.data(), bytes.size(), 1, 500); }, ErrorCode::InvalidArgument, {"500 columns"});
  expect_error([&] { gg::dequantize(Type::Q4_K, nullptr, bytes.size(), 1, 512); }, ErrorCode::InvalidArgument, {"null"});
  CHECK(gg::dequantize(Type::Q4_K, bytes.data(), bytes.size(), 1, 512) == std::vector<float>(512, 0.0f));
}
