// MatMulNBits (hqq/nbits.hpp): byte layout, partial blocks, onnxruntime's RTN reproduced by an
// independent plain implementation, the integer-zero solver never worse than RTN on any block, the
// float-zero mode, dequantization and the error paths. Prints float-zero HQQ vs uint8-zero HQQ vs
// RTN per bit width.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "gguf_test_util.hpp"
#include "hqq/nbits.hpp"

using namespace gguf_test;
namespace nb = hqq::nbits;

namespace {

struct Plain {  // a MatMulNBits result written by the test's own code
  std::vector<uint8_t> qweight, zero_points;
  std::vector<float> scales;
};

// onnxruntime's RTN for uint8 zero points, written from MLAS's description straight on the [K, N]
// input (no shared code with the library): range including 0, scale = range / max_q, zero point
// roundf(-min / scale) clamped, levels roundf(w / scale + zp) clamped, K padded with zeros.
Plain plain_rtn(const std::vector<float>& kn, std::size_t K, std::size_t N, int bits, std::size_t bs) {
  const std::size_t nb_ = (K + bs - 1) / bs, per = 8 / bits, row_zp = (nb_ * bits + 7) / 8;
  const int mq = (1 << bits) - 1;
  Plain p;
  p.qweight.assign(N * nb_ * bs * bits / 8, 0);
  p.scales.assign(N * nb_, 0);
  p.zero_points.assign(N * row_zp, 0);
  std::vector<int> zps(row_zp * per, 1 << (bits - 1));
  for (std::size_t n = 0; n < N; ++n) {
    for (std::size_t b = 0; b < nb_; ++b) {
      float lo = 0.0f, hi = 0.0f;  // the range always includes 0 (and the zero padding)
      for (std::size_t k = b * bs; k < std::min(K, b * bs + bs); ++k) lo = std::min(lo, kn[k * N + n]), hi = std::max(hi, kn[k * N + n]);
      const float scale = (hi - lo) / static_cast<float>(mq);
      const float zf = scale != 0.0f ? -lo / scale : 0.0f;
      const int zp = zf < 0 ? 0 : zf > mq ? mq : static_cast<int>(std::roundf(zf));
      p.scales[n * nb_ + b] = scale;
      zps[b] = zp;
      const float recip = scale != 0.0f ? 1.0f / scale : 0.0f;
      for (std::size_t i = 0; i < bs; ++i) {
        const std::size_t k = b * bs + i;
        const float w = k < K ? kn[k * N + n] : 0.0f;
        const int q = static_cast<int>(std::clamp(std::roundf(w * recip + static_cast<float>(zp)), 0.0f, static_cast<float>(mq)));
        p.qweight[(n * nb_ + b) * bs * bits / 8 + i / per] |= static_cast<uint8_t>(q << ((i % per) * bits));
      }
    }
    for (std::size_t j = 0; j < row_zp * per; ++j) p.zero_points[n * row_zp + j / per] |= static_cast<uint8_t>(zps[j] << ((j % per) * bits));
    std::fill(zps.begin(), zps.end(), 1 << (bits - 1));
  }
  return p;
}

std::vector<float> transpose(const std::vector<float>& a, std::size_t rows, std::size_t cols) {
  std::vector<float> t(a.size());
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) t[c * rows + r] = a[r * cols + c];
  return t;
}

nb::Options opts(int bits, std::size_t bs, nb::ZeroPoints z, bool optimize = true) {
  nb::Options o;
  o.bits = bits;
  o.block_size = bs;
  o.zero_points = z;
  o.optimize = optimize;
  o.compare_baseline = true;
  return o;
}

std::vector<float> dequant(const nb::Result& r, const nb::Options& o, nb::Layout layout = nb::Layout::KN) {
  nb::DequantizeParams p;
  p.K = r.K;
  p.N = r.N;
  p.bits = o.bits;
  p.block_size = o.block_size;
  p.scale_type = o.scale_type;
  p.zero_points = o.zero_points == nb::ZeroPoints::Uint8 ? nb::StoredZeros::Uint8 : nb::StoredZeros::Float;
  p.layout = layout;
  return nb::dequantize(r.qweight.data(), r.qweight.size(), r.scales.data(), r.scales.size(), r.zero_points.data(),
                        r.zero_points.size(), p);
}

