// The one way every Embind entry point reports failure: errors are caught at the boundary and
// returned as {ok: false, code, message} (the JS wrapper throws them as HQQError). A C++ exception
// must never cross into JavaScript: it would arrive as a bare pointer and leak.
#pragma once

#include <emscripten/val.h>

#include <exception>
#include <new>
#include <string>

#include "hqq/error.hpp"

namespace hqq::bindings {

inline emscripten::val error_result(const char* code, const std::string& message) {
  emscripten::val r = emscripten::val::object();
  r.set("ok", false);
  r.set("code", std::string(code));
  r.set("message", message);
  return r;
}

/** Runs `fn` (which returns the {ok: true, ...} object) and turns any exception into an error result. */
template <typename Fn>
emscripten::val guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const hqq::Error& e) {
    return error_result(hqq::error_code_name(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    return error_result("OUT_OF_MEMORY", "out of wasm memory (the 4 GiB address space is full)");
  } catch (const std::exception& e) {
    return error_result("INTERNAL", e.what());
  }
}

}  // namespace hqq::bindings
