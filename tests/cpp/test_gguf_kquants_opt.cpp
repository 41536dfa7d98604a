// The K-quant optimiser (cpp/src/gguf/optimize_kquants.cpp): its contract against whatever
// reference block it is given (an output block is that block, or one with a smaller sum |err| and
// a smaller sum err^2, read back through the independent decoder), the scalar and SIMD kernels
// giving the same bytes, determinism, in-place operation, and degenerate blocks.
//
// The reference blocks here come from `rtn_blocks`, a plain round-to-nearest encoder written for
// this test (min/max per sub-block, codes rounded against the largest); the contract does not
// depend on which valid block the reference is.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "gguf/codec.hpp"
#include "gguf/kopt_params.hpp"
#include "gguf/optimize.hpp"
#include "gguf/optimize_kquants.hpp"
#include "gguf/reference.hpp"
#include "gguf_test_util.hpp"
#include "hqq/dtype.hpp"
#include "sha256.hpp"

using namespace gguf_test;
namespace kopt = hqq::gguf::kopt;

namespace {

const std::vector<Type>& kquant_types() {
  static const std::vector<Type> t = {Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K};
  return t;
}

// Round-to-nearest blocks: per sub-block D = (max - min) / q_hi and M = -min (affine), or
// D = absmax / |q_lo| (symmetric); codes rounded against the largest D (and M); nearest levels.
std::vector<uint8_t> rtn_blocks(Type type, const std::vector<float>& x) {
  const kopt::Layout& L = *kopt::layout_of(type);
  const std::size_t nb = x.size() / 256;
  std::vector<uint8_t> out(nb * L.bytes);
  for (std::size_t b = 0; b < nb; ++b) {
    const float* xb = x.data() + b * 256;
    float D[16], M[16], dmax = 0, mmax = 0;
    for (int j = 0; j < L.n_sub; ++j) {
      const float* s = xb + j * L.sub_len;
      float lo = 0, hi = 0, amax = 0, vmax = 0;
      for (int i = 0; i < L.sub_len; ++i) {
        lo = std::min(lo, s[i]);
        hi = std::max(hi, s[i]);
        if (std::fabs(s[i]) > amax) {
          amax = std::fabs(s[i]);
          vmax = s[i];
        }
      }
      D[j] = L.affine() ? (hi - lo) / static_cast<float>(L.q_hi) : vmax / static_cast<float>(L.q_lo);
      M[j] = L.affine() ? -lo : 0.0f;
      dmax = std::max(dmax, std::fabs(D[j]));
      mmax = std::max(mmax, M[j]);
    }
    kopt::Params p;
    const float code_range = static_cast<float>(L.affine() ? L.sc_hi : -L.sc_lo);
    const float d = hqq::f16_to_f32(hqq::f32_to_f16(dmax / code_range));
    const float dmin = L.affine() ? hqq::f16_to_f32(hqq::f32_to_f16(mmax / static_cast<float>(L.m_hi))) : 0.0f;
    p.d = hqq::f32_to_f16(d);
    p.dmin = hqq::f32_to_f16(dmin);
    int8_t q[256];
    for (int j = 0; j < L.n_sub; ++j) {
      const float sc = d > 0 ? std::nearbyint(D[j] / d) : 0.0f;
      p.sc[j] = static_cast<int16_t>(std::clamp(sc, static_cast<float>(L.sc_lo), static_cast<float>(L.sc_hi)));
      p.m[j] = static_cast<int16_t>(dmin > 0 ? std::clamp(std::nearbyint(M[j] / dmin), 0.0f, static_cast<float>(L.m_hi)) : 0.0f);
      const float Dq = d * static_cast<float>(p.sc[j]), Mq = dmin * static_cast<float>(p.m[j]);
      for (int i = 0; i < L.sub_len; ++i) {
        const float v = Dq != 0 ? std::nearbyint((xb[j * L.sub_len + i] + Mq) / Dq) : 0.0f;
        q[j * L.sub_len + i] = static_cast<int8_t>(std::clamp(v, static_cast<float>(L.q_lo), static_cast<float>(L.q_hi)));
      }
    }
    kopt::pack_block(type, p, q, out.data() + b * L.bytes);
  }
  return out;
}

struct BlockErr {
  double l1 = 0, se = 0;
};
std::vector<BlockErr> block_errors(Type type, const std::vector<float>& x, const std::vector<uint8_t>& bytes) {
  const std::size_t nb = x.size() / 256;
  std::vector<float> r(x.size());
  hqq::gguf::decode_blocks(type, bytes.data(), nb, r.data());
  std::vector<BlockErr> e(nb);
  for (std::size_t k = 0; k < x.size(); ++k) {
    const double d = static_cast<double>(x[k]) - r[k];
    e[k / 256].l1 += std::fabs(d);
    e[k / 256].se += d * d;
  }
  return e;
}

// Checks the contract block by block; returns how many blocks changed.
std::size_t check_never_worse(Type type, const std::vector<float>& x, const std::vector<uint8_t>& ref,
                              const std::vector<uint8_t>& out) {
  const std::size_t bytes = kopt::layout_of(type)->bytes;
  const auto er = block_errors(type, x, ref), eo = block_errors(type, x, out);
  std::size_t changed = 0;
  for (std::size_t b = 0; b < er.size(); ++b) {
    if (std::memcmp(ref.data() + b * bytes, out.data() + b * bytes, bytes) == 0) continue;
    ++changed;
    INFO(hqq::gguf::type_name(type) << " block " << b << ": l1 " << eo[b].l1 << " vs " << er[b].l1
                                    << ", se " << eo[b].se << " vs " << er[b].se);
    CHECK(eo[b].l1 < er[b].l1);
    CHECK(eo[b].se < er[b].se);
  }
  return changed;
}

std::vector<float> mixed_matrix(unsigned seed) {
  // Rows of Gaussian, Student-t and outlier weights at different scales.
  std::vector<float> w;
  const Dist dists[] = {Dist::Normal, Dist::StudentT, Dist::Outliers};
  const float sigmas[] = {0.02f, 1.0f, 3e-4f};
  for (int k = 0; k < 9; ++k) {
    const auto part = matrix(4, 512, dists[k % 3], sigmas[k / 3], seed + static_cast<unsigned>(k));
    w.insert(w.end(), part.begin(), part.end());
  }
  return w;
}

// Deterministic heavy-tailed weights from integer hashing and exact float arithmetic only, so that
// every platform (native, wasm) builds the same input: 64 super-blocks, rows of different scale,
// block 2 all zero, block 3 all positive.
std::vector<float> golden_input() {
  const std::size_t n = 256 * 64;
  std::vector<float> x(n);
  uint32_t s = 0x9e3779b9u;
  for (std::size_t i = 0; i < n; ++i) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    const float u = (static_cast<float>(s >> 8) + 0.5f) * (1.0f / 16777216.0f);
    const float t = (u - 0.5f) / (u * (1.0f - u) * 8.0f + 0.25f);
    x[i] = t * static_cast<float>(1 + (i / 1024) % 7) * 0.004f;
  }
  for (std::size_t i = 0; i < 256; ++i) x[2 * 256 + i] = 0.0f;
  for (std::size_t i = 0; i < 256; ++i) x[3 * 256 + i] = std::fabs(x[3 * 256 + i]);
  return x;
}

}  // namespace

