/*
 * A small command-line bridge to llama.cpp's ggml, for the tests and benchmarks of hqq-wasm's GGML
 * block types. It links ggml's base library (built by scripts/llama-harness.sh outside the repo)
 * and exposes exactly three things llama.cpp does:
 *
 *   harness quantize   TYPE ROWS COLS IN.f32 OUT.bin   ggml_quantize_chunk with no importance
 *                                                      matrix: what llama-quantize runs without
 *                                                      --imatrix (the *_ref quantizers)
 *   harness dequantize TYPE ROWS COLS IN.bin OUT.f32   the type's to_float (dequantize_row_*)
 *   harness time       TYPE ROWS COLS IN.f32 SECONDS   times quantize on one thread; prints
 *                                                      {"ns_per_weight": ..., "runs": ...}
 *
 * TYPE is a GGML type name (F32, F16, BF16, Q4_0, ..., Q6_K). Files are raw little-endian arrays.
 * Errors go to stderr with exit status 1 (usage: 2).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml.h"

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "harness: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

/* ggml spells type names in lower case ("q4_k", "f16"). */
static int same_name(const char *a, const char *b) {
    for (; *a && *b; ++a, ++b) {
        const char x = (char) (*a >= 'A' && *a <= 'Z' ? *a - 'A' + 'a' : *a);
        const char y = (char) (*b >= 'A' && *b <= 'Z' ? *b - 'A' + 'a' : *b);
        if (x != y) return 0;
    }
    return *a == *b;
}

static enum ggml_type parse_type(const char *name) {
    for (int id = 0; id < GGML_TYPE_COUNT; ++id) {
        const char *n = ggml_type_name((enum ggml_type) id);
        if (n && same_name(n, name) && ggml_blck_size((enum ggml_type) id) > 0) return (enum ggml_type) id;
    }
    fail("unknown GGML type", name);
    return GGML_TYPE_COUNT;
}

static int64_t parse_count(const char *text) {
    char *end = NULL;
    const long long v = strtoll(text, &end, 10);
    if (!end || *end || v <= 0) fail("not a positive integer", text);
    return (int64_t) v;
}

static void *read_exactly(const char *path, size_t bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) fail("cannot open", path);
    void *buf = malloc(bytes ? bytes : 1);
    if (!buf) fail("out of memory reading", path);
    if (fread(buf, 1, bytes, f) != bytes || fgetc(f) != EOF) fail("input size does not match the shape", path);
    fclose(f);
    return buf;
}

static void write_all(const char *path, const void *data, size_t bytes) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes || fclose(f) != 0) fail("cannot write", path);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
    const double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: harness quantize|dequantize|time TYPE ROWS COLS INPUT OUTPUT|SECONDS\n");
        return 2;
    }
    const char *command = argv[1];
    const enum ggml_type type = parse_type(argv[2]);
    const int64_t rows = parse_count(argv[3]), cols = parse_count(argv[4]);
    if (cols % ggml_blck_size(type) != 0) fail("COLS is not a multiple of the block size of", argv[2]);
    const size_t n = (size_t) (rows * cols);
    const size_t row_bytes = ggml_row_size(type, cols), bytes = row_bytes * (size_t) rows;

    if (strcmp(command, "quantize") == 0 || strcmp(command, "time") == 0) {
        float *weights = read_exactly(argv[5], n * sizeof(float));
        void *out = malloc(bytes);
        if (!out) fail("out of memory", NULL);
        if (strcmp(command, "quantize") == 0) {
            if (ggml_quantize_chunk(type, weights, out, 0, rows, cols, NULL) != bytes) fail("unexpected output size", NULL);
            write_all(argv[6], out, bytes);
        } else {
            const double budget = atof(argv[6]);
            double runs[1000];
            int count = 0;
            const double start = now_seconds();
            ggml_quantize_chunk(type, weights, out, 0, rows, cols, NULL); /* warm-up */
            while (count < 1000 && (count < 3 || now_seconds() - start < budget)) {
                const double t0 = now_seconds();
                ggml_quantize_chunk(type, weights, out, 0, rows, cols, NULL);
                runs[count++] = now_seconds() - t0;
            }
            qsort(runs, (size_t) count, sizeof runs[0], compare_doubles);
            printf("{\"ns_per_weight\": %.6f, \"runs\": %d}\n", runs[count / 2] * 1e9 / (double) n, count);
        }
        free(out);
        free(weights);
    } else if (strcmp(command, "dequantize") == 0) {
        uint8_t *data = read_exactly(argv[5], bytes);
        float *out = malloc(n * sizeof(float));
        if (!out) fail("out of memory", NULL);
        const struct ggml_type_traits *traits = ggml_get_type_traits(type);
        for (int64_t r = 0; r < rows; ++r) {
            const uint8_t *src = data + (size_t) r * row_bytes;
            float *dst = out + (size_t) r * (size_t) cols;
            if (type == GGML_TYPE_F32) memcpy(dst, src, (size_t) cols * sizeof(float));
            else if (traits->to_float) traits->to_float(src, dst, cols);
            else fail("ggml has no to_float for", argv[2]);
        }
        write_all(argv[6], out, n * sizeof(float));
        free(out);
        free(data);
    } else {
        fail("unknown command", command);
    }
    return 0;
}