struct Err {
  double abs = 0, sq = 0;
};
// Per-block sums of |w - r| and (w - r)^2 over [K, N] arrays, block (n, b) at n * n_blocks + b.
std::vector<Err> block_errors(const std::vector<float>& w, const std::vector<float>& r, std::size_t K, std::size_t N, std::size_t bs) {
  const std::size_t nb_ = (K + bs - 1) / bs;
  std::vector<Err> e(N * nb_);
  for (std::size_t k = 0; k < K; ++k) {
    for (std::size_t n = 0; n < N; ++n) {
      const double d = static_cast<double>(w[k * N + n]) - static_cast<double>(r[k * N + n]);
      e[n * nb_ + k / bs].abs += std::fabs(d);
      e[n * nb_ + k / bs].sq += d * d;
    }
  }
  return e;
}

double rel_frob(const nb::Sums& s) { return std::sqrt(s.sum_sq / s.sum_w_sq); }

std::vector<float> shared_input(const char* name) {
  std::ifstream f(std::string(HQQ_REF_DIR) + "/inputs/" + name, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> w(bytes.size() / 4);
  std::memcpy(w.data(), bytes.data(), w.size() * 4);
  return w;
}

struct Corpus {
  std::string name;
  std::vector<float> kn;  // [K, N]
  std::size_t K, N;
};

std::vector<Corpus> corpus() {
  std::vector<Corpus> c = {
      {"normal 0.02", matrix(200, 48, Dist::Normal, 0.02f, 1), 200, 48},
      {"student-t", matrix(200, 48, Dist::StudentT, 0.02f, 2), 200, 48},
      {"outliers", matrix(200, 48, Dist::Outliers, 0.02f, 3), 200, 48},
      {"unit scale", matrix(200, 48, Dist::Normal, 1.0f, 4), 200, 48},
      {"shifted", matrix(200, 48, Dist::Normal, 0.02f, 5), 200, 48},
  };
  for (auto& x : c.back().kn) x += 0.05f;  // blocks that do not straddle 0
  for (const char* f : {"normal_256x512.f32.bin", "t3_256x512.f32.bin", "unit_256x512.f32.bin"}) {
    std::vector<float> w = shared_input(f);
    REQUIRE(w.size() == 256 * 512);
    c.push_back({f, w, 512, 256});  // the file's [256, 512] read as a MatMul B of K = 512, N = 256
  }
  return c;
}

}  // namespace

TEST_CASE("nbits: levels are packed along K, low bits first, per block", "[nbits]") {
  // K = 16, N = 1: one block of 16 weights 0..15 at 4 bits: RTN gives scale 1, zp 0, levels = k.
  std::vector<float> w(16);
  for (int k = 0; k < 16; ++k) w[k] = static_cast<float>(k);
  const auto r = nb::quantize(w.data(), hqq::InputDtype::f32, 16, 1, opts(4, 16, nb::ZeroPoints::Uint8, false));
  REQUIRE(r.qweight.size() == 8);
  for (int j = 0; j < 8; ++j) CHECK(r.qweight[j] == static_cast<uint8_t>((2 * j) | ((2 * j + 1) << 4)));
  REQUIRE(r.zero_points.size() == 1);
  CHECK(r.zero_points[0] == (0 | (8 << 4)));  // block 0's zp in the low nibble; the unused slot is 8
  float scale;
  std::memcpy(&scale, r.scales.data(), 4);
  CHECK(scale == 1.0f);
}

TEST_CASE("nbits: RTN equals an independent onnxruntime-style implementation, byte for byte", "[nbits]") {
  for (int bits : {2, 4, 8}) {
    for (std::size_t bs : {16, 32, 128}) {
      for (std::size_t K : {std::size_t(256), std::size_t(100), std::size_t(7)}) {
        const std::size_t N = 13;
        const auto w = matrix(K, N, Dist::StudentT, 0.05f, static_cast<unsigned>(bits * 1000 + bs + K));
        INFO("bits " << bits << " block " << bs << " K " << K);
        const auto o = opts(bits, bs, nb::ZeroPoints::Uint8, false);
        const auto r = nb::quantize(w.data(), hqq::InputDtype::f32, K, N, o);
        const Plain p = plain_rtn(w, K, N, bits, bs);
        CHECK(r.qweight == p.qweight);
        CHECK(r.zero_points == p.zero_points);
        REQUIRE(r.scales.size() == p.scales.size() * 4);
        CHECK(std::memcmp(r.scales.data(), p.scales.data(), r.scales.size()) == 0);
        // Without the solver the result is the baseline itself.
        CHECK(r.stats.sum_sq == r.baseline.sum_sq);
        CHECK(r.stats.count == static_cast<double>(K * N));
      }
    }
  }
}

