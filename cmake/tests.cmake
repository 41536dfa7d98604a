# Catch2 v2 (Debian's catch2 package: a single header) and nlohmann-json (reading the reference
# manifest). Found with NO_CMAKE_FIND_ROOT_PATH so the same lookup works under emcmake, where the
# sysroot-restricted search finds nothing; only the two library directories are exposed (adding
# all of /usr/include to an Emscripten build breaks it).
find_path(HQQ_CATCH2_INCLUDE catch2/catch.hpp PATHS /usr/include NO_CMAKE_FIND_ROOT_PATH)
find_path(HQQ_JSON_INCLUDE nlohmann/json.hpp PATHS /usr/include NO_CMAKE_FIND_ROOT_PATH)
if(NOT HQQ_CATCH2_INCLUDE OR NOT HQQ_JSON_INCLUDE)
  message(FATAL_ERROR "Catch2 v2 and nlohmann-json headers are needed for the tests: "
                      "apt-get install catch2 nlohmann-json3-dev (npm test does this for you)")
endif()
set(HQQ_TEST_INCLUDE "${CMAKE_BINARY_DIR}/test-include")
file(MAKE_DIRECTORY "${HQQ_TEST_INCLUDE}")
file(CREATE_LINK "${HQQ_CATCH2_INCLUDE}/catch2" "${HQQ_TEST_INCLUDE}/catch2" SYMBOLIC)
file(CREATE_LINK "${HQQ_JSON_INCLUDE}/nlohmann" "${HQQ_TEST_INCLUDE}/nlohmann" SYMBOLIC)

add_executable(hqq_tests
  tests/cpp/main.cpp
  tests/cpp/refdata.cpp
  tests/cpp/sha256.cpp
  tests/cpp/test_conformance.cpp
  tests/cpp/test_hqqlinear.cpp
  tests/cpp/test_pack.cpp
  tests/cpp/test_dtype.cpp
  tests/cpp/test_quantize.cpp
  tests/cpp/test_errors.cpp
  tests/cpp/test_kernels.cpp
  tests/cpp/test_random.cpp
  tests/cpp/test_gguf_blocks.cpp
  tests/cpp/test_gguf_quantize.cpp
  tests/cpp/test_gguf_optimized.cpp
  tests/cpp/test_gguf_kernels.cpp
  tests/cpp/test_gguf_kquants_opt.cpp
  tests/cpp/test_nbits.cpp)
target_include_directories(hqq_tests PRIVATE cpp/src tests/cpp "${HQQ_TEST_INCLUDE}")
target_link_libraries(hqq_tests PRIVATE hqq_core)
target_compile_definitions(hqq_tests PRIVATE HQQ_REF_DIR="${HQQ_REF_DIR}")
if(HQQ_HAVE_SIMD)
  target_compile_definitions(hqq_tests PRIVATE HQQ_EXPECT_SIMD=1)
endif()
if(EMSCRIPTEN)
  # Catch2 under Node: synchronous compilation, the host file system for the reference data.
  target_link_options(hqq_tests PRIVATE -sWASM_ASYNC_COMPILATION=0 -sNODERAWFS=1
                      -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sASSERTIONS=0 -sENVIRONMENT=node)
endif()

include(/usr/lib/cmake/Catch2/Catch.cmake OPTIONAL RESULT_VARIABLE HQQ_CATCH_CMAKE)
if(HQQ_CATCH_CMAKE)
  catch_discover_tests(hqq_tests)
else()
  add_test(NAME hqq_tests COMMAND hqq_tests)
endif()
