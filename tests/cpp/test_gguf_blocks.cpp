// The GGML block types: type traits, and every encoder and decoder checked against the layout and
// the reconstruction formula documented in cpp/src/gguf/blocks.hpp. The test reads and builds
// bytes at the documented offsets itself, independently of encode.cpp and decode.cpp.
#include <array>

#include "gguf/codec.hpp"
#include "gguf_test_util.hpp"
#include "hqq/dtype.hpp"

using namespace gguf_test;
namespace gg = hqq::gguf;

namespace {

// What a block stores, read back or to be written: f16 parameters, sub-block codes, levels.
struct Sample {
  uint16_t d = 0, m = 0;    // m: the offset of Q4_1/Q5_1, dmin of Q2_K/Q4_K/Q5_K
  std::vector<int> sc, mn;  // sub-block scale codes (Q6_K: signed) and min codes
  std::vector<int> q;       // per-weight levels as stored (Q8_0: signed)
};

int bits_per_level(Type t) {
  switch (t) {
    case Type::Q4_0: case Type::Q4_1: case Type::Q4_K: return 4;
    case Type::Q5_0: case Type::Q5_1: case Type::Q5_K: return 5;
    case Type::Q2_K: return 2;
    case Type::Q3_K: return 3;
    case Type::Q6_K: return 6;
    default: return 8;
  }
}

uint16_t random_finite_f16(std::mt19937& rng) {
  for (;;) {
    const auto h = static_cast<uint16_t>(rng());
    if (((h >> 10) & 0x1F) != 0x1F) return h;
  }
}

Sample random_sample(Type t, std::mt19937& rng) {
  Sample s;
  s.d = random_finite_f16(rng);
  s.m = random_finite_f16(rng);
  const std::size_t n = gg::block_size(t);
  std::uniform_int_distribution<int> level(0, (1 << bits_per_level(t)) - 1), signed8(-128, 127);
  std::uniform_int_distribution<int> code4(0, 15), code6(0, 63);
  for (std::size_t i = 0; i < n; ++i) s.q.push_back(t == Type::Q8_0 ? signed8(rng) : level(rng));
  const int subs = t == Type::Q4_K || t == Type::Q5_K ? 8 : 16;
  if (n == gg::kSuperBlock) {
    for (int j = 0; j < subs; ++j) {
      switch (t) {
        case Type::Q2_K: s.sc.push_back(code4(rng)), s.mn.push_back(code4(rng)); break;
        case Type::Q3_K: s.sc.push_back(code6(rng)); break;
        case Type::Q6_K: s.sc.push_back(signed8(rng)); break;
        default: s.sc.push_back(code6(rng)), s.mn.push_back(code6(rng)); break;
      }
    }
  }
  return s;
}

std::vector<uint8_t> encode(Type t, const Sample& s) {
  std::vector<uint8_t> q(s.q.begin(), s.q.end());  // Q8_0 keeps the two's-complement byte
  std::vector<uint8_t> sc(s.sc.begin(), s.sc.end()), mn(s.mn.begin(), s.mn.end());
  std::vector<uint8_t> out(gg::type_size(t));
  auto put = [&](const auto& block) { std::memcpy(out.data(), &block, sizeof block); };
  switch (t) {
    case Type::Q4_0: { gg::BlockQ4_0 b; gg::encode_q4_0(s.d, q.data(), b); put(b); break; }
    case Type::Q4_1: { gg::BlockQ4_1 b; gg::encode_q4_1(s.d, s.m, q.data(), b); put(b); break; }
    case Type::Q5_0: { gg::BlockQ5_0 b; gg::encode_q5_0(s.d, q.data(), b); put(b); break; }
    case Type::Q5_1: { gg::BlockQ5_1 b; gg::encode_q5_1(s.d, s.m, q.data(), b); put(b); break; }
    case Type::Q8_0: {
      gg::BlockQ8_0 b;
      gg::encode_q8_0(s.d, reinterpret_cast<const int8_t*>(q.data()), b);
      put(b);
      break;
    }
    case Type::Q2_K: {
      uint8_t bytes[16];
      for (int j = 0; j < 16; ++j) bytes[j] = gg::q2k_scale_byte(sc[j], mn[j]);
      gg::BlockQ2_K b;
      gg::encode_q2_K(s.d, s.m, bytes, q.data(), b);
      put(b);
      break;
    }
    case Type::Q3_K: { gg::BlockQ3_K b; gg::encode_q3_K(s.d, sc.data(), q.data(), b); put(b); break; }
    case Type::Q4_K: { gg::BlockQ4_K b; gg::encode_q4_K(s.d, s.m, sc.data(), mn.data(), q.data(), b); put(b); break; }
    case Type::Q5_K: { gg::BlockQ5_K b; gg::encode_q5_K(s.d, s.m, sc.data(), mn.data(), q.data(), b); put(b); break; }
    case Type::Q6_K: {
      gg::BlockQ6_K b;
      gg::encode_q6_K(s.d, reinterpret_cast<const int8_t*>(sc.data()), q.data(), b);
      put(b);
      break;
    }
    default: FAIL("not a block type");
  }
  return out;
}

// blocks.hpp, read at raw byte offsets.
int nibble_half(const uint8_t* qs, int n) { return n < 16 ? qs[n] & 0xF : qs[n - 16] >> 4; }
int two_bits(const uint8_t* qs, int n) { return (qs[32 * (n / 128) + n % 32] >> (2 * ((n % 128) / 32))) & 3; }
int one_bit(const uint8_t* field, int n) { return (field[n % 32] >> (n / 32)) & 1; }
int nibble_pair(const uint8_t* qs, int n) { return (qs[32 * (n / 64) + n % 32] >> (4 * ((n % 64) / 32))) & 0xF; }
void six_bit_codes(const uint8_t* s, std::vector<int>& sc, std::vector<int>& mn) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      sc.push_back(s[j] & 63);
      mn.push_back(s[j + 4] & 63);
    } else {
      sc.push_back((s[j + 4] & 0xF) | (s[j - 4] >> 6) << 4);
      mn.push_back((s[j + 4] >> 4) | (s[j] >> 6) << 4);
    }
  }
}

