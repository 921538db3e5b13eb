// Parsing and validation of conditions into the compiled tree of condition_internal.hpp.
#include "segments/condition.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>

#include "common/time_format.hpp"
#include "segments/condition_internal.hpp"

namespace xoal::segments {
namespace {

using internal::CountOp;
using internal::IsDateOnly;
using internal::JsonNumber;
using internal::Kind;
using internal::Node;
using internal::Op;
using internal::Operand;
using internal::ParseNumber;
using internal::Predicate;
using internal::TimeOperand;

// Bounds that keep one hostile condition from costing a process much memory or stack; real
// segments stay far below them.
constexpr int kMaxDepth = 16;
constexpr int kMaxParts = 500;
constexpr size_t kMaxListValues = 1000;
constexpr size_t kMaxNameLength = 256;
constexpr size_t kMaxRegexLength = 1000;
constexpr int64_t kMaxCount = 1'000'000'000;
constexpr std::chrono::minutes kMaxWindow = std::chrono::days(365 * 100);

constexpr std::string_view kKindKeys[] = {"all",   "any", "not",     "attribute",
                                          "event", "tag", "company", "segment"};

struct OpName {
  std::string_view name;
  Op op;
};
constexpr OpName kOps[] = {
    {"eq", Op::kEq},
    {"neq", Op::kNeq},
    {"contains", Op::kContains},
    {"not_contains", Op::kNotContains},
    {"starts_with", Op::kStartsWith},
    {"ends_with", Op::kEndsWith},
    {"exists", Op::kExists},
    {"not_exists", Op::kNotExists},
    {"gt", Op::kGt},
    {"gte", Op::kGte},
    {"lt", Op::kLt},
    {"lte", Op::kLte},
    {"between", Op::kBetween},
    {"in", Op::kIn},
    {"not_in", Op::kNotIn},
    {"matches", Op::kMatches},
    {"before", Op::kBefore},
    {"after", Op::kAfter},
    {"within_last", Op::kWithinLast},
    {"not_within_last", Op::kNotWithinLast},
    {"within_next", Op::kWithinNext},
};

struct CountOpName {
  std::string_view name;
  CountOp op;
};
constexpr CountOpName kCountOps[] = {{"gte", CountOp::kGte},
                                     {"lte", CountOp::kLte},
                                     {"eq", CountOp::kEq},
                                     {"gt", CountOp::kGt},
                                     {"lt", CountOp::kLt}};

std::string Member(const std::string& path, std::string_view key) {
  return path + "." + std::string(key);
}

std::string Element(const std::string& path, size_t i) { return fmt::format("{}[{}]", path, i); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A time written in a condition: a date alone (a day in the evaluation's zone), an ISO-8601
// date-time, or epoch seconds or milliseconds.
std::optional<TimeOperand> ParseTimeOperand(const json::value& v) {
  if (v.is_string() && IsDateOnly(v.get_string())) {
    auto t = ParseIsoTime(v.get_string());
    if (!t) return std::nullopt;
    auto day = std::chrono::floor<date::days>(*t).time_since_epoch();
    return TimeOperand{*t, date::local_days(day)};
  }
  auto t = ParseJsonTime(v);
  if (!t) return std::nullopt;
  return TimeOperand{*t, std::nullopt};
}

Operand MakeOperand(const json::value& v, bool fold_case) {
  Operand o;
  o.json = v;
  if (v.is_string()) {
    std::string_view s = v.get_string();
    o.text = fold_case ? Lower(s) : std::string(s);
    o.number = ParseNumber(s);
  } else {
    o.number = JsonNumber(v);
  }
  if (v.is_string() || v.is_number()) o.time = ParseTimeOperand(v);
  return o;
}

bool IsScalar(const json::value& v) { return v.is_string() || v.is_number() || v.is_bool(); }

std::string OpList() {
  std::string out;
  for (const auto& o : kOps) {
    if (!out.empty()) out += ", ";
    out += o.name;
  }
  return out;
}

Status UnknownKeys(const json::object& obj, const std::string& path,
                   std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : obj) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Status::InvalidArgument(
          fmt::format("unknown key \"{}\" here; expected {}", std::string_view(key), list),
          Member(path, key));
    }
  }
  return Status::Ok();
}

Result<std::string> RequiredName(const json::object& obj, const std::string& path,
                                 std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->value().is_string() || it->value().get_string().empty()) {
    return Status::InvalidArgument(fmt::format("{} must be a non-empty string", key),
                                   Member(path, key));
  }
  if (it->value().get_string().size() > kMaxNameLength) {
    return Status::InvalidArgument(
        fmt::format("{} must be at most {} characters", key, kMaxNameLength), Member(path, key));
  }
  return std::string(it->value().get_string());
}