TEST_CASE("nbits: stats are those of the stored bytes; NK input gives the same bytes as KN", "[nbits]") {
  const std::size_t K = 150, N = 20;  // 150 = 4 full blocks of 32 + a partial one of 22
  const auto w = matrix(K, N, Dist::Outliers, 0.03f, 77);
  for (int bits : {2, 4, 8}) {
    for (auto z : {nb::ZeroPoints::Uint8, nb::ZeroPoints::Float}) {
      for (auto st : {nb::ScaleType::f32, nb::ScaleType::f16}) {
        INFO("bits " << bits << " float zeros " << (z == nb::ZeroPoints::Float) << " f16 " << (st == nb::ScaleType::f16));
        auto o = opts(bits, 32, z);
        o.scale_type = st;
        const auto r = nb::quantize(w.data(), hqq::InputDtype::f32, K, N, o);
        CHECK(r.n_blocks == 5);
        CHECK(r.qweight.size() == N * 5 * 32 * bits / 8);
        const auto back = dequant(r, o);
        double sa = 0, sq = 0, mx = 0;
        for (std::size_t i = 0; i < w.size(); ++i) {
          const double d = std::fabs(static_cast<double>(w[i]) - back[i]);
          sa += d, sq += d * d, mx = std::max(mx, d);
        }
        CHECK(r.stats.sum_sq == Approx(sq).epsilon(1e-9));
        CHECK(r.stats.sum_abs == Approx(sa).epsilon(1e-9));
        CHECK(r.stats.max_abs == mx);
        CHECK(r.stats.count == static_cast<double>(K * N));
        // The padding of every partial block dequantizes to (nearly) 0: it holds the zero point.
        const auto nk_back = dequant(r, o, nb::Layout::NK);
        CHECK(nk_back == transpose(back, K, N));
        o.layout = nb::Layout::NK;
        const auto r_nk = nb::quantize(transpose(w, K, N).data(), hqq::InputDtype::f32, N, K, o);
        CHECK(r_nk.qweight == r.qweight);
        CHECK(r_nk.scales == r.scales);
        CHECK(r_nk.zero_points == r.zero_points);
      }
    }
  }
}

TEST_CASE("nbits: partial blocks pad with the zero point and uint8 zero points stay in range", "[nbits]") {
  const std::size_t K = 50, N = 9, bs = 32;  // blocks of 32 and 18
  const auto w = matrix(K, N, Dist::Normal, 0.02f, 5);
  for (int bits : {2, 4, 8}) {
    const auto o = opts(bits, bs, nb::ZeroPoints::Uint8);
    const auto r = nb::quantize(w.data(), hqq::InputDtype::f32, K, N, o);
    const std::size_t per = 8 / bits, mask = (1u << bits) - 1, zp_row = (2 * bits + 7) / 8;
    REQUIRE(r.zero_points.size() == N * zp_row);
    for (std::size_t n = 0; n < N; ++n) {
      const unsigned zp = (r.zero_points[n * zp_row + 1 / per] >> ((1 % per) * bits)) & mask;
      CHECK(zp <= mask);
      const uint8_t* blk = r.qweight.data() + (n * 2 + 1) * bs * bits / 8;
      for (std::size_t i = 18; i < bs; ++i) CHECK(((blk[i / per] >> ((i % per) * bits)) & mask) == zp);
    }
  }
}