Sample read_documented(Type t, const uint8_t* b) {
  Sample s;
  const int n = static_cast<int>(gg::block_size(t));
  switch (t) {
    case Type::Q4_0: s.d = u16_at(b); for (int i = 0; i < n; ++i) s.q.push_back(nibble_half(b + 2, i)); break;
    case Type::Q4_1:
      s.d = u16_at(b), s.m = u16_at(b + 2);
      for (int i = 0; i < n; ++i) s.q.push_back(nibble_half(b + 4, i));
      break;
    case Type::Q5_0:
      s.d = u16_at(b);
      for (int i = 0; i < n; ++i) s.q.push_back(nibble_half(b + 6, i) | static_cast<int>((u32_at(b + 2) >> i) & 1) << 4);
      break;
    case Type::Q5_1:
      s.d = u16_at(b), s.m = u16_at(b + 2);
      for (int i = 0; i < n; ++i) s.q.push_back(nibble_half(b + 8, i) | static_cast<int>((u32_at(b + 4) >> i) & 1) << 4);
      break;
    case Type::Q8_0: s.d = u16_at(b); for (int i = 0; i < n; ++i) s.q.push_back(static_cast<int8_t>(b[2 + i])); break;
    case Type::Q2_K:
      for (int j = 0; j < 16; ++j) s.sc.push_back(b[j] & 0xF), s.mn.push_back(b[j] >> 4);
      for (int i = 0; i < n; ++i) s.q.push_back(two_bits(b + 16, i));
      s.d = u16_at(b + 80), s.m = u16_at(b + 82);
      break;
    case Type::Q3_K:
      for (int i = 0; i < n; ++i) s.q.push_back(two_bits(b + 32, i) | one_bit(b, i) << 2);
      for (int j = 0; j < 16; ++j) {
        const int low = j < 8 ? b[96 + j] & 0xF : b[96 + j - 8] >> 4;
        s.sc.push_back(low | ((b[96 + 8 + j % 4] >> (2 * (j / 4))) & 3) << 4);
      }
      s.d = u16_at(b + 108);
      break;
    case Type::Q4_K:
      s.d = u16_at(b), s.m = u16_at(b + 2);
      six_bit_codes(b + 4, s.sc, s.mn);
      for (int i = 0; i < n; ++i) s.q.push_back(nibble_pair(b + 16, i));
      break;
    case Type::Q5_K:
      s.d = u16_at(b), s.m = u16_at(b + 2);
      six_bit_codes(b + 4, s.sc, s.mn);
      for (int i = 0; i < n; ++i) s.q.push_back(nibble_pair(b + 48, i) | one_bit(b + 16, i) << 4);
      break;
    case Type::Q6_K:
      for (int i = 0; i < n; ++i) {
        const int half = i / 128, k = (i % 128) / 32, l = i % 32;
        const uint8_t lo = b[64 * half + 32 * (k % 2) + l];
        const int high = (b[128 + 32 * half + l] >> (2 * k)) & 3;
        s.q.push_back((k < 2 ? lo & 0xF : lo >> 4) | high << 4);
      }
      for (int j = 0; j < 16; ++j) s.sc.push_back(static_cast<int8_t>(b[192 + j]));
      s.d = u16_at(b + 208);
      break;
    default: FAIL("not a block type");
  }
  return s;
}

