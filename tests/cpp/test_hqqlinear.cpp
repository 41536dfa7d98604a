// The reference HQQLinear example: our packed levels against its W_q, our scale/zero rounded to
// float16 against its tensors.
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <map>

#include "hqq/hqq.hpp"
#include "refdata.hpp"

using nlohmann::json;

namespace {

struct Tensor {
  std::string dtype;
  std::vector<std::size_t> shape;
  std::vector<uint8_t> data;
};

// Minimal safetensors reading for the test: u64 header length, JSON header, data section.
std::map<std::string, Tensor> read_safetensors(const std::vector<uint8_t>& file) {
  REQUIRE(file.size() >= 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | file[static_cast<std::size_t>(i)];
  REQUIRE(8 + n <= file.size());
  const json header = json::parse(file.begin() + 8, file.begin() + 8 + static_cast<long>(n));
  std::map<std::string, Tensor> out;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    Tensor t;
    t.dtype = entry["dtype"];
    for (const auto& d : entry["shape"]) t.shape.push_back(d.get<std::size_t>());
    const auto begin = 8 + n + entry["data_offsets"][0].get<uint64_t>();
    const auto end = 8 + n + entry["data_offsets"][1].get<uint64_t>();
    REQUIRE(end <= file.size());
    t.data.assign(file.begin() + static_cast<long>(begin), file.begin() + static_cast<long>(end));
    out[name] = std::move(t);
  }
  return out;
}

}  // namespace

TEST_CASE("conformance: the reference HQQLinear layer", "[conformance][hqqlinear]") {
  const auto& examples = testutil::manifest()["hqqlinear_examples"];
  REQUIRE(examples.size() > 0);
  for (const auto& ex : examples) {
    const std::string name = ex["name"];
    INFO("example " << name);
    const auto tensors = read_safetensors(testutil::read_file(ex["safetensors"]));
    const std::string prefix = ex.value("tensor_prefix", std::string());
    const auto& qp = ex["quant_config"]["weight_quant_params"];

    // The input is the manifest input whose id starts the example's name.
    std::string input_id;
    for (const auto& in : testutil::manifest()["inputs"]) {
      const std::string id = in["id"];
      if (name.rfind(id, 0) == 0 && id.size() > input_id.size()) input_id = id;
    }
    REQUIRE(!input_id.empty());
    const auto w = testutil::load_input(input_id);

    hqq::Config cfg;
    cfg.nbits = hqq::nbits_from_number(qp["nbits"].get<double>());
    cfg.group_size = qp["group_size"].get<std::size_t>();
    cfg.axis = qp["axis"].get<int>();
    cfg.optimize = qp["optimize"].get<bool>();
    cfg.round_zero = qp["round_zero"].get<bool>();
    hqq::Shape shape;
    for (const auto& d : ex["weight_shape"]) shape.push_back(d.get<std::size_t>());
    const auto q = hqq::quantize(w.data(), shape, cfg);

    const Tensor& wq = tensors.at(prefix + "W_q");
    CHECK(wq.shape == std::vector<std::size_t>{q.packed_shape.rows, q.packed_shape.cols});
    CHECK(wq.dtype == (q.packing == hqq::Packing::i32_3bit ? "I32" : "U8"));
    REQUIRE(wq.data.size() == q.packed.size());
    std::size_t byte_diff = 0;
    for (std::size_t i = 0; i < q.packed.size(); ++i) byte_diff += wq.data[i] != q.packed[i];
    CHECK(byte_diff == 0);

    // scale/zero are stored in the compute dtype: compare in its bit patterns, where "one step"
    // is one unit in the last place of that dtype.
    const std::string compute = ex["compute_dtype"];
    REQUIRE((compute == "torch.float16" || compute == "torch.bfloat16" || compute == "torch.float32"));
    const std::string st_dtype = compute == "torch.float16" ? "F16" : compute == "torch.bfloat16" ? "BF16" : "F32";
    const std::size_t width = st_dtype == "F32" ? 4 : 2;
    auto encode = [&](float v) -> uint32_t {
      if (st_dtype == "F16") return hqq::f32_to_f16(v);
      if (st_dtype == "BF16") return hqq::f32_to_bf16(v);
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      return bits;
    };
    const uint32_t sign_bit = width == 4 ? 0x80000000u : 0x8000u;
    std::size_t equal = 0, one_step = 0, worse = 0;
    for (const char* key : {"scale", "zero"}) {
      const Tensor& t = tensors.at(prefix + key);
      const auto& ours = std::string(key) == "scale" ? q.scale : q.zero;
      CHECK(t.dtype == st_dtype);
      REQUIRE(t.data.size() == ours.size() * width);
      for (std::size_t i = 0; i < ours.size(); ++i) {
        uint32_t ref = 0;
        for (std::size_t b = 0; b < width; ++b) ref |= static_cast<uint32_t>(t.data[width * i + b]) << (8 * b);
        const uint32_t mine = encode(ours[i]);
        const int64_t diff = std::llabs(static_cast<int64_t>(ref) - static_cast<int64_t>(mine));
        if (diff == 0) ++equal;
        else if (diff == 1 && ((ref ^ mine) & sign_bit) == 0) ++one_step;
        else ++worse;
      }
    }
    std::printf("[conformance] HQQLinear %s: W_q bytes differing %zu of %zu; scale+zero in the compute dtype: "
                "%zu equal, %zu one step (ulp) apart, %zu further\n",
                name.c_str(), byte_diff, q.packed.size(), equal, one_step, worse);
    CHECK(worse == 0);
  }
}