TEST_CASE("K-quant reference lanes reproduce llama.cpp's bytes", "[gguf][kopt]") {
  // SHA-256 of quantize_row_q{2,3,4,5,6}_K_ref's output on golden_input(), recorded by running
  // llama.cpp's ggml-quants.c (tag of node-llama-cpp 3.21.1, x86-64 baseline, no FMA).
  const std::pair<Type, const char*> golden[] = {
      {Type::Q2_K, "a6d879a5b04c434707c6fbbe79fb0f3cc4195503e08216c384ef45d43d3e42aa"},
      {Type::Q3_K, "8ad74e5c6aaa5626593eaff7ca5bec75c8a8a42388ab86ef29a7aacb096ce964"},
      {Type::Q4_K, "0d7a1d26234fb5934b863cdad593eb60179eb035ebaba01f33042bb9992d310b"},
      {Type::Q5_K, "ecb335dea9904e895e241a63633b51c95a16533da54332756fba6993a2b67d4a"},
      {Type::Q6_K, "0b3726f50fa267c71703d3af204d36804b0181d88c488d537a74039e155a60a5"},
  };
  const auto x = golden_input();
  for (const auto& [type, hash] : golden) {
    std::vector<uint8_t> bytes(x.size() / 256 * kopt::layout_of(type)->bytes);
    for (bool scalar : {true, false}) {
      kopt::OptimizeOptions o;
      o.scalar = scalar;
      kopt::reference_blocks(type, x.data(), x.size() / 256, bytes.data(), o);
      INFO(hqq::gguf::type_name(type) << (scalar ? " scalar" : " simd"));
      CHECK(testutil::sha256_hex(bytes.data(), bytes.size()) == hash);
    }
  }
}

