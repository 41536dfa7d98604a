// Bit packing in the reference layout (HQQ-SPEC section 4). Row i of the packed matrix combines
// rows i, i + step, i + 2*step, ... of the level matrix, so every loop below walks whole rows and
// the compiler can vectorise the column loop.
#include "hqq/pack.hpp"

#include <algorithm>
#include <string>

#include "hqq/error.hpp"

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
  uint8_t top = 0;  // a plain max reduction vectorises; find the culprit only when there is one
  for (std::size_t i = 0; i < n; ++i) top = levels[i] > top ? levels[i] : top;
  if (top <= limit) return;
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
  if (p == Packing::i32_3bit) {
    for (std::size_t i = 0; i < step; ++i) {
      for (std::size_t c = 0; c < cols; ++c) {
        uint32_t word = 0;
        for (unsigned k = 0; k < 10; ++k) {
          const std::size_t r = k * step + i;
          if (r < rows) word |= static_cast<uint32_t>(levels[r * cols + c]) << (27 - 3 * k);
        }
        uint8_t* dst = &out[(i * cols + c) * 4];
        dst[0] = static_cast<uint8_t>(word);
        dst[1] = static_cast<uint8_t>(word >> 8);
        dst[2] = static_cast<uint8_t>(word >> 16);
        dst[3] = static_cast<uint8_t>(word >> 24);
      }
    }
    return out;
  }
  const Format f = format_of(p);
  for (unsigned k = 0; k < f.per_word; ++k) {
    const unsigned shift = 8 - f.bits * (k + 1);  // block k sits in the k-th bits from the top
    for (std::size_t i = 0; i < step; ++i) {
      const uint8_t* src = levels + (k * step + i) * cols;
      uint8_t* dst = out.data() + i * cols;
      for (std::size_t c = 0; c < cols; ++c) dst[c] = static_cast<uint8_t>(dst[c] | (src[c] << shift));
    }
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
  if (p == Packing::i32_3bit) {
    for (std::size_t i = 0; i < step; ++i) {
      for (std::size_t c = 0; c < cols; ++c) {
        const uint8_t* src = &packed[(i * cols + c) * 4];
        const uint32_t word = static_cast<uint32_t>(src[0]) | static_cast<uint32_t>(src[1]) << 8 |
                              static_cast<uint32_t>(src[2]) << 16 | static_cast<uint32_t>(src[3]) << 24;
        for (unsigned k = 0; k < 10; ++k) {
          const std::size_t r = k * step + i;
          if (r < rows) out[r * cols + c] = static_cast<uint8_t>((word >> (27 - 3 * k)) & 7u);
        }
      }
    }
    return out;
  }
  const Format f = format_of(p);
  const unsigned mask = (1u << f.bits) - 1u;
  for (unsigned k = 0; k < f.per_word; ++k) {
    const unsigned shift = 8 - f.bits * (k + 1);
    for (std::size_t i = 0; i < step; ++i) {
      const uint8_t* src = packed + i * cols;
      uint8_t* dst = out.data() + (k * step + i) * cols;
      for (std::size_t c = 0; c < cols; ++c) dst[c] = static_cast<uint8_t>((src[c] >> shift) & mask);
    }
  }
  return out;
}

}  // namespace hqq
