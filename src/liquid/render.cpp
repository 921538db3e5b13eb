// Walks a parsed Document over the render data. See liquid.hpp for the contract.
#include <string>
#include <unordered_map>
#include <vector>

#include "liquid/ast.hpp"
#include "liquid/filters.hpp"
#include "liquid/liquid.hpp"
#include "liquid/value.hpp"

namespace xoal::liquid {
namespace detail {
namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// One active `for` or `tablerow` loop, innermost last.
struct LoopFrame {
  std::string_view var;
  std::string_view name;  // forloop.name
  const json::value* item = nullptr;
  int64_t index0 = 0;
  int64_t length = 0;
  int64_t cols = 0;  // tablerow only; 0 for `for`
  bool tablerow = false;
};

class Renderer {
 public:
  Renderer(const json::value& data, const RenderOptions& options, std::string& out)
      : data_(data.is_object() ? &data.get_object() : nullptr), options_(options), out_(&out) {}

  Status Run(const Document& doc) {
    RenderBlock(doc.body);
    return error_;
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue, kError };

  // ---- errors and limits ---------------------------------------------------------------------

  bool failed() const { return !error_.ok(); }

  Flow Fail(Pos pos, std::string_view message) {
    if (error_.ok()) {
      error_ = Status::InvalidArgument("line " + std::to_string(pos.line) + ", column " +
                                       std::to_string(pos.column) + ": " + std::string(message));
    }
    return Flow::kError;
  }

  Val FailVal(Pos pos, std::string_view message) {
    Fail(pos, message);
    return Val();
  }

  bool CheckOutput(Pos pos) {
    if (out_->size() > options_.max_output_bytes) {
      Fail(pos, "output too large (limit " + std::to_string(options_.max_output_bytes) + " bytes)");
      return false;
    }
    return true;
  }

  // ---- variables -----------------------------------------------------------------------------

  const LoopFrame* FindForloop(size_t below, bool tablerow) const {
    for (size_t i = below; i-- > 0;) {
      if (loops_[i].tablerow == tablerow) {
        return &loops_[i];
      }
    }
    return nullptr;
  }

  static json::value LoopProperty(const LoopFrame& f, std::string_view key, bool& known) {
    known = true;
    int64_t i = f.index0;
    if (key == "index") {
      return i + 1;
    }
    if (key == "index0") {
      return i;
    }
    if (key == "rindex") {
      return f.length - i;
    }
    if (key == "rindex0") {
      return f.length - i - 1;
    }
    if (key == "first") {
      return i == 0;
    }
    if (key == "last") {
      return i == f.length - 1;
    }
    if (key == "length") {
      return f.length;
    }
    if (!f.tablerow && key == "name") {
      return json::string(f.name);
    }
    if (f.tablerow) {
      int64_t col0 = f.cols > 0 ? i % f.cols : i;
      if (key == "col") {
        return col0 + 1;
      }
      if (key == "col0") {
        return col0;
      }
      if (key == "col_first") {
        return col0 == 0;
      }
      if (key == "col_last") {
        return f.cols > 0 ? col0 == f.cols - 1 : i == f.length - 1;
      }
      if (key == "row") {
        return f.cols > 0 ? i / f.cols + 1 : 1;
      }
    }
    known = false;
    return nullptr;
  }

  static json::value LoopObject(const LoopFrame& f) {
    json::object o;
    for (std::string_view k : {"index", "index0", "rindex", "rindex0", "first", "last", "length"}) {
      bool known = false;
      o[k] = LoopProperty(f, k, known);
    }
    return o;
  }

