#include "liquid/parser.hpp"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <string>
#include <utility>

#include "liquid/filters.hpp"
#include "liquid/lexer.hpp"
#include "liquid/text.hpp"

namespace xoal::liquid::detail {
namespace {

bool IsWordChar(char c) { return IsIdentChar(c) && c != '-'; }

bool IsBlankText(std::string_view s) { return std::all_of(s.begin(), s.end(), IsSpace); }

// Maps byte offsets of the source to 1-based line and column.
class LineMap {
 public:
  explicit LineMap(std::string_view source) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\n') {
        line_starts_.push_back(i + 1);
      }
    }
  }

  Pos At(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    return Pos{static_cast<uint32_t>(line), static_cast<uint32_t>(offset - *(it - 1) + 1)};
  }

 private:
  std::vector<size_t> line_starts_;
};

// One piece of template source: text, an output `{{ }}` or a tag `{% %}`.
struct Piece {
  enum class Kind : uint8_t { kEof, kText, kOutput, kTag, kError };

  Kind kind = Kind::kEof;
  std::string_view name;    // tag name ("if", "#", ...)
  std::string_view markup;  // text, output expression, or what follows the tag name
  size_t offset = 0;        // where the piece starts
  size_t markup_offset = 0;
};

Piece ErrorPiece() {
  Piece p;
  p.kind = Piece::Kind::kError;
  return p;
}

struct SourceError {
  size_t offset = 0;
  std::string message;
};

// Where pieces come from: the template source, or the lines of a `{% liquid %}` tag.
class PieceSource {
 public:
  virtual ~PieceSource() = default;
  // Returns the next piece; kError fills `error`.
  virtual Piece Next(SourceError& error) = 0;
  // After a `raw` or `doc` tag: returns the verbatim text up to `{% end<name> %}` and skips
  // past it.
  virtual bool ReadRaw(std::string_view name, std::string_view& body, size_t tag_offset,
                       SourceError& error) = 0;
};

// Splits template source into pieces, applying `{%-`/`-%}` whitespace control to the text
// around them (a dash strips all whitespace, newlines included, on its side).
class TemplateSource final : public PieceSource {
 public:
  explicit TemplateSource(std::string_view src) : src_(src) {}

  Piece Next(SourceError& error) override {
    while (pos_ < src_.size()) {
      size_t open = FindOpen(pos_);
      std::string_view text = src_.substr(pos_, open - pos_);
      if (trim_next_) {
        text = TrimLeft(text);
        trim_next_ = false;
      }
      if (open + 2 < src_.size() && src_[open + 2] == '-') {
        text = TrimRight(text);
      }
      size_t text_offset = pos_;
      pos_ = open;
      if (!text.empty()) {
        return Piece{Piece::Kind::kText, {}, text, text_offset, text_offset};
      }
      if (open >= src_.size()) {
        break;
      }
      return ReadMarkup(open, error);
    }
    return Piece{Piece::Kind::kEof, {}, {}, src_.size(), src_.size()};
  }

  bool ReadRaw(std::string_view name, std::string_view& body, size_t tag_offset,
               SourceError& error) override {
    std::string end_name = "end" + std::string(name);
    size_t search = pos_;
    while (true) {
      size_t open = src_.find("{%", search);
      if (open == std::string_view::npos) {
        error = {tag_offset, "'" + std::string(name) + "' tag was never closed"};
        return false;
      }
      size_t i = open + 2;
      if (i < src_.size() && src_[i] == '-') {
        ++i;
      }
      while (i < src_.size() && IsSpace(src_[i])) {
        ++i;
      }
      if (src_.substr(i, end_name.size()) == end_name) {
        size_t j = i + end_name.size();
        while (j < src_.size() && IsSpace(src_[j])) {
          ++j;
        }
        bool dash = j < src_.size() && src_[j] == '-';
        if (src_.substr(j + (dash ? 1 : 0), 2) == "%}") {
          body = src_.substr(pos_, open - pos_);
          pos_ = j + (dash ? 3 : 2);
          trim_next_ = dash;
          return true;
        }
      }
      search = open + 2;
    }
  }

 private:
  size_t FindOpen(size_t from) const {
    size_t i = src_.find('{', from);
    while (i != std::string_view::npos && i + 1 < src_.size()) {
      if (src_[i + 1] == '{' || src_[i + 1] == '%') {
        return i;
      }
      i = src_.find('{', i + 1);
    }
    return src_.size();
  }

  Piece ReadMarkup(size_t open, SourceError& error) {
    bool is_tag = src_[open + 1] == '%';
    std::string_view closer = is_tag ? "%}" : "}}";
    size_t close = src_.find(closer, open + 2);
    if (close == std::string_view::npos) {
      error = {open,
               is_tag ? "tag was never closed with '%}'" : "output was never closed with '}}'"};
      return ErrorPiece();
    }
    size_t inner_start = open + 2;
    if (inner_start < close && src_[inner_start] == '-') {
      ++inner_start;
    }
    size_t inner_end = close;
    trim_next_ = inner_end > inner_start && src_[inner_end - 1] == '-';
    if (trim_next_) {
      --inner_end;
    }
    pos_ = close + 2;
    std::string_view inner = src_.substr(inner_start, inner_end - inner_start);
    if (!is_tag) {
      return Piece{Piece::Kind::kOutput, {}, inner, open, inner_start};
    }
    return SplitTag(inner, inner_start, open, error);
  }