// {"minutes"|"hours"|"days": N} with N a whole number from 1 up to 100 years.
Result<std::chrono::minutes> ParseWindow(const json::value& v, const std::string& path) {
  const auto* obj = v.if_object();
  if (obj == nullptr || obj->size() != 1) {
    return Status::InvalidArgument(
        "expected a duration such as {\"days\": 30}: one of minutes, hours or days", path);
  }
  const auto& [unit, amount] = *obj->begin();
  std::chrono::minutes per_unit{0};
  if (unit == "minutes") {
    per_unit = std::chrono::minutes(1);
  } else if (unit == "hours") {
    per_unit = std::chrono::hours(1);
  } else if (unit == "days") {
    per_unit = std::chrono::days(1);
  } else {
    return Status::InvalidArgument("the unit must be minutes, hours or days", Member(path, unit));
  }
  std::optional<long double> n = JsonNumber(amount);
  long double max_units = static_cast<long double>(kMaxWindow / per_unit);
  if (!n || *n != std::floor(*n) || *n < 1 || *n > max_units) {
    return Status::InvalidArgument(
        fmt::format("must be a whole number from 1 to {}", static_cast<int64_t>(max_units)),
        Member(path, unit));
  }
  return per_unit * static_cast<int64_t>(*n);
}

Result<Op> ParseOp(const json::object& obj, const std::string& path) {
  auto it = obj.find("op");
  if (it == obj.end()) return Status::InvalidArgument("op is required", Member(path, "op"));
  if (it->value().is_string()) {
    for (const auto& o : kOps) {
      if (o.name == it->value().get_string()) return o.op;
    }
  }
  return Status::InvalidArgument(fmt::format("unknown operator; expected one of {}", OpList()),
                                 Member(path, "op"));
}

Status CheckOrdered(const Operand& o, const std::string& path) {
  if (o.number || o.time) return Status::Ok();
  return Status::InvalidArgument("expected a number or a time (ISO-8601 or epoch)", path);
}

Result<Predicate> ParseBetween(Predicate p, const json::value& value, const std::string& path) {
  const auto* arr = value.if_array();
  if (arr == nullptr || arr->size() != 2) {
    return Status::InvalidArgument("between needs a list [low, high]", path);
  }
  for (size_t i = 0; i < 2; ++i) {
    p.operands.push_back(MakeOperand((*arr)[i], false));
    XOAL_RETURN_IF_ERROR(CheckOrdered(p.operands.back(), Element(path, i)));
  }
  Operand& low = p.operands[0];
  Operand& high = p.operands[1];
  bool numbers = low.number && high.number;
  if (!numbers && !(low.time && high.time)) {
    return Status::InvalidArgument("between needs two numbers or two times", path);
  }
  if ((numbers && *low.number > *high.number) ||
      (!numbers && !low.time->day && !high.time->day && low.time->instant > high.time->instant)) {
    return Status::InvalidArgument("the low bound is above the high bound", path);
  }
  if (!numbers && high.time->day) {
    // "between Jan 1 and Jan 31" includes all of Jan 31: compare below the start of Feb 1.
    *high.time->day += date::days(1);
    p.high_is_day_end = true;
  }
  return p;
}

Result<Predicate> ParseInList(Predicate p, const json::value* value, const std::string& path) {
  const json::array* arr = value ? value->if_array() : nullptr;
  if (arr == nullptr || arr->empty() || arr->size() > kMaxListValues) {
    return Status::InvalidArgument(fmt::format("expected a list of 1 to {} values", kMaxListValues),
                                   path);
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    if (!IsScalar((*arr)[i])) {
      return Status::InvalidArgument("expected a string, number or boolean", Element(path, i));
    }
    p.operands.push_back(MakeOperand((*arr)[i], p.fold_case));
  }
  return p;
}

