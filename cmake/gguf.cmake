# The GGML (llama.cpp) block types: codecs, type traits, the Reference and Optimized quantizers.
# Included after simd.cmake: the SIMD kernels of the Optimized legacy quantizers follow its choice.
target_sources(hqq_core PRIVATE
  cpp/src/gguf/traits.cpp
  cpp/src/gguf/decode.cpp
  cpp/src/gguf/encode.cpp
  cpp/src/gguf/kquant_search.cpp
  cpp/src/gguf/reference_legacy.cpp
  cpp/src/gguf/reference_kquants.cpp
  cpp/src/gguf/legacy_kernels_scalar.cpp
  cpp/src/gguf/optimize_affine.cpp
  cpp/src/gguf/optimize_symmetric.cpp
  cpp/src/gguf/optimize_dispatch.cpp
  cpp/src/gguf/quantize.cpp
  cpp/src/gguf/kopt_params.cpp
  cpp/src/gguf/optimize_kquants.cpp)
if(HQQ_HAVE_SIMD)
  target_sources(hqq_core PRIVATE cpp/src/gguf/legacy_kernels_simd.cpp)
  if(NOT EMSCRIPTEN)
    set_source_files_properties(cpp/src/gguf/legacy_kernels_simd.cpp PROPERTIES COMPILE_OPTIONS "${HQQ_SIMD_FLAGS}")
  endif()
endif()