  static Piece SplitTag(std::string_view inner, size_t inner_start, size_t open,
                        SourceError& error) {
    size_t i = 0;
    while (i < inner.size() && IsSpace(inner[i])) {
      ++i;
    }
    size_t name_start = i;
    if (i < inner.size() && inner[i] == '#') {
      ++i;
    } else {
      while (i < inner.size() && IsWordChar(inner[i])) {
        ++i;
      }
    }
    if (i == name_start) {
      error = {inner_start + name_start, "expected a tag name after '{%'"};
      return ErrorPiece();
    }
    return Piece{Piece::Kind::kTag, inner.substr(name_start, i - name_start), inner.substr(i), open,
                 inner_start + i};
  }

  std::string_view src_;
  size_t pos_ = 0;
  bool trim_next_ = false;
};

// The lines of a `{% liquid %}` tag: each non-empty line is a tag without delimiters.
class LiquidTagSource final : public PieceSource {
 public:
  LiquidTagSource(std::string_view markup, size_t offset) : markup_(markup), base_(offset) {}

  Piece Next(SourceError& error) override {
    while (pos_ < markup_.size()) {
      size_t eol = markup_.find('\n', pos_);
      if (eol == std::string_view::npos) {
        eol = markup_.size();
      }
      std::string_view line = markup_.substr(pos_, eol - pos_);
      size_t line_offset = base_ + pos_;
      pos_ = eol + 1;
      if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
      }
      size_t lead = line.size() - TrimLeft(line).size();
      line = Trim(line);
      if (line.empty()) {
        continue;
      }
      size_t n = line[0] == '#' ? 1 : 0;
      while (n < line.size() && !IsSpace(line[n]) && line[0] != '#') {
        ++n;
      }
      return Piece{Piece::Kind::kTag, line.substr(0, n), line.substr(n), line_offset + lead,
                   line_offset + lead + n};
    }
    return Piece{Piece::Kind::kEof, {}, {}, base_ + markup_.size(), base_ + markup_.size()};
  }

  bool ReadRaw(std::string_view name, std::string_view&, size_t tag_offset,
               SourceError& error) override {
    error = {tag_offset, "'" + std::string(name) + "' cannot be used inside a 'liquid' tag"};
    return false;
  }

 private:
  std::string_view markup_;
  size_t base_;
  size_t pos_ = 0;
};

// A cursor over the tokens of one markup.
class TokCursor {
 public:
  explicit TokCursor(std::vector<Tok> toks) : toks_(std::move(toks)) {}
  const Tok& Peek(size_t ahead = 0) const { return toks_[std::min(i_ + ahead, toks_.size() - 1)]; }
  const Tok& Take() {
    const Tok& t = toks_[i_];
    if (i_ + 1 < toks_.size()) {
      ++i_;
    }
    return t;
  }
  bool Is(TokKind k) const { return Peek().kind == k; }
  bool IsWord(std::string_view w) const { return Is(TokKind::kIdent) && Peek().text == w; }
  bool AtEnd() const { return Is(TokKind::kEnd); }

 private:
  std::vector<Tok> toks_;
  size_t i_ = 0;
};

constexpr size_t kMaxNesting = 200;
// Expressions and and/or chains are parsed (and later evaluated) recursively; bounding their depth
// keeps a hostile template from exhausting the stack.
constexpr size_t kMaxExprNesting = 64;
constexpr size_t kMaxConnectives = 256;

class Parser {
 public:
  explicit Parser(std::string_view source) : src_(source), lines_(source) {}

  Result<std::unique_ptr<Document>> Run() {
    auto doc = std::make_unique<Document>();
    TemplateSource source(src_);
    Piece end;
    if (!ParseBlock(source, doc->body, {}, end)) {
      return error_;
    }
    return doc;
  }

 private:
  // ---- errors -----------------------------------------------------------------------------

  bool Fail(size_t offset, std::string_view message) {
    if (error_.ok()) {
      Pos p = lines_.At(offset);
      error_ = Status::InvalidArgument("line " + std::to_string(p.line) + ", column " +
                                       std::to_string(p.column) + ": " + std::string(message));
    }
    return false;
  }

  bool FailAt(const Tok& t, std::string_view message) { return Fail(t.offset, message); }

  bool Unexpected(const Tok& t, std::string_view context) {
    if (t.kind == TokKind::kEnd) {
      return FailAt(t, std::string("unexpected end of ") + std::string(context));
    }
    return FailAt(t, "unexpected '" + std::string(t.text) + "' in " + std::string(context));
  }

