// Which Method::Optimized implementation each type uses.
#include "gguf/optimize.hpp"

namespace hqq::gguf {

BlockQuantizer optimized_quantizer(Type type) {
  switch (type) {
    // Round-to-nearest-even conversion is already the closest representable value.
    case Type::F32:
    case Type::F16:
    case Type::BF16: return ref::quantizer(type);

    case Type::Q8_0: return opt::quantize_q8_0;
    case Type::Q4_0: return opt::quantize_q4_0;
    case Type::Q5_0: return opt::quantize_q5_0;
    case Type::Q4_1: return opt::quantize_q4_1;
    case Type::Q5_1: return opt::quantize_q5_1;

    // K-quants: the HQQ-optimised quantizers live in optimize_kquants.cpp (not written yet).
    // Until they land, Method::Optimized is Method::Reference for these five types; replace these
    // lines with their entry points.
    case Type::Q2_K:
    case Type::Q3_K:
    case Type::Q4_K:
    case Type::Q5_K:
    case Type::Q6_K: return ref::quantizer(type);
  }
  return nullptr;
}

}  // namespace hqq::gguf
