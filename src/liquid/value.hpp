// Runtime values of the renderer and the Liquid rules for them: truthiness, equality, ordering,
// number coercion and how a value prints. Internal to src/liquid.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/json.hpp"

namespace xoal::liquid::detail {

// A value during evaluation: either borrowed from the data, the template or a variable (no copy),
// or owned (a filter result). `special` marks the `empty` and `blank` literals, which compare
// specially but otherwise behave as an empty string.
class Val {
 public:
  enum class Special : uint8_t { kNone, kEmpty, kBlank };

  Val() = default;
  static Val Ref(const json::value& v, bool stable = true) {
    Val r;
    r.ref_ = &v;
    r.stable_ = stable;
    return r;
  }
  static Val Own(json::value v) {
    Val r;
    r.own_ = std::move(v);
    r.ref_ = nullptr;
    return r;
  }
  static Val MakeSpecial(Special s) {
    Val r = Own(json::string());
    r.special_ = s;
    return r;
  }

  const json::value& get() const { return ref_ ? *ref_ : own_; }
  const json::value* operator->() const { return &get(); }
  Special special() const { return special_; }

  // False when borrowed from a template variable that a later `assign` may overwrite; whoever
  // keeps the value across the rendering of other nodes must copy it.
  bool stable() const { return stable_; }

  json::value Take() && { return ref_ ? *ref_ : std::move(own_); }

 private:
  const json::value* ref_ = &Null();
  json::value own_;
  Special special_ = Special::kNone;
  bool stable_ = true;

  static const json::value& Null() {
    static const json::value kNull;
    return kNull;
  }
};

// nil and false are falsy; everything else (0, "", empty arrays) is truthy.
inline bool IsTruthy(const json::value& v) {
  return !(v.is_null() || (v.is_bool() && !v.get_bool()));
}

bool IsNumber(const json::value& v);
double AsDouble(const json::value& v);  // REQUIRES: IsNumber(v)

// Appends how `v` renders: nil as nothing, floats as Ruby prints them ("5.0", "1.0e+20"), arrays
// as their items concatenated, objects as JSON.
void AppendString(std::string& out, const json::value& v);
std::string ToString(const json::value& v);

// Ruby's Float#to_s.
std::string FormatFloat(double d);

// Liquid `==`: numbers by value (1 == 1.0), strings, arrays and objects deeply; never across
// types otherwise. `empty`/`blank` compare by emptiness/blankness.
bool ValuesEqual(const Val& a, const Val& b);
bool JsonEqual(const json::value& a, const json::value& b);

// Ordering for `<`, `>`, sort: numbers with numbers, strings with strings (bytewise). nullopt when
// the two cannot be ordered.
std::optional<int> Compare(const json::value& a, const json::value& b);

// Shopify's Utils.to_number: numbers as they are; a string "-?digits.digits" as a float, any
// other string as its leading integer (0 when none); anything else 0.
json::value ToNumber(const json::value& v);

// An integer argument (limit, offset, slice start...): an integer, an integral-looking string, or
// nullopt. Floats are accepted only when `allow_float` (then truncated).
std::optional<int64_t> ToInteger(const json::value& v, bool allow_float);

// Size of a string (bytes), array or object; otherwise 0.
int64_t SizeOf(const json::value& v);

}  // namespace xoal::liquid::detail
