#include "ingest/apply.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/crypto.hpp"
#include "common/time_format.hpp"
#include "core/companies.hpp"
#include "core/customers.hpp"
#include "core/fields.hpp"

namespace xoal::ingest {
namespace {

using store::CustomerKey;

constexpr size_t kExcerptBytes = 200;
// The key under which Customer::attribute_times keeps the time of the message that set the email.
constexpr std::string_view kEmailTimeKey = "email";

// Well-known Segment traits and the built-in attributes they set (SPEC, Ingestion API).
constexpr std::pair<std::string_view, std::string_view> kTraitAttributes[] = {
    {"firstName", "first_name"},   {"first_name", "first_name"}, {"lastName", "last_name"},
    {"last_name", "last_name"},    {"phone", "phone"},           {"createdAt", "joined_date"},
    {"created_at", "joined_date"}, {"timezone", "timezone"},     {"language", "language"}};
// Traits that name the person rather than describe them.
constexpr std::string_view kIdentityTraits[] = {"email",   "id",          "userId",
                                                "user_id", "anonymousId", "anonymous_id"};

std::string_view AttributeForTrait(std::string_view trait) {
  for (const auto& [t, attr] : kTraitAttributes) {
    if (t == trait) return attr;
  }
  return trait;
}

// The profile a message is applied to, and whether it is still to be inserted.
struct Profile {
  store::Customer c;
  bool is_new = false;
};

class Applier {
 public:
  Applier(store::WriteTxn& txn, const IngestContext& ctx, Message& msg)
      : txn_(txn),
        msg_(msg),
        pid_(ctx.project->id),
        source_(ctx.source),
        wctx_{ctx.project, ctx.received_at, msg.timestamp, "data_ingestion", ctx.field_types} {}

  Result<std::string> Run() {
    XOAL_ASSIGN_OR_RETURN(Profile p, msg_.type == "alias" ? ResolveAlias() : Resolve());
    if (msg_.type == "identify") ApplyTraits(p.c);
    if (msg_.timezone && !msg_.traits.contains("timezone")) {
      SetOrNote(p.c, "timezone", json::value(*msg_.timezone));
    }
    SetOrNote(p.c, "last_active", json::value(FormatIsoTime(msg_.timestamp)));
    XOAL_RETURN_IF_ERROR(Save(p));
    if (msg_.type == "group") XOAL_RETURN_IF_ERROR(ApplyGroup(p.c));
    XOAL_RETURN_IF_ERROR(RecordEvent(p.c));
    return p.c.usid;
  }

 private:
  Result<std::optional<store::Customer>> Find(CustomerKey key, const std::string& value) {
    return txn_.FindCustomer(pid_, key, value);
  }

  Result<store::Customer> Merge(const store::Customer& primary, const store::Customer& secondary) {
    return core::MergeCustomers(txn_, wctx_, primary.usid, secondary.usid);
  }

  void Note(std::string kind, std::string reason) {
    msg_.notes.push_back({std::move(kind), std::move(reason)});
  }

  // The message's email, validated; an invalid one is dropped with a note.
  std::optional<std::string> ValidEmail() {
    if (!msg_.email) return std::nullopt;
    auto email = core::NormalizeEmail(*msg_.email);
    if (email.ok()) return *email;
    Note("identifier_dropped", "email: " + email.status().message());
    return std::nullopt;
  }