  std::optional<TokCursor> LexMarkup(std::string_view markup, size_t offset) {
    LexError err;
    auto toks = Lex(markup, offset, err);
    if (!toks) {
      Fail(err.offset, err.message);
      return std::nullopt;
    }
    return TokCursor(std::move(*toks));
  }

  // ---- expressions --------------------------------------------------------------------------

  ExprPtr MakeExpr(Expr::Kind kind, size_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = lines_.At(offset);
    return e;
  }

  ExprPtr ParseNumber(const Tok& t) {
    auto e = MakeExpr(Expr::Kind::kLiteral, t.offset);
    const char* b = t.text.data();
    const char* end = b + t.text.size();
    if (t.kind == TokKind::kInt) {
      int64_t v = 0;
      if (std::from_chars(b, end, v).ec == std::errc()) {
        e->literal = v;
        return e;
      }
    }
    double d = 0;
    if (std::from_chars(b, end, d).ec != std::errc()) {
      FailAt(t, "invalid number '" + std::string(t.text) + "'");
      return nullptr;
    }
    e->literal = d;
    return e;
  }

  // `[ expr ]` after the opening bracket has been consumed.
  bool ParseIndex(TokCursor& c, PathStep& step) {
    if (c.Is(TokKind::kString) && c.Peek(1).kind == TokKind::kRBracket) {
      step.key = std::string(c.Take().text);
    } else {
      step.index = ParsePrimary(c);
      if (!step.index) {
        return false;
      }
    }
    if (!c.Is(TokKind::kRBracket)) {
      return Unexpected(c.Peek(), "a bracketed lookup, expected ']'");
    }
    c.Take();
    return true;
  }

  ExprPtr ParseVariable(TokCursor& c) {
    auto e = MakeExpr(Expr::Kind::kVariable, c.Peek().offset);
    if (c.Is(TokKind::kIdent)) {
      e->path.push_back(PathStep{std::string(c.Take().text), nullptr});
    } else {
      c.Take();  // '['
      PathStep step;
      if (!ParseIndex(c, step)) {
        return nullptr;
      }
      e->path.push_back(std::move(step));
    }
    while (true) {
      if (c.Is(TokKind::kDot)) {
        c.Take();
        if (!c.Is(TokKind::kIdent)) {
          Unexpected(c.Peek(), "a variable, expected a property name after '.'");
          return nullptr;
        }
        e->path.push_back(PathStep{std::string(c.Take().text), nullptr});
      } else if (c.Is(TokKind::kLBracket)) {
        c.Take();
        PathStep step;
        if (!ParseIndex(c, step)) {
          return nullptr;
        }
        e->path.push_back(std::move(step));
      } else {
        return e;
      }
    }
  }

  // Consumes a `kind` token, or reports what was found instead.
  bool Expect(TokCursor& c, TokKind kind, std::string_view context) {
    if (!c.Is(kind)) {
      return Unexpected(c.Peek(), context);
    }
    c.Take();
    return true;
  }

  ExprPtr ParseRange(TokCursor& c) {
    const Tok& open = c.Take();  // '('
    auto e = MakeExpr(Expr::Kind::kRange, open.offset);
    e->range_start = ParsePrimary(c);
    if (!e->range_start || !Expect(c, TokKind::kDotDot, "a range, expected '..'")) {
      return nullptr;
    }
    e->range_end = ParsePrimary(c);
    if (!e->range_end || !Expect(c, TokKind::kRParen, "a range, expected ')'")) {
      return nullptr;
    }
    return e;
  }

  ExprPtr ParsePrimary(TokCursor& c) {
    if (expr_depth_ >= kMaxExprNesting) {
      FailAt(c.Peek(), "expression nested too deeply");
      return nullptr;
    }
    ++expr_depth_;
    ExprPtr e = ParsePrimaryInner(c);
    --expr_depth_;
    return e;
  }

  ExprPtr ParsePrimaryInner(TokCursor& c) {
    const Tok& t = c.Peek();
    switch (t.kind) {
      case TokKind::kString: {
        auto e = MakeExpr(Expr::Kind::kLiteral, t.offset);
        e->literal = json::string(t.text);
        c.Take();
        return e;
      }
      case TokKind::kInt:
      case TokKind::kFloat:
        c.Take();
        return ParseNumber(t);
      case TokKind::kLParen:
        return ParseRange(c);
      case TokKind::kLBracket:
        return ParseVariable(c);
      case TokKind::kIdent:
        return ParseWord(c);
      default:
        Unexpected(t, "an expression");
        return nullptr;
    }
  }

