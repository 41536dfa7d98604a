// SHA-256 (FIPS 180-4), used to compare arrays whose reference bytes are recorded only as hashes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace testutil {
std::string sha256_hex(const void* data, std::size_t size);
}
