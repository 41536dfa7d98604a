// llama.cpp (GGML) tensor types: the public API of the block codecs and their quantizers.
//
// A GGUF tensor of PyTorch shape [rows, cols] is stored row after row; each row is a run of blocks
// of `block_size(type)` weights along `cols` (GGUF's ne[0]), each block `type_size(type)` bytes.
// The byte layout of every block, its reconstruction formula and its bit order are documented
// once, in cpp/src/gguf/blocks.hpp.
//
// Every type has two quantizers:
//  - Method::Reference reproduces llama.cpp's own reference quantizer of the type without an
//    importance matrix (`quantize_row_<type>_ref` in ggml-quants.c) byte for byte;
//  - Method::Optimized is this library's: HQQ-optimised parameters (or an error-minimising search
//    for the symmetric types), never worse than Reference on any block by both sum |W - W_r| and
//    sum (W - W_r)^2, so never worse on any tensor by mean |err| and relative Frobenius error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "hqq/dtype.hpp"     // InputDtype
#include "hqq/quantize.hpp"  // ErrorStats

namespace hqq::gguf {

// The ids are GGML's (ggml/include/ggml.h); they are what a GGUF tensor info stores.
enum class Type : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  BF16 = 30,
};

// Throws Error(Unsupported) for ids this library cannot encode (naming the id and the supported set).
Type type_from_id(uint32_t id);
const char* type_name(Type type) noexcept;  // "Q4_K", ...
// Throws Error(InvalidArgument) for an unknown name.
Type type_from_name(const std::string& name);

std::size_t block_size(Type type) noexcept;  // weights per block: 1 (F32/F16/BF16), 32 or 256
std::size_t type_size(Type type) noexcept;   // bytes per block
// Bytes of `rows` rows of `cols` weights; throws Error(InvalidArgument) when cols is not a
// multiple of block_size(type), Error(OutOfMemory) when the count overflows size_t.
std::size_t tensor_bytes(Type type, std::size_t rows, std::size_t cols);

enum class Method : uint8_t { Reference, Optimized };

struct QuantizeOptions {
  Method method = Method::Optimized;
  // Also compute the error statistics of Method::Reference on the same weights (reported next to
  // ours, e.g. "ours vs llama.cpp" per tensor).
  bool compare_reference = false;
};

struct QuantizeResult {
  std::vector<uint8_t> bytes;  // tensor_bytes(type, rows, cols)
  ErrorStats stats;            // of the bytes written, against the input
  ErrorStats reference;        // with compare_reference (or Method::Reference): llama.cpp's
  bool has_reference = false;
};

// `weights`: rows x cols float32, row-major. NaN/Inf anywhere is Error(InvalidValue) naming the
// first position; so is a block whose f16 parameters would overflow (its reconstruction would not
// be finite: weights far beyond 65504 for most types), and for F16/BF16 a value that rounds to
// Inf. Blocks are independent: quantizing row ranges separately gives the same bytes.
QuantizeResult quantize(Type type, const float* weights, std::size_t rows, std::size_t cols,
                        const QuantizeOptions& options = {});
// Same, from float16 / bfloat16 bit patterns (dtype f16 or bf16), decoded a chunk at a time: no
// float32 copy of the tensor is ever made.
QuantizeResult quantize(Type type, const uint16_t* weights, InputDtype dtype, std::size_t rows,
                        std::size_t cols, const QuantizeOptions& options = {});

// Decodes `bytes` (exactly tensor_bytes(type, rows, cols) long) into rows x cols float32,
// bit-identical to llama.cpp's dequantization (ggml's to_float; NaN payloads of F16 signalling NaNs
// excepted, which x86 quiets). Throws Error(InvalidArgument) on a size mismatch.
void dequantize(Type type, const uint8_t* bytes, std::size_t n_bytes, std::size_t rows,
                std::size_t cols, float* out);
std::vector<float> dequantize(Type type, const uint8_t* bytes, std::size_t n_bytes,
                              std::size_t rows, std::size_t cols);

}  // namespace hqq::gguf
