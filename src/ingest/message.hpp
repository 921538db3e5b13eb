// Ingestion messages: what every source's payload is turned into before it is applied.
//
// Each source (the native API, Segment, RudderStack, Jitsu, Hightouch, and the Segment tracking
// API) sends Segment-like JSON with its own quirks: ids as numbers, traits in `traits` or
// `context.traits`, the email as the user id, screen names in `event`, several time formats.
// Normalize() absorbs those quirks so that the apply step (ingest/apply.hpp) sees one shape.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/status.hpp"

namespace xoal::ingest {

enum class Source { kApi, kSegment, kRudderstack, kJitsu, kHightouch };

std::string_view SourceName(Source s);
// "segment" -> kSegment, ...; nullopt for a name that is not a source with an endpoint.
std::optional<Source> ParseSourceName(std::string_view name);

// Per-message and per-request limits (SPEC, Ingestion API).
inline constexpr size_t kMaxMessageBytes = 32 * 1024;
inline constexpr size_t kMaxRequestBytes = 8 * 1024 * 1024;

// A part of a message that was dropped or replaced while the rest went on; it goes to the
// ingestion error log.
struct Note {
  std::string kind;  // time_fallback, attribute_dropped, identifier_dropped
  std::string reason;
};

struct Message {
  std::string type;        // identify, track, page, screen, group, alias
  std::string message_id;  // empty when the source gave none
  std::optional<std::string> user_id;
  std::optional<std::string> anonymous_id;
  std::optional<std::string> email;        // not yet validated
  std::optional<std::string> previous_id;  // alias
  std::optional<std::string> group_id;     // group
  std::string event;                       // track: event name; page/screen: their name
  json::object traits;                     // identify: profile traits; group: company traits
  json::object properties;                 // track, page, screen
  std::optional<std::string> timezone;     // context.timezone
  SystemTime timestamp;                    // when it happened, skew-corrected
  std::vector<Note> notes;
};

// The messages of a request body: one message object, an array of them, or
// {"batch": [...], "context": {...}, "integrations": {...}} whose context and integrations apply
// to each item that lacks its own keys (item keys win). kMalformed when the body is none of these.
Result<std::vector<json::value>> SplitBatch(json::value body);

// One item as `source` sends it, turned into a Message. `received_at` is when Xoal got it: it
// stands in for an unparseable time, and anchors Segment's clock-skew correction. `implied_type`
// is the type a tracking API path implies (/v1/track), used when the item has none.
// kInvalidArgument, with a reason fit for the `rejected` list, for an item that cannot be applied.
Result<Message> Normalize(Source source, const json::value& item, SystemTime received_at,
                          std::string_view implied_type = {});

}  // namespace xoal::ingest
