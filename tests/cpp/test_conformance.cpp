// Conformance against the reference library's own outputs (manifest-driven: every case listed in
// manifest.json is checked, so a larger data set with the same layout is covered unchanged).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>

#include "hqq/hqq.hpp"
#include "refdata.hpp"
#include "sha256.hpp"

using nlohmann::json;
using testutil::manifest;

namespace {

hqq::Shape shape_of(const json& j) {
  hqq::Shape s;
  for (const auto& d : j) s.push_back(d.get<std::size_t>());
  return s;
}

// True when `ours` equals the reference array: byte for byte where the file is stored, by SHA-256
// where only the hash is recorded.
bool same_as_reference(const json& ref, const void* ours, std::size_t bytes) {
  if (auto file = testutil::load_array_bytes(ref)) {
    return file->size() == bytes && std::equal(file->begin(), file->end(), static_cast<const uint8_t*>(ours));
  }
  return testutil::sha256_hex(ours, bytes) == ref["sha256"].get<std::string>();
}

hqq::Packing packing_by_name(const std::string& name) {
  for (auto p : {hqq::Packing::u8_8bit, hqq::Packing::u8_4bit, hqq::Packing::i32_3bit,
                 hqq::Packing::u8_2bit, hqq::Packing::u8_1bit})
    if (name == hqq::packing_name(p)) return p;
  throw std::runtime_error("unknown packing " + name);
}

// The reference's levels: the stored wq file, else its packed bytes unpacked.
std::vector<uint8_t> reference_levels(const json& c) {
  if (auto wq = testutil::load_array_bytes(c["wq"])) return *wq;
  if (auto packed = testutil::load_array_bytes(c["packed"])) {
    const auto gs = shape_of(c["grouped_shape"]);
    return hqq::unpack(packing_by_name(c["packing"]), packed->data(), packed->size(), gs[0], gs[1]);
  }
  throw std::runtime_error("case " + c["id"].get<std::string>() + " stores neither wq nor packed");
}

}  // namespace

TEST_CASE("conformance: RTN cases are bit-identical to the reference", "[conformance]") {
  int total = 0, exact = 0;
  for (const auto& c : manifest()["cases"]) {
    if (c["optimize"].get<bool>()) continue;
    const std::string id = c["id"];
    INFO("case " << id);
    ++total;
    const auto w = testutil::load_input(c["input"]);
    const auto q = hqq::quantize(w.data(), shape_of(c["shape"]), testutil::config_of_case(c));
    const auto levels = hqq::unpack_levels(q);
    const auto recon = hqq::dequantize(q);
    const bool packed_ok = same_as_reference(c["packed"], q.packed.data(), q.packed.size());
    const bool levels_ok = same_as_reference(c["wq"], levels.data(), levels.size());
    const bool scale_ok = same_as_reference(c["scale"], q.scale.data(), q.scale.size() * 4);
    const bool zero_ok = same_as_reference(c["zero"], q.zero.data(), q.zero.size() * 4);
    const bool dequant_ok = testutil::sha256_hex(recon.data(), recon.size() * 4) == c["dequant"]["sha256"];
    CHECK(packed_ok);
    CHECK(levels_ok);
    CHECK(scale_ok);
    CHECK(zero_ok);
    CHECK(dequant_ok);
    CHECK(q.packing == packing_by_name(c["packing"]));
    CHECK(q.iterations == 0);
    // The statistics use float32 differences (SIMD) summed in double: a relative 1e-6 from the
    // reference's float64 figures. The reconstruction itself is checked bit for bit above.
    CHECK(q.stats.mean_abs == Approx(c["errors"]["mean_abs"].get<double>()).epsilon(1e-6));
    CHECK(q.stats.max_abs == Approx(c["errors"]["max_abs"].get<double>()).epsilon(1e-6));
    CHECK(q.stats.rel_frobenius == Approx(c["errors"]["rel_frobenius"].get<double>()).epsilon(1e-6));
    if (packed_ok && levels_ok && scale_ok && zero_ok && dequant_ok) ++exact;
  }
  std::printf("[conformance] RTN: %d of %d cases bit-identical (packed, levels, scale, zero, dequant)\n",
              exact, total);
  REQUIRE(total > 0);
  CHECK(exact == total);
}