TEST_CASE("K-quant optimiser from the weights alone: never worse than llama.cpp's block", "[gguf][kopt]") {
  const auto x = mixed_matrix(17);
  for (Type type : kquant_types()) {
    std::vector<uint8_t> ref(x.size() / 256 * kopt::layout_of(type)->bytes), out(ref.size()), via(ref.size());
    kopt::reference_blocks(type, x.data(), x.size() / 256, ref.data());
    const auto counts = kopt::quantize_blocks(type, x.data(), x.size() / 256, out.data());
    const std::size_t changed = check_never_worse(type, x, ref, out);
    INFO(hqq::gguf::type_name(type));
    CHECK(counts.improved == changed);
    CHECK(changed * 10 >= counts.blocks * 8);  // llama.cpp's search leaves room almost everywhere
    kopt::OptimizeOptions so;
    so.scalar = true;
    kopt::quantize_blocks(type, x.data(), x.size() / 256, via.data(), so);
    CHECK(via == out);  // scalar and SIMD kernels agree here too
  }
}

TEST_CASE("K-quant optimiser: the reference blocks it returns alongside are llama.cpp's", "[gguf][kopt]") {
  // compare_reference takes llama.cpp's blocks from the search instead of quantizing twice: they
  // must be the Reference method's bytes, and the optimised blocks must not change.
  const auto x = mixed_matrix(23);
  for (Type type : kquant_types()) {
    const std::size_t nb = x.size() / 256, bytes = kopt::layout_of(type)->bytes;
    std::vector<uint8_t> ref(nb * bytes), out(nb * bytes), paired(nb * bytes), paired_ref(nb * bytes, 0xAA);
    hqq::gguf::ref::quantizer(type)(x.data(), nb, ref.data());
    kopt::quantize_blocks(type, x.data(), nb, out.data());
    hqq::gguf::optimized_quantizer_with_reference(type)(x.data(), nb, paired.data(), paired_ref.data());
    INFO(hqq::gguf::type_name(type));
    CHECK(paired_ref == ref);
    CHECK(paired == out);
  }
  CHECK(hqq::gguf::optimized_quantizer_with_reference(Type::Q4_0) == nullptr);
}

TEST_CASE("K-quant optimiser: every block is the reference or better on both sums", "[gguf][kopt]") {
  const auto x = mixed_matrix(11);
  for (Type type : kquant_types()) {
    const auto ref = rtn_blocks(type, x);
    std::vector<uint8_t> out(ref.size());
    const auto counts = kopt::optimize_blocks(type, x.data(), x.size() / 256, ref.data(), out.data());
    const std::size_t changed = check_never_worse(type, x, ref, out);
    CHECK(counts.blocks == x.size() / 256);
    CHECK(counts.improved == changed);
    // Against plain round-to-nearest the search wins almost everywhere.
    CHECK(changed * 10 >= counts.blocks * 9);
  }
}

TEST_CASE("K-quant optimiser: the scalar and SIMD kernels write the same bytes", "[gguf][kopt]") {
  if (!kopt::have_simd_search()) {
    WARN("this build has no SIMD kernels; the scalar kernel alone is tested");
    return;
  }
  const auto x = mixed_matrix(23);
  for (Type type : kquant_types()) {
    const auto ref = rtn_blocks(type, x);
    std::vector<uint8_t> simd(ref.size()), scalar(ref.size());
    kopt::OptimizeOptions so;
    so.scalar = true;
    const auto cs = kopt::optimize_blocks(type, x.data(), x.size() / 256, ref.data(), scalar.data(), so);
    const auto cv = kopt::optimize_blocks(type, x.data(), x.size() / 256, ref.data(), simd.data());
    INFO(hqq::gguf::type_name(type));
    CHECK(cs.improved == cv.improved);
    CHECK(simd == scalar);
  }
}

TEST_CASE("K-quant optimiser: deterministic, and in place", "[gguf][kopt]") {
  const auto x = mixed_matrix(5);
  for (Type type : kquant_types()) {
    const auto ref = rtn_blocks(type, x);
    std::vector<uint8_t> a(ref.size()), b(ref.size());
    kopt::optimize_blocks(type, x.data(), x.size() / 256, ref.data(), a.data());
    kopt::optimize_blocks(type, x.data(), x.size() / 256, ref.data(), b.data());
    std::vector<uint8_t> inplace = ref;
    kopt::optimize_blocks(type, x.data(), x.size() / 256, inplace.data(), inplace.data());
    INFO(hqq::gguf::type_name(type));
    CHECK(a == b);
    CHECK(a == inplace);
    // Blocks are independent: one block alone gives the bytes it got inside the run.
    const std::size_t bytes = kopt::layout_of(type)->bytes;
    std::vector<uint8_t> one(bytes);
    kopt::optimize_blocks(type, x.data() + 7 * 256, 1, ref.data() + 7 * bytes, one.data());
    CHECK(std::memcmp(one.data(), a.data() + 7 * bytes, bytes) == 0);
  }
}

