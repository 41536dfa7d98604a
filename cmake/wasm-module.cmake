# The Embind module of the npm package: one ES module + .wasm per flavour (SIMD / scalar), built for
# web and worker environments only; Node gets its wasm bytes from the package's own loader (see
# docs in TOOLCHAIN notes: Emscripten 3.1.6's Node loader does not work from an ES module).
if(NOT EMSCRIPTEN)
  message(FATAL_ERROR "HQQ_WASM_MODULE needs an Emscripten toolchain (emcmake cmake ...)")
endif()
set(HQQ_WASM_NAME "hqq-scalar")
if(HQQ_HAVE_SIMD)
  set(HQQ_WASM_NAME "hqq-simd")
endif()
add_executable(hqq_wasm cpp/bindings/embind.cpp cpp/bindings/nbits.cpp)
target_include_directories(hqq_wasm PRIVATE cpp/src)
target_link_libraries(hqq_wasm PRIVATE hqq_core)
set_target_properties(hqq_wasm PROPERTIES OUTPUT_NAME "${HQQ_WASM_NAME}" SUFFIX ".mjs")
target_link_options(hqq_wasm PRIVATE
  --bind
  # The link runs at -O2 (the code was compiled at -O3): at -O3 Emscripten minifies import names
  # in the order the code first uses them, which differs between the SIMD and scalar builds as
  # soon as their call sites do, and scripts/build.sh ships one glue for both.
  -O2
  -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createHQQModule
  -sENVIRONMENT=web,worker
  -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sINITIAL_MEMORY=32MB
  -sFILESYSTEM=0 -sASSERTIONS=0
  # No eval/new Function in the glue: pages can keep a strict Content-Security-Policy (only
  # 'wasm-unsafe-eval' is needed).
  -sDYNAMIC_EXECUTION=0
  -sEXPORTED_FUNCTIONS=_malloc,_free
  -sINCOMING_MODULE_JS_API=instantiateWasm,wasmBinary,print,printErr,onAbort)
# Emscripten 3.1.6 runs its JS optimizer (acorn) at -O1 and above; Debian ships acorn there.
set_property(TARGET hqq_wasm PROPERTY RULE_LAUNCH_LINK "${CMAKE_COMMAND} -E env NODE_PATH=/usr/share/nodejs")
