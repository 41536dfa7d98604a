// Type traits of the GGML tensor types: ids, names, block and byte sizes.
#include <string>

#include "gguf/blocks.hpp"
#include "hqq/error.hpp"
#include "hqq/gguf.hpp"

namespace hqq::gguf {
namespace {

struct TypeInfo {
  Type type;
  const char* name;
  std::size_t block;  // weights per block
  std::size_t bytes;  // bytes per block
};

constexpr TypeInfo kTypes[] = {
    {Type::F32, "F32", 1, 4},
    {Type::F16, "F16", 1, 2},
    {Type::BF16, "BF16", 1, 2},
    {Type::Q8_0, "Q8_0", kLegacyBlock, sizeof(BlockQ8_0)},
    {Type::Q4_0, "Q4_0", kLegacyBlock, sizeof(BlockQ4_0)},
    {Type::Q4_1, "Q4_1", kLegacyBlock, sizeof(BlockQ4_1)},
    {Type::Q5_0, "Q5_0", kLegacyBlock, sizeof(BlockQ5_0)},
    {Type::Q5_1, "Q5_1", kLegacyBlock, sizeof(BlockQ5_1)},
    {Type::Q2_K, "Q2_K", kSuperBlock, sizeof(BlockQ2_K)},
    {Type::Q3_K, "Q3_K", kSuperBlock, sizeof(BlockQ3_K)},
    {Type::Q4_K, "Q4_K", kSuperBlock, sizeof(BlockQ4_K)},
    {Type::Q5_K, "Q5_K", kSuperBlock, sizeof(BlockQ5_K)},
    {Type::Q6_K, "Q6_K", kSuperBlock, sizeof(BlockQ6_K)},
};

const TypeInfo* find(Type type) noexcept {
  for (const TypeInfo& t : kTypes)
    if (t.type == type) return &t;
  return nullptr;
}

std::string supported_list() {
  std::string s;
  for (const TypeInfo& t : kTypes) s += (s.empty() ? "" : ", ") + std::string(t.name);
  return s;
}

// GGML's names for the ids this library does not encode, so an error can say what a file holds.
const char* other_ggml_name(uint32_t id) noexcept {
  switch (id) {
    case 9: return "Q8_1";
    case 15: return "Q8_K";
    case 16: return "IQ2_XXS";
    case 17: return "IQ2_XS";
    case 18: return "IQ3_XXS";
    case 19: return "IQ1_S";
    case 20: return "IQ4_NL";
    case 21: return "IQ3_S";
    case 22: return "IQ2_S";
    case 23: return "IQ4_XS";
    case 24: return "I8";
    case 25: return "I16";
    case 26: return "I32";
    case 27: return "I64";
    case 28: return "F64";
    case 29: return "IQ1_M";
    case 34: return "TQ1_0";
    case 35: return "TQ2_0";
    case 39: return "MXFP4";
    case 40: return "NVFP4";
    case 41: return "Q1_0";
    case 42: return "Q2_0";
    default: return nullptr;
  }
}

}  // namespace

Type type_from_id(uint32_t id) {
  for (const TypeInfo& t : kTypes)
    if (static_cast<uint32_t>(t.type) == id) return t.type;
  const char* other = other_ggml_name(id);
  throw Error(ErrorCode::Unsupported,
              "GGML type id " + std::to_string(id) +
                  (other ? " (" + std::string(other) + ")" : std::string(" (not a GGML type id)")) +
                  " is not supported; the supported types are " + supported_list());
}

const char* type_name(Type type) noexcept {
  const TypeInfo* t = find(type);
  return t ? t->name : "unknown";
}

Type type_from_name(const std::string& name) {
  for (const TypeInfo& t : kTypes)
    if (name == t.name) return t.type;
  throw Error(ErrorCode::InvalidArgument,
              "unknown GGML type \"" + name + "\"; use one of " + supported_list());
}

std::size_t block_size(Type type) noexcept {
  const TypeInfo* t = find(type);
  return t ? t->block : 0;
}

std::size_t type_size(Type type) noexcept {
  const TypeInfo* t = find(type);
  return t ? t->bytes : 0;
}

std::size_t tensor_bytes(Type type, std::size_t rows, std::size_t cols) {
  const TypeInfo* t = find(type);
  if (t == nullptr) {
    throw Error(ErrorCode::InvalidArgument, "GGML type id " +
                                                std::to_string(static_cast<uint32_t>(type)) +
                                                " is not one of " + supported_list());
  }
  if (cols % t->block != 0) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(t->name) + " stores rows in blocks of " + std::to_string(t->block) +
                    " weights, but a row has " + std::to_string(cols) +
                    " columns; pick a type whose block divides the row length (F16/BF16/F32 fit "
                    "any row, the 32-weight types any multiple of 32)");
  }
  const std::size_t max = static_cast<std::size_t>(-1);
  const std::size_t blocks = cols / t->block;
  if (blocks > max / t->bytes || (blocks != 0 && rows > max / (blocks * t->bytes))) {
    throw Error(ErrorCode::OutOfMemory, std::to_string(rows) + " rows of " + std::to_string(cols) +
                                            " " + t->name +
                                            " weights exceed this address space; split the "
                                            "tensor into row ranges");
  }
  return rows * (blocks * t->bytes);
}

}  // namespace hqq::gguf
