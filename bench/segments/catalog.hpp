// The segments the benchmark creates: 50 of mixed kinds (attribute equality, ranges, regular
// expressions and time windows; events performed with counts, windows and property filters;
// events not performed; tags; companies; segments of segments; compounds), each with its
// conditions as SPEC "Shapes" JSON and an independent evaluation on the data set's model, so the
// benchmark can check every size the engine reports.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "segments/data_set.hpp"

namespace xoal::bench {

// What the reference evaluation of one customer reads.
struct ModelView {
  const ModelCustomer& customer;
  uint32_t index;
  std::span<const ModelEvent> events;
  const ModelCompany* company;  // null when in no company
  uint32_t company_index;       // valid when company is set
  // Whether the customer is (by the model) in the catalog segment with this position.
  std::function<bool(size_t)> in_segment;
};

struct SegmentSpec {
  std::string_view kind;  // shown in the per-kind summary
  std::string_view name;
  // JSON conditions; "$N" stands for the id of the catalog's segment at position N (which is
  // always an earlier one).
  std::string_view conditions;
  std::function<bool(const ModelView&)> expected;
};

// The catalog, in creation order. Position 0 is the segment the probes flip (plan enterprise).
const std::vector<SegmentSpec>& Catalog();

// `spec.conditions` with each "$N" replaced by ids[N].
std::string ConditionsWithIds(const SegmentSpec& spec, const std::vector<std::string>& ids);

// The expected members of the first `count` catalog segments, by customer.
std::vector<std::vector<bool>> ExpectedMembers(const DataSet& data, size_t count);

}  // namespace xoal::bench