  // A keyword literal or a variable.
  ExprPtr ParseWord(TokCursor& c) {
    const Tok& t = c.Peek();
    bool followed = c.Peek(1).kind == TokKind::kDot || c.Peek(1).kind == TokKind::kLBracket;
    if (!followed) {
      auto e = MakeExpr(Expr::Kind::kLiteral, t.offset);
      if (t.text == "true" || t.text == "false") {
        e->literal = t.text == "true";
      } else if (t.text == "nil" || t.text == "null") {
        e->literal = nullptr;
      } else if (t.text == "empty") {
        e->kind = Expr::Kind::kEmpty;
      } else if (t.text == "blank") {
        e->kind = Expr::Kind::kBlank;
      } else {
        return ParseVariable(c);
      }
      c.Take();
      return e;
    }
    return ParseVariable(c);
  }

  bool ParseFilters(TokCursor& c, FilteredExpr& out) {
    while (c.Is(TokKind::kPipe)) {
      c.Take();
      if (!c.Is(TokKind::kIdent)) {
        return Unexpected(c.Peek(), "a filter, expected a filter name after '|'");
      }
      const Tok& name = c.Take();
      FilterCall call;
      call.name = std::string(name.text);
      call.def = FindFilter(name.text);
      call.pos = lines_.At(name.offset);
      if (c.Is(TokKind::kColon)) {
        c.Take();
        do {
          if (c.Is(TokKind::kComma)) {
            c.Take();
          }
          if (c.Is(TokKind::kIdent) && c.Peek(1).kind == TokKind::kColon) {
            std::string key(c.Take().text);
            c.Take();
            ExprPtr value = ParsePrimary(c);
            if (!value) {
              return false;
            }
            call.kwargs.emplace_back(std::move(key), std::move(value));
          } else {
            ExprPtr arg = ParsePrimary(c);
            if (!arg) {
              return false;
            }
            call.args.push_back(std::move(arg));
          }
        } while (c.Is(TokKind::kComma));
      }
      out.filters.push_back(std::move(call));
    }
    return true;
  }

  // `expr | filter: a, b | ...` filling the whole markup. `allow_empty`: `{{ }}` and `echo`.
  bool ParseFilteredMarkup(std::string_view markup, size_t offset, FilteredExpr& out,
                           bool allow_empty, std::string_view context) {
    auto c = LexMarkup(markup, offset);
    if (!c) {
      return false;
    }
    if (c->AtEnd() && allow_empty) {
      return true;
    }
    return ParseFilteredTokens(*c, out, context);
  }

  bool ParseFilteredTokens(TokCursor& c, FilteredExpr& out, std::string_view context) {
    out.base = ParsePrimary(c);
    if (!out.base || !ParseFilters(c, out)) {
      return false;
    }
    if (!c.AtEnd()) {
      return Unexpected(c.Peek(), context);
    }
    return true;
  }

  std::unique_ptr<Condition> ParseComparison(TokCursor& c) {
    auto cond = std::make_unique<Condition>();
    cond->left = ParsePrimary(c);
    if (!cond->left) {
      return nullptr;
    }
    CompareOp op = CompareOp::kNone;
    if (c.Is(TokKind::kCompare)) {
      std::string_view s = c.Peek().text;
      op = s == "=="                  ? CompareOp::kEq
           : (s == "!=" || s == "<>") ? CompareOp::kNe
           : s == "<"                 ? CompareOp::kLt
           : s == ">"                 ? CompareOp::kGt
           : s == "<="                ? CompareOp::kLe
                                      : CompareOp::kGe;
    } else if (c.IsWord("contains")) {
      op = CompareOp::kContains;
    }
    if (op != CompareOp::kNone) {
      c.Take();
      cond->op = op;
      cond->right = ParsePrimary(c);
      if (!cond->right) {
        return nullptr;
      }
    }
    return cond;
  }

  std::unique_ptr<Condition> ParseCondition(std::string_view markup, size_t offset) {
    connectives_ = 0;
    auto c = LexMarkup(markup, offset);
    if (!c) {
      return nullptr;
    }
    return ParseConditionTail(*c);
  }

  // Right-recursive so that `and`/`or` group to the right, as in Shopify's Liquid.
  std::unique_ptr<Condition> ParseConditionTail(TokCursor& c) {
    if (++connectives_ > kMaxConnectives) {
      FailAt(c.Peek(), "too many 'and'/'or' in one condition");
      return nullptr;
    }
    auto first = ParseComparison(c);
    if (!first) {
      return nullptr;
    }
    if (c.IsWord("and") || c.IsWord("or")) {
      bool is_and = c.Take().text == "and";
      auto rest = ParseConditionTail(c);
      if (!rest) {
        return nullptr;
      }
      auto node = std::make_unique<Condition>();
      node->kind = is_and ? Condition::Kind::kAnd : Condition::Kind::kOr;
      node->lhs = std::move(first);
      node->rhs = std::move(rest);
      return node;
    }
    if (!c.AtEnd()) {
      Unexpected(c.Peek(), "a condition");
      return nullptr;
    }
    return first;
  }

  // ---- blocks -------------------------------------------------------------------------------

  static bool Contains(std::initializer_list<std::string_view> names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  }

