// Quantization configuration: the reference HQQ options plus this library's solver extensions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace hqq {

// Bit widths of the reference. 1.58-bit ("ternary", levels 0..2) has no integer spelling, so bit
// widths are an enum; `nbits_from_number(1.58)` accepts the reference's float spelling.
enum class Bits : uint8_t { b8, b6, b5, b4, b3, b2, b1_58, b1 };

// Parses 8, 6, 5, 4, 3, 2, 1.58 or 1; throws Error(InvalidArgument) for anything else.
Bits nbits_from_number(double nbits);
double nbits_to_number(Bits bits) noexcept;
// round(2^nbits - 1): the largest level. 1.58 bits gives round(2^1.58 - 1) = 2.
int max_level(Bits bits) noexcept;
std::string nbits_name(Bits bits);  // "4", "1.58", ...

enum class EarlyStop : uint8_t {
  // The reference: one whole-tensor error decides when every group stops, and the returned zero is
  // the one computed in the iteration that failed to improve.
  Global,
  // Extension: every group keeps the zero that gave its own lowest error over all iterations. Never
  // worse than Global on any tensor, usually better; not what the reference returns.
  PerGroupBest,
};

struct SolverParams {
  double lp_norm = 0.7;  // p of the lp shrinkage, 0 < p <= 1
  double beta = 10.0;    // > 0
  double kappa = 1.01;   // >= 1; beta *= kappa after every improving iteration (1 = PyPI 0.2.8)
  int iters = 20;        // 0..kMaxIters
  EarlyStop early_stop = EarlyStop::Global;
};

constexpr int kMaxIters = 1000;

// The dtype scale and zero are stored in (the reference's compute dtype). The quantizer rounds
// them to it (round to nearest even) before the final error statistics, so the statistics
// describe what is stored, and refuses values that overflow it (Error(InvalidValue)).
enum class StorageDtype : uint8_t { f32, f16, bf16 };
const char* storage_dtype_name(StorageDtype d) noexcept;  // "float32", "float16", "bfloat16"

struct Config {
  Bits nbits = Bits::b4;
  std::size_t group_size = 64;
  int axis = 1;  // 1: a group is g consecutive elements; 0: a group is a column of [g, N/g]
  bool optimize = true;
  bool round_zero = false;
  StorageDtype scale_dtype = StorageDtype::f32;
  SolverParams solver{};
};

// Throws Error(InvalidArgument) naming the first bad field.
void validate(const SolverParams& params);
void validate(const Config& config);

}  // namespace hqq
