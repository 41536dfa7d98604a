// Errors of the hqq core: one exception type with a code, so that bindings can map codes to their
// own error families without parsing messages. Every message names the offending option, shape or
// value and says what to do about it.
#pragma once

#include <stdexcept>
#include <string>

namespace hqq {

enum class ErrorCode {
  InvalidArgument,  // bad option, shape or group size chosen by the caller
  InvalidValue,     // NaN/Inf weights or other unusable data
  Unsupported,      // a valid request that this library does not implement
  OutOfMemory,      // the allocation for a tensor failed or would overflow the address space
  Internal,         // a broken invariant: a bug in this library
};

const char* error_code_name(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace hqq
