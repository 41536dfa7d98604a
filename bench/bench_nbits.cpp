// Native timing of the MatMulNBits quantizers (hqq/nbits.hpp) on one [K, N] N(0, 0.02) weight:
// onnxruntime-style RTN, the integer-zero solver and float-zero HQQ, as ratios to RTN's time.
//   bench_nbits <K> <N> <bits> <block> <reps>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <random>
#include <vector>

#include "hqq/nbits.hpp"

namespace nb = hqq::nbits;

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s K N bits block reps\n", argv[0]);
    return 2;
  }
  const std::size_t K = std::strtoull(argv[1], nullptr, 10), N = std::strtoull(argv[2], nullptr, 10);
  const int reps = std::atoi(argv[5]);
  std::vector<float> w(K * N);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (auto& x : w) x = normal(rng);
  nb::Options o;
  o.bits = std::atoi(argv[3]);
  o.block_size = std::strtoull(argv[4], nullptr, 10);
  struct Mode {
    const char* name;
    nb::ZeroPoints z;
    bool optimize;
  };
  const Mode modes[] = {{"rtn", nb::ZeroPoints::Uint8, false}, {"uint8", nb::ZeroPoints::Uint8, true}, {"float", nb::ZeroPoints::Float, true}};
  double rtn_ms = 0;
  for (const Mode& m : modes) {
    o.zero_points = m.z;
    o.optimize = m.optimize;
    double best = 1e30, rel = 0;
    for (int r = 0; r < reps; ++r) {
      // Process CPU time, not wall time: the ratios stay meaningful on a shared, busy machine.
      const std::clock_t t0 = std::clock();
      const nb::Result q = nb::quantize(w.data(), hqq::InputDtype::f32, K, N, o);
      best = std::min(best, 1000.0 * static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC);
      rel = std::sqrt(q.stats.sum_sq / q.stats.sum_w_sq);
    }
    if (m.z == nb::ZeroPoints::Uint8 && !m.optimize) rtn_ms = best;
    std::printf("%-6s %8.1f ms  %5.1fx RTN time  rel. Frobenius %.5f\n", m.name, best, best / rtn_ms, rel);
  }
  return 0;
}
