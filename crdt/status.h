// Status and Result: the error model of crdt/ (no exceptions cross its API).
//
// A Status is ok or carries a code and a message meant for a person: it says
// what was wrong and, where it can, what to do. Result<T> holds a T or a
// failed Status.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace trellis {

// The numeric values travel in RPC responses (net/wire.h): append only.
enum class Code {
  ok,
  invalid_argument,  // the caller passed something malformed
  corrupt,           // bytes that fail to decode or verify
  not_found,
  too_large,         // a bound was exceeded
  io_error,          // the storage layer failed
  busy,              // another process holds what we need
  unsupported,       // a valid but unsupported version or codec
  denied,            // the caller may not do this (policy, trust)
  unavailable,       // a peer or service is gone, or did not answer in time
};

const char* code_name(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool is_ok() const { return code_ == Code::ok; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corrupt: block is truncated" — for logs and CLI output.
  std::string to_string() const;

 private:
  Code code_ = Code::ok;
  std::string message_;
};

inline Status invalid(std::string m) { return {Code::invalid_argument, std::move(m)}; }
inline Status corrupt(std::string m) { return {Code::corrupt, std::move(m)}; }
inline Status too_large(std::string m) { return {Code::too_large, std::move(m)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).is_ok()); }

  bool is_ok() const { return v_.index() == 0; }
  explicit operator bool() const { return is_ok(); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The failure, or ok when there is a value.
  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace trellis

// Propagate a failed Status from an expression returning Status.
#define TRELLIS_CAT2(a, b) a##b
#define TRELLIS_CAT(a, b) TRELLIS_CAT2(a, b)
#define TRELLIS_TRY(expr) TRELLIS_TRY_AS(TRELLIS_CAT(trellis_st_, __LINE__), expr)
#define TRELLIS_TRY_AS(name, expr)           \
  do {                                       \
    ::trellis::Status name = (expr);         \
    if (!name.is_ok()) return name;          \
  } while (0)
