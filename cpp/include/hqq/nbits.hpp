// onnxruntime's MatMulNBits weights (com.microsoft, FORMATS.md section 2): the public API of the
// nbits quantizers.
//
// A MatMul weight B is [K, N] (layout KN); a Gemm transB=1 weight is [N, K] (layout NK). Either way
// the operator holds it as N output columns of K weights, each cut into ceil(K / block_size)
// blocks along K; the last block is partial when block_size does not divide K. Outputs:
//  - qweight uint8 [N, n_blocks, block_size * bits / 8]: levels packed along K, low bits first
//    (4-bit: even element in the low nibble). Padding levels of a partial block equal the block's
//    zero point (rounded), so they dequantize to 0; A has only K columns, so they never count.
//  - scales [N, n_blocks] as float32 or float16 bytes (little-endian);
//  - zero points: uint8, packed like qweight per row, [N, ceil(n_blocks * bits / 8)]; or float
//    [N, n_blocks] in the scale type.
// Weight = (q - zero_point) * scale, evaluated in float32.
//
// Two zero-point modes:
//  - Float: exact HQQ (HQQ-SPEC; the existing solver with a group = a block, per-group best).
//  - Uint8: an integer-zero variant of the HQQ half-quadratic solver that also refits the scale
//    (derivation in cpp/src/nbits/README.md). It starts from onnxruntime's RTN and keeps, per block,
//    the best iterate measured with the stored (rounded) scale and zero point, so no block is ever
//    worse than onnxruntime's RTN by sum |err| or by sum err^2.
// The baseline is onnxruntime's RTN (MLAS BlockwiseQuantizer, asymmetric uint8 zero point, the
// block's range widened to include 0), on the same blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hqq/config.hpp"  // SolverParams
#include "hqq/dtype.hpp"   // InputDtype

namespace hqq::nbits {

enum class Layout : uint8_t { KN, NK };
enum class ZeroPoints : uint8_t { Uint8, Float };
enum class ScaleType : uint8_t { f32, f16 };

struct Options {
  int bits = 4;                   // 2, 4 or 8
  std::size_t block_size = 32;    // a power of two >= 16
  ZeroPoints zero_points = ZeroPoints::Uint8;
  Layout layout = Layout::KN;
  ScaleType scale_type = ScaleType::f32;
  bool optimize = true;           // false: RTN (onnxruntime's for Uint8, HQQ's for Float)
  bool compare_baseline = false;  // also the error of onnxruntime's RTN on the same blocks
  SolverParams solver{};          // lp_norm, beta, kappa, iters (early_stop is not used)
};

// Error sums of a reconstruction against the weights (TaskStats in web/src/pool/types.ts): they
// add up over blocks, row ranges and tensors exactly.
struct Sums {
  double count = 0, sum_abs = 0, sum_sq = 0, max_abs = 0, sum_w_sq = 0;
  void add(const Sums& o) noexcept;
};

struct Result {
  std::size_t K = 0, N = 0, n_blocks = 0;
  std::vector<uint8_t> qweight;      // [N, n_blocks, block_size * bits / 8]
  std::vector<uint8_t> scales;       // [N, n_blocks] in the scale type, little-endian bytes
  std::vector<uint8_t> zero_points;  // uint8 packed, or the scale type's bytes of [N, n_blocks]
  Sums stats;                        // of the stored values, against the input
  Sums baseline;                     // onnxruntime's RTN (with compare_baseline)
  bool has_baseline = false;
  int iterations = 0;                // solver iterations (the most any block ran)
};

// `data` holds rows * cols weights row-major, float32 (dtype f32) or float16/bfloat16 bits;
// (rows, cols) is [K, N] for layout KN and [N, K] for NK. Throws Error: InvalidArgument (bits,
// block size, shape), InvalidValue (NaN/Inf with its position; a scale or float zero point that
// overflows float16), OutOfMemory.
Result quantize(const void* data, InputDtype dtype, std::size_t rows, std::size_t cols,
                const Options& options);

enum class StoredZeros : uint8_t { None, Uint8, Float };

struct DequantizeParams {
  std::size_t K = 0, N = 0;
  int bits = 4;
  std::size_t block_size = 32;
  ScaleType scale_type = ScaleType::f32;
  StoredZeros zero_points = StoredZeros::Uint8;  // None: 2^(bits - 1), as the operator
  Layout layout = Layout::KN;                    // of the output
};

// MatMulNBits bytes -> float32 [K, N] (KN) or [N, K] (NK). Sizes are checked (InvalidArgument);
// non-finite scales or float zero points are InvalidValue.
std::vector<float> dequantize(const uint8_t* qweight, std::size_t qweight_bytes, const uint8_t* scales,
                              std::size_t scales_bytes, const uint8_t* zero_points,
                              std::size_t zero_points_bytes, const DequantizeParams& params);

}  // namespace hqq::nbits
