#include "refdata.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace testutil {

std::string ref_dir() {
  const char* env = std::getenv("HQQ_REF_DIR");
  return env && *env ? std::string(env) : std::string(HQQ_REF_DIR);
}

std::vector<uint8_t> read_file(const std::string& relative_path) {
  const std::string path = ref_dir() + "/" + relative_path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("reference data file missing: " + path +
                             " (the conformance data from ../shared/testdata/hqq-ref is required; "
                             "set HQQ_REF_DIR to its location)");
  }
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    const auto bytes = read_file("manifest.json");
    return nlohmann::json::parse(bytes.begin(), bytes.end());
  }();
  return m;
}

std::optional<std::vector<uint8_t>> load_array_bytes(const nlohmann::json& array) {
  if (!array.contains("file") || array["file"].is_null()) return std::nullopt;
  return read_file(array["file"].get<std::string>());
}

std::vector<float> load_input(const std::string& input_id) {
  for (const auto& in : manifest()["inputs"]) {
    if (in["id"] == input_id) return as<float>(read_file(in["file"].get<std::string>()));
  }
  throw std::runtime_error("manifest has no input " + input_id);
}

hqq::Config config_of_case(const nlohmann::json& c) {
  hqq::Config cfg;
  cfg.nbits = hqq::nbits_from_number(c["nbits"].get<double>());
  cfg.group_size = c["group_size"].get<std::size_t>();
  cfg.axis = c["axis"].get<int>();
  cfg.optimize = c["optimize"].get<bool>();
  cfg.round_zero = c.value("round_zero", false);
  const std::string variant = c.value("variant", std::string("latest"));
  // PyPI 0.2.8.post1 keeps beta constant; the latest reference multiplies it by kappa.
  if (variant.rfind("v0.2.8", 0) == 0) cfg.solver.kappa = 1.0;
  return cfg;
}

}  // namespace testutil