  // Parses nodes until a tag named in `terminators` (returned in `end`) or the end of the source
  // (`end.kind == kEof`; an error when terminators were expected).
  bool ParseBlock(PieceSource& source, Block& out, std::initializer_list<std::string_view> terms,
                  Piece& end) {
    if (++depth_ > kMaxNesting) {
      return Fail(0, "blocks are nested too deeply");
    }
    while (true) {
      SourceError serr;
      Piece p = source.Next(serr);
      switch (p.kind) {
        case Piece::Kind::kError:
          return Fail(serr.offset, serr.message);
        case Piece::Kind::kEof:
          end = p;
          --depth_;
          return true;
        case Piece::Kind::kText:
          out.push_back(Node{lines_.At(p.offset), TextNode{std::string(p.markup)}});
          break;
        case Piece::Kind::kOutput: {
          OutputNode node;
          if (!ParseFilteredMarkup(p.markup, p.markup_offset, node.expr, true, "an output")) {
            return false;
          }
          out.push_back(Node{lines_.At(p.offset), std::move(node)});
          break;
        }
        case Piece::Kind::kTag:
          if (Contains(terms, p.name)) {
            end = p;
            --depth_;
            return true;
          }
          if (!ParseTag(source, p, out)) {
            return false;
          }
          break;
      }
    }
  }

  // Parses a body that must end with one of `terms`; reports a tag left open at `open`.
  bool ParseBody(PieceSource& source, Block& out, std::initializer_list<std::string_view> terms,
                 const Piece& open, Piece& end) {
    if (!ParseBlock(source, out, terms, end)) {
      return false;
    }
    if (end.kind == Piece::Kind::kEof) {
      return Fail(open.offset, "'" + std::string(open.name) + "' tag was never closed");
    }
    return true;
  }

  bool ParseTag(PieceSource& source, const Piece& p, Block& out) {
    std::string_view n = p.name;
    Pos pos = lines_.At(p.offset);
    if (n == "if" || n == "unless") {
      return ParseIf(source, p, out);
    }
    if (n == "case") {
      return ParseCase(source, p, out);
    }
    if (n == "for") {
      return ParseFor(source, p, out);
    }
    if (n == "tablerow") {
      return ParseTablerow(source, p, out);
    }
    if (n == "assign") {
      return ParseAssign(p, out);
    }
    if (n == "capture") {
      return ParseCapture(source, p, out);
    }
    if (n == "echo") {
      OutputNode node;
      if (!ParseFilteredMarkup(p.markup, p.markup_offset, node.expr, true, "an echo tag")) {
        return false;
      }
      out.push_back(Node{pos, std::move(node)});
      return true;
    }
    if (n == "increment" || n == "decrement") {
      std::string name;
      if (!ParseName(p, name, true)) {
        return false;
      }
      out.push_back(Node{pos, CounterNode{std::move(name), n == "increment"}});
      return true;
    }
    if (n == "cycle") {
      return ParseCycle(p, out);
    }
    if (n == "break" || n == "continue") {
      if (!Trim(p.markup).empty()) {
        return Fail(p.markup_offset, "'" + std::string(n) + "' takes no arguments");
      }
      out.push_back(n == "break" ? Node{pos, BreakNode{}} : Node{pos, ContinueNode{}});
      return true;
    }
    if (n == "ifchanged") {
      IfChangedNode node;
      Piece end;
      if (!ParseBody(source, node.body, {"endifchanged"}, p, end)) {
        return false;
      }
      out.push_back(Node{pos, std::move(node)});
      return true;
    }
    if (n == "liquid") {
      LiquidTagSource lines(p.markup, p.markup_offset);
      Piece end;
      return ParseBlock(lines, out, {}, end);
    }
    if (n == "#") {
      return CheckInlineComment(p);
    }
    if (n == "comment") {
      return SkipComment(source, p);
    }
    if (n == "doc") {
      // Doc text is documentation, not Liquid: nothing in it is parsed.
      if (!Trim(p.markup).empty()) {
        return Fail(p.markup_offset, "'doc' takes no arguments");
      }
      std::string_view body;
      SourceError serr;
      if (!source.ReadRaw("doc", body, p.offset, serr)) {
        return Fail(serr.offset, serr.message);
      }
      return true;
    }
    if (n == "raw") {
      std::string_view body;
      SourceError serr;
      if (!source.ReadRaw("raw", body, p.offset, serr)) {
        return Fail(serr.offset, serr.message);
      }
      if (!body.empty()) {
        out.push_back(Node{pos, TextNode{std::string(body)}});
      }
      return true;
    }
    if (n == "include" || n == "render") {
      return Fail(p.offset, "the '" + std::string(n) +
                                "' tag is not supported: Xoal has no template files to load");
    }
    return Fail(p.offset, "unknown tag '" + std::string(n) + "'");
  }