  // `forloop...` / `tablerowloop...`: the loop object is computed, never stored.
  Val LookupLoop(const Expr& e, size_t& step, bool tablerow) {
    const LoopFrame* frame = FindForloop(loops_.size(), tablerow);
    if (!frame) {
      return Val();
    }
    while (step + 1 < e.path.size()) {
      const PathStep& s = e.path[step + 1];
      if (s.index) {
        break;
      }
      ++step;
      if (s.key == "parentloop" && !tablerow) {
        frame = FindForloop(static_cast<size_t>(frame - loops_.data()), false);
        if (!frame) {
          return Val();
        }
        continue;
      }
      bool known = false;
      json::value v = LoopProperty(*frame, s.key, known);
      return Val::Own(std::move(v));
    }
    return Val::Own(LoopObject(*frame));
  }

  // Resolves a top-level name: loop variables, then assigned/captured variables, then counters,
  // then the render data. Sets `found`.
  Val LookupName(std::string_view name, bool& found) {
    found = true;
    for (size_t i = loops_.size(); i-- > 0;) {
      if (loops_[i].var == name) {
        return Val::Ref(*loops_[i].item);
      }
    }
    if (auto it = locals_.find(name); it != locals_.end()) {
      return Val::Ref(it->second, /*stable=*/false);
    }
    if (auto it = counters_.find(name); it != counters_.end()) {
      return Val::Own(it->second);
    }
    if (data_) {
      if (auto it = data_->find(name); it != data_->end()) {
        return Val::Ref(it->value());
      }
    }
    found = false;
    return Val();
  }

  // One lookup step on `cur` by name. Arrays and hashes also answer size/first/last, as in
  // Shopify.
  static Val StepByName(const Val& cur, std::string_view k, bool& found) {
    found = true;
    const json::value& c = cur.get();
    bool stable = cur.stable();
    {
      if (c.is_object()) {
        const json::object& o = c.get_object();
        if (auto it = o.find(k); it != o.end()) {
          return Val::Ref(it->value(), stable);
        }
        if (k == "size") {
          return Val::Own(static_cast<int64_t>(o.size()));
        }
        if (k == "first" && !o.empty()) {
          return Val::Own(json::array{json::string(o.begin()->key()), o.begin()->value()});
        }
      } else if (c.is_array()) {
        const json::array& a = c.get_array();
        if (k == "size") {
          return Val::Own(static_cast<int64_t>(a.size()));
        }
        if (k == "first" && !a.empty()) {
          return Val::Ref(a.front(), stable);
        }
        if (k == "last" && !a.empty()) {
          return Val::Ref(a.back(), stable);
        }
      } else if (c.is_string()) {
        if (k == "size") {
          return Val::Own(SizeOf(c));
        }
      }
    }
    found = false;
    return Val();
  }

  // One lookup step on `cur` by an evaluated `[key]`.
  static Val Step(const Val& cur, const json::value& key, bool& found) {
    if (key.is_string()) {
      return StepByName(cur, key.get_string().subview(), found);
    }
    found = true;
    const json::value& c = cur.get();
    if (key.is_int64() && c.is_array()) {
      const json::array& a = c.get_array();
      int64_t i = key.get_int64();
      int64_t n = static_cast<int64_t>(a.size());
      if (i < 0) {
        i += n;
      }
      if (i >= 0 && i < n) {
        return Val::Ref(a[static_cast<size_t>(i)], cur.stable());
      }
    }
    found = false;
    return Val();
  }

  Val LookupVariable(const Expr& e) {
    const PathStep& head = e.path[0];
    Val head_key_val;
    std::string_view head_key = head.key;
    if (head.index) {
      head_key_val = Eval(*head.index);
      if (failed()) {
        return Val();
      }
      if (!head_key_val->is_string()) {
        return Undefined(e, "");
      }
      head_key = head_key_val->get_string().subview();
    }
    size_t step = 0;
    Val cur;
    bool found = false;
    if (!head.index && (head_key == "forloop" || head_key == "tablerowloop")) {
      cur = LookupLoop(e, step, head_key == "tablerowloop");
      found = true;
    } else {
      cur = LookupName(head_key, found);
    }
    if (!found) {
      return Undefined(e, head_key);
    }
    for (++step; step < e.path.size(); ++step) {
      const PathStep& s = e.path[step];
      if (s.index) {
        Val k = Eval(*s.index);
        if (failed()) {
          return Val();
        }
        cur = Step(cur, k.get(), found);
      } else {
        cur = StepByName(cur, s.key, found);
      }
      if (!found) {
        return Undefined(e, s.index ? "[...]" : s.key);
      }
    }
    return cur;
  }

