// Conversion between K-quant blocks and the optimiser's (super-scales, codes, levels), through the
// block structs and encoders of blocks.hpp / codec.hpp (where every bit order is documented).
#include "gguf/kopt_params.hpp"

#include <cstring>

#include "gguf/blocks.hpp"
#include "gguf/codec.hpp"

namespace hqq::gguf::kopt {
namespace {

constexpr Layout kQ2{16, 16, 0, 3, 0, 15, 15, sizeof(BlockQ2_K)};
constexpr Layout kQ3{16, 16, -4, 3, -32, 31, 0, sizeof(BlockQ3_K)};
constexpr Layout kQ4{8, 32, 0, 15, 0, 63, 63, sizeof(BlockQ4_K)};
constexpr Layout kQ5{8, 32, 0, 31, 0, 63, 63, sizeof(BlockQ5_K)};
constexpr Layout kQ6{16, 16, -32, 31, -128, 127, 0, sizeof(BlockQ6_K)};

template <class Block>
Block load_block(const uint8_t* bytes) {
  Block b;
  std::memcpy(&b, bytes, sizeof b);
  return b;
}

template <class Block>
void store_block(const Block& b, uint8_t* bytes) {
  std::memcpy(bytes, &b, sizeof b);
}

}  // namespace

const Layout* layout_of(Type type) noexcept {
  switch (type) {
    case Type::Q2_K: return &kQ2;
    case Type::Q3_K: return &kQ3;
    case Type::Q4_K: return &kQ4;
    case Type::Q5_K: return &kQ5;
    case Type::Q6_K: return &kQ6;
    default: return nullptr;
  }
}

void unpack_params(Type type, const uint8_t* bytes, Params& p) {
  p = Params{};
  switch (type) {
    case Type::Q2_K: {
      const auto b = load_block<BlockQ2_K>(bytes);
      for (int j = 0; j < 16; ++j) {
        p.sc[j] = static_cast<int16_t>(b.scales[j] & 0xf);
        p.m[j] = static_cast<int16_t>(b.scales[j] >> 4);
      }
      p.d = b.d;
      p.dmin = b.dmin;
      break;
    }
    case Type::Q3_K: {
      const auto b = load_block<BlockQ3_K>(bytes);
      for (int j = 0; j < 16; ++j) p.sc[j] = static_cast<int16_t>(unpack_q3_K_scale(b.scales, j) - 32);
      p.d = b.d;
      break;
    }
    case Type::Q4_K:
    case Type::Q5_K: {
      // d, dmin and the 12 scale bytes sit at the same offsets in both types
      const auto b = load_block<BlockQ4_K>(bytes);
      for (int j = 0; j < 8; ++j) {
        uint8_t sc = 0, mn = 0;
        unpack_scale_min_6bit(b.scales, j, &sc, &mn);
        p.sc[j] = sc;
        p.m[j] = mn;
      }
      p.d = b.d;
      p.dmin = b.dmin;
      break;
    }
    case Type::Q6_K: {
      const auto b = load_block<BlockQ6_K>(bytes);
      for (int j = 0; j < 16; ++j) p.sc[j] = b.scales[j];
      p.d = b.d;
      break;
    }
    default: break;
  }
}

void pack_block(Type type, const Params& p, const int8_t* q, uint8_t* bytes) {
  const Layout* lay = layout_of(type);
  if (lay == nullptr) return;
  uint8_t levels[kSuperBlock];  // as stored: unsigned, level - q_lo
  for (int e = 0; e < kSuperBlock; ++e) levels[e] = static_cast<uint8_t>(q[e] - lay->q_lo);
  uint8_t sc[16], mn[16];
  for (int j = 0; j < lay->n_sub; ++j) {
    sc[j] = static_cast<uint8_t>(p.sc[j] - (type == Type::Q3_K ? -32 : 0));
    mn[j] = static_cast<uint8_t>(p.m[j]);
  }
  switch (type) {
    case Type::Q2_K: {
      uint8_t scales[16];
      for (int j = 0; j < 16; ++j) scales[j] = q2k_scale_byte(sc[j], mn[j]);
      BlockQ2_K b;
      encode_q2_K(p.d, p.dmin, scales, levels, b);
      store_block(b, bytes);
      break;
    }
    case Type::Q3_K: {
      BlockQ3_K b;
      encode_q3_K(p.d, sc, levels, b);
      store_block(b, bytes);
      break;
    }
    case Type::Q4_K: {
      BlockQ4_K b;
      encode_q4_K(p.d, p.dmin, sc, mn, levels, b);
      store_block(b, bytes);
      break;
    }
    case Type::Q5_K: {
      BlockQ5_K b;
      encode_q5_K(p.d, p.dmin, sc, mn, levels, b);
      store_block(b, bytes);
      break;
    }
    case Type::Q6_K: {
      int8_t scales[16];
      for (int j = 0; j < 16; ++j) scales[j] = static_cast<int8_t>(p.sc[j]);
      BlockQ6_K b;
      encode_q6_K(p.d, scales, levels, b);
      store_block(b, bytes);
      break;
    }
    default: break;
  }
}

}  // namespace hqq::gguf::kopt