  // Every line of an inline comment must start with '#'.
  bool CheckInlineComment(const Piece& p) {
    std::string_view m = p.markup;
    size_t line_start = 0;
    bool first = true;
    while (line_start <= m.size()) {
      size_t eol = m.find('\n', line_start);
      std::string_view line = m.substr(
          line_start, eol == std::string_view::npos ? std::string_view::npos : eol - line_start);
      std::string_view t = Trim(line);
      if (!first && !t.empty() && t[0] != '#') {
        return Fail(p.markup_offset + line_start,
                    "every line of an inline comment must start "
                    "with '#'");
      }
      first = false;
      if (eol == std::string_view::npos) {
        break;
      }
      line_start = eol + 1;
    }
    return true;
  }

  // Skips a comment body, honouring nested comments and raw blocks.
  bool SkipComment(PieceSource& source, const Piece& open) {
    std::string_view end_name = "endcomment";
    int depth = 1;
    while (true) {
      SourceError serr;
      Piece p = source.Next(serr);
      if (p.kind == Piece::Kind::kError) {
        return Fail(serr.offset, serr.message);
      }
      if (p.kind == Piece::Kind::kEof) {
        return Fail(open.offset, "'" + std::string(open.name) + "' tag was never closed");
      }
      if (p.kind != Piece::Kind::kTag) {
        continue;
      }
      if (p.name == open.name) {
        ++depth;
      } else if (p.name == end_name && --depth == 0) {
        return true;
      } else if (p.name == "raw") {
        std::string_view body;
        if (!source.ReadRaw("raw", body, p.offset, serr)) {
          return Fail(serr.offset, serr.message);
        }
      }
    }
  }

  // A variable name for assign, capture, increment and decrement. Shopify accepts names that
  // start with a digit here (`assign 123 = ...`), never a leading hyphen or a trailing '?'.
  bool ParseName(const Piece& p, std::string& name, bool whole_markup) {
    std::string_view m = p.markup;
    size_t i = 0;
    while (i < m.size() && IsSpace(m[i])) {
      ++i;
    }
    size_t start = i;
    if (i < m.size() && (m[i] == '\'' || m[i] == '"')) {
      size_t close = m.find(m[i], i + 1);
      if (close == std::string_view::npos) {
        return Fail(p.markup_offset + i, "unterminated string literal");
      }
      name = std::string(m.substr(i + 1, close - i - 1));
      i = close + 1;
    } else {
      if (i < m.size() && (IsIdentStart(m[i]) || (m[i] >= '0' && m[i] <= '9'))) {
        while (i < m.size() && IsIdentChar(m[i])) {
          ++i;
        }
      }
      if (i == start) {
        return Fail(p.markup_offset + i,
                    "expected a variable name after '" + std::string(p.name) + "'");
      }
      name = std::string(m.substr(start, i - start));
    }
    if (whole_markup && !Trim(m.substr(i)).empty()) {
      return Fail(p.markup_offset + i,
                  "unexpected text after the variable name of '" + std::string(p.name) + "'");
    }
    name_end_ = i;
    return true;
  }

  bool ParseAssign(const Piece& p, Block& out) {
    AssignNode node;
    if (!ParseName(p, node.name, false)) {
      return false;
    }
    std::string_view rest = p.markup.substr(name_end_);
    size_t rest_offset = p.markup_offset + name_end_;
    std::string_view trimmed = TrimLeft(rest);
    size_t eq = rest.size() - trimmed.size();
    if (trimmed.empty() || trimmed[0] != '=') {
      return Fail(rest_offset + eq, "expected '=' in 'assign'");
    }
    if (!ParseFilteredMarkup(rest.substr(eq + 1), rest_offset + eq + 1, node.expr, false,
                             "an assign tag")) {
      return false;
    }
    out.push_back(Node{lines_.At(p.offset), std::move(node)});
    return true;
  }

  bool ParseCapture(PieceSource& source, const Piece& p, Block& out) {
    CaptureNode node;
    if (!ParseName(p, node.name, true)) {
      return false;
    }
    Piece end;
    if (!ParseBody(source, node.body, {"endcapture"}, p, end)) {
      return false;
    }
    out.push_back(Node{lines_.At(p.offset), std::move(node)});
    return true;
  }

  bool ParseCycle(const Piece& p, Block& out) {
    auto c = LexMarkup(p.markup, p.markup_offset);
    if (!c) {
      return false;
    }
    CycleNode node;
    ExprPtr first = ParsePrimary(*c);
    if (!first) {
      return false;
    }
    if (c->Is(TokKind::kColon)) {
      c->Take();
      node.group = std::move(first);
      first = ParsePrimary(*c);
      if (!first) {
        return false;
      }
    }
    node.values.push_back(std::move(first));
    while (c->Is(TokKind::kComma)) {
      c->Take();
      ExprPtr v = ParsePrimary(*c);
      if (!v) {
        return false;
      }
      node.values.push_back(std::move(v));
    }
    if (!c->AtEnd()) {
      return Unexpected(c->Peek(), "a cycle tag");
    }
    if (!node.group) {
      node.key = std::string(Trim(p.markup));
    }
    out.push_back(Node{lines_.At(p.offset), std::move(node)});
    return true;
  }

