// gguf-ref: a test harness over llama.cpp's own GGUF code (ggml/src/gguf.cpp), the reference the
// TypeScript GGUF reader and writer are checked against (tests/web/io/gguf-reference.test.ts).
// Built outside the repo tree by scripts/build-gguf-ref.sh from the llama.cpp source node-llama-cpp
// ships; never vendored. Modes:
//   gguf-ref types        the GGML type table: [id, name, block size, type size, is_quantized] per id
//   gguf-ref dump FILE... load each FILE as llama.cpp's model loader does (gguf_init_from_file with
//                         no_alloc, then every tensor's bytes must lie inside the file:
//                         llama_model_loader::llama_tensor_weight) and print what it sees as JSON:
//                         version, alignment, data offset, every key with its type and value, every
//                         tensor with type, ne, offset, size and an FNV-1a hash of its bytes;
//                         {"ok":false,...} when it refuses the file; one line per file
//   gguf-ref write FILE   write a sample file with gguf.cpp's writer (every scalar and array type)
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ggml.h"
#include "gguf.h"

namespace {

std::string json_string(const char* s, size_t n) {
  std::string out = "\"";
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string json_string(const std::string& s) { return json_string(s.data(), s.size()); }

std::string json_float(double v, int digits) {
  if (std::isnan(v)) return "\"nan\"";
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  if (v == 0 && std::signbit(v)) return "\"-0\"";
  return buf;
}

// One element of a scalar type at `p`, as JSON (64-bit integers as strings, to keep every digit).
std::string json_scalar(gguf_type t, const void* p) {
  char buf[64];
  switch (t) {
    case GGUF_TYPE_UINT8: std::snprintf(buf, sizeof buf, "%u", *static_cast<const uint8_t*>(p)); break;
    case GGUF_TYPE_INT8: std::snprintf(buf, sizeof buf, "%d", *static_cast<const int8_t*>(p)); break;
    case GGUF_TYPE_UINT16: std::snprintf(buf, sizeof buf, "%u", *static_cast<const uint16_t*>(p)); break;
    case GGUF_TYPE_INT16: std::snprintf(buf, sizeof buf, "%d", *static_cast<const int16_t*>(p)); break;
    case GGUF_TYPE_UINT32: std::snprintf(buf, sizeof buf, "%u", *static_cast<const uint32_t*>(p)); break;
    case GGUF_TYPE_INT32: std::snprintf(buf, sizeof buf, "%d", *static_cast<const int32_t*>(p)); break;
    case GGUF_TYPE_FLOAT32: return json_float(*static_cast<const float*>(p), 9);
    case GGUF_TYPE_FLOAT64: return json_float(*static_cast<const double*>(p), 17);
    case GGUF_TYPE_BOOL: return *static_cast<const int8_t*>(p) ? "true" : "false";
    case GGUF_TYPE_UINT64: std::snprintf(buf, sizeof buf, "\"%" PRIu64 "\"", *static_cast<const uint64_t*>(p)); break;
    case GGUF_TYPE_INT64: std::snprintf(buf, sizeof buf, "\"%" PRId64 "\"", *static_cast<const int64_t*>(p)); break;
    default: return "null";
  }
  return buf;
}

size_t scalar_size(gguf_type t) {
  switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    default: return 8;
  }
}

uint64_t fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

int types() {
  std::printf("[");
  for (int i = 0; i < GGML_TYPE_COUNT; ++i) {
    const ggml_type t = static_cast<ggml_type>(i);
    std::printf("%s[%d,%s,%" PRId64 ",%zu,%s]", i ? "," : "", i, json_string(ggml_type_name(t) ? ggml_type_name(t) : "").c_str(),
                ggml_blck_size(t), ggml_type_size(t), ggml_is_quantized(t) ? "true" : "false");
  }
  std::printf("]\n");
  return 0;
}

int dump(const char* path) {
  ggml_context* meta = nullptr;
  gguf_init_params params = {/*no_alloc =*/true, /*ctx =*/&meta};
  gguf_context* ctx = gguf_init_from_file(path, params);
  if (!ctx) {
    std::printf("{\"ok\":false,\"why\":\"gguf_init_from_file\"}\n");
    return 0;
  }
  FILE* f = std::fopen(path, "rb");
  std::fseek(f, 0, SEEK_END);
  const uint64_t file_size = static_cast<uint64_t>(std::ftell(f));
  std::vector<uint64_t> hashes;
  for (int64_t i = 0; i < gguf_get_n_tensors(ctx); ++i) {
    const uint64_t offs = gguf_get_data_offset(ctx) + gguf_get_tensor_offset(ctx, i);
    const uint64_t n = gguf_get_tensor_size(ctx, i);
    if (offs + n < offs || offs + n > file_size) {
      std::printf("{\"ok\":false,\"why\":\"bounds\"}\n");
      std::fclose(f);
      gguf_free(ctx);
      ggml_free(meta);
      return 0;
    }
    std::vector<uint8_t> bytes(n);
    std::fseek(f, static_cast<long>(offs), SEEK_SET);
    if (std::fread(bytes.data(), 1, n, f) != n) return 3;
    hashes.push_back(fnv1a(bytes.data(), n));
  }
  std::fclose(f);
  std::string out = "{\"ok\":true";
  out += ",\"version\":" + std::to_string(gguf_get_version(ctx));
  out += ",\"alignment\":" + std::to_string(gguf_get_alignment(ctx));
  out += ",\"data_offset\":" + std::to_string(gguf_get_data_offset(ctx));
  out += ",\"kv\":[";
  for (int64_t i = 0; i < gguf_get_n_kv(ctx); ++i) {
    const gguf_type t = gguf_get_kv_type(ctx, i);
    out += i ? "," : "";
    out += "{\"key\":" + json_string(gguf_get_key(ctx, i)) + ",\"type\":" + json_string(gguf_type_name(t));
    if (t == GGUF_TYPE_STRING) {
      out += ",\"value\":" + json_string(gguf_get_val_str(ctx, i));
    } else if (t == GGUF_TYPE_ARRAY) {
      const gguf_type at = gguf_get_arr_type(ctx, i);
      const size_t n = gguf_get_arr_n(ctx, i);
      out += ",\"item\":" + json_string(gguf_type_name(at)) + ",\"value\":[";
      for (size_t k = 0; k < n; ++k) {
        out += k ? "," : "";
        if (at == GGUF_TYPE_STRING) {
          out += json_string(gguf_get_arr_str(ctx, i, k));
        } else {
          out += json_scalar(at, static_cast<const uint8_t*>(gguf_get_arr_data(ctx, i)) + k * scalar_size(at));
        }
      }
      out += "]";
    } else {
      out += ",\"value\":" + json_scalar(t, gguf_get_val_data(ctx, i));
    }
    out += "}";
  }
  out += "],\"tensors\":[";
  for (int64_t i = 0; i < gguf_get_n_tensors(ctx); ++i) {
    const char* name = gguf_get_tensor_name(ctx, i);
    const ggml_tensor* t = ggml_get_tensor(meta, name);
    const int64_t* ne = gguf_get_tensor_ne(ctx, i);
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "{\"name\":%s,\"type\":%d,\"n_dims\":%d,\"ne\":[%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "],\"offset\":%zu,\"size\":%zu,\"fnv1a\":\"%016" PRIx64 "\"}",
                  json_string(name).c_str(), static_cast<int>(gguf_get_tensor_type(ctx, i)), ggml_n_dims(t), ne[0], ne[1], ne[2], ne[3],
                  gguf_get_tensor_offset(ctx, i), gguf_get_tensor_size(ctx, i),
                  hashes[static_cast<size_t>(i)]);
    out += i ? "," : "";
    out += buf;
  }
  out += "]}";
  std::printf("%s\n", out.c_str());
  gguf_free(ctx);
  ggml_free(meta);
  return 0;
}

