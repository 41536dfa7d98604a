// The public entry points of cpp/include/hqq/gguf.hpp: validation, the run over the tensor in
// chunks of whole blocks, statistics and the Reference comparison. The numeric work is in the
// block quantizers (reference.hpp, optimize.hpp) and the codecs (codec.hpp).
//
// Blocks never span rows (a row is a whole number of blocks), so the tensor is one run of blocks
// and is processed a chunk at a time: extra memory is a few chunk-sized buffers, whatever the
// tensor size, and 16-bit input is decoded one chunk at a time.
#include <cmath>
#include <cstring>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/codec.hpp"
#include "gguf/optimize.hpp"
#include "gguf/reference.hpp"
#include "hqq/error.hpp"
#include "hqq/gguf.hpp"
#include "kernels/kernels.hpp"

namespace hqq::gguf {
namespace {

constexpr std::size_t kChunkWeights = std::size_t(1) << 14;  // a multiple of every block size
constexpr float kFloat16Max = 65504.0f;  // blocks below it cannot lose their scale to an overflow

std::string shape_str(std::size_t rows, std::size_t cols) {
  return "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
}

struct Sums {
  double sum_abs = 0, sum_sq = 0, max_abs = 0, sum_w_sq = 0;
};

ErrorStats to_stats(const Sums& s, std::size_t numel) {
  ErrorStats st;
  st.mean_abs = s.sum_abs / static_cast<double>(numel);
  st.max_abs = s.max_abs;
  st.frobenius = std::sqrt(s.sum_sq);
  st.rel_frobenius = s.sum_w_sq > 0 ? std::sqrt(s.sum_sq / s.sum_w_sq) : 0.0;
  st.weight_frobenius = std::sqrt(s.sum_w_sq);
  return st;
}

struct Plan {
  Type type;
  std::size_t rows, cols, numel, block, block_bytes, out_bytes;
};

Plan make_plan(Type type, std::size_t rows, std::size_t cols) {
  if (block_size(type) == 0) {
    throw Error(ErrorCode::InvalidArgument, "GGML type id " + std::to_string(static_cast<uint32_t>(type)) +
                                                " is not a supported type");
  }
  if (rows == 0 || cols == 0) {
    throw Error(ErrorCode::InvalidArgument, "shape " + shape_str(rows, cols) +
                                                " has no elements; there is nothing to quantize");
  }
  Plan p{type, rows, cols, 0, block_size(type), type_size(type), tensor_bytes(type, rows, cols)};
  // The float32 input and a few chunk buffers must fit the address space beside the output.
  if (rows > static_cast<std::size_t>(-1) / 8 / cols) {
    throw Error(ErrorCode::OutOfMemory, "tensor of shape " + shape_str(rows, cols) +
                                            " is too large for this address space; split it into "
                                            "row ranges (GGUF blocks are per row)");
  }
  p.numel = rows * cols;
  return p;
}

[[noreturn]] void throw_non_finite_input(const Plan& p, std::size_t index, float value) {
  std::ostringstream msg;
  msg << "weights of shape " << shape_str(p.rows, p.cols) << " contain a non-finite value ("
      << value << ") at row " << index / p.cols << ", column " << index % p.cols
      << "; " << type_name(p.type)
      << " cannot store NaN or Inf: fix or mask these values, or keep the tensor as it is";
  throw Error(ErrorCode::InvalidValue, msg.str());
}

// A block whose reconstruction is not finite: its f16 fields overflowed. `chunk` holds the weights
// from flat index `offset` on; `i` is the failing position in it.
[[noreturn]] void throw_unrepresentable(const Plan& p, std::size_t offset, std::size_t i, const float* chunk) {
  const std::size_t index = offset + i, row = index / p.cols, col = index % p.cols;
  std::ostringstream msg;
  if (p.block == 1) {
    msg << "weight " << chunk[i] << " at row " << row << ", column " << col
        << " is outside the range of " << type_name(p.type)
        << " (it would become Inf); store this tensor as F32" << (p.type == Type::F16 ? " or BF16" : "");
  } else {
    const std::size_t first = i / p.block * p.block;
    float amax = 0;
    for (std::size_t k = first; k < first + p.block; ++k) amax = std::fmax(amax, std::fabs(chunk[k]));
    msg << type_name(p.type) << " cannot represent the block at row " << row << ", columns "
        << col - col % p.block << ".." << col - col % p.block + p.block - 1
        << " (largest |weight| " << amax
        << "): its float16 scales overflow. Scale this tensor down or store it as F32/BF16";
  }
  throw Error(ErrorCode::InvalidValue, msg.str());
}

// One pass over the tensor, fed a chunk of weights at a time (whole blocks, in order).
class Run {
 public:
  Run(const Plan& plan, const QuantizeOptions& options)
      : plan_(plan),
        quantizer_(options.method == Method::Reference ? ref::quantizer(plan.type)
                                                       : optimized_quantizer(plan.type)),
        reference_(options.method == Method::Optimized && options.compare_reference
                       ? ref::quantizer(plan.type)
                       : nullptr),
        paired_(reference_ ? optimized_quantizer_with_reference(plan.type) : nullptr),
        kernels_(kernels::default_kernels()),
        decoded_(kChunkWeights),
        reference_bytes_(reference_ ? kChunkWeights / plan.block * plan.block_bytes : 0) {
    result_.bytes.resize(plan.out_bytes);
  }