  bool ParseIf(PieceSource& source, const Piece& open, Block& out) {
    IfNode node;
    node.negate_first = open.name == "unless";
    std::string end_name = "end" + std::string(open.name);
    std::initializer_list<std::string_view> terms = {"elsif", "else", end_name};
    auto cond = ParseCondition(open.markup, open.markup_offset);
    if (!cond) {
      return false;
    }
    Piece end;
    Block body;
    if (!ParseBody(source, body, terms, open, end)) {
      return false;
    }
    node.branches.push_back(IfNode::Branch{std::move(cond), std::move(body)});
    // Branches after the first `else` are parsed but never rendered, as in Shopify's Liquid; the
    // markup after `else` is ignored too.
    bool seen_else = false;
    while (end.name != end_name) {
      std::unique_ptr<Condition> branch_cond;
      if (end.name == "elsif") {
        branch_cond = ParseCondition(end.markup, end.markup_offset);
        if (!branch_cond) {
          return false;
        }
      }
      Block branch_body;
      if (!ParseBody(source, branch_body, terms, open, end)) {
        return false;
      }
      if (!seen_else) {
        seen_else = branch_cond == nullptr;
        node.branches.push_back(IfNode::Branch{std::move(branch_cond), std::move(branch_body)});
      }
    }
    StripIfBlank(node);
    out.push_back(Node{lines_.At(open.offset), std::move(node)});
    return true;
  }

  bool ParseWhenValues(const Piece& p, std::vector<ExprPtr>& values) {
    auto c = LexMarkup(p.markup, p.markup_offset);
    if (!c) {
      return false;
    }
    while (true) {
      ExprPtr v = ParsePrimary(*c);
      if (!v) {
        return false;
      }
      values.push_back(std::move(v));
      if (c->Is(TokKind::kComma) || c->IsWord("or")) {
        c->Take();
        continue;
      }
      if (!c->AtEnd()) {
        return Unexpected(c->Peek(), "a when tag");
      }
      return true;
    }
  }

  bool ParseCase(PieceSource& source, const Piece& open, Block& out) {
    CaseNode node;
    auto c = LexMarkup(open.markup, open.markup_offset);
    if (!c) {
      return false;
    }
    node.subject = ParsePrimary(*c);
    if (!node.subject) {
      return false;
    }
    if (!c->AtEnd()) {
      return Unexpected(c->Peek(), "a case tag");
    }
    Block before_first_when;  // Shopify drops anything between `case` and the first `when`.
    Piece end;
    if (!ParseBody(source, before_first_when, {"when", "else", "endcase"}, open, end)) {
      return false;
    }
    while (end.name != "endcase") {
      CaseNode::Clause clause;
      clause.is_else = end.name == "else";
      if (!clause.is_else && !ParseWhenValues(end, clause.values)) {
        return false;
      }
      if (!ParseBody(source, clause.body, {"when", "else", "endcase"}, open, end)) {
        return false;
      }
      node.clauses.push_back(std::move(clause));
    }
    bool blank = std::all_of(node.clauses.begin(), node.clauses.end(),
                             [](const CaseNode::Clause& cl) { return IsBlankBlock(cl.body); });
    if (blank) {
      for (auto& cl : node.clauses) {
        RemoveBlankText(cl.body);
      }
    }
    out.push_back(Node{lines_.At(open.offset), std::move(node)});
    return true;
  }

  // `x in collection [reversed] [limit: n] [offset: n|continue]` (for) or with `cols:` (tablerow).
  bool ParseLoopHeader(const Piece& p, std::string& var, ExprPtr& collection, bool* reversed,
                       std::vector<std::pair<std::string, ExprPtr>>& attrs, bool* offset_continue,
                       std::string_view* collection_text) {
    auto c = LexMarkup(p.markup, p.markup_offset);
    if (!c) {
      return false;
    }
    if (!c->Is(TokKind::kIdent)) {
      return Unexpected(c->Peek(), "a loop, expected a variable name");
    }
    var = std::string(c->Take().text);
    if (!c->IsWord("in")) {
      return Unexpected(c->Peek(), "a loop, expected 'in'");
    }
    c->Take();
    size_t coll_start = c->Peek().offset;
    collection = ParsePrimary(*c);
    if (!collection) {
      return false;
    }
    *collection_text = src_.substr(coll_start, c->Peek().offset - coll_start);
    if (reversed && c->IsWord("reversed")) {
      c->Take();
      *reversed = true;
    }
    while (!c->AtEnd()) {
      if (c->Is(TokKind::kComma)) {
        c->Take();
        continue;
      }
      if (!c->Is(TokKind::kIdent) || c->Peek(1).kind != TokKind::kColon) {
        return Unexpected(c->Peek(), "a loop");
      }
      const Tok& name = c->Take();
      c->Take();
      bool allowed =
          name.text == "limit" || name.text == "offset" || (!reversed && name.text == "cols");
      if (!allowed) {
        return FailAt(name, "unknown loop attribute '" + std::string(name.text) + "'");
      }
      if (offset_continue && name.text == "offset" && c->IsWord("continue")) {
        c->Take();
        *offset_continue = true;
        continue;
      }
      ExprPtr value = ParsePrimary(*c);
      if (!value) {
        return false;
      }
      attrs.emplace_back(std::string(name.text), std::move(value));
    }
    return true;
  }

