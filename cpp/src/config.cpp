// Bit widths and validation of the configuration.
#include "hqq/config.hpp"

#include <cmath>
#include <sstream>

#include "hqq/error.hpp"

namespace hqq {
namespace {

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorCode::InvalidArgument, message);
}

std::string num(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

}  // namespace

Bits nbits_from_number(double nbits) {
  if (nbits == 8) return Bits::b8;
  if (nbits == 6) return Bits::b6;
  if (nbits == 5) return Bits::b5;
  if (nbits == 4) return Bits::b4;
  if (nbits == 3) return Bits::b3;
  if (nbits == 2) return Bits::b2;
  if (nbits == 1.58) return Bits::b1_58;
  if (nbits == 1) return Bits::b1;
  invalid("nbits = " + num(nbits) + " is not supported; use one of 8, 6, 5, 4, 3, 2, 1.58, 1");
}

double nbits_to_number(Bits bits) noexcept {
  switch (bits) {
    case Bits::b8: return 8;
    case Bits::b6: return 6;
    case Bits::b5: return 5;
    case Bits::b4: return 4;
    case Bits::b3: return 3;
    case Bits::b2: return 2;
    case Bits::b1_58: return 1.58;
    case Bits::b1: return 1;
  }
  return 4;
}

int max_level(Bits bits) noexcept {
  // round(2^nbits - 1), as the reference computes it; 1.58 bits: round(1.9897) = 2.
  return static_cast<int>(std::lround(std::pow(2.0, nbits_to_number(bits)) - 1.0));
}

std::string nbits_name(Bits bits) { return bits == Bits::b1_58 ? "1.58" : num(nbits_to_number(bits)); }

void validate(const SolverParams& p) {
  if (!(p.lp_norm > 0 && p.lp_norm <= 1))
    invalid("solver lp_norm = " + num(p.lp_norm) + " is out of range; it must satisfy 0 < p <= 1 (reference default 0.7)");
  if (!(p.beta > 0) || !std::isfinite(p.beta))
    invalid("solver beta = " + num(p.beta) + " is out of range; it must be a finite number > 0 (reference default 10)");
  if (!(p.kappa >= 1) || !std::isfinite(p.kappa))
    invalid("solver kappa = " + num(p.kappa) + " is out of range; it must be a finite number >= 1 (reference default 1.01; 1 keeps beta constant as PyPI 0.2.8)");
  if (p.iters < 0 || p.iters > kMaxIters)
    invalid("solver iters = " + std::to_string(p.iters) + " is out of range; use 0.." + std::to_string(kMaxIters) + " (reference default 20)");
  if (p.early_stop != EarlyStop::Global && p.early_stop != EarlyStop::PerGroupBest)
    invalid("solver early_stop has an unknown value; use Global or PerGroupBest");
}

const char* storage_dtype_name(StorageDtype d) noexcept {
  switch (d) {
    case StorageDtype::f32: return "float32";
    case StorageDtype::f16: return "float16";
    case StorageDtype::bf16: return "bfloat16";
  }
  return "float32";
}

void validate(const Config& c) {
  switch (c.nbits) {
    case Bits::b8: case Bits::b6: case Bits::b5: case Bits::b4:
    case Bits::b3: case Bits::b2: case Bits::b1_58: case Bits::b1: break;
    default: invalid("nbits has an unknown value; use one of 8, 6, 5, 4, 3, 2, 1.58, 1");
  }
  if (c.group_size == 0) invalid("group_size = 0 is invalid; use a positive divisor of the element count (reference default 64)");
  if (c.axis != 0 && c.axis != 1)
    invalid("axis = " + std::to_string(c.axis) + " is invalid; use 1 (a group is group_size consecutive values, the reference default) or 0");
  if (c.scale_dtype != StorageDtype::f32 && c.scale_dtype != StorageDtype::f16 && c.scale_dtype != StorageDtype::bf16)
    invalid("scale_dtype has an unknown value; use f32, f16 or bf16");
  validate(c.solver);
}

}  // namespace hqq