TEST_CASE("K-quant optimiser: degenerate blocks", "[gguf][kopt]") {
  // zero, constant, positive-only, one spike, tiny (f16 super-scales underflow), huge (near the f16
  // limit), sub-blocks of very different scale
  std::vector<float> x(256 * 8, 0.0f);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int i = 0; i < 256; ++i) x[256 + i] = 0.25f;
  for (int i = 0; i < 256; ++i) x[512 + i] = std::fabs(nd(rng)) * 0.01f;
  x[768 + 17] = 5.0f;
  for (int i = 0; i < 256; ++i) x[1024 + i] = nd(rng) * 1e-9f;
  for (int i = 0; i < 256; ++i) x[1280 + i] = nd(rng) * 2e5f;
  for (int i = 0; i < 256; ++i) x[1536 + i] = nd(rng) * (i < 128 ? 1e-3f : 10.0f);
  for (int i = 0; i < 256; ++i) x[1792 + i] = -std::fabs(nd(rng));
  for (Type type : kquant_types()) {
    const auto ref = rtn_blocks(type, x);
    std::vector<uint8_t> out(ref.size());
    kopt::optimize_blocks(type, x.data(), 8, ref.data(), out.data());
    check_never_worse(type, x, ref, out);
    const std::size_t bytes = kopt::layout_of(type)->bytes;
    INFO(hqq::gguf::type_name(type));
    CHECK(std::memcmp(out.data(), ref.data(), bytes) == 0);  // all zero: already exact
    std::vector<float> r(x.size());
    hqq::gguf::decode_blocks(type, out.data(), 8, r.data());
    for (float v : r) REQUIRE(!std::isnan(v));
  }
}

TEST_CASE("K-quant optimiser: a block with a non-finite reference error is passed through", "[gguf][kopt]") {
  // The public quantizer rejects NaN/Inf weights before this point; the optimiser itself must
  // still neither crash nor pretend to improve such a block.
  std::vector<float> x = matrix(1, 512, Dist::Normal, 0.02f, 9);
  x[3] = std::numeric_limits<float>::infinity();
  x[300] = std::numeric_limits<float>::quiet_NaN();
  for (Type type : kquant_types()) {
    const auto ref = rtn_blocks(type, x);
    std::vector<uint8_t> out(ref.size());
    const auto counts = kopt::optimize_blocks(type, x.data(), 2, ref.data(), out.data());
    INFO(hqq::gguf::type_name(type));
    CHECK(counts.improved == 0);
    CHECK(out == ref);
  }
}

TEST_CASE("K-quant optimiser vs llama.cpp's reference on synthetic matrices: per-type table", "[gguf][kopt]") {
  // Tensor-level ratios ours / llama.cpp (the reference lanes, byte-identical to llama.cpp) of
  // mean |err| and relative Frobenius error. Real trained weights: tests/corpus/real-weights.ts.
  struct Case {
    const char* name;
    Dist dist;
    float sigma;
  };
  const Case cases[] = {{"normal", Dist::Normal, 0.02f}, {"student-t3", Dist::StudentT, 0.02f},
                        {"outliers", Dist::Outliers, 0.02f}, {"student-t3 unit", Dist::StudentT, 1.0f}};
  for (Type type : kquant_types()) {
    double worst_l1 = 0, worst_fro = 0, sum_l1 = 0, sum_fro = 0;
    for (const Case& c : cases) {
      const auto x = matrix(32, 1024, c.dist, c.sigma, 99);
      const std::size_t nb = x.size() / 256;
      std::vector<uint8_t> ref(nb * kopt::layout_of(type)->bytes), ours(ref.size());
      kopt::reference_blocks(type, x.data(), nb, ref.data());
      kopt::quantize_blocks(type, x.data(), nb, ours.data());
      double l1[2] = {0, 0}, se[2] = {0, 0};
      for (int k = 0; k < 2; ++k) {
        for (const BlockErr& e : block_errors(type, x, k == 0 ? ref : ours)) {
          l1[k] += e.l1;
          se[k] += e.se;
        }
      }
      const double r_l1 = l1[1] / l1[0], r_fro = std::sqrt(se[1] / se[0]);
      INFO(hqq::gguf::type_name(type) << " " << c.name);
      CHECK(r_l1 < 1.0);
      CHECK(r_fro < 1.0);
      worst_l1 = std::max(worst_l1, r_l1);
      worst_fro = std::max(worst_fro, r_fro);
      sum_l1 += r_l1;
      sum_fro += r_fro;
    }
    const double n = static_cast<double>(std::size(cases));
    std::printf("[kopt] %s ours/llama.cpp, 4 synthetic tensors: mean|err| mean %.4f worst %.4f; rel. Frobenius mean %.4f worst %.4f\n",
                hqq::gguf::type_name(type), sum_l1 / n, worst_l1, sum_fro / n, worst_fro);
    CHECK(sum_l1 / n < 0.99);  // a real gain, not just "no worse"
  }
}
