// Bit packing in the reference layout (HQQ-SPEC section 4). Row i of the packed matrix combines
// rows i, i + step, i + 2*step, ... of the level matrix, so every loop below walks whole rows and
// the compiler can vectorise the column loop.
#include "hqq/pack.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "hqq/error.hpp"
#include "kernels/kernels.hpp"

// 3bit_32 words are built as host-order uint32 and stored as bytes; the format is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "3bit_32 packing assumes a little-endian host");

namespace hqq {
namespace {

struct Format {
  unsigned per_word;   // levels combined into one packed value
  unsigned bits;       // bits per level
  unsigned max_level;  // largest level the format holds
};

Format format_of(Packing p) {
  switch (p) {
    case Packing::u8_8bit: return {1, 8, 255};
    case Packing::u8_4bit: return {2, 4, 15};
    case Packing::i32_3bit: return {10, 3, 7};
    case Packing::u8_2bit: return {4, 2, 3};
    case Packing::u8_1bit: return {8, 1, 1};
  }
  throw Error(ErrorCode::Internal, "unknown packing format");
}

std::size_t checked_mul(std::size_t a, std::size_t b, const char* what) {
  if (a != 0 && b > static_cast<std::size_t>(-1) / a)
    throw Error(ErrorCode::OutOfMemory, std::string(what) + " overflows the address space");
  return a * b;
}

void check_levels(Packing p, const uint8_t* levels, std::size_t n) {
  const unsigned limit = format_of(p).max_level;
  if (kernels::default_kernels().byte_max(levels, n) <= limit) return;  // the culprit only if any
  const uint8_t* bad = std::find_if(levels, levels + n, [limit](uint8_t v) { return v > limit; });
  if (bad != levels + n) {
    throw Error(ErrorCode::InvalidValue,
                std::string("level ") + std::to_string(*bad) + " at index " +
                    std::to_string(bad - levels) + " does not fit the " + packing_name(p) +
                    " format (largest level " + std::to_string(limit) + ")");
  }
}

}  // namespace

Packing packing_for(Bits bits) noexcept {
  switch (bits) {
    case Bits::b8: case Bits::b6: case Bits::b5: return Packing::u8_8bit;
    case Bits::b4: return Packing::u8_4bit;
    case Bits::b3: return Packing::i32_3bit;
    case Bits::b2: case Bits::b1_58: return Packing::u8_2bit;
    case Bits::b1: return Packing::u8_1bit;
  }
  return Packing::u8_8bit;
}

const char* packing_name(Packing p) noexcept {
  switch (p) {
    case Packing::u8_8bit: return "8bit_u8";
    case Packing::u8_4bit: return "4bit_u8";
    case Packing::i32_3bit: return "3bit_32";
    case Packing::u8_2bit: return "2bit_u8";
    case Packing::u8_1bit: return "1bit_u8";
  }
  return "?";
}

void check_packable(Packing p, std::size_t rows, std::size_t cols) {
  if (rows == 0 || cols == 0) {
    throw Error(ErrorCode::InvalidArgument, std::string("cannot pack an empty level matrix [") +
                                                std::to_string(rows) + ", " + std::to_string(cols) + "]");
  }
  const Format f = format_of(p);
  if (p != Packing::i32_3bit && p != Packing::u8_8bit && rows % f.per_word != 0) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(packing_name(p)) + " packs " + std::to_string(f.per_word) +
                    " rows of the grouped matrix into one, but it has " + std::to_string(rows) +
                    " rows (not a multiple of " + std::to_string(f.per_word) +
                    "); choose a group size / axis that gives a multiple of " +
                    std::to_string(f.per_word) + " grouped rows");
  }
}

PackedShape packed_shape(Packing p, std::size_t rows, std::size_t cols) {
  check_packable(p, rows, cols);
  PackedShape s;
  s.cols = cols;
  if (p == Packing::i32_3bit) {
    s.rows = (rows + 9) / 10;  // rows zero-padded to a multiple of 10
    s.bytes = checked_mul(checked_mul(s.rows, cols, "packed size"), 4, "packed size");
  } else {
    s.rows = rows / format_of(p).per_word;
    s.bytes = checked_mul(s.rows, cols, "packed size");
  }
  return s;
}

std::vector<uint8_t> pack(Packing p, const uint8_t* levels, std::size_t rows, std::size_t cols) {
  const PackedShape shape = packed_shape(p, rows, cols);
  check_levels(p, levels, checked_mul(rows, cols, "level matrix"));
  std::vector<uint8_t> out(shape.bytes, 0);
  const std::size_t step = shape.rows;
  const auto& k = kernels::default_kernels();
  if (p == Packing::i32_3bit) {
    // Word row i holds level rows k * step + i, k = 0..9, in bits 29-27, 26-24, ..., 2-0.
    std::vector<uint32_t> words(step * cols, 0);
    for (unsigned block = 0; block < 10; ++block) {
      for (std::size_t i = 0; i < step; ++i) {
        const std::size_t r = block * step + i;
        if (r >= rows) break;  // zero padding rows
        k.or_shifted_u32(words.data() + i * cols, levels + r * cols, cols, 27 - 3 * block);
      }
    }
    std::memcpy(out.data(), words.data(), out.size());
    return out;
  }
  const Format f = format_of(p);
  for (unsigned block = 0; block < f.per_word; ++block) {
    const unsigned shift = 8 - f.bits * (block + 1);  // block k sits in the k-th bits from the top
    // Rows i of consecutive level blocks are contiguous: one call per block.
    k.or_shifted_u8(out.data(), levels + block * step * cols, step * cols, shift);
  }
  return out;
}

std::vector<uint8_t> unpack(Packing p, const uint8_t* packed, std::size_t packed_bytes,
                            std::size_t rows, std::size_t cols) {
  const PackedShape shape = packed_shape(p, rows, cols);
  if (packed_bytes != shape.bytes) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(packing_name(p)) + " data for a [" + std::to_string(rows) + ", " +
                    std::to_string(cols) + "] level matrix must hold " + std::to_string(shape.bytes) +
                    " bytes, got " + std::to_string(packed_bytes));
  }
  std::vector<uint8_t> out(checked_mul(rows, cols, "level matrix"));
  const std::size_t step = shape.rows;
  const auto& k = kernels::default_kernels();
  if (p == Packing::i32_3bit) {
    std::vector<uint32_t> words(step * cols);
    std::memcpy(words.data(), packed, packed_bytes);
    for (unsigned block = 0; block < 10; ++block) {
      for (std::size_t i = 0; i < step; ++i) {
        const std::size_t r = block * step + i;
        if (r >= rows) break;
        k.extract_u32(out.data() + r * cols, words.data() + i * cols, cols, 27 - 3 * block, 7u);
      }
    }
    return out;
  }
  const Format f = format_of(p);
  const unsigned mask = (1u << f.bits) - 1u;
  for (unsigned block = 0; block < f.per_word; ++block) {
    const unsigned shift = 8 - f.bits * (block + 1);
    k.extract_u8(out.data() + block * step * cols, packed, step * cols, shift, mask);
  }
  return out;
}

}  // namespace hqq
