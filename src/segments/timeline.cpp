// NextFlipTime(): when a condition's answer changes with no new data.
//
// Every node is turned into its timeline from `now` on: the sorted, disjoint, non-touching
// half-open intervals [begin, end) of future instants at which it matches, assuming the data
// stays as it is. Leaves produce them exactly (a within_last attribute is true on [t, t + N); an
// event count is swept over the instants where events enter and leave its window), and all, any
// and not are intersection, union and complement. Because the intervals never touch, the first
// boundary after `now` is exactly the next flip: no polling, no approximation. Subtrees that do
// not read time are evaluated once with Matches() and are constant.
#include <algorithm>
#include <cassert>

#include "segments/condition.hpp"
#include "segments/condition_internal.hpp"

namespace xoal::segments {
namespace internal {
namespace {

constexpr SystemTime kForever = SystemTime::max();  // an interval ending here never ends

struct Interval {
  SystemTime begin;
  SystemTime end;
};

// Sorted, disjoint, non-touching intervals, all within [from, kForever).
using Timeline = std::vector<Interval>;

Timeline Always(SystemTime from) { return {{from, kForever}}; }

Timeline Constant(bool value, SystemTime from) { return value ? Always(from) : Timeline{}; }

Timeline Clipped(Interval i, SystemTime from) {
  i.begin = std::max(i.begin, from);
  if (i.begin >= i.end) return {};
  return {i};
}

Timeline Complement(const Timeline& t, SystemTime from) {
  Timeline out;
  SystemTime cursor = from;
  for (const Interval& i : t) {
    if (cursor < i.begin) out.push_back({cursor, i.begin});
    cursor = i.end;
  }
  if (cursor < kForever) out.push_back({cursor, kForever});
  return out;
}

Timeline Intersect(const Timeline& a, const Timeline& b) {
  Timeline out;
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() && j < b.size()) {
    SystemTime begin = std::max(a[i].begin, b[j].begin);
    SystemTime end = std::min(a[i].end, b[j].end);
    if (begin < end) out.push_back({begin, end});
    if (a[i].end < b[j].end) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

Timeline Unite(const Timeline& a, const Timeline& b) {
  Timeline all(a);
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end(),
            [](const Interval& x, const Interval& y) { return x.begin < y.begin; });
  Timeline out;
  for (const Interval& i : all) {
    // Touching intervals merge too: [a, b) and [b, c) have no flip at b.
    if (!out.empty() && i.begin <= out.back().end) {
      out.back().end = std::max(out.back().end, i.end);
    } else {
      out.push_back(i);
    }
  }
  return out;
}

// When `p` holds for the value `v` (null: missing) from `from` on.
Timeline ValueTimeline(const Predicate& p, const json::value* v, SystemTime from,
                       const date::time_zone* tz) {
  if (!IsRelativeTimeOp(p.op)) return Constant(MatchValue(p, v, from, tz), from);
  std::optional<SystemTime> t;
  if (v != nullptr) t = ValueTime(*v, tz);
  Timeline within;
  if (t && p.op == Op::kWithinNext) {
    within = Clipped({SaturatingAdd(*t, -p.window), *t}, from);
  } else if (t) {
    within = Clipped({*t, SaturatingAdd(*t, p.window)}, from);
  }
  return p.op == Op::kNotWithinLast ? Complement(within, from) : within;
}

// When one event counts towards its condition: inside the window and passing the filters that
// move with time. Requires: EventMatchesStatically(node, e).
Timeline EventLife(const Node& node, const store::Event& e, SystemTime from,
                   const date::time_zone* tz) {
  Timeline life =
      node.event.within_last
          ? Clipped({e.timestamp, SaturatingAdd(e.timestamp, *node.event.within_last)}, from)
          : Always(from);
  for (const PropertyFilter& f : node.event.where) {
    if (life.empty()) break;
    if (!IsRelativeTimeOp(f.predicate.op)) continue;
    life = Intersect(life,
                     ValueTimeline(f.predicate, FindProperty(e.properties, f.property), from, tz));
  }
  return life;
}

// Sweeps the instants where the number of counting events changes.
Timeline EventTimeline(const Node& node, const CustomerView& view, SystemTime from) {
  int64_t count = 0;
  std::vector<std::pair<SystemTime, int>> changes;
  for (const store::Event& e : view.events) {
    if (!EventMatchesStatically(node, e, view.timezone)) continue;
    for (const Interval& i : EventLife(node, e, from, view.timezone)) {
      if (i.begin == from) {
        ++count;
      } else {
        changes.emplace_back(i.begin, 1);
      }
      if (i.end != kForever) changes.emplace_back(i.end, -1);
    }
  }
  std::sort(changes.begin(), changes.end());

  const EventSpec& spec = node.event;
  bool value = CompareCount(spec.count_op, count, spec.count_value);
  SystemTime since = from;
  Timeline out;
  for (size_t i = 0; i < changes.size();) {
    SystemTime at = changes[i].first;
    for (; i < changes.size() && changes[i].first == at; ++i) count += changes[i].second;
    bool next = CompareCount(spec.count_op, count, spec.count_value);
    if (next == value) continue;
    if (value) out.push_back({since, at});
    since = at;
    value = next;
  }
  if (value) out.push_back({since, kForever});
  return out;
}

Timeline NodeTimeline(const Node& node, const CustomerView& view, SystemTime from) {
  if (!node.reads_time) return Constant(MatchesNode(node, view, from), from);
  switch (node.kind) {
    case Kind::kAll: {
      Timeline out = Always(from);
      for (const Node& c : node.children) {
        if (out.empty()) break;
        out = Intersect(out, NodeTimeline(c, view, from));
      }
      return out;
    }
    case Kind::kAny: {
      Timeline out;
      for (const Node& c : node.children) {
        if (!out.empty() && out[0].begin == from && out[0].end == kForever) break;
        out = Unite(out, NodeTimeline(c, view, from));
      }
      return out;
    }
    case Kind::kNot:
      return Complement(NodeTimeline(node.children[0], view, from), from);
    case Kind::kAttribute: {
      json::value v = CustomerAttribute(*view.customer, node.name);
      return ValueTimeline(node.predicate, &v, from, view.timezone);
    }
    case Kind::kCompanyAttribute: {
      Timeline out;
      for (const store::Company& c : view.companies) {
        json::value v = CompanyAttribute(c, node.name);
        out = Unite(out, ValueTimeline(node.predicate, &v, from, view.timezone));
      }
      return out;
    }
    case Kind::kEvent:
      return EventTimeline(node, view, from);
    default:
      // Tags, companies and segments never read time (reads_time is false for them).
      return Constant(MatchesNode(node, view, from), from);
  }
}

}  // namespace
}  // namespace internal

std::optional<SystemTime> NextFlipTime(const Condition& condition, const CustomerView& view,
                                       SystemTime now) {
  assert(view.customer != nullptr);
  if (!condition.dependencies().reads_time) return std::nullopt;
  internal::Timeline t = internal::NodeTimeline(condition.root(), view, now);
  if (t.empty()) return std::nullopt;  // false from now on
  SystemTime flip = t[0].begin == now ? t[0].end : t[0].begin;
  if (flip == internal::kForever) return std::nullopt;
  return flip;
}

}  // namespace xoal::segments