// Compiled once here: RE2 objects are immutable and safe to share between threads.
Result<Predicate> ParseRegex(Predicate p, const json::value* value, const std::string& path) {
  const json::string* pattern = value ? value->if_string() : nullptr;
  if (pattern == nullptr || pattern->empty() || pattern->size() > kMaxRegexLength) {
    return Status::InvalidArgument(
        fmt::format("expected a regular expression of 1 to {} characters", kMaxRegexLength), path);
  }
  re2::RE2::Options options;
  options.set_log_errors(false);  // a bad pattern is the caller's error, returned below
  auto regex =
      std::make_shared<re2::RE2>(re2::StringPiece(pattern->data(), pattern->size()), options);
  if (!regex->ok()) {
    return Status::InvalidArgument("invalid regular expression: " + regex->error(), path);
  }
  p.regex = std::move(regex);
  return p;
}

// The operator and value of an attribute, property or company attribute condition.
Result<Predicate> ParsePredicate(const json::object& obj, const std::string& path, bool fold_case) {
  XOAL_ASSIGN_OR_RETURN(Op op, ParseOp(obj, path));
  Predicate p;
  p.op = op;
  p.fold_case = fold_case;
  std::string vpath = Member(path, "value");
  auto it = obj.find("value");
  const json::value* value = it == obj.end() ? nullptr : &it->value();

  auto require = [&](bool ok, std::string_view what) -> Status {
    if (value != nullptr && ok) return Status::Ok();
    return Status::InvalidArgument(fmt::format("expected {}", what), vpath);
  };
  switch (op) {
    case Op::kExists:
    case Op::kNotExists:
      if (value != nullptr && !value->is_null()) {
        return Status::InvalidArgument("exists and not_exists take no value", vpath);
      }
      return p;
    case Op::kEq:
    case Op::kNeq:
    case Op::kContains:
    case Op::kNotContains:
      XOAL_RETURN_IF_ERROR(require(value && IsScalar(*value), "a string, number or boolean"));
      break;
    case Op::kStartsWith:
    case Op::kEndsWith:
      XOAL_RETURN_IF_ERROR(require(value && value->is_string(), "a string"));
      break;
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte:
      XOAL_RETURN_IF_ERROR(require(value && IsScalar(*value), "a number or a time"));
      p.operands.push_back(MakeOperand(*value, false));
      XOAL_RETURN_IF_ERROR(CheckOrdered(p.operands.back(), vpath));
      return p;
    case Op::kBetween:
      XOAL_RETURN_IF_ERROR(require(value != nullptr, "a list [low, high]"));
      return ParseBetween(std::move(p), *value, vpath);
    case Op::kIn:
    case Op::kNotIn:
      return ParseInList(std::move(p), value, vpath);
    case Op::kMatches:
      return ParseRegex(std::move(p), value, vpath);
    case Op::kBefore:
    case Op::kAfter:
      XOAL_RETURN_IF_ERROR(require(value && (value->is_string() || value->is_number()),
                                   "a time (ISO-8601 or epoch)"));
      p.operands.push_back(MakeOperand(*value, false));
      if (!p.operands.back().time) {
        return Status::InvalidArgument("expected a time (ISO-8601 or epoch)", vpath);
      }
      return p;
    case Op::kWithinLast:
    case Op::kNotWithinLast:
    case Op::kWithinNext: {
      XOAL_RETURN_IF_ERROR(require(value != nullptr, "a duration such as {\"days\": 30}"));
      XOAL_ASSIGN_OR_RETURN(p.window, ParseWindow(*value, vpath));
      return p;
    }
  }
  p.operands.push_back(MakeOperand(*value, fold_case));
  return p;
}

// Turns JSON into Nodes, collecting what the condition reads on the way.
class Parser {
 public:
  Result<Node> Parse(const json::value& v, const std::string& path, int depth);
  Dependencies TakeDependencies();

 private:
  Result<Node> ParseList(Kind kind, const json::value& v, const std::string& path, int depth);
  Result<Node> ParseAttribute(const json::object& obj, const std::string& path);
  Result<Node> ParseEvent(const json::object& obj, const std::string& path);
  Result<Node> ParseCompany(const json::object& obj, const std::string& path);
  Result<Node> ParseSimple(Kind kind, std::string_view key, const json::object& obj,
                           const std::string& path, std::set<std::string>& deps);
  Status ParseWhere(const json::value& v, const std::string& path, Node& node);
  Status ParseCount(const json::value& v, const std::string& path, Node& node);
  Status ParseEventBetween(const json::value& v, const std::string& path, Node& node);
  void NoteEventAge(const internal::EventSpec& spec);

