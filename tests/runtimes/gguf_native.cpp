// The native build of the GGUF block quantizers as a command-line tool, so that the tests under
// tests/runtimes/ can compare native output with llama.cpp's (through the harness) and with the
// wasm builds on the same files:
//   gguf_native quantize   TYPE reference|optimized ROWS COLS IN.f32 OUT.bin   prints JSON statistics
//   gguf_native dequantize TYPE ROWS COLS IN.bin OUT.f32
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "hqq/error.hpp"
#include "hqq/gguf.hpp"

namespace {

std::vector<char> read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot open ") + path);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

void write_file(const char* path, const void* data, std::size_t n) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
  if (!out) throw std::runtime_error(std::string("cannot write ") + path);
}

void print_stats(const char* key, const hqq::ErrorStats& s) {
  std::printf("\"%s\": {\"meanAbs\": %.17g, \"maxAbs\": %.17g, \"frobenius\": %.17g, \"relFrobenius\": %.17g, \"weightFrobenius\": %.17g}",
              key, s.mean_abs, s.max_abs, s.frobenius, s.rel_frobenius, s.weight_frobenius);
}

std::size_t count(const char* text) { return static_cast<std::size_t>(std::stoull(text)); }

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "quantize" && argc == 8) {
      const auto type = hqq::gguf::type_from_name(argv[2]);
      hqq::gguf::QuantizeOptions options;
      options.method = std::string(argv[3]) == "reference" ? hqq::gguf::Method::Reference : hqq::gguf::Method::Optimized;
      options.compare_reference = true;
      const std::size_t rows = count(argv[4]), cols = count(argv[5]);
      const std::vector<char> in = read_file(argv[6]);
      if (in.size() != rows * cols * sizeof(float)) throw std::runtime_error("input size does not match the shape");
      std::vector<float> w(rows * cols);
      std::memcpy(w.data(), in.data(), in.size());
      const auto r = hqq::gguf::quantize(type, w.data(), rows, cols, options);
      write_file(argv[7], r.bytes.data(), r.bytes.size());
      std::printf("{");
      print_stats("stats", r.stats);
      std::printf(", ");
      print_stats("reference", r.reference);
      std::printf("}\n");
      return 0;
    }
    if (command == "dequantize" && argc == 7) {
      const auto type = hqq::gguf::type_from_name(argv[2]);
      const std::size_t rows = count(argv[3]), cols = count(argv[4]);
      const std::vector<char> in = read_file(argv[5]);
      const auto out = hqq::gguf::dequantize(type, reinterpret_cast<const uint8_t*>(in.data()), in.size(), rows, cols);
      write_file(argv[6], out.data(), out.size() * sizeof(float));
      return 0;
    }
    std::fprintf(stderr, "usage: gguf_native quantize TYPE reference|optimized ROWS COLS IN.f32 OUT.bin\n"
                         "       gguf_native dequantize TYPE ROWS COLS IN.bin OUT.f32\n");
    return 2;
  } catch (const hqq::Error& e) {
    std::fprintf(stderr, "%s: %s\n", hqq::error_code_name(e.code()), e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gguf_native: %s\n", e.what());
  }
  return 1;
}