  // Finds or creates the person by user_id, then anonymous id, then email, merging profiles the
  // message shows to be one person.
  Result<Profile> Resolve() {
    const auto& user_id = msg_.user_id;
    const auto& anon = msg_.anonymous_id;
    std::optional<store::Customer> by_user;
    std::optional<store::Customer> by_anon;
    if (user_id) {
      XOAL_ASSIGN_OR_RETURN(by_user, Find(CustomerKey::kUserId, *user_id));
    }
    bool anon_known = by_user && anon &&
                      std::find(by_user->anonymous_ids.begin(), by_user->anonymous_ids.end(),
                                *anon) != by_user->anonymous_ids.end();
    if (anon && !anon_known) {
      XOAL_ASSIGN_OR_RETURN(by_anon, Find(CustomerKey::kAnonymousId, *anon));
    }

    Profile p;
    if (by_user) {
      p.c = std::move(*by_user);
      if (by_anon && by_anon->usid != p.c.usid && !by_anon->user_id) {
        // The anonymous visitor turned out to be this known user.
        XOAL_ASSIGN_OR_RETURN(p.c, Merge(p.c, *by_anon));
      }
    } else if (by_anon && (!by_anon->user_id || !user_id)) {
      p.c = std::move(*by_anon);
      if (user_id) p.c.user_id = user_id;  // the anonymous profile becomes the user's
    } else {
      p.c = core::NewCustomer(wctx_);
      p.c.user_id = user_id;
      p.is_new = true;
    }
    XOAL_RETURN_IF_ERROR(ResolveEmail(p));
    if (p.is_new && !p.c.user_id && !p.c.email && !anon) {
      return Status::InvalidArgument(
          "the message names no person: its only identifier, the "
          "email, is not a valid address",
          "email");
    }
    if (anon && std::find(p.c.anonymous_ids.begin(), p.c.anonymous_ids.end(), *anon) ==
                    p.c.anonymous_ids.end()) {
      // Also moves it from another known user whose visitor id this turned out not to be.
      p.c.anonymous_ids.push_back(*anon);
      pending_anonymous_ids_.push_back(*anon);
    }
    return p;
  }

  // Whether the profile's email was set by a message newer than this one. The email is an
  // identifier, not an attribute SetAttribute may write, so its time is kept here.
  bool EmailSetByNewerMessage(const store::Customer& c) const {
    auto t = c.attribute_times.find(kEmailTimeKey);
    return t != c.attribute_times.end() && t->value().is_int64() &&
           t->value().get_int64() > ToEpochMillis(msg_.timestamp);
  }

  Status ResolveEmail(Profile& p) {
    auto email = ValidEmail();
    if (!email || p.c.email == email) return Status::Ok();
    XOAL_ASSIGN_OR_RETURN(auto by_email, Find(CustomerKey::kEmail, *email));
    if (!by_email) {
      // Only an identify changes a known email, and only when it is not older than the message
      // that set it (SPEC, Attribute order); other messages fill in a missing one.
      if (!p.c.email || (msg_.type == "identify" && !EmailSetByNewerMessage(p.c))) {
        p.c.email = email;
        p.c.attribute_times[kEmailTimeKey] = ToEpochMillis(msg_.timestamp);
      }
      return Status::Ok();
    }
    bool compatible = !by_email->user_id || by_email->user_id == p.c.user_id;
    if (!compatible) {
      Note("identifier_dropped", "email belongs to another customer with a different user id");
      return Status::Ok();
    }
    if (p.is_new) {
      // The lead known by this email is the person: use that profile instead of a new one.
      auto user_id = p.c.user_id;
      p.c = std::move(*by_email);
      if (user_id) p.c.user_id = user_id;
      p.is_new = false;
      return Status::Ok();
    }
    if (msg_.type != "identify") return Status::Ok();
    XOAL_ASSIGN_OR_RETURN(p.c, Merge(p.c, *by_email));
    return Status::Ok();
  }

