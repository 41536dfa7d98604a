// Embind glue of the MatMulNBits quantizer (cpp/include/hqq/nbits.hpp), and nothing else: pointers
// to input bytes the JavaScript side wrote into wasm memory plus plain values in, a JS object with
// fresh typed-array copies out. Errors come back as {ok: false, code, message} (web/src/engine.ts
// throws them as HQQError), never as a C++ exception crossing the boundary.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <new>
#include <string>

#include "guarded.hpp"
#include "hqq/error.hpp"
#include "hqq/nbits.hpp"

namespace {

using hqq::bindings::guarded;

using emscripten::typed_memory_view;
using emscripten::val;
namespace nb = hqq::nbits;

val bytes(const std::vector<uint8_t>& v) { return val::global("Uint8Array").new_(typed_memory_view(v.size(), v.data())); }

val sums(const nb::Sums& s) {
  val o = val::object();
  o.set("count", s.count);
  o.set("sumAbs", s.sum_abs);
  o.set("sumSq", s.sum_sq);
  o.set("maxAbs", s.max_abs);
  o.set("sumWSq", s.sum_w_sq);
  return o;
}

// `o` is the normalized option object of engine.ts (every field present and checked there).
nb::Options to_options(const val& o) {
  nb::Options r;
  r.bits = o["bits"].as<int>();
  r.block_size = o["blockSize"].as<unsigned>();
  r.zero_points = o["zeroPoints"].as<std::string>() == "float" ? nb::ZeroPoints::Float : nb::ZeroPoints::Uint8;
  r.layout = o["layout"].as<std::string>() == "NK" ? nb::Layout::NK : nb::Layout::KN;
  r.scale_type = o["scaleType"].as<std::string>() == "float16" ? nb::ScaleType::f16 : nb::ScaleType::f32;
  r.optimize = o["optimize"].as<bool>();
  r.compare_baseline = o["compareBaseline"].as<bool>();
  return r;
}

// dtype: 0 = f32, 1 = f16, 2 = bf16. rows/cols are the input's shape in its layout.
val quantize_nbits(uintptr_t data, int dtype, unsigned rows, unsigned cols, val options) {
  return guarded([&] {
    const hqq::InputDtype d = dtype == 1 ? hqq::InputDtype::f16 : dtype == 2 ? hqq::InputDtype::bf16 : hqq::InputDtype::f32;
    nb::Result q = nb::quantize(reinterpret_cast<const void*>(data), d, rows, cols, to_options(options));
    val r = val::object();
    r.set("ok", true);
    r.set("K", static_cast<double>(q.K));
    r.set("N", static_cast<double>(q.N));
    r.set("nBlocks", static_cast<double>(q.n_blocks));
    r.set("qweight", bytes(q.qweight));
    r.set("scales", bytes(q.scales));
    r.set("zeroPoints", bytes(q.zero_points));
    r.set("stats", sums(q.stats));
    if (q.has_baseline) r.set("baseline", sums(q.baseline));
    r.set("iterations", q.iterations);
    return r;
  });
}

// scale_type 0 = float32, 1 = float16; zeros 0 = none, 1 = uint8, 2 = float; layout 0 = KN, 1 = NK.
val dequantize_nbits(uintptr_t q, unsigned q_bytes, uintptr_t s, unsigned s_bytes, uintptr_t z, unsigned z_bytes,
                     unsigned K, unsigned N, int bits, unsigned block_size, int scale_type, int zeros, int layout) {
  return guarded([&] {
    nb::DequantizeParams p;
    p.K = K;
    p.N = N;
    p.bits = bits;
    p.block_size = block_size;
    p.scale_type = scale_type == 1 ? nb::ScaleType::f16 : nb::ScaleType::f32;
    p.zero_points = zeros == 1 ? nb::StoredZeros::Uint8 : zeros == 2 ? nb::StoredZeros::Float : nb::StoredZeros::None;
    p.layout = layout == 1 ? nb::Layout::NK : nb::Layout::KN;
    const auto out = nb::dequantize(reinterpret_cast<const uint8_t*>(q), q_bytes, reinterpret_cast<const uint8_t*>(s), s_bytes,
                                    zeros == 0 ? nullptr : reinterpret_cast<const uint8_t*>(z), z_bytes, p);
    val r = val::object();
    r.set("ok", true);
    r.set("values", val::global("Float32Array").new_(typed_memory_view(out.size(), out.data())));
    return r;
  });
}

}  // namespace

EMSCRIPTEN_BINDINGS(hqq_nbits) {
  emscripten::function("quantizeNBits", &quantize_nbits);
  emscripten::function("dequantizeNBits", &dequantize_nbits);
}