  int parts_ = 0;
  bool reads_time_ = false;
  std::set<std::string> attributes_;
  std::set<std::string> events_;
  std::set<std::string> tags_;
  std::set<std::string> companies_;
  std::set<std::string> company_attributes_;
  std::set<std::string> segments_;
  bool events_of_any_age_ = false;
  std::optional<std::chrono::minutes> events_within_last_;
  std::optional<SystemTime> events_from_;
};

Result<Node> Parser::Parse(const json::value& v, const std::string& path, int depth) {
  const json::object* obj = v.if_object();
  if (obj == nullptr) return Status::InvalidArgument("a condition must be an object", path);
  if (depth > kMaxDepth) {
    return Status::InvalidArgument(
        fmt::format("conditions may nest at most {} levels deep", kMaxDepth), path);
  }
  if (++parts_ > kMaxParts) {
    return Status::InvalidArgument(fmt::format("a condition may have at most {} parts", kMaxParts),
                                   path);
  }

  std::vector<std::string_view> kinds;
  for (std::string_view k : kKindKeys) {
    if (obj->contains(k)) kinds.push_back(k);
  }
  if (kinds.size() != 1) {
    std::string found = kinds.empty() ? "none" : fmt::format("{}", fmt::join(kinds, " and "));
    return Status::InvalidArgument(
        "a condition has exactly one of all, any, not, attribute, event, tag, company, segment "
        "(found " +
            found + ")",
        path);
  }

  std::string_view kind = kinds[0];
  if (kind == "all" || kind == "any" || kind == "not") {
    XOAL_RETURN_IF_ERROR(UnknownKeys(*obj, path, {kind}));
  }
  if (kind == "all") return ParseList(Kind::kAll, obj->at("all"), Member(path, "all"), depth);
  if (kind == "any") return ParseList(Kind::kAny, obj->at("any"), Member(path, "any"), depth);
  if (kind == "not") {
    XOAL_ASSIGN_OR_RETURN(Node child, Parse(obj->at("not"), Member(path, "not"), depth + 1));
    Node node;
    node.kind = Kind::kNot;
    node.reads_time = child.reads_time;
    node.children.push_back(std::move(child));
    return node;
  }
  if (kind == "attribute") return ParseAttribute(*obj, path);
  if (kind == "event") return ParseEvent(*obj, path);
  if (kind == "company") return ParseCompany(*obj, path);
  if (kind == "tag") return ParseSimple(Kind::kTag, "tag", *obj, path, tags_);
  return ParseSimple(Kind::kSegment, "segment", *obj, path, segments_);
}

Result<Node> Parser::ParseList(Kind kind, const json::value& v, const std::string& path,
                               int depth) {
  const json::array* arr = v.if_array();
  if (arr == nullptr || arr->empty()) {
    return Status::InvalidArgument("expected a non-empty list of conditions", path);
  }
  Node node;
  node.kind = kind;
  for (size_t i = 0; i < arr->size(); ++i) {
    XOAL_ASSIGN_OR_RETURN(Node child, Parse((*arr)[i], Element(path, i), depth + 1));
    node.reads_time = node.reads_time || child.reads_time;
    node.children.push_back(std::move(child));
  }
  return node;
}

Result<Node> Parser::ParseAttribute(const json::object& obj, const std::string& path) {
  XOAL_RETURN_IF_ERROR(UnknownKeys(obj, path, {"attribute", "op", "value"}));
  Node node;
  node.kind = Kind::kAttribute;
  XOAL_ASSIGN_OR_RETURN(node.name, RequiredName(obj, path, "attribute"));
  // The store keeps emails lower-cased (core::NormalizeEmail), so any casing a marketer types
  // must find them.
  XOAL_ASSIGN_OR_RETURN(node.predicate, ParsePredicate(obj, path, node.name == "email"));
  node.reads_time = internal::IsRelativeTimeOp(node.predicate.op);
  reads_time_ = reads_time_ || node.reads_time;
  attributes_.insert(node.name);
  if (node.name == "contact_type") {
    attributes_.insert("user_id");
    attributes_.insert("email");
  }
  return node;
}

