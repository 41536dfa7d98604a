// Which Method::Optimized implementation each type uses.
#include "gguf/optimize.hpp"
#include "gguf/optimize_kquants.hpp"

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

    // K-quants: llama.cpp's search refined (optimize_kquants.cpp), HQQ's zero step where there is
    // a zero point, and llama.cpp's own block kept wherever ours is not better on both sums.
    case Type::Q2_K: return opt::quantize_q2_K;
    case Type::Q3_K: return opt::quantize_q3_K;
    case Type::Q4_K: return opt::quantize_q4_K;
    case Type::Q5_K: return opt::quantize_q5_K;
    case Type::Q6_K: return opt::quantize_q6_K;
  }
  return nullptr;
}

PairedQuantizer optimized_quantizer_with_reference(Type type) {
  switch (type) {
    case Type::Q2_K: return opt::quantize_q2_K_with_reference;
    case Type::Q3_K: return opt::quantize_q3_K_with_reference;
    case Type::Q4_K: return opt::quantize_q4_K_with_reference;
    case Type::Q5_K: return opt::quantize_q5_K_with_reference;
    case Type::Q6_K: return opt::quantize_q6_K_with_reference;
    default: return nullptr;
  }
}

}  // namespace hqq::gguf