  Val Undefined(const Expr& e, std::string_view what) {
    if (options_.strict_variables && !lenient_) {
      return FailVal(e.pos, "undefined variable '" + std::string(what) + "'");
    }
    return Val();
  }

  // ---- expressions ---------------------------------------------------------------------------

  Val Eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return Val::Ref(e.literal);
      case Expr::Kind::kVariable:
        return LookupVariable(e);
      case Expr::Kind::kEmpty:
        return Val::MakeSpecial(Val::Special::kEmpty);
      case Expr::Kind::kBlank:
        return Val::MakeSpecial(Val::Special::kBlank);
      case Expr::Kind::kRange:
        return EvalRange(e);
    }
    return Val();
  }

  Val EvalRange(const Expr& e) {
    Val a = Eval(*e.range_start);
    Val b = Eval(*e.range_end);
    if (failed()) {
      return Val();
    }
    auto from = ToInteger(ToNumber(a.get()), true);
    auto to = ToInteger(ToNumber(b.get()), true);
    if (!from || !to) {
      return FailVal(e.pos, "range bounds must be integers");
    }
    json::array out;
    if (*to >= *from) {
      uint64_t count = static_cast<uint64_t>(*to - *from) + 1;
      if (count > options_.max_loop_iterations) {
        return FailVal(e.pos, "range too large (" + std::to_string(count) + " items)");
      }
      out.reserve(count);
      for (int64_t i = *from; i <= *to; ++i) {
        out.push_back(i);
      }
    }
    return Val::Own(std::move(out));
  }

  Val EvalFiltered(const FilteredExpr& fe) {
    if (!fe.base) {
      return Val();
    }
    // `x | default: ...` is how a template says "x may be missing", so strict mode lets it be.
    lenient_ = !fe.filters.empty() && fe.filters.front().name == "default";
    Val v = Eval(*fe.base);
    lenient_ = false;
    for (const FilterCall& f : fe.filters) {
      if (failed()) {
        return Val();
      }
      if (!f.def) {
        if (options_.strict_filters) {
          return FailVal(f.pos, "unknown filter '" + f.name + "'");
        }
        return Val();
      }
      size_t n = f.args.size();
      if (n < f.def->min_args || n > f.def->max_args) {
        return FailVal(f.pos, ArityMessage(*f.def, n));
      }
      FilterArgs args;
      args.positional.reserve(n);
      for (const auto& a : f.args) {
        args.positional.push_back(Eval(*a));
      }
      for (const auto& [k, a] : f.kwargs) {
        args.keyword.emplace_back(k, Eval(*a));
      }
      if (failed()) {
        return Val();
      }
      FilterEnv env{options_, {}};
      v = f.def->fn(env, v, args);
      if (!env.error.empty()) {
        return FailVal(f.pos, "filter '" + f.name + "': " + env.error);
      }
      filter_work_ += v->is_string()  ? v->get_string().size()
                      : v->is_array() ? v->get_array().size()
                                      : 1;
      if (filter_work_ > options_.max_filter_work) {
        return FailVal(
            f.pos, "too much filter work (limit " + std::to_string(options_.max_filter_work) + ")");
      }
    }
    return v;
  }

  static std::string ArityMessage(const FilterDef& def, size_t got) {
    std::string expected = def.min_args == def.max_args ? std::to_string(def.min_args)
                                                        : std::to_string(def.min_args) + " to " +
                                                              std::to_string(def.max_args);
    return "filter '" + std::string(def.name) + "' takes " + expected + " argument(s), got " +
           std::to_string(got);
  }