Result<Node> Parser::ParseEvent(const json::object& obj, const std::string& path) {
  XOAL_RETURN_IF_ERROR(
      UnknownKeys(obj, path, {"event", "where", "count", "within_last", "between"}));
  Node node;
  node.kind = Kind::kEvent;
  XOAL_ASSIGN_OR_RETURN(node.name, RequiredName(obj, path, "event"));
  events_.insert(node.name);
  if (auto it = obj.find("where"); it != obj.end()) {
    XOAL_RETURN_IF_ERROR(ParseWhere(it->value(), Member(path, "where"), node));
  }
  if (auto it = obj.find("count"); it != obj.end()) {
    XOAL_RETURN_IF_ERROR(ParseCount(it->value(), Member(path, "count"), node));
  }
  auto within = obj.find("within_last");
  auto between = obj.find("between");
  if (within != obj.end() && between != obj.end()) {
    return Status::InvalidArgument("give within_last or between, not both",
                                   Member(path, "between"));
  }
  if (within != obj.end()) {
    XOAL_ASSIGN_OR_RETURN(node.event.within_last,
                          ParseWindow(within->value(), Member(path, "within_last")));
    node.reads_time = true;
  }
  if (between != obj.end()) {
    XOAL_RETURN_IF_ERROR(ParseEventBetween(between->value(), Member(path, "between"), node));
  }
  reads_time_ = reads_time_ || node.reads_time;
  NoteEventAge(node.event);
  return node;
}

void Parser::NoteEventAge(const internal::EventSpec& spec) {
  if (spec.within_last) {
    events_within_last_ =
        std::max(events_within_last_.value_or(*spec.within_last), *spec.within_last);
  } else if (spec.from) {
    // A calendar day starts at most 14 hours before its UTC midnight, in any time zone.
    SystemTime from = spec.from->day
                          ? SystemTime(date::sys_days(spec.from->day->time_since_epoch()) -
                                       std::chrono::hours(24))
                          : spec.from->instant;
    events_from_ = std::min(events_from_.value_or(from), from);
  } else {
    events_of_any_age_ = true;
  }
}

Status Parser::ParseWhere(const json::value& v, const std::string& path, Node& node) {
  const json::array* arr = v.if_array();
  if (arr == nullptr) return Status::InvalidArgument("expected a list of property filters", path);
  for (size_t i = 0; i < arr->size(); ++i) {
    std::string fpath = Element(path, i);
    const json::object* f = (*arr)[i].if_object();
    if (f == nullptr) {
      return Status::InvalidArgument(
          "expected a property filter such as {\"property\": \"amount\", \"op\": \"gt\", "
          "\"value\": 50}",
          fpath);
    }
    XOAL_RETURN_IF_ERROR(UnknownKeys(*f, fpath, {"property", "op", "value"}));
    internal::PropertyFilter filter;
    XOAL_ASSIGN_OR_RETURN(filter.property, RequiredName(*f, fpath, "property"));
    XOAL_ASSIGN_OR_RETURN(filter.predicate, ParsePredicate(*f, fpath, false));
    node.reads_time = node.reads_time || internal::IsRelativeTimeOp(filter.predicate.op);
    node.event.where.push_back(std::move(filter));
  }
  return Status::Ok();
}

Status Parser::ParseCount(const json::value& v, const std::string& path, Node& node) {
  const json::object* obj = v.if_object();
  if (obj == nullptr) {
    return Status::InvalidArgument("expected {\"op\": \"gte\", \"value\": N}", path);
  }
  XOAL_RETURN_IF_ERROR(UnknownKeys(*obj, path, {"op", "value"}));
  auto op = obj->find("op");
  const CountOpName* found = nullptr;
  for (const auto& c : kCountOps) {
    if (op != obj->end() && op->value().is_string() && op->value().get_string() == c.name) {
      found = &c;
    }
  }
  if (found == nullptr) {
    return Status::InvalidArgument("expected one of gte, lte, eq, gt, lt", Member(path, "op"));
  }
  auto value = obj->find("value");
  std::optional<long double> n = value == obj->end() ? std::nullopt : JsonNumber(value->value());
  if (!n || *n != std::floor(*n) || *n < 0 || *n > kMaxCount) {
    return Status::InvalidArgument("expected a whole number from 0 to 1000000000",
                                   Member(path, "value"));
  }
  if (found->op == CountOp::kLt && *n == 0) {
    return Status::InvalidArgument("a count below 0 can never match", Member(path, "value"));
  }
  node.event.count_op = found->op;
  node.event.count_value = static_cast<int64_t>(*n);
  return Status::Ok();
}

