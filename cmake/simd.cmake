# SIMD kernels: WebAssembly SIMD128 under Emscripten, SSE4.1 on native x86-64 (checked at run
# time). Without either, only the scalar kernels are built.
if(HQQ_SIMD)
  if(EMSCRIPTEN)
    set(HQQ_SIMD_FLAGS -msimd128)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
    set(HQQ_SIMD_FLAGS -msse4.1)
  endif()
  if(DEFINED HQQ_SIMD_FLAGS)
    # The kernels, and the SIMD instantiation of the K-quant search (gguf/kopt_lanes.hpp).
    target_sources(hqq_core PRIVATE cpp/src/kernels/simd.cpp cpp/src/gguf/optimize_kquants_simd.cpp)
    if(EMSCRIPTEN)
      # The whole wasm binary may use SIMD (the packing loops auto-vectorise); the loader only
      # picks this build on engines that support it.
      target_compile_options(hqq_core PUBLIC ${HQQ_SIMD_FLAGS})
    else()
      set_source_files_properties(cpp/src/kernels/simd.cpp cpp/src/gguf/optimize_kquants_simd.cpp
                                  PROPERTIES COMPILE_OPTIONS "${HQQ_SIMD_FLAGS}")
    endif()
    target_compile_definitions(hqq_core PRIVATE HQQ_HAVE_SIMD_KERNELS=1)
    set(HQQ_HAVE_SIMD ON)
  endif()
endif()
