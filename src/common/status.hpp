// Status and Result<T>: how every call that crosses a module boundary reports failure.
//
// A Status is a closed code, a message safe to show to an API caller, and optionally the name of
// the input field at fault. Expected failures (bad input, unknown id, conflict) are values; nothing
// throws across a module boundary.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace xoal {

enum class StatusCode {
  kOk,
  kInvalidArgument,   // the input failed validation (HTTP 422, or 400 for unparseable input)
  kMalformed,         // the body could not be parsed at all (HTTP 400)
  kNotFound,          // HTTP 404
  kAlreadyExists,     // HTTP 409
  kConflict,          // HTTP 409
  kUnauthenticated,   // HTTP 401
  kPermissionDenied,  // HTTP 403
  kTooLarge,          // HTTP 413
  kUnsupportedMedia,  // HTTP 415
  kRateLimited,       // HTTP 429
  kUnavailable,       // HTTP 503: shutting down, store refusing writes
  kDeadlineExceeded,  // HTTP 504
  kInternal,          // HTTP 500: a bug or an IO error; details go to the log only
};

class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message, std::string field = {}) {
    return Status(StatusCode::kInvalidArgument, std::move(message), std::move(field));
  }
  static Status Malformed(std::string message) {
    return Status(StatusCode::kMalformed, std::move(message));
  }
  static Status NotFound(std::string message) {
    return Status(StatusCode::kNotFound, std::move(message));
  }
  static Status AlreadyExists(std::string message, std::string field = {}) {
    return Status(StatusCode::kAlreadyExists, std::move(message), std::move(field));
  }
  static Status Conflict(std::string message, std::string field = {}) {
    return Status(StatusCode::kConflict, std::move(message), std::move(field));
  }
  static Status Unauthenticated(std::string message) {
    return Status(StatusCode::kUnauthenticated, std::move(message));
  }
  static Status PermissionDenied(std::string message) {
    return Status(StatusCode::kPermissionDenied, std::move(message));
  }
  static Status TooLarge(std::string message) {
    return Status(StatusCode::kTooLarge, std::move(message));
  }
  static Status UnsupportedMedia(std::string message) {
    return Status(StatusCode::kUnsupportedMedia, std::move(message));
  }
  static Status RateLimited(std::string message) {
    return Status(StatusCode::kRateLimited, std::move(message));
  }
  static Status Unavailable(std::string message) {
    return Status(StatusCode::kUnavailable, std::move(message));
  }
  static Status Internal(std::string message) {
    return Status(StatusCode::kInternal, std::move(message));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsInvalidArgument() const { return code_ == StatusCode::kInvalidArgument; }
  bool IsConflict() const {
    return code_ == StatusCode::kConflict || code_ == StatusCode::kAlreadyExists;
  }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& field() const { return field_; }

  // Returns a copy whose field is `prefix` + "." + field (or `prefix` when there was none).
  Status WithFieldPrefix(const std::string& prefix) const {
    Status s = *this;
    s.field_ = field_.empty() ? prefix : prefix + "." + field_;
    return s;
  }

 private:
  Status(StatusCode code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
};

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "a Result holding a Status must hold an error");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace xoal

#define XOAL_CONCAT_INNER(a, b) a##b
#define XOAL_CONCAT(a, b) XOAL_CONCAT_INNER(a, b)

#define XOAL_RETURN_IF_ERROR(expr)            \
  do {                                        \
    ::xoal::Status xoal_status_ = (expr);     \
    if (!xoal_status_.ok()) return xoal_status_; \
  } while (0)

// XOAL_ASSIGN_OR_RETURN(auto x, FunctionReturningResult());
#define XOAL_ASSIGN_OR_RETURN(lhs, expr) \
  XOAL_ASSIGN_OR_RETURN_IMPL(XOAL_CONCAT(xoal_result_, __LINE__), lhs, expr)
#define XOAL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
