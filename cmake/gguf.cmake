# The GGML (llama.cpp) block types: codecs, type traits, the Reference and Optimized quantizers.
target_sources(hqq_core PRIVATE
  cpp/src/gguf/traits.cpp
  cpp/src/gguf/decode.cpp
  cpp/src/gguf/encode.cpp
  cpp/src/gguf/kopt_params.cpp
  cpp/src/gguf/optimize_kquants.cpp)