TEST_CASE("conformance: optimized cases agree with the reference within tolerance", "[conformance]") {
  int total = 0, exact_levels = 0, iter_mismatch = 0, max_iter_diff = 0;
  double worst_agreement = 1.0, worst_ratio = 0.0, best_ratio_sum = 0.0, worst_best_ratio = 0.0;
  std::string worst_agreement_case, worst_ratio_case;
  for (const auto& c : manifest()["cases"]) {
    if (!c["optimize"].get<bool>()) continue;
    const std::string id = c["id"];
    INFO("case " << id);
    ++total;
    const auto w = testutil::load_input(c["input"]);
    const auto shape = shape_of(c["shape"]);
    hqq::Config cfg = testutil::config_of_case(c);
    const auto q = hqq::quantize(w.data(), shape, cfg);
    const auto ours = hqq::unpack_levels(q);
    const auto ref = reference_levels(c);
    REQUIRE(ours.size() == ref.size());
    std::size_t same = 0;
    for (std::size_t i = 0; i < ours.size(); ++i) same += ours[i] == ref[i];
    const double agreement = static_cast<double>(same) / static_cast<double>(ours.size());
    const int ref_iters = c["optimizer"]["n_iters"].get<int>();
    const int iter_diff = std::abs(q.iterations - ref_iters);
    const double ratio = q.stats.mean_abs / c["errors"]["mean_abs"].get<double>();
    INFO("level agreement " << agreement << ", iterations " << q.iterations << " vs " << ref_iters
                            << ", error ratio " << ratio);
    CHECK(agreement >= 0.999);
    CHECK(iter_diff <= 1);
    CHECK(ratio <= 1.001);
    // The scale does not depend on the solver: it must still be bit-identical.
    CHECK(same_as_reference(c["scale"], q.scale.data(), q.scale.size() * 4));
    CHECK(q.packing == packing_by_name(c["packing"]));
    CHECK(q.error_trace.size() == static_cast<std::size_t>(q.iterations));

    if (same == ours.size()) ++exact_levels;
    if (iter_diff) ++iter_mismatch;
    max_iter_diff = std::max(max_iter_diff, iter_diff);
    if (agreement < worst_agreement) worst_agreement = agreement, worst_agreement_case = id;
    if (ratio > worst_ratio) worst_ratio = ratio, worst_ratio_case = id;

    // The per-group-best extension never does worse than the reference mode on the same tensor.
    cfg.solver.early_stop = hqq::EarlyStop::PerGroupBest;
    const auto best = hqq::quantize(w.data(), shape, cfg);
    const double best_ratio = best.stats.mean_abs / q.stats.mean_abs;
    CHECK(best_ratio <= 1.0 + 1e-12);
    best_ratio_sum += best_ratio;
    worst_best_ratio = std::max(worst_best_ratio, best_ratio);
  }
  REQUIRE(total > 0);
  const double mean_best_ratio = best_ratio_sum / total;
  std::printf(
      "[conformance] optimized: %d cases; levels identical in %d; worst level agreement %.6f (%s); "
      "worst error ratio ours/ref %.6f (%s); iteration count differs in %d case(s), by at most %d\n",
      total, exact_levels, worst_agreement, worst_agreement_case.c_str(), worst_ratio,
      worst_ratio_case.c_str(), iter_mismatch, max_iter_diff);
  std::printf("[conformance] per-group-best vs reference mode: mean error ratio %.6f, worst %.6f\n",
              mean_best_ratio, worst_best_ratio);
  CHECK(mean_best_ratio < 1.0);
}
