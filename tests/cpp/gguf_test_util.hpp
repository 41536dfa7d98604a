// Shared helpers of the GGUF block-type tests: matrices, error expectations, raw byte access.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "hqq/error.hpp"
#include "hqq/gguf.hpp"

namespace gguf_test {

using hqq::gguf::Type;

inline const std::vector<Type>& all_types() {
  static const std::vector<Type> types = {Type::F32,  Type::F16,  Type::BF16, Type::Q8_0, Type::Q4_0,
                                          Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q2_K, Type::Q3_K,
                                          Type::Q4_K, Type::Q5_K, Type::Q6_K};
  return types;
}
inline const std::vector<Type>& block_types() {
  static const std::vector<Type> types(all_types().begin() + 3, all_types().end());
  return types;
}

enum class Dist { Normal, StudentT, Outliers };

// rows x cols weights of scale `sigma`: Gaussian, Student-t with 3 degrees of freedom (heavy
// tails), or Gaussian with one weight in 64 multiplied by 20.
inline std::vector<float> matrix(std::size_t rows, std::size_t cols, Dist dist, float sigma, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::student_t_distribution<float> t(3.0f);
  std::uniform_int_distribution<int> pick(0, 63);
  std::vector<float> w(rows * cols);
  for (auto& x : w) {
    switch (dist) {
      case Dist::Normal: x = normal(rng) * sigma; break;
      case Dist::StudentT: x = t(rng) * sigma; break;
      case Dist::Outliers: x = normal(rng) * sigma * (pick(rng) == 0 ? 20.0f : 1.0f); break;
    }
  }
  return w;
}

inline void expect_error(const std::function<void()>& fn, hqq::ErrorCode code,
                         const std::vector<std::string>& fragments) {
  try {
    fn();
    FAIL("expected hqq::Error");
  } catch (const hqq::Error& e) {
    INFO("message: " << e.what());
    CHECK(std::string(hqq::error_code_name(e.code())) == hqq::error_code_name(code));
    for (const auto& f : fragments) CHECK_THAT(e.what(), Catch::Contains(f));
  }
}

inline uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
inline uint16_t u16_at(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
inline uint32_t u32_at(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// Bit-identical comparison of two float arrays; reports the first difference.
inline void check_same_bits(const float* a, const float* b, std::size_t n, const std::string& what) {
  for (std::size_t i = 0; i < n; ++i) {
    if (bits_of(a[i]) != bits_of(b[i])) {
      FAIL(what << ": element " << i << " differs: " << a[i] << " vs " << b[i]);
      return;
    }
  }
  SUCCEED(what);
}

}  // namespace gguf_test