TEST_CASE("nbits: the integer-zero solver is never worse than onnxruntime's RTN on any block", "[nbits]") {
  std::printf("\nMatMulNBits rel. Frobenius error (block 32): float-zero HQQ | uint8-zero HQQ | onnxruntime RTN\n");
  for (const Corpus& c : corpus()) {
    for (int bits : {2, 4, 8}) {
      for (std::size_t bs : {32, 128}) {
        for (auto st : {nb::ScaleType::f32, nb::ScaleType::f16}) {
          INFO(c.name << " bits " << bits << " block " << bs << " f16 " << (st == nb::ScaleType::f16));
          auto o = opts(bits, bs, nb::ZeroPoints::Uint8);
          o.scale_type = st;
          const auto ours = nb::quantize(c.kn.data(), hqq::InputDtype::f32, c.K, c.N, o);
          auto o_rtn = o;
          o_rtn.optimize = false;
          const auto rtn = nb::quantize(c.kn.data(), hqq::InputDtype::f32, c.K, c.N, o_rtn);
          const auto eo = block_errors(c.kn, dequant(ours, o), c.K, c.N, bs);
          const auto er = block_errors(c.kn, dequant(rtn, o_rtn), c.K, c.N, bs);
          std::size_t worse = 0, better = 0;
          for (std::size_t i = 0; i < eo.size(); ++i) {
            worse += eo[i].sq > er[i].sq || eo[i].abs > er[i].abs;
            better += eo[i].sq < er[i].sq;
          }
          CHECK(worse == 0);
          CHECK(ours.baseline.sum_sq == rtn.stats.sum_sq);
          CHECK(ours.stats.sum_sq <= rtn.stats.sum_sq);
          if (bits < 8) CHECK(better > 0);  // it does improve (8-bit blocks of ties may already be optimal)
          if (bs == 32 && st == nb::ScaleType::f32) {
            auto of = opts(bits, bs, nb::ZeroPoints::Float);
            const auto fl = nb::quantize(c.kn.data(), hqq::InputDtype::f32, c.K, c.N, of);
            std::printf("  %-24s %d-bit   %.5f | %.5f | %.5f   (uint8/RTN %.3f)\n", c.name.c_str(), bits, rel_frob(fl.stats),
                        rel_frob(ours.stats), rel_frob(rtn.stats), rel_frob(ours.stats) / rel_frob(rtn.stats));
          }
        }
      }
    }
  }
}

TEST_CASE("nbits: 16-bit input quantizes as its float32 decoding", "[nbits]") {
  const std::size_t K = 64, N = 8;
  const auto w = matrix(K, N, Dist::Normal, 0.1f, 9);
  std::vector<uint16_t> h(w.size()), bf(w.size());
  std::vector<float> hf(w.size()), bff(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    h[i] = hqq::f32_to_f16(w[i]), hf[i] = hqq::f16_to_f32(h[i]);
    bf[i] = hqq::f32_to_bf16(w[i]), bff[i] = hqq::bf16_to_f32(bf[i]);
  }
  for (auto z : {nb::ZeroPoints::Uint8, nb::ZeroPoints::Float}) {
    const auto o = opts(4, 32, z);
    CHECK(nb::quantize(h.data(), hqq::InputDtype::f16, K, N, o).qweight == nb::quantize(hf.data(), hqq::InputDtype::f32, K, N, o).qweight);
    CHECK(nb::quantize(bf.data(), hqq::InputDtype::bf16, K, N, o).scales == nb::quantize(bff.data(), hqq::InputDtype::f32, K, N, o).scales);
  }
}

TEST_CASE("nbits: bad input gives structured errors", "[nbits]") {
  std::vector<float> w(64 * 4, 0.01f);
  const auto o = opts(4, 32, nb::ZeroPoints::Uint8);
  auto q = [&](const nb::Options& x) { nb::quantize(w.data(), hqq::InputDtype::f32, 64, 4, x); };
  auto bad_bits = o;
  bad_bits.bits = 3;
  expect_error([&] { q(bad_bits); }, hqq::ErrorCode::InvalidArgument, {"bits = 3", "2, 4 or 8"});
  auto bad_block = o;
  bad_block.block_size = 48;
  expect_error([&] { q(bad_block); }, hqq::ErrorCode::InvalidArgument, {"blockSize = 48", "power of two"});
  bad_block.block_size = 8;
  expect_error([&] { q(bad_block); }, hqq::ErrorCode::InvalidArgument, {"blockSize = 8"});
  w[5 * 4 + 2] = std::nanf("");
  expect_error([&] { q(o); }, hqq::ErrorCode::InvalidValue, {"non-finite", "row 5, column 2", "[K, N]"});
  w[5 * 4 + 2] = 1e6f;  // a float16 scale of 1e6 / 15 overflows
  auto f16 = o;
  f16.scale_type = nb::ScaleType::f16;
  expect_error([&] { q(f16); }, hqq::ErrorCode::InvalidValue, {"float16", "output column n = 2, block 0", "scaleType 'float32'"});
  f16.zero_points = nb::ZeroPoints::Float;
  expect_error([&] { q(f16); }, hqq::ErrorCode::InvalidValue, {"float16", "output column n = 2"});
  expect_error([&] { nb::quantize(w.data(), hqq::InputDtype::f32, 0, 4, o); }, hqq::ErrorCode::InvalidArgument, {"no elements"});
  nb::DequantizeParams p;
  p.K = 64;
  p.N = 4;
  std::vector<uint8_t> small(10);
  expect_error([&] { nb::dequantize(small.data(), small.size(), small.data(), small.size(), small.data(), small.size(), p); },
               hqq::ErrorCode::InvalidArgument, {"qweight holds 10 bytes", "need 128"});
}