  bool EvalCompare(const Condition& c) {
    Val left = Eval(*c.left);
    if (c.op == CompareOp::kNone) {
      return IsTruthy(left.get());
    }
    Val right = Eval(*c.right);
    if (failed()) {
      return false;
    }
    switch (c.op) {
      case CompareOp::kEq:
        return ValuesEqual(left, right);
      case CompareOp::kNe:
        return !ValuesEqual(left, right);
      case CompareOp::kContains:
        return Contains(left.get(), right.get());
      default:
        break;
    }
    if (left.special() != Val::Special::kNone || right.special() != Val::Special::kNone) {
      return false;
    }
    auto cmp = Compare(left.get(), right.get());
    if (!cmp) {
      bool mixed = (IsNumber(left.get()) && right->is_string()) ||
                   (left->is_string() && IsNumber(right.get()));
      if (mixed) {
        Fail(c.left->pos, "cannot compare a string with a number");
      }
      return false;
    }
    switch (c.op) {
      case CompareOp::kLt:
        return *cmp < 0;
      case CompareOp::kGt:
        return *cmp > 0;
      case CompareOp::kLe:
        return *cmp <= 0;
      case CompareOp::kGe:
        return *cmp >= 0;
      default:
        return false;
    }
  }

  static bool Contains(const json::value& left, const json::value& right) {
    if (!IsTruthy(right)) {
      return false;  // Shopify: `x contains nil` / `contains false` are false
    }
    if (left.is_string()) {
      std::string needle = ToString(right);
      return left.get_string().subview().find(needle) != std::string_view::npos;
    }
    if (left.is_array()) {
      for (const auto& item : left.get_array()) {
        if (JsonEqual(item, right)) {
          return true;
        }
      }
      return false;
    }
    if (left.is_object() && right.is_string()) {
      return left.get_object().contains(right.get_string().subview());
    }
    return false;
  }

  bool EvalCondition(const Condition& c) {
    switch (c.kind) {
      case Condition::Kind::kCompare:
        return EvalCompare(c);
      case Condition::Kind::kAnd:
        return EvalCondition(*c.lhs) && !failed() && EvalCondition(*c.rhs);
      case Condition::Kind::kOr:
        return (EvalCondition(*c.lhs) && !failed()) || (!failed() && EvalCondition(*c.rhs));
    }
    return false;
  }

  // ---- nodes ---------------------------------------------------------------------------------

  Flow RenderBlock(const Block& block) {
    if (++depth_ > options_.max_depth) {
      return Fail(block.empty() ? Pos{} : block.front().pos, "nesting too deep");
    }
    for (const Node& node : block) {
      Flow f = RenderNode(node);
      if (f != Flow::kNormal) {
        --depth_;
        return f;
      }
    }
    --depth_;
    return Flow::kNormal;
  }

