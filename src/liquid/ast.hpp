// The compiled form of a Liquid template: expressions and a tree of nodes. Internal to
// src/liquid; built by parser.cpp, walked by render.cpp. Immutable once parsed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/json.hpp"

namespace xoal::liquid::detail {

// Where a construct starts in the source, 1-based.
struct Pos {
  uint32_t line = 1;
  uint32_t column = 1;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// One step of a variable lookup: `.name` / `['name']` (key) or `[expr]` (index).
struct PathStep {
  std::string key;
  ExprPtr index;  // set for a bracketed expression; then `key` is unused
};

struct Expr {
  enum class Kind : uint8_t { kLiteral, kVariable, kRange, kEmpty, kBlank };

  Kind kind = Kind::kLiteral;
  Pos pos;
  json::value literal;         // kLiteral
  std::vector<PathStep> path;  // kVariable: path[0] is the top-level name (or bracketed index)
  ExprPtr range_start;         // kRange
  ExprPtr range_end;           // kRange
};

struct FilterDef;

struct FilterCall {
  std::string name;
  const FilterDef* def = nullptr;  // resolved at parse time; null for an unknown filter
  Pos pos;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;  // `allow_false: true`
};

// `expr | filter: args | ...`
struct FilteredExpr {
  ExprPtr base;  // null for an empty `{{ }}` / `{% echo %}`
  std::vector<FilterCall> filters;
};

enum class CompareOp : uint8_t { kNone, kEq, kNe, kLt, kGt, kLe, kGe, kContains };

// A boolean expression of `if`/`unless`/`elsif`. Liquid has no precedence between `and` and
// `or`: they group to the right, so `a or b and c` is `a or (b and c)`.
struct Condition {
  enum class Kind : uint8_t { kCompare, kAnd, kOr };

  Kind kind = Kind::kCompare;
  CompareOp op = CompareOp::kNone;  // kNone: the truthiness of `left`
  ExprPtr left;
  ExprPtr right;
  std::unique_ptr<Condition> lhs;  // kAnd / kOr
  std::unique_ptr<Condition> rhs;
};

struct Node;
using Block = std::vector<Node>;

struct TextNode {
  std::string text;
};
struct OutputNode {
  FilteredExpr expr;
};
struct IfNode {
  struct Branch {
    std::unique_ptr<Condition> cond;  // null for `else`
    Block body;
  };
  bool negate_first = false;  // `unless`
  std::vector<Branch> branches;
};
struct CaseNode {
  struct Clause {
    std::vector<ExprPtr> values;  // empty for `else`
    bool is_else = false;
    Block body;
  };
  ExprPtr subject;
  std::vector<Clause> clauses;
};
struct ForNode {
  std::string var;
  ExprPtr collection;
  ExprPtr limit;
  ExprPtr offset;
  bool offset_continue = false;
  bool reversed = false;
  std::string registry_key;  // names the loop for `offset: continue`
  Block body;
  Block else_body;
};
struct TablerowNode {
  std::string var;
  ExprPtr collection;
  ExprPtr limit;
  ExprPtr offset;
  ExprPtr cols;
  Block body;
};
struct BreakNode {};
struct ContinueNode {};
struct CycleNode {
  ExprPtr group;    // null: the group is the text of the values
  std::string key;  // the group name when no group expression is given
  std::vector<ExprPtr> values;
};
struct AssignNode {
  std::string name;
  FilteredExpr expr;
};
struct CaptureNode {
  std::string name;
  Block body;
};
struct CounterNode {
  std::string name;
  bool increment = true;
};
struct IfChangedNode {
  Block body;
};

struct Node {
  Pos pos;
  std::variant<TextNode, OutputNode, IfNode, CaseNode, ForNode, TablerowNode, BreakNode,
               ContinueNode, CycleNode, AssignNode, CaptureNode, CounterNode, IfChangedNode>
      v;
};

struct Document {
  Block body;
};

}  // namespace xoal::liquid::detail
