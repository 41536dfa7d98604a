// Packing round trips for every format and awkward shapes, the reference bit layout on small
// hand-checked examples, and rejection of shapes a format cannot hold.
#include <catch2/catch.hpp>
#include <random>

#include "hqq/error.hpp"
#include "hqq/pack.hpp"

using hqq::Packing;

namespace {
const Packing kAll[] = {Packing::u8_8bit, Packing::u8_4bit, Packing::i32_3bit, Packing::u8_2bit,
                        Packing::u8_1bit};
unsigned max_of(Packing p) {
  switch (p) {
    case Packing::u8_8bit: return 255;
    case Packing::u8_4bit: return 15;
    case Packing::i32_3bit: return 7;
    case Packing::u8_2bit: return 3;
    case Packing::u8_1bit: return 1;
  }
  return 0;
}
unsigned row_multiple(Packing p) {
  switch (p) {
    case Packing::u8_4bit: return 2;
    case Packing::u8_2bit: return 4;
    case Packing::u8_1bit: return 8;
    default: return 1;
  }
}
}  // namespace

TEST_CASE("pack/unpack round-trips random levels for every format and awkward shapes", "[pack]") {
  std::mt19937 rng(42);
  for (Packing p : kAll) {
    for (std::size_t base_rows : {1u, 3u, 7u, 10u, 11u, 19u, 21u, 64u, 99u}) {
      for (std::size_t cols : {1u, 3u, 17u, 64u}) {
        const std::size_t rows = base_rows * row_multiple(p);
        INFO(hqq::packing_name(p) << " rows " << rows << " cols " << cols);
        std::vector<uint8_t> levels(rows * cols);
        std::uniform_int_distribution<unsigned> dist(0, max_of(p));
        for (auto& v : levels) v = static_cast<uint8_t>(dist(rng));
        const auto packed = hqq::pack(p, levels.data(), rows, cols);
        const auto shape = hqq::packed_shape(p, rows, cols);
        REQUIRE(packed.size() == shape.bytes);
        CHECK(hqq::unpack(p, packed.data(), packed.size(), rows, cols) == levels);
      }
    }
  }
}

TEST_CASE("packing follows the reference bit layout", "[pack]") {
  SECTION("4bit_u8: row i with row i + R/2, high nibble first") {
    const uint8_t levels[] = {1, 2, 3, 4, 5, 6, 7, 8};  // [4, 2]
    const auto p = hqq::pack(Packing::u8_4bit, levels, 4, 2);
    CHECK(p == std::vector<uint8_t>{0x15, 0x26, 0x37, 0x48});
  }
  SECTION("2bit_u8: rows i, i+R/4, i+R/2, i+3R/4 from the top bits down") {
    const uint8_t levels[] = {3, 2, 1, 0};  // [4, 1]
    CHECK(hqq::pack(Packing::u8_2bit, levels, 4, 1) == std::vector<uint8_t>{0b11100100});
  }
  SECTION("1bit_u8: block k in bit 7-k") {
    const uint8_t levels[] = {1, 0, 0, 0, 0, 0, 0, 1};  // [8, 1]
    CHECK(hqq::pack(Packing::u8_1bit, levels, 8, 1) == std::vector<uint8_t>{0x81});
  }
  SECTION("3bit_32: ten rows per int32, bits 31-30 zero, rows zero-padded to a multiple of 10") {
    // 11 rows -> padded to 20, step 2: word 0 holds rows 0,2,4,...,18; word 1 rows 1,3,...,19.
    std::vector<uint8_t> levels(11, 7);
    const auto p = hqq::pack(Packing::i32_3bit, levels.data(), 11, 1);
    REQUIRE(p.size() == 8);
    const uint32_t w0 = p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24;
    const uint32_t w1 = p[4] | p[5] << 8 | p[6] << 16 | uint32_t(p[7]) << 24;
    // rows 0..10 exist: word 0 gets rows 0,2,4,6,8,10 (k = 0..5), word 1 rows 1,3,5,7,9 (k = 0..4)
    CHECK(w0 == 0x3FFFF000u);
    CHECK(w1 == 0x3FFF8000u);
    CHECK((w0 >> 30) == 0);
  }
}

TEST_CASE("packing rejects shapes and levels the format cannot hold", "[pack][errors]") {
  std::vector<uint8_t> levels(64, 0);
  auto expect_invalid = [](auto fn, const std::string& fragment) {
    try {
      fn();
      FAIL("expected hqq::Error");
    } catch (const hqq::Error& e) {
      CHECK(e.code() == hqq::ErrorCode::InvalidArgument);
      CHECK_THAT(e.what(), Catch::Contains(fragment));
    }
  };
  expect_invalid([&] { hqq::pack(Packing::u8_4bit, levels.data(), 3, 2); }, "not a multiple of 2");
  expect_invalid([&] { hqq::pack(Packing::u8_2bit, levels.data(), 6, 2); }, "not a multiple of 4");
  expect_invalid([&] { hqq::pack(Packing::u8_1bit, levels.data(), 12, 2); }, "not a multiple of 8");
  expect_invalid([&] { hqq::pack(Packing::u8_8bit, levels.data(), 0, 2); }, "empty level matrix");
  expect_invalid([&] { hqq::unpack(Packing::u8_4bit, levels.data(), 5, 4, 2); }, "must hold 4 bytes");
  levels[5] = 16;
  try {
    hqq::pack(Packing::u8_4bit, levels.data(), 8, 8);
    FAIL("expected hqq::Error");
  } catch (const hqq::Error& e) {
    CHECK(e.code() == hqq::ErrorCode::InvalidValue);
    CHECK_THAT(e.what(), Catch::Contains("level 16 at index 5"));
  }
}