  Flow RenderNode(const Node& node) {
    Pos pos = node.pos;
    return std::visit(
        [&](const auto& n) -> Flow {
          using T = std::decay_t<decltype(n)>;
          if constexpr (std::is_same_v<T, TextNode>) {
            out_->append(n.text);
            return CheckOutput(pos) ? Flow::kNormal : Flow::kError;
          } else if constexpr (std::is_same_v<T, OutputNode>) {
            Val v = EvalFiltered(n.expr);
            if (failed()) {
              return Flow::kError;
            }
            AppendString(*out_, v.get());
            return CheckOutput(pos) ? Flow::kNormal : Flow::kError;
          } else if constexpr (std::is_same_v<T, IfNode>) {
            return RenderIf(n);
          } else if constexpr (std::is_same_v<T, CaseNode>) {
            return RenderCase(n);
          } else if constexpr (std::is_same_v<T, ForNode>) {
            return RenderFor(n, pos);
          } else if constexpr (std::is_same_v<T, TablerowNode>) {
            return RenderTablerow(n, pos);
          } else if constexpr (std::is_same_v<T, BreakNode>) {
            return Flow::kBreak;
          } else if constexpr (std::is_same_v<T, ContinueNode>) {
            return Flow::kContinue;
          } else if constexpr (std::is_same_v<T, CycleNode>) {
            return RenderCycle(n, pos);
          } else if constexpr (std::is_same_v<T, AssignNode>) {
            Val v = EvalFiltered(n.expr);
            if (failed()) {
              return Flow::kError;
            }
            return Store(n.name, std::move(v).Take(), pos);
          } else if constexpr (std::is_same_v<T, CaptureNode>) {
            std::string captured;
            Flow f = RenderInto(n.body, captured);
            if (f == Flow::kError) {
              return f;
            }
            Flow stored = Store(n.name, json::string(captured), pos);
            return f == Flow::kNormal ? stored : f;
          } else if constexpr (std::is_same_v<T, CounterNode>) {
            return RenderCounter(n);
          } else if constexpr (std::is_same_v<T, IfChangedNode>) {
            std::string body;
            Flow f = RenderInto(n.body, body);
            if (f != Flow::kError && body != ifchanged_last_) {
              out_->append(body);
              ifchanged_last_ = std::move(body);
            }
            return f;
          }
        },
        node.v);
  }

  Flow Store(const std::string& name, json::value v, Pos pos) {
    // Loops can build values that double each iteration (`assign s = s | append: s`); cap them
    // like the output so a template cannot exhaust memory before the iteration limit trips.
    if ((v.is_string() && v.get_string().size() > options_.max_output_bytes) ||
        (v.is_array() && v.get_array().size() > options_.max_loop_iterations)) {
      return Fail(pos, "value of '" + name + "' too large");
    }
    locals_[name] = std::move(v);
    return Flow::kNormal;
  }

  // Renders `body` into `buffer` instead of the output (capture, ifchanged).
  Flow RenderInto(const Block& body, std::string& buffer) {
    std::string* saved = out_;
    out_ = &buffer;
    Flow f = RenderBlock(body);
    out_ = saved;
    return f;
  }

  Flow RenderIf(const IfNode& n) {
    for (size_t i = 0; i < n.branches.size(); ++i) {
      const IfNode::Branch& b = n.branches[i];
      bool take = true;
      if (b.cond) {
        take = EvalCondition(*b.cond);
        if (failed()) {
          return Flow::kError;
        }
        if (i == 0 && n.negate_first) {
          take = !take;
        }
      }
      if (take) {
        return RenderBlock(b.body);
      }
    }
    return Flow::kNormal;
  }

  Flow RenderCase(const CaseNode& n) {
    Val subject = Eval(*n.subject);
    if (failed()) {
      return Flow::kError;
    }
    bool run_else = true;
    for (const CaseNode::Clause& clause : n.clauses) {
      if (clause.is_else) {
        if (run_else) {
          Flow f = RenderBlock(clause.body);
          if (f != Flow::kNormal) {
            return f;
          }
        }
        continue;
      }
      for (const ExprPtr& value : clause.values) {
        Val v = Eval(*value);
        if (failed()) {
          return Flow::kError;
        }
        if (ValuesEqual(subject, v)) {
          run_else = false;
          Flow f = RenderBlock(clause.body);
          if (f != Flow::kNormal) {
            return f;
          }
        }
      }
    }
    return Flow::kNormal;
  }