Status Parser::ParseEventBetween(const json::value& v, const std::string& path, Node& node) {
  const json::array* arr = v.if_array();
  if (arr == nullptr || arr->size() != 2) {
    return Status::InvalidArgument("expected [\"<iso time>\", \"<iso time>\"]", path);
  }
  std::optional<TimeOperand> bounds[2];
  for (size_t i = 0; i < 2; ++i) {
    bounds[i] = ParseTimeOperand((*arr)[i]);
    if (!bounds[i]) {
      return Status::InvalidArgument("expected a time (ISO-8601 or epoch)", Element(path, i));
    }
  }
  if (!bounds[0]->day && !bounds[1]->day && bounds[0]->instant > bounds[1]->instant) {
    return Status::InvalidArgument("the start is after the end", path);
  }
  if (bounds[1]->day) *bounds[1]->day += date::days(1);  // the whole last day counts
  node.event.from = bounds[0];
  node.event.to = bounds[1];
  return Status::Ok();
}

Result<Node> Parser::ParseCompany(const json::object& obj, const std::string& path) {
  const json::value& v = obj.at("company");
  if (!v.is_object()) return ParseSimple(Kind::kCompany, "company", obj, path, companies_);
  XOAL_RETURN_IF_ERROR(UnknownKeys(obj, path, {"company"}));
  std::string cpath = Member(path, "company");
  XOAL_RETURN_IF_ERROR(UnknownKeys(v.get_object(), cpath, {"attribute", "op", "value"}));
  Node node;
  node.kind = Kind::kCompanyAttribute;
  XOAL_ASSIGN_OR_RETURN(node.name, RequiredName(v.get_object(), cpath, "attribute"));
  XOAL_ASSIGN_OR_RETURN(node.predicate, ParsePredicate(v.get_object(), cpath, false));
  node.reads_time = internal::IsRelativeTimeOp(node.predicate.op);
  reads_time_ = reads_time_ || node.reads_time;
  company_attributes_.insert(node.name);
  return node;
}

Result<Node> Parser::ParseSimple(Kind kind, std::string_view key, const json::object& obj,
                                 const std::string& path, std::set<std::string>& deps) {
  XOAL_RETURN_IF_ERROR(UnknownKeys(obj, path, {key}));
  Node node;
  node.kind = kind;
  XOAL_ASSIGN_OR_RETURN(node.name, RequiredName(obj, path, key));
  deps.insert(node.name);
  return node;
}

Dependencies Parser::TakeDependencies() {
  auto list = [](std::set<std::string>& s) { return std::vector<std::string>(s.begin(), s.end()); };
  Dependencies d;
  d.attributes = list(attributes_);
  d.events = list(events_);
  d.tags = list(tags_);
  d.companies = list(companies_);
  d.company_attributes = list(company_attributes_);
  d.segments = list(segments_);
  d.reads_time = reads_time_;
  d.events_of_any_age = events_of_any_age_;
  d.events_within_last = events_within_last_;
  d.events_from = events_from_;
  return d;
}

}  // namespace

std::optional<SystemTime> EventsSince(const Dependencies& d, SystemTime now) {
  if (d.events_of_any_age || d.events.empty()) return std::nullopt;
  std::optional<SystemTime> since = d.events_from;
  if (d.events_within_last) {
    // An event counts while timestamp <= t < timestamp + window, for t from now on.
    SystemTime start = internal::SaturatingAdd(now, -*d.events_within_last);
    since = std::min(since.value_or(start), start);
  }
  return since;
}

Result<Condition> ParseCondition(const json::value& conditions, std::string_view path) {
  Parser parser;
  XOAL_ASSIGN_OR_RETURN(Node root, parser.Parse(conditions, std::string(path), 0));
  Condition c;
  c.root_ = std::make_shared<const Node>(std::move(root));
  c.dependencies_ = std::make_shared<const Dependencies>(parser.TakeDependencies());
  return c;
}

}  // namespace xoal::segments