  // alias: previousId (an earlier user id or anonymous id) and userId are one person.
  Result<Profile> ResolveAlias() {
    const std::string& to_id = *msg_.user_id;
    const std::string& prev = *msg_.previous_id;
    XOAL_ASSIGN_OR_RETURN(auto to, Find(CustomerKey::kUserId, to_id));
    XOAL_ASSIGN_OR_RETURN(auto from, Find(CustomerKey::kUserId, prev));
    if (!from) {
      XOAL_ASSIGN_OR_RETURN(from, Find(CustomerKey::kAnonymousId, prev));
    }
    Profile p;
    if (to && from && to->usid != from->usid) {
      XOAL_ASSIGN_OR_RETURN(p.c, Merge(*to, *from));
    } else if (to) {
      p.c = std::move(*to);
      if (!from) {
        p.c.anonymous_ids.push_back(prev);
        pending_anonymous_ids_.push_back(prev);
      }
    } else if (from && (!from->user_id || from->user_id == prev)) {
      // previousId was this profile's anonymous id or its former user id.
      p.c = std::move(*from);
      p.c.user_id = to_id;
    } else if (from) {
      // previousId is the anonymous id of another known user: that user keeps their id, and the
      // visitor id moves to the new one, as an identify with both ids would do.
      Note("identifier_dropped",
           "previousId is the anonymous id of another user, who keeps "
           "their user id; the anonymous id moves to " +
               to_id);
      p.c = core::NewCustomer(wctx_);
      p.c.user_id = to_id;
      p.c.anonymous_ids.push_back(prev);
      pending_anonymous_ids_.push_back(prev);
      p.is_new = true;
    } else {
      p.c = core::NewCustomer(wctx_);
      p.c.user_id = to_id;
      p.c.anonymous_ids.push_back(prev);
      p.is_new = true;
    }
    return p;
  }

  void SetOrNote(store::Customer& c, std::string_view name, const json::value& v) {
    Status st = core::SetAttribute(txn_, wctx_, c, name, v);
    if (!st.ok()) Note("attribute_dropped", std::string(name) + ": " + st.message());
  }

  void ApplyTraits(store::Customer& c) {
    for (const auto& [trait, value] : msg_.traits) {
      if (std::find(std::begin(kIdentityTraits), std::end(kIdentityTraits), trait) !=
          std::end(kIdentityTraits)) {
        continue;
      }
      SetOrNote(c, AttributeForTrait(trait), value);
    }
  }

  Status Save(Profile& p) {
    if (p.is_new) {
      Status st = txn_.InsertCustomer(p.c);
      if (st.code() == StatusCode::kAlreadyExists) {
        return Status::Conflict("the message's user id or email belongs to another customer");
      }
      return st;
    }
    p.c.updated_at = wctx_.now;
    Status st = txn_.UpdateCustomer(p.c);
    if (st.code() == StatusCode::kAlreadyExists) {
      return Status::Conflict("the message's user id or email belongs to another customer");
    }
    XOAL_RETURN_IF_ERROR(st);
    for (const auto& a : pending_anonymous_ids_) {
      XOAL_RETURN_IF_ERROR(txn_.AddAnonymousId(pid_, p.c.usid, a));
    }
    return Status::Ok();
  }

  Status ApplyGroup(const store::Customer& c) {
    json::object body{{"id", *msg_.group_id}};
    json::object attributes;
    for (const auto& [k, v] : msg_.traits) {
      if (k == "name" && v.is_string() && !v.get_string().empty()) {
        body["name"] = v;
      } else if (k != "id" && k != "groupId") {
        attributes[k] = v;
      }
    }
    body["attributes"] = std::move(attributes);
    auto company = core::UpsertCompany(txn_, wctx_, body);
    if (!company.ok()) {
      // A bad company trait must not lose the membership: retry with the name alone.
      Note("attribute_dropped", "company " + *msg_.group_id + ": " + company.status().message());
      body.erase("attributes");
      XOAL_RETURN_IF_ERROR(core::UpsertCompany(txn_, wctx_, body).status());
    }
    return core::PutMember(txn_, wctx_, *msg_.group_id, c.usid, {}).status();
  }

  // The event's properties after the field registry (SPEC, Field registry): each top-level
  // property is coerced to its field's type, registered on first sight, or dropped and noted.
  json::object RegisteredProperties() {
    json::object out;
    for (const auto& [name, value] : msg_.properties) {
      auto coerced =
          core::CoerceAndRegister(txn_, pid_, "event", name, value, wctx_.now, wctx_.field_types);
      if (coerced.ok()) {
        out[name] = std::move(*coerced);
      } else {
        Note("attribute_dropped",
             "event property " + std::string(name) + ": " + coerced.status().message());
      }
    }
    return out;
  }