TEST_CASE("nbits: degenerate weights quantize exactly or fail cleanly", "[nbits]") {
  for (auto z : {nb::ZeroPoints::Uint8, nb::ZeroPoints::Float}) {
    for (int bits : {2, 4, 8}) {
      INFO("bits " << bits << " float zeros " << (z == nb::ZeroPoints::Float));
      const auto o = opts(bits, 16, z);
      // All zeros, one weight, constant blocks: reconstructed exactly.
      std::vector<float> zeros(40 * 3, 0.0f);
      const auto r0 = nb::quantize(zeros.data(), hqq::InputDtype::f32, 40, 3, o);
      CHECK(r0.stats.sum_sq == 0.0);
      CHECK(dequant(r0, o) == zeros);
      const float one = -0.25f;
      const auto r1 = nb::quantize(&one, hqq::InputDtype::f32, 1, 1, o);
      CHECK(r1.n_blocks == 1);
      CHECK(dequant(r1, o)[0] == Approx(one).margin(1e-7));
      std::vector<float> flat(32 * 2, 0.5f);
      const auto rc = nb::quantize(flat.data(), hqq::InputDtype::f32, 32, 2, o);
      CHECK(rc.stats.max_abs < 1e-6);
      // Values near the float32 limit: a range that overflows float32 is an error, not Inf.
      std::vector<float> wide = {3e38f, -3e38f, 1.0f, 2.0f};
      expect_error([&] { nb::quantize(wide.data(), hqq::InputDtype::f32, 4, 1, o); }, hqq::ErrorCode::InvalidValue, {"float32"});
    }
  }
}

TEST_CASE("nbits: the integer-zero solver comes within 2% of a brute-force search", "[nbits]") {
  // Per block: 2000 stored scales from 0.5x to 2x range / max_q, each with every integer zero (at 8
  // bits the five around -min / scale), levels to nearest: the best sum of squares found.
  const std::size_t K = 128, N = 16, bs = 32;
  const auto w = matrix(K, N, Dist::Normal, 0.02f, 21);
  for (int bits : {2, 4, 8}) {
    const int mq = (1 << bits) - 1;
    double bound = 0;
    for (std::size_t n = 0; n < N; ++n) {
      for (std::size_t b = 0; b < K / bs; ++b) {
        float blk[32], mn = 1e30f, mx = -1e30f;
        for (std::size_t i = 0; i < bs; ++i) blk[i] = w[(b * bs + i) * N + n], mn = std::min(mn, blk[i]), mx = std::max(mx, blk[i]);
        double best = 1e30;
        for (int s = 0; s < 2000; ++s) {
          const float d = static_cast<float>((mx - mn) / mq * (0.5 + s * 0.00075));
          const int zc = static_cast<int>(std::lround(-mn / d));
          for (int z = bits == 8 ? std::max(0, zc - 2) : 0; z <= (bits == 8 ? std::min(mq, zc + 2) : mq); ++z) {
            double e = 0;
            for (std::size_t i = 0; i < bs; ++i) {
              const float q = std::clamp(std::nearbyint(blk[i] / d + static_cast<float>(z)), 0.0f, static_cast<float>(mq));
              const double r = static_cast<double>((q - static_cast<float>(z)) * d);
              e += (blk[i] - r) * (blk[i] - r);
            }
            best = std::min(best, e);
          }
        }
        bound += best;
      }
    }
    const auto r = nb::quantize(w.data(), hqq::InputDtype::f32, K, N, opts(bits, bs, nb::ZeroPoints::Uint8));
    INFO(bits << "-bit: ours " << r.stats.sum_sq << ", brute force " << bound << ", RTN " << r.baseline.sum_sq);
    CHECK(std::sqrt(r.stats.sum_sq / bound) < 1.02);
  }
}
