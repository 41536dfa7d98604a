// Method::Optimized for the K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K): see optimize_kquants.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/kopt_plan.hpp"
#include "hqq/gguf.hpp"

namespace hqq::gguf::kopt {

struct OptimizeCounts {
  std::size_t blocks = 0;
  std::size_t improved = 0;  // blocks where our parameters replaced llama.cpp's
};

struct OptimizeOptions {
  const SearchPlan* plan = nullptr;  // nullptr: default_plan(type)
  bool scalar = false;               // force the scalar kernel (tests compare it with SIMD)
};

// `x`: n_blocks * 256 finite weights; `reference`: llama.cpp's reference encoding of the same
// weights (Method::Reference), n_blocks blocks; `out`: n_blocks blocks, may alias `reference`.
// (reference == nullptr is quantize_blocks below.)
// Every output block is either the reference block or one whose reconstruction has a smaller
// sum |err| and a smaller sum err^2 over its 256 weights.
OptimizeCounts optimize_blocks(Type type, const float* x, std::size_t n_blocks,
                               const uint8_t* reference, uint8_t* out,
                               const OptimizeOptions& options = {});

// Method::Optimized of a K-quant from the weights alone: llama.cpp's reference block is computed
// here, byte for byte (kopt_reference.hpp: one SIMD lane per sub-block), and then searched
// against as above. Other types: nothing is written, {} returned.
OptimizeCounts quantize_blocks(Type type, const float* x, std::size_t n_blocks, uint8_t* out,
                                      const OptimizeOptions& options = {});

// The same, also writing llama.cpp's reference blocks (the ones searched against, byte for byte
// those of reference_blocks) into `reference_out`; nullptr: as quantize_blocks.
OptimizeCounts quantize_blocks(Type type, const float* x, std::size_t n_blocks, uint8_t* out,
                               uint8_t* reference_out, const OptimizeOptions& options = {});

// llama.cpp's reference blocks of a K-quant, byte for byte, by the lane kernel the search uses
// (tests compare it with llama.cpp's own bytes). Other types: no-op.
void reference_blocks(Type type, const float* x, std::size_t n_blocks, uint8_t* out,
                             const OptimizeOptions& options = {});

// True when this build has the SIMD kernel of the search.
bool have_simd_search() noexcept;

namespace detail {
OptimizeCounts optimize_blocks_scalar(Type type, const SearchPlan& plan, const float* x,
                                      std::size_t n_blocks, const uint8_t* reference, uint8_t* out,
                                      uint8_t* reference_out = nullptr);
OptimizeCounts optimize_blocks_simd(Type type, const SearchPlan& plan, const float* x,
                                    std::size_t n_blocks, const uint8_t* reference, uint8_t* out,
                                    uint8_t* reference_out = nullptr);
void reference_blocks_simd(Type type, const float* x, std::size_t n_blocks, uint8_t* out);
}  // namespace detail

}  // namespace hqq::gguf::kopt

namespace hqq::gguf::opt {
// Method::Optimized of the K-quants in the BlockQuantizer shape (reference.hpp: n_blocks
// super-blocks of `x` into n_blocks blocks of `out`), for the dispatch in optimize_dispatch.cpp.
void quantize_q2_K(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q3_K(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q4_K(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q5_K(const float* x, std::size_t n_blocks, uint8_t* out);
void quantize_q6_K(const float* x, std::size_t n_blocks, uint8_t* out);
// The PairedQuantizer shape (optimize.hpp): also llama.cpp's blocks, from the same search.
void quantize_q2_K_with_reference(const float* x, std::size_t n_blocks, uint8_t* out, uint8_t* reference_out);
void quantize_q3_K_with_reference(const float* x, std::size_t n_blocks, uint8_t* out, uint8_t* reference_out);
void quantize_q4_K_with_reference(const float* x, std::size_t n_blocks, uint8_t* out, uint8_t* reference_out);
void quantize_q5_K_with_reference(const float* x, std::size_t n_blocks, uint8_t* out, uint8_t* reference_out);
void quantize_q6_K_with_reference(const float* x, std::size_t n_blocks, uint8_t* out, uint8_t* reference_out);
}  // namespace hqq::gguf::opt