  Status RecordEvent(const store::Customer& c) {
    store::Event e;
    e.project_id = pid_;
    e.id = msg_.message_id.empty() ? "evt_" + RandomAlnum(24) : msg_.message_id;
    e.usid = c.usid;
    e.name = msg_.event;
    e.type = msg_.type;
    e.source = std::string(SourceName(source_));
    e.timestamp = msg_.timestamp;
    e.received_at = wctx_.now;
    if (msg_.type == "identify") {
      e.properties = msg_.traits;
    } else if (msg_.type == "group") {
      e.properties = json::object{{"group_id", *msg_.group_id}, {"traits", msg_.traits}};
    } else if (msg_.type == "alias") {
      e.properties = json::object{{"previous_id", *msg_.previous_id}};
    } else {
      e.properties = RegisteredProperties();
    }
    return txn_.InsertEvent(e);
  }

  store::WriteTxn& txn_;
  Message& msg_;
  const std::string& pid_;
  const Source source_;
  core::WriteContext wctx_;
  std::vector<std::string> pending_anonymous_ids_;
};

std::string Excerpt(const json::value& item) {
  std::string text = json::serialize(item);
  if (text.size() > kExcerptBytes) {
    size_t cut = kExcerptBytes;
    // Back off to a character boundary: never split a UTF-8 sequence.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
  }
  return text;
}

std::string MessageIdOf(const json::value& item) {
  if (!item.is_object()) return {};
  for (std::string_view key : {"messageId", "message_id"}) {
    auto it = item.get_object().find(key);
    if (it != item.get_object().end() && it->value().is_string()) {
      return std::string(it->value().get_string());
    }
  }
  return {};
}

// One item as the calling thread leaves it for the writer: the message to apply, or why it is
// rejected. None of it depends on the store, so it is worked out before the write and the single
// writer thread only applies.
struct PreparedItem {
  std::optional<Message> msg;  // set when the item is to be applied
  size_t normalize_notes = 0;  // how many of msg->notes Normalize made (the rest: the apply step)
  std::string rejection;       // the reason, when msg is not set
};

PreparedItem PrepareItem(const IngestContext& ctx, const json::value& item,
                         std::string_view implied_type) {
  PreparedItem p;
  if (json::serialize(item).size() > kMaxMessageBytes) {
    p.rejection = "the message is larger than 32 KB";
    return p;
  }
  if (HasNonFiniteNumber(item)) {
    p.rejection = "a number in the message is too large to be stored (not finite)";
    return p;
  }
  auto msg = Normalize(ctx.source, item, ctx.received_at, implied_type);
  if (!msg.ok()) {
    p.rejection = msg.status().message();
    return p;
  }
  p.normalize_notes = msg->notes.size();
  p.msg = std::move(*msg);
  return p;
}

// What applying a request's items gives: the answer, and the ingestion error log entries.
struct Outcome {
  BatchResult result;
  std::vector<store::IngestionError> log;
};

// How the messages of one attempt are kept apart.
enum class Isolation {
  kNone,        // all in the caller's transaction: the first message that fails ends the attempt
  kPerMessage,  // each in its own savepoint: a message that fails is rejected alone
};

// Applies the prepared items in order. nullopt when, with Isolation::kNone, a message failed: its
// partial changes are still in `txn`, for the caller to roll back. An error when the store
// failed.
Result<std::optional<Outcome>> ApplyItems(store::WriteTxn& txn, const IngestContext& ctx,
                                          const std::vector<json::value>& items,
                                          std::vector<PreparedItem>& prepared,
                                          Isolation isolation) {
  Outcome out;
  // Per attempt: a field an attempt that is rolled back registered must not be remembered.
  core::FieldTypeCache field_types;
  IngestContext batch_ctx = ctx;
  batch_ctx.field_types = &field_types;
  auto log_entry = [&](size_t index, const json::value& item, std::string kind,
                       std::string reason) {
    out.log.push_back(store::IngestionError{
        0, ctx.project->id, ctx.received_at, std::string(SourceName(ctx.source)), MessageIdOf(item),
        static_cast<int>(index), std::move(kind), std::move(reason), Excerpt(item)});
  };
  auto reject = [&](size_t index, const json::value& item, const std::string& reason) {
    out.result.rejected.push_back(json::object{{"index", index}, {"reason", reason}});
    log_entry(index, item, "rejected", reason);
  };

  for (size_t i = 0; i < items.size(); ++i) {
    const json::value& item = items[i];
    PreparedItem& p = prepared[i];
    if (!p.msg) {
      reject(i, item, p.rejection);
      continue;
    }
    Message& msg = *p.msg;
    // Drop the notes an earlier attempt's apply step added.
    msg.notes.resize(p.normalize_notes);
    Applied applied;
    auto apply = [&](store::WriteTxn& t) {
      XOAL_ASSIGN_OR_RETURN(applied, ApplyMessage(t, batch_ctx, msg));
      return Status::Ok();
    };
    Status one = isolation == Isolation::kPerMessage ? txn.Nested(apply) : apply(txn);
    if (one.code() == StatusCode::kInternal || one.code() == StatusCode::kUnavailable) {
      return one;  // the store failed: the whole request fails and is retried by the sender
    }
    if (!one.ok()) {
      if (isolation == Isolation::kNone) return std::optional<Outcome>();
      reject(i, item, one.message());
      continue;
    }
    if (applied.duplicate) {
      ++out.result.duplicates;  // nothing was applied, so nothing of it is noted either
      continue;
    }
    ++out.result.accepted;
    for (const auto& note : msg.notes) log_entry(i, item, note.kind, note.reason);
  }
  return std::optional<Outcome>(std::move(out));
}

}  // namespace

Result<Applied> ApplyMessage(store::WriteTxn& txn, const IngestContext& ctx, Message& msg) {
  if (!msg.message_id.empty()) {
    XOAL_ASSIGN_OR_RETURN(bool seen, txn.EventExists(ctx.project->id, msg.message_id));
    if (seen) return Applied{true, {}};
  }
  Applier applier(txn, ctx, msg);
  XOAL_ASSIGN_OR_RETURN(auto usid, applier.Run());
  return Applied{false, std::move(usid)};
}

Result<BatchResult> IngestBatch(store::Store& store, const IngestContext& ctx,
                                const std::vector<json::value>& items,
                                std::string_view implied_type) {
  std::vector<PreparedItem> prepared;
  prepared.reserve(items.size());
  for (const auto& item : items) prepared.push_back(PrepareItem(ctx, item, implied_type));

  BatchResult out;
  Status st = store.Write([&](store::WriteTxn& txn) {
    // Nearly every request's messages all apply, so they are first applied together in one
    // savepoint: one per message costs two more statements and a copy of every page the message
    // changes (perf: about a tenth of the writer thread). When one fails, that attempt is rolled
    // back and the messages are applied again each in its own savepoint, so that the one that
    // fails is rejected alone: such a request costs the writer up to twice as much.
    std::optional<Outcome> outcome;
    bool one_failed = false;
    Status together = txn.Nested([&](store::WriteTxn& all) {
      XOAL_ASSIGN_OR_RETURN(outcome, ApplyItems(all, ctx, items, prepared, Isolation::kNone));
      one_failed = !outcome;
      return one_failed ? Status::Conflict("a message of the request failed") : Status::Ok();
    });
    if (one_failed && together.code() == StatusCode::kConflict) {
      XOAL_ASSIGN_OR_RETURN(outcome, ApplyItems(txn, ctx, items, prepared, Isolation::kPerMessage));
    } else {
      XOAL_RETURN_IF_ERROR(together);
    }
    for (auto& entry : outcome->log) XOAL_RETURN_IF_ERROR(txn.InsertIngestionError(entry));
    out = std::move(outcome->result);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

json::object IngestionErrorToJson(const store::IngestionError& e) {
  return json::object{
      {"received_at", FormatIsoTime(e.received_at)},
      {"source", e.source},
      {"message_id", e.message_id.empty() ? json::value(nullptr) : json::value(e.message_id)},
      {"index", e.index},
      {"kind", e.kind},
      {"reason", e.reason},
      {"excerpt", e.excerpt}};
}

}  // namespace xoal::ingest
