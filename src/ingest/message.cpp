#include "ingest/message.hpp"

#include <algorithm>
#include <cmath>

#include "common/time_format.hpp"

namespace xoal::ingest {
namespace {

constexpr std::string_view kTypes[] = {"identify", "track", "page", "screen", "group", "alias"};
constexpr size_t kMaxEventNameLength = 256;
constexpr size_t kMaxIdLength = 256;

const json::value* Find(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() || it->value().is_null() ? nullptr : &it->value();
}

const json::object* FindObject(const json::object& o, std::string_view key) {
  const json::value* v = Find(o, key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

// An identifier: a non-empty string, or an integer (RudderStack sends `userId: 432`).
std::optional<std::string> IdOf(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_string()) {
    if (v->get_string().empty()) return std::nullopt;  // `userId: ""` means no id
    return std::string(v->get_string());
  }
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  if (v->is_double() && std::isfinite(v->get_double()) &&
      v->get_double() == std::floor(v->get_double()) && std::fabs(v->get_double()) < 1e15) {
    return std::to_string(static_cast<int64_t>(v->get_double()));
  }
  return std::nullopt;
}

std::optional<std::string> IdOf(const json::object& o, std::string_view camel,
                                std::string_view snake) {
  if (auto id = IdOf(Find(o, camel))) return id;
  return IdOf(Find(o, snake));
}

std::optional<std::string> StringOf(const json::value* v) {
  if (!v || !v->is_string() || v->get_string().empty()) return std::nullopt;
  return std::string(v->get_string());
}

bool LooksLikeEmail(std::string_view s) {
  size_t at = s.find('@');
  return at != std::string_view::npos && at > 0 && s.find('.', at) != std::string_view::npos &&
         s.find(' ') == std::string_view::npos;
}

// Whether `v` is a string of digits too short to be an epoch time. Segment's legacy inputs carry
// year-only times ("2014", "2016"), which ParseJsonTime reads as epoch seconds (1970-01-01T00:33Z).
// Epoch seconds have had 10 digits since 2001, so shorter digit strings count as unparseable.
bool IsShortDigitString(const json::value& v) {
  if (!v.is_string()) return false;
  std::string_view s = v.get_string();
  std::string_view whole = s.substr(0, s.find('.'));
  return !whole.empty() && whole.size() < 10 &&
         s.find_first_not_of("0123456789.") == std::string_view::npos;
}

// Reads the time under `key`: nullopt when absent; sets `bad` when present but unparseable.
std::optional<SystemTime> TimeAt(const json::object& m, std::string_view key, bool& bad) {
  auto it = m.find(key);
  if (it == m.end() || it->value().is_null()) return std::nullopt;
  auto t = IsShortDigitString(it->value()) ? std::nullopt : ParseJsonTime(it->value());
  if (!t) bad = true;
  return t;
}

// When the message happened. Segment's rule: the source's `timestamp` when given; otherwise the
// client's `originalTimestamp` moved by the skew between the client's `sentAt` and our receive
// time (timestamp = receivedAt - (sentAt - originalTimestamp)); otherwise the receive time.
// Any time the message carries that cannot be parsed is noted, whichever fallback then applies.
SystemTime ResolveTime(const json::object& m, std::string_view native_key, SystemTime received_at,
                       std::vector<Note>& notes) {
  bool bad = false;
  std::optional<SystemTime> t;
  if (!native_key.empty()) t = TimeAt(m, native_key, bad);
  if (!t) t = TimeAt(m, "timestamp", bad);
  std::string_view used = "the receive time";
  if (!t) {
    auto original = TimeAt(m, "originalTimestamp", bad);
    auto sent = TimeAt(m, "sentAt", bad);
    if (original && sent) {
      // In milliseconds: the skew between two far-apart times overflows nanoseconds.
      t = TimeFromEpochMillis(ToEpochMillis(received_at) -
                              (ToEpochMillis(*sent) - ToEpochMillis(*original)));
      if (!t) t = original;
      used = "originalTimestamp corrected by sentAt";
    } else if (original) {
      t = original;
      used = "originalTimestamp";
    }
  }
  if (bad) {
    notes.push_back({"time_fallback", "a time of the message could not be parsed; " +
                                          std::string(used) + " was used instead"});
  }
  return t.value_or(received_at);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The email a message carries, wherever the source put it.
std::optional<std::string> EmailOf(const json::object& m, const json::object& traits,
                                   const std::optional<std::string>& user_id) {
  if (auto e = StringOf(Find(traits, "email"))) return e;
  if (const json::object* ctx = FindObject(m, "context")) {
    if (const json::object* ct = FindObject(*ctx, "traits")) {
      if (auto e = StringOf(Find(*ct, "email"))) return e;
    }
  }
  if (auto e = StringOf(Find(m, "email"))) return e;
  if (user_id && LooksLikeEmail(*user_id)) return Lower(*user_id);
  return std::nullopt;
}

// Checks that the message names a person, by ids the Customer API also takes (at most
// kMaxIdLength characters, as core/customers.cpp allows): a longer one made a profile whose
// user_id the Customer API refuses, and one over the 16 KiB header limit cannot be looked up.
Status RequirePerson(const Message& msg) {
  for (const auto& [id, name] :
       {std::pair{&msg.user_id, "userId"}, std::pair{&msg.anonymous_id, "anonymousId"},
        std::pair{&msg.previous_id, "previousId"}}) {
    if (*id && (*id)->size() > kMaxIdLength) {
      return Status::InvalidArgument(std::string(name) + " is longer than 256 characters", name);
    }
  }
  if (msg.user_id || msg.anonymous_id || msg.email) return Status::Ok();
  return Status::InvalidArgument(
      "the message names no person: give userId, anonymousId or an "
      "email",
      "userId");
}

// The name a page or screen event gets.
std::string PageName(const json::object& m, const json::object& properties, std::string_view type) {
  for (const json::value* v :
       {Find(m, "name"), Find(m, "event"), Find(properties, "name"), Find(properties, "title")}) {
    if (auto s = StringOf(v)) return *s;
  }
  return std::string(type);
}

Status ReadObjectMember(const json::object& m, std::string_view key, json::object& out) {
  const json::value* v = Find(m, key);
  if (!v) return Status::Ok();
  if (!v->is_object()) {
    return Status::InvalidArgument(std::string(key) + " must be an object", std::string(key));
  }
  out = v->get_object();
  return Status::Ok();
}

// A Segment spec message (also RudderStack, Jitsu, Hightouch's Segment-style objects and the
// tracking API), with each source's known deviations.
Result<Message> NormalizeSpecMessage(const json::object& m, SystemTime received_at,
                                     std::string_view implied_type) {
  Message msg;
  const json::value* type = Find(m, "type");
  if (type && !type->is_string()) return Status::InvalidArgument("type must be a string", "type");
  // A tracking API path (/v1/track) decides the type, as Segment's API does.
  msg.type = !implied_type.empty() ? std::string(implied_type)
             : type                ? Lower(type->get_string())
                                   : std::string();
  if (std::find(std::begin(kTypes), std::end(kTypes), msg.type) == std::end(kTypes)) {
    return Status::InvalidArgument(msg.type.empty()
                                       ? "the message has no type"
                                       : "unknown message type " + msg.type +
                                             " (identify, track, page, screen, group or alias)",
                                   "type");
  }
  msg.message_id = IdOf(m, "messageId", "message_id").value_or("");
  msg.user_id = IdOf(m, "userId", "user_id");
  msg.anonymous_id = IdOf(m, "anonymousId", "anonymous_id");
  XOAL_RETURN_IF_ERROR(ReadObjectMember(m, "properties", msg.properties));
  json::object context;
  XOAL_RETURN_IF_ERROR(ReadObjectMember(m, "context", context));
  msg.timezone = StringOf(Find(context, "timezone"));

  if (msg.type == "identify") {
    // Mobile and browser SDKs put identify traits in context.traits; top-level traits win.
    json::object context_traits;
    XOAL_RETURN_IF_ERROR(ReadObjectMember(context, "traits", context_traits));
    msg.traits = std::move(context_traits);
    json::object traits;
    XOAL_RETURN_IF_ERROR(ReadObjectMember(m, "traits", traits));
    for (auto& [k, v] : traits) msg.traits[k] = std::move(v);
  } else if (msg.type == "group") {
    XOAL_RETURN_IF_ERROR(ReadObjectMember(m, "traits", msg.traits));
  }
  msg.email = EmailOf(m, msg.traits, msg.user_id);

  if (msg.type == "track") {
    const json::value* event = Find(m, "event");
    if (!event || !event->is_string() || event->get_string().empty()) {
      return Status::InvalidArgument("a track message needs an event name", "event");
    }
    if (event->get_string().size() > kMaxEventNameLength) {
      return Status::InvalidArgument("the event name is longer than 256 characters", "event");
    }
    msg.event = std::string(event->get_string());
  } else if (msg.type == "page" || msg.type == "screen") {
    msg.event = PageName(m, msg.properties, msg.type);
  } else if (msg.type == "group") {
    msg.group_id = IdOf(Find(m, "groupId"));
    if (!msg.group_id) msg.group_id = IdOf(Find(context, "groupId"));  // Jitsu
    if (!msg.group_id) return Status::InvalidArgument("a group message needs a groupId", "groupId");
    msg.event = "group";
  } else if (msg.type == "alias") {
    msg.previous_id = IdOf(m, "previousId", "previous_id");
    if (!msg.previous_id) {
      return Status::InvalidArgument("an alias message needs a previousId", "previousId");
    }
    if (!msg.user_id) return Status::InvalidArgument("an alias message needs a userId", "userId");
    msg.event = "alias";
  } else {
    msg.event = "identify";
  }
  XOAL_RETURN_IF_ERROR(RequirePerson(msg));
  msg.timestamp = ResolveTime(m, {}, received_at, msg.notes);
  return msg;
}

// The native event: {"event": "...", "properties": {"userId", "userEmail", "anonymousId",
// "time", "customData": {...}}}; other keys of properties are kept as properties too.
Result<Message> NormalizeNative(const json::object& m, SystemTime received_at) {
  Message msg;
  msg.type = "track";
  const json::value* event = Find(m, "event");
  if (!event || !event->is_string() || event->get_string().empty()) {
    return Status::InvalidArgument("event must be a non-empty string", "event");
  }
  if (event->get_string().size() > kMaxEventNameLength) {
    return Status::InvalidArgument("the event name is longer than 256 characters", "event");
  }
  msg.event = std::string(event->get_string());
  json::object props;
  XOAL_RETURN_IF_ERROR(ReadObjectMember(m, "properties", props));
  msg.user_id = IdOf(props, "userId", "user_id");
  msg.anonymous_id = IdOf(props, "anonymousId", "anonymous_id");
  msg.email = StringOf(Find(props, "userEmail"));
  if (!msg.email && msg.user_id && LooksLikeEmail(*msg.user_id)) msg.email = Lower(*msg.user_id);
  msg.message_id = IdOf(m, "messageId", "message_id").value_or("");
  if (msg.message_id.empty()) msg.message_id = IdOf(props, "messageId", "message_id").value_or("");
  json::object custom;
  Status st = ReadObjectMember(props, "customData", custom);
  if (!st.ok()) return st.WithFieldPrefix("properties");
  for (auto& [k, v] : props) {
    if (k != "userId" && k != "user_id" && k != "userEmail" && k != "anonymousId" &&
        k != "anonymous_id" && k != "time" && k != "customData" && k != "messageId") {
      msg.properties[k] = v;
    }
  }
  for (auto& [k, v] : custom) msg.properties[k] = std::move(v);
  XOAL_RETURN_IF_ERROR(RequirePerson(msg));
  msg.timestamp = ResolveTime(props, "time", received_at, msg.notes);
  return msg;
}

// A Hightouch row: a person named by user_id/userId, email or anonymous_id, whose other keys
// are attributes. Rendered from a warehouse, its values are often strings; the field registry
// coerces them.
Result<Message> NormalizeHightouchRow(const json::object& m, SystemTime received_at) {
  constexpr std::string_view kIdentityKeys[] = {"user_id",      "userId",      "email",
                                                "anonymous_id", "anonymousId", "messageId",
                                                "message_id",   "timestamp"};
  Message msg;
  msg.type = "identify";
  msg.event = "identify";
  msg.user_id = IdOf(m, "userId", "user_id");
  msg.anonymous_id = IdOf(m, "anonymousId", "anonymous_id");
  msg.email = StringOf(Find(m, "email"));
  msg.message_id = IdOf(m, "messageId", "message_id").value_or("");
  for (const auto& [k, v] : m) {
    if (std::find(std::begin(kIdentityKeys), std::end(kIdentityKeys), k) ==
        std::end(kIdentityKeys)) {
      msg.traits[k] = v;
    }
  }
  XOAL_RETURN_IF_ERROR(RequirePerson(msg));
  msg.timestamp = ResolveTime(m, {}, received_at, msg.notes);
  return msg;
}

}  // namespace

std::string_view SourceName(Source s) {
  switch (s) {
    case Source::kApi:
      return "api";
    case Source::kSegment:
      return "segment";
    case Source::kRudderstack:
      return "rudderstack";
    case Source::kJitsu:
      return "jitsu";
    case Source::kHightouch:
      return "hightouch";
  }
  return "api";
}

std::optional<Source> ParseSourceName(std::string_view name) {
  for (Source s :
       {Source::kApi, Source::kSegment, Source::kRudderstack, Source::kJitsu, Source::kHightouch}) {
    if (SourceName(s) == name) return s;
  }
  return std::nullopt;
}

Result<std::vector<json::value>> SplitBatch(json::value body) {
  std::vector<json::value> items;
  if (body.is_array()) {
    for (auto& v : body.get_array()) items.push_back(std::move(v));
    return items;
  }
  if (!body.is_object()) {
    return Status::Malformed(
        "the body must be a message object, an array of messages, or "
        "{\"batch\": [...]}");
  }
  json::object& obj = body.get_object();
  auto batch = obj.find("batch");
  if (batch == obj.end()) {
    items.push_back(std::move(body));
    return items;
  }
  if (!batch->value().is_array()) return Status::Malformed("batch must be an array of messages");
  // Batch-level context and integrations apply to every item, as Segment applies them; an
  // item's own keys win over the batch's.
  for (auto& item : batch->value().get_array()) {
    if (item.is_object()) {
      for (std::string_view shared : {"context", "integrations"}) {
        const json::object* level = FindObject(obj, shared);
        if (!level) continue;
        json::object merged = *level;
        if (const json::object* own = FindObject(item.get_object(), shared)) {
          for (const auto& [k, v] : *own) merged[k] = v;
        }
        item.get_object()[shared] = std::move(merged);
      }
    }
    items.push_back(std::move(item));
  }
  return items;
}

Result<Message> Normalize(Source source, const json::value& item, SystemTime received_at,
                          std::string_view implied_type) {
  if (!item.is_object()) return Status::InvalidArgument("a message must be a JSON object");
  const json::object& m = item.get_object();
  switch (source) {
    case Source::kApi:
      return NormalizeNative(m, received_at);
    case Source::kHightouch:
      if (Find(m, "type")) return NormalizeSpecMessage(m, received_at, implied_type);
      if (Find(m, "event")) return NormalizeSpecMessage(m, received_at, "track");
      return NormalizeHightouchRow(m, received_at);
    case Source::kSegment:
    case Source::kRudderstack:
    case Source::kJitsu:
      return NormalizeSpecMessage(m, received_at, implied_type);
  }
  return Status::InvalidArgument("unknown source");
}

}  // namespace xoal::ingest
