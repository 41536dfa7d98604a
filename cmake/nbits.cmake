# onnxruntime MatMulNBits: layout, onnxruntime's RTN, the integer-zero and float-zero quantizers.
target_sources(hqq_core PRIVATE
  cpp/src/nbits/geometry.cpp
  cpp/src/nbits/rtn.cpp
  cpp/src/nbits/int_zero.cpp
  cpp/src/nbits/float_zero.cpp
  cpp/src/nbits/quantize.cpp
  cpp/src/nbits/dequantize.cpp)