// The reconstruction formulas of blocks.hpp.
std::vector<float> formula(Type t, const Sample& s) {
  const float d = hqq::f16_to_f32(s.d), m = hqq::f16_to_f32(s.m);
  std::vector<float> x;
  auto f = [](int v) { return static_cast<float>(v); };
  for (std::size_t n = 0; n < s.q.size(); ++n) {
    const int q = s.q[n];
    switch (t) {
      case Type::Q4_0: x.push_back(f(q - 8) * d); break;
      case Type::Q5_0: x.push_back(f(q - 16) * d); break;
      case Type::Q4_1: case Type::Q5_1: x.push_back(f(q) * d + m); break;
      case Type::Q8_0: x.push_back(f(q) * d); break;
      case Type::Q2_K: x.push_back((d * f(s.sc[n / 16])) * f(q) - (m * f(s.mn[n / 16]))); break;
      case Type::Q3_K: x.push_back((d * f(s.sc[n / 16] - 32)) * f(q - 4)); break;
      case Type::Q4_K: case Type::Q5_K: x.push_back((d * f(s.sc[n / 32])) * f(q) - (m * f(s.mn[n / 32]))); break;
      case Type::Q6_K: x.push_back((d * f(s.sc[n / 16])) * f(q - 32)); break;
      default: FAIL("not a block type");
    }
  }
  return x;
}

}  // namespace

TEST_CASE("type traits: GGML ids, names, block and byte sizes", "[gguf]") {
  struct Row {
    Type type;
    uint32_t id;
    const char* name;
    std::size_t block, bytes;
  };
  // ggml.h ids and ggml-common.h sizes.
  const Row rows[] = {
      {Type::F32, 0, "F32", 1, 4},      {Type::F16, 1, "F16", 1, 2},       {Type::BF16, 30, "BF16", 1, 2},
      {Type::Q4_0, 2, "Q4_0", 32, 18},  {Type::Q4_1, 3, "Q4_1", 32, 20},   {Type::Q5_0, 6, "Q5_0", 32, 22},
      {Type::Q5_1, 7, "Q5_1", 32, 24},  {Type::Q8_0, 8, "Q8_0", 32, 34},   {Type::Q2_K, 10, "Q2_K", 256, 84},
      {Type::Q3_K, 11, "Q3_K", 256, 110}, {Type::Q4_K, 12, "Q4_K", 256, 144}, {Type::Q5_K, 13, "Q5_K", 256, 176},
      {Type::Q6_K, 14, "Q6_K", 256, 210},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    CHECK(gg::type_from_id(r.id) == r.type);
    CHECK(std::string(gg::type_name(r.type)) == r.name);
    CHECK(gg::type_from_name(r.name) == r.type);
    CHECK(gg::block_size(r.type) == r.block);
    CHECK(gg::type_size(r.type) == r.bytes);
    CHECK(gg::tensor_bytes(r.type, 3, 512) == 3 * 512 / r.block * r.bytes);
  }
  CHECK(all_types().size() == std::size(rows));
}

TEST_CASE("type traits reject unknown ids, names and row lengths", "[gguf][errors]") {
  expect_error([] { gg::type_from_id(16); }, hqq::ErrorCode::Unsupported, {"16 (IQ2_XXS)", "Q4_K", "BF16"});
  expect_error([] { gg::type_from_id(4); }, hqq::ErrorCode::Unsupported, {"not a GGML type id"});
  expect_error([] { gg::type_from_id(1000); }, hqq::ErrorCode::Unsupported, {"1000"});
  expect_error([] { gg::type_from_name("q4_k"); }, hqq::ErrorCode::InvalidArgument, {"\"q4_k\"", "Q4_K"});
  expect_error([] { gg::tensor_bytes(Type::Q4_K, 4, 4096 + 32); }, hqq::ErrorCode::InvalidArgument,
               {"Q4_K", "256", "4128 columns"});
  expect_error([] { gg::tensor_bytes(Type::Q8_0, 1, 48); }, hqq::ErrorCode::InvalidArgument, {"blocks of 32"});
  const std::size_t huge = static_cast<std::size_t>(-1) / 2;
  expect_error([&] { gg::tensor_bytes(Type::F32, huge, 256); }, hqq::ErrorCode::OutOfMemory, {"row ranges"});
  CHECK(gg::tensor_bytes(Type::F16, 7, 3) == 42);
}

