#include "hqq/error.hpp"

namespace hqq {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::InvalidValue: return "INVALID_VALUE";
    case ErrorCode::Unsupported: return "UNSUPPORTED";
    case ErrorCode::OutOfMemory: return "OUT_OF_MEMORY";
    case ErrorCode::Internal: return "INTERNAL";
  }
  return "INTERNAL";
}

}  // namespace hqq