  void feed(const float* w, std::size_t n) {
    float lo, hi;  // the min/max kernel doubles as a fast NaN/Inf scan
    if (!kernels_.group_min_max(w, 1, n, &lo, &hi)) {
      for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite(w[i])) throw_non_finite_input(plan_, done_ + i, w[i]);
    }
    const std::size_t n_blocks = n / plan_.block;
    uint8_t* out = result_.bytes.data() + done_ / plan_.block * plan_.block_bytes;
    if (paired_) {
      paired_(w, n_blocks, out, reference_bytes_.data());  // the reference blocks come free
    } else {
      quantizer_(w, n_blocks, out);
      if (reference_) reference_(w, n_blocks, reference_bytes_.data());
    }
    measure(out, n_blocks, w, n, ours_);
    refuse_lost_blocks(w, n);  // decoded_ still holds our blocks
    if (reference_) measure(reference_bytes_.data(), n_blocks, w, n, theirs_);
    done_ += n;
  }

  QuantizeResult finish(Method method) {
    result_.stats = to_stats(ours_, plan_.numel);
    if (method == Method::Reference) {
      result_.reference = result_.stats;
      result_.has_reference = true;
    } else if (reference_) {
      result_.reference = to_stats(theirs_, plan_.numel);
      result_.has_reference = true;
    }
    return std::move(result_);
  }

 private:
  // Decodes what a quantizer wrote and adds its error sums; a reconstruction that is not finite
  // (an f16 field overflowed) is refused.
  void measure(const uint8_t* bytes, std::size_t n_blocks, const float* w, std::size_t n, Sums& s) {
    decode_blocks(plan_.type, bytes, n_blocks, decoded_.data());
    double sa, sq, mx, sw;
    kernels_.error_sums(w, decoded_.data(), n, &sa, &sq, &mx, &sw);
    if (!std::isfinite(sa) || !std::isfinite(sq)) {
      for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite(decoded_[i])) throw_unrepresentable(plan_, done_, i, w);
    }
    s.sum_abs += sa;
    s.sum_sq += sq;
    s.max_abs = mx > s.max_abs ? mx : s.max_abs;
    s.sum_w_sq += sw;
  }

  // A block whose reconstruction misses its largest weight by that weight's size or more has lost
  // its scale: far beyond float16's range, a search's float32 sums of squares overflow and
  // the block decodes to zeros, finite but wrong (seen from |w| ~ 1e18 on). Refused like an f16
  // overflow. A real quantizer always gets a block's largest weight within a fraction of it.
  // Only blocks beyond float16's largest value are checked: tiny blocks (|w| ~ 1e-7) legitimately
  // decode to zeros when their f16 scale underflows, as they do in ggml.
  void refuse_lost_blocks(const float* w, std::size_t n) const {
    if (plan_.block == 1) return;  // F16/BF16 rows: an overflow there is an Inf, caught by measure
    for (std::size_t first = 0; first < n; first += plan_.block) {
      std::size_t top = first;
      for (std::size_t k = first + 1; k < first + plan_.block; ++k)
        if (std::fabs(w[k]) > std::fabs(w[top])) top = k;
      const float amax = std::fabs(w[top]);
      if (amax > kFloat16Max && std::fabs(w[top] - decoded_[top]) >= amax)
        throw_unrepresentable(plan_, done_, top, w);
    }
  }