  static ExprPtr TakeAttr(std::vector<std::pair<std::string, ExprPtr>>& attrs,
                          std::string_view name) {
    ExprPtr found;
    for (auto& [k, v] : attrs) {
      if (k == name) {
        found = std::move(v);  // the last occurrence wins
      }
    }
    return found;
  }

  bool ParseFor(PieceSource& source, const Piece& open, Block& out) {
    ForNode node;
    std::vector<std::pair<std::string, ExprPtr>> attrs;
    std::string_view coll_text;
    if (!ParseLoopHeader(open, node.var, node.collection, &node.reversed, attrs,
                         &node.offset_continue, &coll_text)) {
      return false;
    }
    node.limit = TakeAttr(attrs, "limit");
    node.offset = TakeAttr(attrs, "offset");
    node.registry_key = node.var + "-" + std::string(Trim(coll_text));
    Piece end;
    if (!ParseBody(source, node.body, {"else", "endfor"}, open, end)) {
      return false;
    }
    if (end.name == "else" && !ParseBody(source, node.else_body, {"endfor"}, open, end)) {
      return false;
    }
    if (IsBlankBlock(node.body) && IsBlankBlock(node.else_body)) {
      RemoveBlankText(node.body);
      RemoveBlankText(node.else_body);
    }
    out.push_back(Node{lines_.At(open.offset), std::move(node)});
    return true;
  }

  bool ParseTablerow(PieceSource& source, const Piece& open, Block& out) {
    TablerowNode node;
    std::vector<std::pair<std::string, ExprPtr>> attrs;
    std::string_view coll_text;
    if (!ParseLoopHeader(open, node.var, node.collection, nullptr, attrs, nullptr, &coll_text)) {
      return false;
    }
    node.limit = TakeAttr(attrs, "limit");
    node.offset = TakeAttr(attrs, "offset");
    node.cols = TakeAttr(attrs, "cols");
    Piece end;
    if (!ParseBody(source, node.body, {"endtablerow"}, open, end)) {
      return false;
    }
    out.push_back(Node{lines_.At(open.offset), std::move(node)});
    return true;
  }

  // ---- blank blocks -------------------------------------------------------------------------
  // Shopify's Liquid drops the whitespace-only text of a block tag whose bodies produce no output
  // of their own (only whitespace, assign, capture, comments and other such tags), so layout
  // indentation around logic does not leak into the output.

  static bool IsBlankNode(const Node& n) {
    if (auto* t = std::get_if<TextNode>(&n.v)) {
      return IsBlankText(t->text);
    }
    if (std::holds_alternative<AssignNode>(n.v) || std::holds_alternative<CaptureNode>(n.v)) {
      return true;
    }
    if (auto* i = std::get_if<IfNode>(&n.v)) {
      return std::all_of(i->branches.begin(), i->branches.end(),
                         [](const IfNode::Branch& b) { return IsBlankBlock(b.body); });
    }
    if (auto* c = std::get_if<CaseNode>(&n.v)) {
      return std::all_of(c->clauses.begin(), c->clauses.end(),
                         [](const CaseNode::Clause& cl) { return IsBlankBlock(cl.body); });
    }
    if (auto* f = std::get_if<ForNode>(&n.v)) {
      return IsBlankBlock(f->body) && IsBlankBlock(f->else_body);
    }
    return false;
  }

  static bool IsBlankBlock(const Block& b) { return std::all_of(b.begin(), b.end(), IsBlankNode); }

  static void RemoveBlankText(Block& b) {
    b.erase(std::remove_if(b.begin(), b.end(),
                           [](const Node& n) {
                             auto* t = std::get_if<TextNode>(&n.v);
                             return t && IsBlankText(t->text);
                           }),
            b.end());
  }

  static void StripIfBlank(IfNode& node) {
    bool blank = std::all_of(node.branches.begin(), node.branches.end(),
                             [](const IfNode::Branch& b) { return IsBlankBlock(b.body); });
    if (blank) {
      for (auto& b : node.branches) {
        RemoveBlankText(b.body);
      }
    }
  }

  std::string_view src_;
  LineMap lines_;
  Status error_;
  size_t depth_ = 0;
  size_t expr_depth_ = 0;
  size_t connectives_ = 0;
  size_t name_end_ = 0;  // set by ParseName: where the name ended in the markup
};

}  // namespace

Result<std::unique_ptr<Document>> ParseDocument(std::string_view source) {
  return Parser(source).Run();
}

}  // namespace xoal::liquid::detail