  // The items a loop walks over. Hashes iterate as [key, value] pairs and a non-empty string as
  // itself; anything else is empty. Values that a loop body could overwrite are copied first.
  // `coll` keeps the items alive. False on an evaluation error.
  bool LoopItems(const Expr& collection, Val& coll, std::vector<const json::value*>& items) {
    coll = Eval(collection);
    if (failed()) {
      return false;
    }
    if (!coll.stable()) {
      coll = Val::Own(json::value(coll.get()));
    }
    const json::value& c = coll.get();
    if (c.is_array()) {
      for (const auto& item : c.get_array()) {
        items.push_back(&item);
      }
    } else if (c.is_object()) {
      json::array pairs;
      for (const auto& kv : c.get_object()) {
        pairs.push_back(json::array{json::string(kv.key()), kv.value()});
      }
      coll = Val::Own(std::move(pairs));
      for (const auto& item : coll->get_array()) {
        items.push_back(&item);
      }
    } else if (c.is_string() && !c.get_string().empty() && coll.special() == Val::Special::kNone) {
      items.push_back(&c);
    }
    return true;
  }

  // Evaluates `limit:`/`offset:`; absent or nil is `fallback`.
  std::optional<int64_t> LoopInt(const ExprPtr& e, int64_t fallback, std::string_view what) {
    if (!e) {
      return fallback;
    }
    Val v = Eval(*e);
    if (failed()) {
      return std::nullopt;
    }
    if (v->is_null()) {
      return fallback;
    }
    auto i = ToInteger(v.get(), true);
    if (!i) {
      Fail(e->pos, std::string(what) + " must be a number");
    }
    return i;
  }

  bool CountIteration(Pos pos) {
    if (++iterations_ > options_.max_loop_iterations) {
      Fail(pos,
           "too many loop iterations (limit " + std::to_string(options_.max_loop_iterations) + ")");
      return false;
    }
    return true;
  }

  // The [from, to) window of `size` items that `offset` and `limit` select.
  static std::pair<int64_t, int64_t> Window(int64_t offset, int64_t limit, int64_t size) {
    int64_t from = std::clamp<int64_t>(offset, 0, size);
    return {from, std::clamp<int64_t>(from + std::max<int64_t>(limit, 0), from, size)};
  }

  Flow RenderFor(const ForNode& n, Pos pos) {
    Val coll;
    std::vector<const json::value*> items;
    if (!LoopItems(*n.collection, coll, items)) {
      return Flow::kError;
    }
    int64_t size = static_cast<int64_t>(items.size());
    std::optional<int64_t> offset =
        n.offset_continue ? offsets_[n.registry_key] : LoopInt(n.offset, 0, "offset");
    std::optional<int64_t> limit = offset ? LoopInt(n.limit, size, "limit") : std::nullopt;
    if (!offset || !limit) {
      return Flow::kError;
    }
    auto [from, to] = Window(*offset, *limit, size);
    offsets_[n.registry_key] = to;
    if (from == to) {
      return RenderBlock(n.else_body);
    }
    std::vector<const json::value*> segment(items.begin() + from, items.begin() + to);
    if (n.reversed) {
      std::reverse(segment.begin(), segment.end());
    }
    loops_.push_back(LoopFrame{n.var, n.registry_key, nullptr, 0,
                               static_cast<int64_t>(segment.size()), 0, false});
    size_t frame = loops_.size() - 1;
    Flow result = Flow::kNormal;
    for (size_t i = 0; i < segment.size(); ++i) {
      if (!CountIteration(pos)) {
        result = Flow::kError;
        break;
      }
      loops_[frame].item = segment[i];
      loops_[frame].index0 = static_cast<int64_t>(i);
      Flow f = RenderBlock(n.body);
      if (f == Flow::kError) {
        result = f;
        break;
      }
      if (f == Flow::kBreak) {
        break;
      }
    }
    loops_.pop_back();
    return result;
  }

