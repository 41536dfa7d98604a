// Bit packing of quantized levels, laid out exactly as the reference (HQQ-SPEC section 4).
// Everything works on the grouped matrix of levels [rows, cols] (row-major, one level per byte).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hqq/config.hpp"

namespace hqq {

enum class Packing : uint8_t { u8_8bit, u8_4bit, i32_3bit, u8_2bit, u8_1bit };

Packing packing_for(Bits bits) noexcept;
const char* packing_name(Packing packing) noexcept;  // "8bit_u8", "4bit_u8", "3bit_32", ...

struct PackedShape {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::size_t bytes = 0;  // rows * cols * (4 for 3bit_32, else 1)
};

// Throws Error(InvalidArgument) when `rows` cannot be packed in this format (4-bit needs an even
// row count, 2-bit a multiple of 4, 1-bit a multiple of 8; the reference would silently drop or
// broadcast rows).
PackedShape packed_shape(Packing packing, std::size_t rows, std::size_t cols);
void check_packable(Packing packing, std::size_t rows, std::size_t cols);

// Levels must be <= the format's largest value (checked: Error(InvalidValue)).
std::vector<uint8_t> pack(Packing packing, const uint8_t* levels, std::size_t rows,
                          std::size_t cols);
// `packed` holds packed_shape(...).bytes bytes (3-bit: little-endian int32 words).
std::vector<uint8_t> unpack(Packing packing, const uint8_t* packed, std::size_t packed_bytes,
                            std::size_t rows, std::size_t cols);

}  // namespace hqq
