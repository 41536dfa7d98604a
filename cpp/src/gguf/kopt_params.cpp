// Conversion between K-quant block bytes and (super-scales, codes, levels). The bit order of each
// field follows llama.cpp's ggml-common.h / dequantize_row_q*_K:
//  - 2-bit level fields (Q2_K, and the low bits of Q3_K): weight e of a super-block lives in byte
//    qs[32*(e/128) + e%32] at bit 2*((e%128)/32);
//  - 4-bit level fields (Q4_K, Q5_K low nibbles): weight e in byte qs[32*(e/64) + e%32], low nibble
//    when (e/32) is even, high nibble when odd;
//  - one high bit per weight (Q3_K hmask, Q5_K qh): bit e/32 of byte e%32;
//  - Q6_K: low nibbles in ql[64*(e/128) + e%64] (low nibble for (e%128)/64 == 0, high for 1), two
//    high bits in qh[32*(e/128) + e%32] at bit 2*((e%128)/32);
//  - 6-bit scale/min codes of Q4_K/Q5_K: the 12-byte `get_scale_min_k4` layout; Q3_K's 6-bit
//    scales: low nibbles in bytes 0..7, top two bits in bytes 8..11.
#include "gguf/kopt_params.hpp"

#include <cstring>

namespace hqq::gguf::kopt {
namespace {

constexpr Layout kQ2{16, 16, 0, 3, 0, 15, 15, 84};
constexpr Layout kQ3{16, 16, -4, 3, -32, 31, 0, 110};
constexpr Layout kQ4{8, 32, 0, 15, 0, 63, 63, 144};
constexpr Layout kQ5{8, 32, 0, 31, 0, 63, 63, 176};
constexpr Layout kQ6{16, 16, -32, 31, -128, 127, 0, 210};

uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
void store_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v & 0xff);
  p[1] = static_cast<uint8_t>(v >> 8);
}