  Flow RenderTablerow(const TablerowNode& n, Pos pos) {
    Val coll;
    std::vector<const json::value*> items;
    if (!LoopItems(*n.collection, coll, items)) {
      return Flow::kError;
    }
    int64_t size = static_cast<int64_t>(items.size());
    auto offset = LoopInt(n.offset, 0, "offset");
    auto limit = offset ? LoopInt(n.limit, size, "limit") : std::nullopt;
    auto cols = limit ? LoopInt(n.cols, 0, "cols") : std::nullopt;
    if (!cols) {
      return Flow::kError;
    }
    auto [from, to] = Window(*offset, *limit, size);
    int64_t count = to - from;
    out_->append("<tr class=\"row1\">\n");
    loops_.push_back(LoopFrame{n.var, {}, nullptr, 0, count, std::max<int64_t>(*cols, 0), true});
    size_t frame = loops_.size() - 1;
    Flow result = Flow::kNormal;
    for (int64_t i = 0; i < count; ++i) {
      if (!CountIteration(pos)) {
        result = Flow::kError;
        break;
      }
      LoopFrame& f = loops_[frame];
      f.item = items[static_cast<size_t>(from + i)];
      f.index0 = i;
      int64_t col0 = f.cols > 0 ? i % f.cols : i;
      bool col_last = f.cols > 0 ? col0 == f.cols - 1 : i == count - 1;
      int64_t row = f.cols > 0 ? i / f.cols + 1 : 1;
      out_->append("<td class=\"col" + std::to_string(col0 + 1) + "\">");
      Flow body = RenderBlock(n.body);
      if (body == Flow::kError) {
        result = body;
        break;
      }
      out_->append("</td>");
      if (col_last && i != count - 1) {
        out_->append("</tr>\n<tr class=\"row" + std::to_string(row + 1) + "\">");
      }
      if (body == Flow::kBreak) {
        break;
      }
    }
    loops_.pop_back();
    if (result == Flow::kError) {
      return result;
    }
    out_->append("</tr>\n");
    return CheckOutput(pos) ? Flow::kNormal : Flow::kError;
  }

  Flow RenderCycle(const CycleNode& n, Pos pos) {
    std::string key;
    if (n.group) {
      Val g = Eval(*n.group);
      key = "n" + ToString(g.get());
    } else {
      key = "u" + n.key;
    }
    int64_t& index = cycles_[key];
    if (index < static_cast<int64_t>(n.values.size())) {
      Val v = Eval(*n.values[static_cast<size_t>(index)]);
      if (failed()) {
        return Flow::kError;
      }
      AppendString(*out_, v.get());
    }
    ++index;
    if (index >= static_cast<int64_t>(n.values.size())) {
      index = 0;
    }
    return CheckOutput(pos) ? Flow::kNormal : Flow::kError;
  }

  // Counters share the top-level namespace with the data (a counter starts from a data integer
  // of the same name) but never with assigned variables, as in Shopify's Liquid.
  Flow RenderCounter(const CounterNode& n) {
    auto it = counters_.find(n.name);
    if (it == counters_.end()) {
      int64_t start = 0;
      if (data_) {
        if (auto d = data_->find(n.name); d != data_->end() && d->value().is_int64()) {
          start = d->value().get_int64();
        }
      }
      it = counters_.emplace(n.name, start).first;
    }
    if (n.increment) {
      AppendString(*out_, json::value(it->second));
      ++it->second;
    } else {
      --it->second;
      AppendString(*out_, json::value(it->second));
    }
    return Flow::kNormal;
  }

  const json::object* data_;
  const RenderOptions& options_;
  std::string* out_;
  Status error_;
  StringMap<json::value> locals_;
  StringMap<int64_t> counters_;
  StringMap<int64_t> cycles_;
  StringMap<int64_t> offsets_;
  std::vector<LoopFrame> loops_;
  std::string ifchanged_last_;
  uint64_t iterations_ = 0;
  uint64_t filter_work_ = 0;
  size_t depth_ = 0;
  bool lenient_ = false;  // while evaluating the input of a `default` filter
};

}  // namespace
}  // namespace detail

Result<std::string> Render(const Template& tmpl, const json::value& data,
                           const RenderOptions& options) {
  std::string out;
  detail::Renderer renderer(data, options, out);
  Status s = renderer.Run(tmpl.doc());
  if (!s.ok()) {
    return s;
  }
  return out;
}

}  // namespace xoal::liquid
