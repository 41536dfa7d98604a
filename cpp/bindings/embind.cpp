// Embind glue, and nothing else: JavaScript hands in pointers to data it wrote into wasm memory
// plus plain numbers; results go back as JS objects holding fresh typed-array copies, so no C++
// object outlives a call. Errors are caught here and returned as {ok: false, code, message}: the
// JS wrapper throws them as HQQError, and nothing crosses the boundary as a C++ exception (which
// would arrive as a bare pointer and leak).
#include <emscripten/bind.h>
#include <emscripten/val.h>
#include <malloc.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "guarded.hpp"
#include "hqq/hqq.hpp"
#include "kernels/kernels.hpp"

namespace {

using hqq::bindings::guarded;

using emscripten::typed_memory_view;
using emscripten::val;

template <typename T>
val copy_to_js(const char* type, const T* data, std::size_t n) {
  return val::global(type).new_(typed_memory_view(n, data));  // new XArray(view) copies
}

// A JS number as a size: converting an out-of-range double to an integer is undefined behaviour
// (a trap in wasm), so range-check first.
std::size_t to_size(double v, const char* what) {
  if (!(v >= 0) || v > static_cast<double>(static_cast<std::size_t>(-1)) || v != static_cast<double>(static_cast<std::size_t>(v))) {
    throw hqq::Error(hqq::ErrorCode::InvalidArgument, std::string(what) + " must be an integer between 0 and 2^32 - 1 in the wasm build");
  }
  return static_cast<std::size_t>(v);
}

hqq::Shape to_shape(const val& dims) {
  hqq::Shape shape;
  const auto n = dims["length"].as<unsigned>();
  for (unsigned i = 0; i < n; ++i) shape.push_back(to_size(dims[i].as<double>(), "every dimension of shape"));
  return shape;
}

// `o` is the normalized option object built by web/src/engine.ts (every field present, typed).
hqq::Config to_config(const val& o) {
  hqq::Config c;
  c.nbits = hqq::nbits_from_number(o["nbits"].as<double>());
  c.group_size = to_size(o["groupSize"].as<double>(), "groupSize");
  c.axis = o["axis"].as<int>();
  c.optimize = o["optimize"].as<bool>();
  c.round_zero = o["roundZero"].as<bool>();
  const std::string scale_dtype = o["scaleDtype"].as<std::string>();
  c.scale_dtype = scale_dtype == "f16" ? hqq::StorageDtype::f16
                  : scale_dtype == "bf16" ? hqq::StorageDtype::bf16
                                          : hqq::StorageDtype::f32;
  c.solver.lp_norm = o["lpNorm"].as<double>();
  c.solver.beta = o["beta"].as<double>();
  c.solver.kappa = o["kappa"].as<double>();
  c.solver.iters = o["iters"].as<int>();
  c.solver.early_stop = o["earlyStop"].as<std::string>() == "per-group-best"
                            ? hqq::EarlyStop::PerGroupBest
                            : hqq::EarlyStop::Global;
  return c;
}

// `into` (undefined, or a Uint8Array the caller owns) receives the packed levels when it is
// exactly their length, instead of a fresh array: the model pipeline recycles its output buffers,
// sparing the page faults and garbage of a new one per tensor. It is still one copy out of the heap.
val packed_to_js(const std::vector<uint8_t>& packed, const val& into) {
  if (into.instanceof(val::global("Uint8Array")) && into["length"].as<double>() == static_cast<double>(packed.size())) {
    into.call<void>("set", typed_memory_view(packed.size(), packed.data()));
    return into;
  }
  return copy_to_js("Uint8Array", packed.data(), packed.size());
}

// dtype: 0 = f32 (data is float*), 1 = f16, 2 = bf16 (data is uint16_t*). 16-bit input is handed
// over by the caller: it is freed here as soon as it has been decoded (or on error), so it never
// sits in the heap next to the solver's working memory.
val quantize(uintptr_t data, int dtype, val shape, val options, val packed_into) {
  std::unique_ptr<void, void (*)(void*)> owned(dtype != 0 ? reinterpret_cast<void*>(data) : nullptr, std::free);
  return guarded([&] {
    const hqq::Shape s = to_shape(shape);
    const hqq::Config cfg = to_config(options);
    const hqq::QuantizedTensor q =
        dtype == 0 ? hqq::quantize(reinterpret_cast<const float*>(data), s, cfg)
                   : hqq::quantize(reinterpret_cast<const uint16_t*>(data),
                                   dtype == 1 ? hqq::InputDtype::f16 : hqq::InputDtype::bf16, s, cfg,
                                   [&owned] { owned.reset(); });
    val r = val::object();
    r.set("ok", true);
    r.set("packed", packed_to_js(q.packed, packed_into));
    r.set("scale", copy_to_js("Float32Array", q.scale.data(), q.scale.size()));
    r.set("zero", copy_to_js("Float32Array", q.zero.data(), q.zero.size()));
    r.set("errorTrace", copy_to_js("Float32Array", q.error_trace.data(), q.error_trace.size()));
    r.set("packing", std::string(hqq::packing_name(q.packing)));
    r.set("packedRows", static_cast<double>(q.packed_shape.rows));
    r.set("packedCols", static_cast<double>(q.packed_shape.cols));
    r.set("groupedRows", static_cast<double>(q.grouped_rows));
    r.set("groupedCols", static_cast<double>(q.grouped_cols));
    r.set("iterations", q.iterations);
    r.set("limitedGroups", static_cast<double>(q.limited_groups));
    r.set("meanAbs", q.stats.mean_abs);
    r.set("maxAbs", q.stats.max_abs);
    r.set("frobenius", q.stats.frobenius);
    r.set("relFrobenius", q.stats.rel_frobenius);
    r.set("weightFrobenius", q.stats.weight_frobenius);
    return r;
  });
}

hqq::QuantizedTensor tensor_view(uintptr_t packed, std::size_t packed_bytes, double nbits,
                                 int axis, std::size_t rows, std::size_t cols) {
  hqq::QuantizedTensor q;
  q.config.nbits = hqq::nbits_from_number(nbits);
  q.config.axis = axis;
  q.packing = hqq::packing_for(q.config.nbits);
  q.grouped_rows = rows;
  q.grouped_cols = cols;
  const auto* p = reinterpret_cast<const uint8_t*>(packed);
  q.packed.assign(p, p + packed_bytes);
  return q;
}

val unpack(uintptr_t packed, std::size_t packed_bytes, double nbits, std::size_t rows, std::size_t cols) {
  return guarded([&] {
    const auto bits = hqq::nbits_from_number(nbits);
    const auto levels = hqq::unpack(hqq::packing_for(bits), reinterpret_cast<const uint8_t*>(packed),
                                    packed_bytes, rows, cols);
    val r = val::object();
    r.set("ok", true);
    r.set("levels", copy_to_js("Uint8Array", levels.data(), levels.size()));
    return r;
  });
}

val dequantize(uintptr_t packed, std::size_t packed_bytes, double nbits, int axis, std::size_t rows,
               std::size_t cols, uintptr_t scale, uintptr_t zero, std::size_t n_groups) {
  return guarded([&] {
    if (axis != 0 && axis != 1)
      throw hqq::Error(hqq::ErrorCode::InvalidArgument, "axis must be 0 or 1");
    hqq::QuantizedTensor q = tensor_view(packed, packed_bytes, nbits, axis, rows, cols);
    const auto* s = reinterpret_cast<const float*>(scale);
    const auto* z = reinterpret_cast<const float*>(zero);
    q.scale.assign(s, s + n_groups);
    q.zero.assign(z, z + n_groups);
    const auto out = hqq::dequantize(q);
    val r = val::object();
    r.set("ok", true);
    r.set("values", copy_to_js("Float32Array", out.data(), out.size()));
    return r;
  });
}

// float32 -> float16 (kind 1) or bfloat16 (kind 2) bits, round to nearest even.
val encode16(uintptr_t data, std::size_t n, int kind) {
  return guarded([&] {
    std::vector<uint16_t> out(n);
    const auto* in = reinterpret_cast<const float*>(data);
    if (kind == 1) hqq::encode_f16(in, out.data(), n);
    else hqq::encode_bf16(in, out.data(), n);
    val r = val::object();
    r.set("ok", true);
    r.set("values", copy_to_js("Uint16Array", out.data(), out.size()));
    return r;
  });
}

// float16 (kind 1) or bfloat16 (kind 2) bits -> float32.
val decode16(uintptr_t data, std::size_t n, int kind) {
  return guarded([&] {
    std::vector<float> out(n);
    const auto& k = hqq::kernels::default_kernels();
    (kind == 1 ? k.decode_f16 : k.decode_bf16)(reinterpret_cast<const uint16_t*>(data), out.data(), n);
    val r = val::object();
    r.set("ok", true);
    r.set("values", copy_to_js("Float32Array", out.data(), out.size()));
    return r;
  });
}

void set_stats(val& target, const char* key, const hqq::ErrorStats& st) {
  val o = val::object();
  o.set("meanAbs", st.mean_abs);
  o.set("maxAbs", st.max_abs);
  o.set("frobenius", st.frobenius);
  o.set("relFrobenius", st.rel_frobenius);
  o.set("weightFrobenius", st.weight_frobenius);
  target.set(key, o);
}

// GGML block types. dtype as for quantize (16-bit input is handed over and freed here, after the
// call, on success or error); type_id is the GGML id; method 0 = reference, 1 = optimized.
val quantize_gguf(uintptr_t data, int dtype, double rows, double cols, int type_id, int method,
                  bool compare_reference) {
  std::unique_ptr<void, void (*)(void*)> owned(dtype != 0 ? reinterpret_cast<void*>(data) : nullptr, std::free);
  return guarded([&] {
    const auto type = hqq::gguf::type_from_id(static_cast<uint32_t>(type_id));
    hqq::gguf::QuantizeOptions o;
    o.method = method == 0 ? hqq::gguf::Method::Reference : hqq::gguf::Method::Optimized;
    o.compare_reference = compare_reference;
    const std::size_t r = to_size(rows, "rows"), c = to_size(cols, "cols");
    hqq::gguf::QuantizeResult q =
        dtype == 0 ? hqq::gguf::quantize(type, reinterpret_cast<const float*>(data), r, c, o)
                   : hqq::gguf::quantize(type, reinterpret_cast<const uint16_t*>(data),
                                         dtype == 1 ? hqq::InputDtype::f16 : hqq::InputDtype::bf16, r, c, o);
    owned.reset();
    val out = val::object();
    out.set("ok", true);
    out.set("bytes", copy_to_js("Uint8Array", q.bytes.data(), q.bytes.size()));
    q.bytes = {};
    set_stats(out, "stats", q.stats);
    if (q.has_reference) set_stats(out, "reference", q.reference);
    return out;
  });
}

val dequantize_gguf(uintptr_t bytes, double n_bytes, double rows, double cols, int type_id) {
  return guarded([&] {
    const auto type = hqq::gguf::type_from_id(static_cast<uint32_t>(type_id));
    const auto values = hqq::gguf::dequantize(type, reinterpret_cast<const uint8_t*>(bytes),
                                              to_size(n_bytes, "the byte count"), to_size(rows, "rows"),
                                              to_size(cols, "cols"));
    val r = val::object();
    r.set("ok", true);
    r.set("values", copy_to_js("Float32Array", values.data(), values.size()));
    return r;
  });
}

std::string kernel_name() { return hqq::kernels::default_kernels().name; }
double heap_in_use() { return static_cast<double>(mallinfo().uordblks); }

}  // namespace

EMSCRIPTEN_BINDINGS(hqq) {
  emscripten::function("quantize", &quantize);
  emscripten::function("unpack", &unpack);
  emscripten::function("dequantize", &dequantize);
  emscripten::function("encode16", &encode16);
  emscripten::function("decode16", &decode16);
  emscripten::function("quantizeGGUF", &quantize_gguf);
  emscripten::function("dequantizeGGUF", &dequantize_gguf);
  emscripten::function("kernelName", &kernel_name);
  emscripten::function("heapInUse", &heap_in_use);
}
