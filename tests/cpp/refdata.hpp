// Access to the reference conformance data (../shared/testdata/hqq-ref, see its README.md).
// Everything is driven by manifest.json, so a larger data set with the same layout works unchanged.
// A missing directory or file throws: the tests fail loudly instead of skipping.
#pragma once

#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hqq/config.hpp"

namespace testutil {

std::string ref_dir();  // $HQQ_REF_DIR, else the directory configured at build time
const nlohmann::json& manifest();

// Raw bytes of an array object {file, dtype, shape, sha256}; nullopt when `file` is null.
std::optional<std::vector<uint8_t>> load_array_bytes(const nlohmann::json& array);
std::vector<uint8_t> read_file(const std::string& relative_path);
std::vector<float> load_input(const std::string& input_id);

template <typename T>
std::vector<T> as(const std::vector<uint8_t>& bytes) {
  std::vector<T> out(bytes.size() / sizeof(T));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

hqq::Config config_of_case(const nlohmann::json& c);  // nbits, group, axis, optimize, variant

}  // namespace testutil
