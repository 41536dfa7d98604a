// Native timing of the same C++ sources as the wasm build, for the benchmark table
// (scripts/bench.mjs runs this and reads its one-line JSON output).
//   bench_native <rows> <cols> <nbits> <group> <axis> <optimize 0|1> <reps> [weights.f32]
// Without a weights file the input is N(0, 0.02) from a fixed seed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "hqq/hqq.hpp"
#include "kernels/kernels.hpp"

int main(int argc, char** argv) {
  if (argc != 8 && argc != 9) {
    std::fprintf(stderr, "usage: %s rows cols nbits group axis optimize reps [weights.f32]\n", argv[0]);
    return 2;
  }
  const std::size_t rows = std::strtoull(argv[1], nullptr, 10), cols = std::strtoull(argv[2], nullptr, 10);
  hqq::Config cfg;
  cfg.nbits = hqq::nbits_from_number(std::atof(argv[3]));
  cfg.group_size = std::strtoull(argv[4], nullptr, 10);
  cfg.axis = std::atoi(argv[5]);
  cfg.optimize = std::atoi(argv[6]) != 0;
  const int reps = std::atoi(argv[7]);
  std::vector<float> w(rows * cols);
  if (argc == 9) {
    std::FILE* f = std::fopen(argv[8], "rb");
    if (!f || std::fread(w.data(), sizeof(float), w.size(), f) != w.size()) {
      std::fprintf(stderr, "cannot read %zu float32 values from %s\n", w.size(), argv[8]);
      return 1;
    }
    std::fclose(f);
  } else {
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    for (auto& x : w) x = dist(rng);
  }
  std::vector<double> ms;
  int iterations = 0;
  double mean_abs = 0;
  for (int r = 0; r < reps + 1; ++r) {  // first run is the warm-up
    const auto t0 = std::chrono::steady_clock::now();
    const auto q = hqq::quantize(w.data(), {rows, cols}, cfg);
    const auto t1 = std::chrono::steady_clock::now();
    if (r > 0) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    iterations = q.iterations;
    mean_abs = q.stats.mean_abs;
  }
  std::sort(ms.begin(), ms.end());
  std::printf("{\"median_ms\": %.3f, \"min_ms\": %.3f, \"iterations\": %d, \"mean_abs\": %.9g, \"kernels\": \"%s\"}\n",
              ms[ms.size() / 2], ms.front(), iterations, mean_abs, hqq::kernels::default_kernels().name);
  return 0;
}