int write(const char* path) {
  gguf_context* ctx = gguf_init_empty();
  gguf_set_val_str(ctx, "general.architecture", "llama");
  gguf_set_val_u8(ctx, "t.u8", 200);
  gguf_set_val_i8(ctx, "t.i8", -100);
  gguf_set_val_u16(ctx, "t.u16", 60000);
  gguf_set_val_i16(ctx, "t.i16", -30000);
  gguf_set_val_u32(ctx, "t.u32", 4000000000u);
  gguf_set_val_i32(ctx, "t.i32", -2000000000);
  gguf_set_val_f32(ctx, "t.f32", 0.1f);
  gguf_set_val_bool(ctx, "t.bool", true);
  gguf_set_val_str(ctx, "t.string", "h\xc3\xa9llo \"quoted\"\n");
  gguf_set_val_u64(ctx, "t.u64", 18446744073709551615ull);
  gguf_set_val_i64(ctx, "t.i64", INT64_MIN);
  gguf_set_val_f64(ctx, "t.f64", 2.718281828459045);
  const int32_t i32s[] = {3, -1, 7};
  gguf_set_arr_data(ctx, "a.i32", GGUF_TYPE_INT32, i32s, 3);
  const float f32s[] = {0.5f, -2.0f};
  gguf_set_arr_data(ctx, "a.f32", GGUF_TYPE_FLOAT32, f32s, 2);
  const uint64_t u64s[] = {1, 18446744073709551615ull};
  gguf_set_arr_data(ctx, "a.u64", GGUF_TYPE_UINT64, u64s, 2);
  const int8_t bools[] = {1, 0, 1};
  gguf_set_arr_data(ctx, "a.bool", GGUF_TYPE_BOOL, bools, 3);
  const char* strs[] = {"<s>", "\xe2\x96\x81the", ""};
  gguf_set_arr_str(ctx, "tokenizer.ggml.tokens", strs, 3);

  ggml_init_params ip = {/*mem_size =*/16 * 1024 * 1024, /*mem_buffer =*/nullptr, /*no_alloc =*/false};
  ggml_context* g = ggml_init(ip);
  struct Spec { const char* name; ggml_type type; int64_t ne0, ne1, ne2; };
  const Spec specs[] = {
      {"token_embd.weight", GGML_TYPE_Q4_K, 256, 3, 1}, {"output_norm.weight", GGML_TYPE_F32, 7, 1, 1},
      {"blk.0.attn_q.weight", GGML_TYPE_Q8_0, 64, 5, 1}, {"blk.0.ffn_down_exps.weight", GGML_TYPE_Q6_K, 256, 2, 3},
      {"blk.0.attn_v.weight", GGML_TYPE_BF16, 33, 2, 1},
  };
  for (const Spec& s : specs) {
    ggml_tensor* t = ggml_new_tensor_3d(g, s.type, s.ne0, s.ne1, s.ne2);
    ggml_set_name(t, s.name);
    uint8_t* d = static_cast<uint8_t*>(t->data);
    for (size_t i = 0; i < ggml_nbytes(t); ++i) d[i] = static_cast<uint8_t>((i * 131 + std::strlen(s.name)) & 0xff);
    gguf_add_tensor(ctx, t);
  }
  const bool ok = gguf_write_to_file(ctx, path, /*only_meta =*/false);
  gguf_free(ctx);
  ggml_free(g);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "types") == 0) return types();
  if (argc >= 3 && std::strcmp(argv[1], "dump") == 0) {
    for (int i = 2; i < argc; ++i) {
      if (dump(argv[i]) != 0) return 1;
      std::fflush(stdout);
    }
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "write") == 0) return write(argv[2]);
  std::fprintf(stderr, "usage: gguf-ref types | dump FILE... | write FILE\n");
  return 2;
}