  Plan plan_;
  BlockQuantizer quantizer_, reference_;
  PairedQuantizer paired_;
  const kernels::Kernels& kernels_;
  std::vector<float> decoded_;
  std::vector<uint8_t> reference_bytes_;
  std::size_t done_ = 0;
  Sums ours_, theirs_;
  QuantizeResult result_;
};

[[noreturn]] void throw_oom(const Plan& p) {
  throw Error(ErrorCode::OutOfMemory,
              "out of memory quantizing a tensor of shape " + shape_str(p.rows, p.cols) + " to " +
                  type_name(p.type) + " (" + std::to_string(p.out_bytes) +
                  " output bytes); quantize fewer tensors at once or split this one into row ranges");
}

}  // namespace

QuantizeResult quantize(Type type, const float* weights, std::size_t rows, std::size_t cols,
                        const QuantizeOptions& options) {
  if (weights == nullptr) throw Error(ErrorCode::InvalidArgument, "weights pointer is null");
  const Plan plan = make_plan(type, rows, cols);
  try {
    Run run(plan, options);
    for (std::size_t first = 0; first < plan.numel; first += kChunkWeights)
      run.feed(weights + first, std::min(kChunkWeights, plan.numel - first));
    return run.finish(options.method);
  } catch (const std::bad_alloc&) {
    throw_oom(plan);
  }
}

QuantizeResult quantize(Type type, const uint16_t* weights, InputDtype dtype, std::size_t rows,
                        std::size_t cols, const QuantizeOptions& options) {
  if (weights == nullptr) throw Error(ErrorCode::InvalidArgument, "weights pointer is null");
  if (dtype == InputDtype::f32) {
    throw Error(ErrorCode::InvalidArgument,
                "16-bit input needs dtype f16 or bf16; pass float32 weights as const float*");
  }
  const Plan plan = make_plan(type, rows, cols);
  try {
    const auto& k = kernels::default_kernels();
    const auto decode = dtype == InputDtype::f16 ? k.decode_f16 : k.decode_bf16;
    std::vector<float> chunk(kChunkWeights);
    Run run(plan, options);
    for (std::size_t first = 0; first < plan.numel; first += kChunkWeights) {
      const std::size_t n = std::min(kChunkWeights, plan.numel - first);
      decode(weights + first, chunk.data(), n);
      run.feed(chunk.data(), n);
    }
    return run.finish(options.method);
  } catch (const std::bad_alloc&) {
    throw_oom(plan);
  }
}

void dequantize(Type type, const uint8_t* bytes, std::size_t n_bytes, std::size_t rows,
                std::size_t cols, float* out) {
  if (block_size(type) == 0) {
    throw Error(ErrorCode::InvalidArgument, "GGML type id " + std::to_string(static_cast<uint32_t>(type)) +
                                                " is not a supported type");
  }
  const std::size_t expected = tensor_bytes(type, rows, cols);
  if (n_bytes != expected) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(type_name(type)) + " data of shape " + shape_str(rows, cols) + " is " +
                    std::to_string(expected) + " bytes, but " + std::to_string(n_bytes) +
                    " were given; pass exactly the tensor's block bytes");
  }
  if (expected == 0) return;
  if (bytes == nullptr || out == nullptr) throw Error(ErrorCode::InvalidArgument, "null data pointer");
  decode_blocks(type, bytes, rows * cols / block_size(type), out);
}

std::vector<float> dequantize(Type type, const uint8_t* bytes, std::size_t n_bytes,
                              std::size_t rows, std::size_t cols) {
  tensor_bytes(type, rows, cols);  // validates the shape before allocating
  if (cols != 0 && rows > static_cast<std::size_t>(-1) / sizeof(float) / cols) {
    throw Error(ErrorCode::OutOfMemory, "a float32 tensor of shape " + shape_str(rows, cols) +
                                            " does not fit this address space; dequantize row ranges");
  }
  std::vector<float> out(rows * cols);
  dequantize(type, bytes, n_bytes, rows, cols, out.data());
  return out;
}

}  // namespace hqq::gguf