// --- level fields ---------------------------------------------------------------------------
int get2(const uint8_t* qs, int e) { return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3; }
void put2(uint8_t* qs, int e, int v) { qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>(v << (2 * ((e % 128) / 32))); }
int get4(const uint8_t* qs, int e) { return (qs[32 * (e / 64) + e % 32] >> (4 * ((e / 32) & 1))) & 15; }
void put4(uint8_t* qs, int e, int v) { qs[32 * (e / 64) + e % 32] |= static_cast<uint8_t>(v << (4 * ((e / 32) & 1))); }
int get_hbit(const uint8_t* h, int e) { return (h[e % 32] >> (e / 32)) & 1; }
void put_hbit(uint8_t* h, int e, int v) { h[e % 32] |= static_cast<uint8_t>(v << (e / 32)); }
int get6_q6(const uint8_t* ql, const uint8_t* qh, int e) {
  const int lo = (ql[64 * (e / 128) + e % 64] >> (4 * ((e % 128) / 64))) & 15;
  const int hi = (qh[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
  return lo | (hi << 4);
}
void put6_q6(uint8_t* ql, uint8_t* qh, int e, int v) {
  ql[64 * (e / 128) + e % 64] |= static_cast<uint8_t>((v & 15) << (4 * ((e % 128) / 64)));
  qh[32 * (e / 128) + e % 32] |= static_cast<uint8_t>((v >> 4) << (2 * ((e % 128) / 32)));
}

// --- 6-bit scale/min codes (Q4_K, Q5_K) -------------------------------------------------------
void get_k4(const uint8_t* s, int j, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}
void put_k4(uint8_t* s, int j, int sc, int m) {
  if (j < 4) {
    s[j] |= static_cast<uint8_t>(sc);
    s[j + 4] |= static_cast<uint8_t>(m);
  } else {
    s[j + 4] |= static_cast<uint8_t>((sc & 0xf) | ((m & 0xf) << 4));
    s[j - 4] |= static_cast<uint8_t>((sc >> 4) << 6);
    s[j] |= static_cast<uint8_t>((m >> 4) << 6);
  }
}

// --- 6-bit signed scale codes (Q3_K), stored offset by 32 ---------------------------------------
int get_q3_scale(const uint8_t* s, int j) {
  const int lo = j < 8 ? s[j] & 0xf : s[j - 8] >> 4;
  const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}
void put_q3_scale(uint8_t* s, int j, int sc) {
  const int v = sc + 32;
  if (j < 8) {
    s[j] |= static_cast<uint8_t>(v & 0xf);
  } else {
    s[j - 8] |= static_cast<uint8_t>((v & 0xf) << 4);
  }
  s[8 + j % 4] |= static_cast<uint8_t>((v >> 4) << (2 * (j / 4)));
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

// Block field offsets (ggml-common.h):
//   Q2_K: scales[16] qs[64] d dmin          Q3_K: hmask[32] qs[64] scales[12] d
//   Q4_K: d dmin scales[12] qs[128]         Q5_K: d dmin scales[12] qh[32] qs[128]
//   Q6_K: ql[128] qh[64] scales[16] d
void unpack_params(Type type, const uint8_t* b, Params& p) {
  p = Params{};
  switch (type) {
    case Type::Q2_K:
      for (int j = 0; j < 16; ++j) {
        p.sc[j] = static_cast<int16_t>(b[j] & 0xf);
        p.m[j] = static_cast<int16_t>(b[j] >> 4);
      }
      p.d = load_u16(b + 80);
      p.dmin = load_u16(b + 82);
      break;
    case Type::Q3_K:
      for (int j = 0; j < 16; ++j) p.sc[j] = static_cast<int16_t>(get_q3_scale(b + 96, j));
      p.d = load_u16(b + 108);
      break;
    case Type::Q4_K:
    case Type::Q5_K:
      p.d = load_u16(b);
      p.dmin = load_u16(b + 2);
      for (int j = 0; j < 8; ++j) {
        int sc = 0, m = 0;
        get_k4(b + 4, j, sc, m);
        p.sc[j] = static_cast<int16_t>(sc);
        p.m[j] = static_cast<int16_t>(m);
      }
      break;
    case Type::Q6_K:
      for (int j = 0; j < 16; ++j) p.sc[j] = static_cast<int8_t>(b[192 + j]);
      p.d = load_u16(b + 208);
      break;
    default: break;
  }
}

void unpack_levels(Type type, const uint8_t* b, int8_t* q) {
  for (int e = 0; e < kSuperBlock; ++e) {
    int v = 0;
    switch (type) {
      case Type::Q2_K: v = get2(b + 16, e); break;
      case Type::Q3_K: v = get2(b + 32, e) - (get_hbit(b, e) ? 0 : 4); break;
      case Type::Q4_K: v = get4(b + 16, e); break;
      case Type::Q5_K: v = get4(b + 48, e) | (get_hbit(b + 16, e) << 4); break;
      case Type::Q6_K: v = get6_q6(b, b + 128, e) - 32; break;
      default: break;
    }
    q[e] = static_cast<int8_t>(v);
  }
}

void pack_block(Type type, const Params& p, const int8_t* q, uint8_t* b) {
  const Layout* lay = layout_of(type);
  if (lay == nullptr) return;
  std::memset(b, 0, lay->bytes);
  switch (type) {
    case Type::Q2_K:
      for (int j = 0; j < 16; ++j) b[j] = static_cast<uint8_t>(p.sc[j] | (p.m[j] << 4));
      for (int e = 0; e < kSuperBlock; ++e) put2(b + 16, e, q[e]);
      store_u16(b + 80, p.d);
      store_u16(b + 82, p.dmin);
      break;
    case Type::Q3_K:
      for (int e = 0; e < kSuperBlock; ++e) {
        const int v = q[e] + 4;  // 0..7: high bit set means "no -4"
        put2(b + 32, e, v & 3);
        put_hbit(b, e, v >> 2);
      }
      for (int j = 0; j < 16; ++j) put_q3_scale(b + 96, j, p.sc[j]);
      store_u16(b + 108, p.d);
      break;
    case Type::Q4_K:
    case Type::Q5_K: {
      store_u16(b, p.d);
      store_u16(b + 2, p.dmin);
      for (int j = 0; j < 8; ++j) put_k4(b + 4, j, p.sc[j], p.m[j]);
      uint8_t* qs = b + (type == Type::Q4_K ? 16 : 48);
      for (int e = 0; e < kSuperBlock; ++e) {
        put4(qs, e, q[e] & 15);
        if (type == Type::Q5_K) put_hbit(b + 16, e, q[e] >> 4);
      }
      break;
    }
    case Type::Q6_K:
      for (int e = 0; e < kSuperBlock; ++e) put6_q6(b, b + 128, e, q[e] + 32);
      for (int j = 0; j < 16; ++j) b[192 + j] = static_cast<uint8_t>(static_cast<int8_t>(p.sc[j]));
      store_u16(b + 208, p.d);
      break;
    default: break;
  }
}

}  // namespace hqq::gguf::kopt