TEST_CASE("every encoder writes each field at the offsets blocks.hpp documents", "[gguf][layout]") {
  std::mt19937 rng(20261201);
  for (Type t : block_types()) {
    INFO(gg::type_name(t));
    for (int trial = 0; trial < 200; ++trial) {
      const Sample s = random_sample(t, rng);
      const std::vector<uint8_t> bytes = encode(t, s);
      const Sample back = read_documented(t, bytes.data());
      REQUIRE(back.q == s.q);
      REQUIRE(back.sc == s.sc);
      REQUIRE(back.mn == s.mn);
      REQUIRE(back.d == s.d);
      if (t == Type::Q4_1 || t == Type::Q5_1 || t == Type::Q2_K || t == Type::Q4_K || t == Type::Q5_K)
        REQUIRE(back.m == s.m);
    }
  }
}

TEST_CASE("every decoder evaluates the documented formula bit for bit", "[gguf][layout]") {
  std::mt19937 rng(7);
  for (Type t : block_types()) {
    INFO(gg::type_name(t));
    for (int trial = 0; trial < 200; ++trial) {
      const Sample s = random_sample(t, rng);
      const std::vector<uint8_t> bytes = encode(t, s);
      std::vector<float> decoded(gg::block_size(t));
      gg::decode_blocks(t, bytes.data(), 1, decoded.data());
      const std::vector<float> expected = formula(t, s);
      check_same_bits(decoded.data(), expected.data(), expected.size(), gg::type_name(t));
    }
  }
}

TEST_CASE("decoding any bytes reads the fields blocks.hpp documents, with no alignment needs", "[gguf][layout]") {
  // Arbitrary bytes (f16 fields made finite) decode to the formula applied to what the documented
  // offsets hold, from an odd address.
  std::mt19937 rng(99);
  for (Type t : block_types()) {
    INFO(gg::type_name(t));
    const std::size_t size = gg::type_size(t);
    std::vector<uint8_t> buffer(3 * size + 1);
    for (auto& b : buffer) b = static_cast<uint8_t>(rng());
    uint8_t* blocks = buffer.data() + 1;
    for (int i = 0; i < 3; ++i) {
      Sample s = read_documented(t, blocks + i * size);
      // Re-write the f16 fields as finite values: a NaN scale has no single right answer.
      s.d = random_finite_f16(rng);
      s.m = random_finite_f16(rng);
      const std::vector<uint8_t> fixed = encode(t, s);
      std::memcpy(blocks + i * size, fixed.data(), size);
    }
    std::vector<float> decoded(3 * gg::block_size(t));
    gg::decode_blocks(t, blocks, 3, decoded.data());
    for (int i = 0; i < 3; ++i) {
      const std::vector<float> expected = formula(t, read_documented(t, blocks + i * size));
      check_same_bits(decoded.data() + i * gg::block_size(t), expected.data(), expected.size(), gg::type_name(t));
    }
  }
}

TEST_CASE("F16 and BF16: every finite bit pattern survives decode then encode", "[gguf]") {
  std::vector<float> one(1);
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    uint8_t in[2];
    std::memcpy(in, &bits, 2);
    if (((bits >> 10) & 0x1F) != 0x1F || (bits & 0x3FF) == 0) {  // finite or +-Inf
      gg::decode_blocks(Type::F16, in, 1, one.data());
      REQUIRE(hqq::f32_to_f16(one[0]) == bits);
    }
    if (((bits >> 7) & 0xFF) != 0xFF || (bits & 0x7F) == 0) {
      gg::decode_blocks(Type::BF16, in, 1, one.data());
      REQUIRE(hqq::f32_to_bf16(one[0]) == bits);
    }
  }
}

TEST_CASE("F16 and BF16 encoding (the F16/BF16 quantizers) rounds to nearest, ties to even", "[gguf]") {
  const float cases[][3] = {
      // value, f16 result, bf16 result (as floats)
      {1.0f + 0x1p-11f, 1.0f, 1.0f},                  // f16 tie -> even (down)
      {1.0f + 3 * 0x1p-11f, 1.0f + 0x1p-9f, 1.0f},    // f16 tie -> even (up)
      {1.0f + 0x1p-8f, 1.0f + 0x1p-8f, 1.0f},         // bf16 tie -> even (down)
      {1.0f + 3 * 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-6f},  // bf16 tie -> even (up)
      {65504.0f, 65504.0f, 65536.0f},
      {0x1p-25f, 0.0f, 0x1p-25f},                     // f16: half the smallest subnormal -> 0
      {0x1.8p-24f, 0x1p-23f, 0x1.8p-24f},            // f16 subnormal tie -> even (up)
  };
  for (const auto& c : cases) {
    CHECK(hqq::f16_to_f32(hqq::f32_to_f16(c[0])) == c[1]);
    CHECK(hqq::bf16_to_f32(hqq::f32_to_bf16(c[0])) == c[2]);
  }
}
