#include "core/customers.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "common/crypto.hpp"
#include "common/time_format.hpp"
#include "core/fields.hpp"
#include "core/projects.hpp"

namespace xoal::core {
namespace {

constexpr std::string_view kStoredBuiltins[] = {
    "first_name", "last_name",   "phone",           "language",      "timezone",
    "joined_date", "last_active", "email_subscribed", "sms_subscribed"};

// Keys of a customer body that are not attributes.
constexpr std::string_view kIdentityKeys[] = {"user_id", "email", "anonymous_id", "anonymous_ids",
                                              "tags",    "attributes", "created_at"};
// Keys a caller may never set.
constexpr std::string_view kReadOnlyKeys[] = {"usid", "contact_type", "updated_at", "added_via"};

constexpr size_t kMaxUserIdLength = 256;
constexpr size_t kMaxTagLength = 128;
constexpr size_t kImportChunkRows = 500;

template <size_t N>
bool Contains(const std::string_view (&list)[N], std::string_view v) {
  return std::find(std::begin(list), std::end(list), v) != std::end(list);
}

json::value OptString(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}

// user_id: a non-empty string, or a number sent as an id (Segment sends both).
Result<std::optional<std::string>> ReadUserId(const json::object& body, std::string_view key) {
  auto it = body.find(key);
  if (it == body.end() || it->value().is_null()) return std::optional<std::string>();
  const auto& v = it->value();
  std::string id;
  if (v.is_string()) {
    id = std::string(v.get_string());
  } else if (v.is_int64() || v.is_uint64()) {
    id = json::serialize(v);
  } else {
    return Status::InvalidArgument(std::string(key) + " must be a string", std::string(key));
  }
  if (id.empty() || id.size() > kMaxUserIdLength) {
    return Status::InvalidArgument(std::string(key) + " must have 1 to 256 characters",
                                   std::string(key));
  }
  return std::optional<std::string>(std::move(id));
}

Result<std::vector<std::string>> ReadAnonymousIds(const json::object& body) {
  std::vector<std::string> out;
  XOAL_ASSIGN_OR_RETURN(auto one, ReadUserId(body, "anonymous_id"));
  if (one) out.push_back(*one);
  auto it = body.find("anonymous_ids");
  if (it != body.end() && !it->value().is_null()) {
    if (!it->value().is_array()) {
      return Status::InvalidArgument("anonymous_ids must be a list of strings", "anonymous_ids");
    }
    for (const auto& v : it->value().as_array()) {
      if (!v.is_string() || v.get_string().empty()) {
        return Status::InvalidArgument("anonymous_ids must be a list of strings", "anonymous_ids");
      }
      out.emplace_back(v.get_string());
    }
  }
  return out;
}

Result<std::vector<std::string>> ReadTags(const json::object& body) {
  std::vector<std::string> out;
  auto it = body.find("tags");
  if (it == body.end() || it->value().is_null()) return out;
  if (!it->value().is_array()) return Status::InvalidArgument("tags must be a list", "tags");
  for (const auto& v : it->value().as_array()) {
    if (!v.is_string() || v.get_string().empty() || v.get_string().size() > kMaxTagLength) {
      return Status::InvalidArgument("each tag is a string of 1 to 128 characters", "tags");
    }
    out.emplace_back(v.get_string());
  }
  return out;
}

// The built-ins that need more than a type check.
Result<json::value> ValidateBuiltin(const WriteContext& ctx, std::string_view name,
                                    const json::value& v) {
  if (v.is_null()) return v;
  if (name == "timezone") {
    if (!v.is_string() || !IsValidTimeZone(v.get_string())) {
      return Status::InvalidArgument("timezone must be an IANA time zone such as Europe/Paris",
                                     "timezone");
    }
  }
  if (name == "language") {
    if (!v.is_string()) return Status::InvalidArgument("language must be a string", "language");
    std::string_view want = v.get_string();
    for (const auto& lang : ProjectLanguages(*ctx.project)) {
      bool same = lang.size() == want.size() &&
                  std::equal(lang.begin(), lang.end(), want.begin(), [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) ==
                           std::tolower(static_cast<unsigned char>(b));
                  });
      if (same) return json::value(lang);
    }
    return Status::InvalidArgument(
        "language must be one of the project's languages (see GET /api/v1/project)", "language");
  }
  return v;
}

// Checks that `value` of `key` is free or already `c`'s.
Status CheckIdentifierFree(store::ReadTxn& txn, const store::Customer& c, store::CustomerKey key,
                           std::string_view value, std::string_view field) {
  XOAL_ASSIGN_OR_RETURN(auto other, txn.FindCustomer(c.project_id, key, value));
  if (other && other->usid != c.usid) {
    return Status::Conflict(std::string(field) + " belongs to another customer (" + other->usid +
                                ")",
                            std::string(field));
  }
  return Status::Ok();
}

std::vector<std::vector<std::string>> ParseCsv(std::string_view text, std::string& error) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string cell;
  bool quoted = false;
  bool cell_started = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell.push_back(c);
      }
    } else if (c == '"' && !cell_started) {
      quoted = true;
      cell_started = true;
    } else if (c == ',') {
      row.push_back(std::move(cell));
      cell.clear();
      cell_started = false;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(cell));
      cell.clear();
      cell_started = false;
      if (!(row.size() == 1 && row[0].empty())) rows.push_back(std::move(row));
      row.clear();
    } else {
      cell.push_back(c);
      cell_started = true;
    }
  }
  if (quoted) error = "a quoted cell is not closed";
  if (cell_started || !row.empty()) {
    row.push_back(std::move(cell));
    rows.push_back(std::move(row));
  }
  return rows;
}

json::object CsvRowToBody(const std::vector<std::string>& header,
                          const std::vector<std::string>& row) {
  json::object body;
  for (size_t i = 0; i < header.size() && i < row.size(); ++i) {
    if (row[i].empty()) continue;
    if (header[i] == "tags") {
      json::array tags;
      std::string_view rest = row[i];
      while (!rest.empty()) {
        size_t semi = rest.find(';');
        std::string_view tag = rest.substr(0, semi);
        if (!tag.empty()) tags.emplace_back(tag);
        rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      }
      body["tags"] = std::move(tags);
    } else {
      body[header[i]] = row[i];
    }
  }
  return body;
}

}  // namespace

bool IsStoredBuiltinAttribute(std::string_view name) { return Contains(kStoredBuiltins, name); }

std::string_view ContactType(const store::Customer& c) {
  if (c.user_id) return "user";
  if (c.email) return "lead";
  return "unidentified";
}

json::object CustomerToJson(const store::Customer& c) {
  json::array anon(c.anonymous_ids.begin(), c.anonymous_ids.end());
  json::array tags(c.tags.begin(), c.tags.end());
  json::object out{{"usid", c.usid},
                   {"user_id", OptString(c.user_id)},
                   {"email", OptString(c.email)},
                   {"anonymous_ids", std::move(anon)},
                   {"contact_type", ContactType(c)}};
  for (std::string_view name : kStoredBuiltins) {
    auto it = c.attributes.find(name);
    out[name] = it == c.attributes.end() ? json::value(nullptr) : it->value();
  }
  out["created_at"] = FormatIsoTime(c.created_at);
  out["updated_at"] = FormatIsoTime(c.updated_at);
  out["added_via"] = c.added_via;
  out["tags"] = std::move(tags);
  json::object custom;
  for (const auto& [k, v] : c.attributes) {
    if (!IsStoredBuiltinAttribute(k)) custom[k] = v;
  }
  out["attributes"] = std::move(custom);
  return out;
}

json::object EventToJson(const store::Event& e) {
  return json::object{{"id", e.id},
                      {"usid", e.usid},
                      {"name", e.name},
                      {"type", e.type},
                      {"source", e.source},
                      {"timestamp", FormatIsoTime(e.timestamp)},
                      {"received_at", FormatIsoTime(e.received_at)},
                      {"properties", e.properties}};
}

json::object CustomerAttributes(const store::Customer& c) {
  json::object out{{"usid", c.usid},
                   {"user_id", OptString(c.user_id)},
                   {"email", OptString(c.email)},
                   {"created_at", FormatIsoTime(c.created_at)}};
  for (const auto& [k, v] : c.attributes) out[k] = v;
  return out;
}

Result<std::string> NormalizeEmail(std::string_view raw) {
  size_t b = 0;
  size_t e = raw.size();
  while (b < e && std::isspace(static_cast<unsigned char>(raw[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(raw[e - 1]))) --e;
  std::string email(raw.substr(b, e - b));
  for (char& c : email) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t at = email.find('@');
  bool ok = email.size() <= 254 && at != std::string::npos && at > 0 && at + 1 < email.size() &&
            email.find('@', at + 1) == std::string::npos &&
            std::none_of(email.begin(), email.end(),
                         [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  if (!ok) return Status::InvalidArgument("email is not a valid address", "email");
  return email;
}

Result<std::optional<store::Customer>> ResolveCustomer(store::ReadTxn& txn,
                                                       std::string_view project_id,
                                                       store::CustomerKey key,
                                                       std::string_view value) {
  std::string normalized(value);
  if (key == store::CustomerKey::kEmail) {
    auto email = NormalizeEmail(value);
    if (!email.ok()) return std::optional<store::Customer>();
    normalized = *email;
  }
  XOAL_ASSIGN_OR_RETURN(auto found, txn.FindCustomer(project_id, key, normalized));
  if (found || key != store::CustomerKey::kUsid) return found;
  XOAL_ASSIGN_OR_RETURN(auto survivor, txn.FindMergedInto(project_id, value));
  if (!survivor) return std::optional<store::Customer>();
  return txn.FindCustomer(project_id, store::CustomerKey::kUsid, *survivor);
}

Result<store::Customer> GetCustomer(store::ReadTxn& txn, std::string_view project_id,
                                    std::string_view usid) {
  XOAL_ASSIGN_OR_RETURN(auto c, ResolveCustomer(txn, project_id, store::CustomerKey::kUsid, usid));
  if (!c) return Status::NotFound("no customer with usid " + std::string(usid));
  return std::move(*c);
}

Status SetAttribute(store::WriteTxn& txn, const WriteContext& ctx, store::Customer& c,
                    std::string_view name, const json::value& value) {
  if (Contains(kReadOnlyKeys, name) || Contains(kIdentityKeys, name)) {
    return Status::InvalidArgument(std::string(name) + " cannot be set as an attribute",
                                   std::string(name));
  }
  int64_t msg_ms = ToEpochMillis(ctx.message_time);
  auto t = c.attribute_times.find(name);
  if (t != c.attribute_times.end() && t->value().is_int64() && t->value().get_int64() > msg_ms) {
    return Status::Ok();  // a newer message already decided this attribute
  }
  XOAL_ASSIGN_OR_RETURN(auto coerced,
                        CoerceAndRegister(txn, ctx.project->id, "customer", name, value, ctx.now,
                                          ctx.field_types));
  if (IsStoredBuiltinAttribute(name)) {
    XOAL_ASSIGN_OR_RETURN(coerced, ValidateBuiltin(ctx, name, coerced));
  }
  if (coerced.is_null()) {
    c.attributes.erase(name);
  } else {
    c.attributes[name] = std::move(coerced);
  }
  c.attribute_times[name] = msg_ms;
  return Status::Ok();
}

store::Customer NewCustomer(const WriteContext& ctx) {
  store::Customer c;
  c.project_id = ctx.project->id;
  c.usid = "cus_" + RandomAlnum(20);
  c.created_at = ctx.now;
  c.updated_at = ctx.now;
  c.added_via = ctx.added_via;
  return c;
}

Status ApplyCustomerBody(store::WriteTxn& txn, const WriteContext& ctx, store::Customer& c,
                         const json::object& body, bool is_new) {
  XOAL_ASSIGN_OR_RETURN(auto user_id, ReadUserId(body, "user_id"));
  XOAL_ASSIGN_OR_RETURN(auto email_raw, OptionalString(body, "email"));
  XOAL_ASSIGN_OR_RETURN(auto anonymous_ids, ReadAnonymousIds(body));
  XOAL_ASSIGN_OR_RETURN(auto tags, ReadTags(body));
  for (const auto& a : anonymous_ids) {
    // As for user_id and email: taking another profile's id would silently split it. Profiles
    // that are one person are joined with POST /customers/merge.
    XOAL_RETURN_IF_ERROR(
        CheckIdentifierFree(txn, c, store::CustomerKey::kAnonymousId, a, "anonymous_id"));
  }
  if (user_id && user_id != c.user_id) {
    XOAL_RETURN_IF_ERROR(CheckIdentifierFree(txn, c, store::CustomerKey::kUserId, *user_id, "user_id"));
    c.user_id = user_id;
  }
  if (email_raw) {
    XOAL_ASSIGN_OR_RETURN(auto email, NormalizeEmail(*email_raw));
    XOAL_RETURN_IF_ERROR(CheckIdentifierFree(txn, c, store::CustomerKey::kEmail, email, "email"));
    c.email = std::move(email);
  } else if (auto it = body.find("email"); it != body.end() && it->value().is_null() && !is_new) {
    c.email.reset();
  }
  if (auto it = body.find("created_at"); it != body.end()) {
    auto t = ParseJsonTime(it->value());
    if (!t) return Status::InvalidArgument("created_at must be a time", "created_at");
    c.created_at = *t;
  }

  for (const auto& [key, value] : body) {
    if (Contains(kIdentityKeys, key)) continue;
    XOAL_RETURN_IF_ERROR(SetAttribute(txn, ctx, c, key, value));
  }
  if (auto it = body.find("attributes"); it != body.end() && !it->value().is_null()) {
    if (!it->value().is_object()) {
      return Status::InvalidArgument("attributes must be an object", "attributes");
    }
    for (const auto& [key, value] : it->value().as_object()) {
      Status st = SetAttribute(txn, ctx, c, key, value);
      if (!st.ok()) return st.WithFieldPrefix("attributes");
    }
  }
  if (!c.user_id && !c.email && c.anonymous_ids.empty() && anonymous_ids.empty()) {
    return Status::InvalidArgument("a customer needs a user_id, an email or an anonymous_id",
                                   "user_id");
  }

  c.updated_at = ctx.now;
  if (is_new) {
    c.tags = tags;
    c.anonymous_ids = anonymous_ids;
    auto st = txn.InsertCustomer(c);
    if (st.code() == StatusCode::kAlreadyExists) {
      return Status::Conflict("user_id or email belongs to another customer");
    }
    return st;
  }
  auto st = txn.UpdateCustomer(c);
  if (st.code() == StatusCode::kAlreadyExists) {
    return Status::Conflict("user_id or email belongs to another customer");
  }
  XOAL_RETURN_IF_ERROR(st);
  for (const auto& tag : tags) {
    XOAL_RETURN_IF_ERROR(txn.AddTag(c.project_id, c.usid, tag, ctx.now));
    if (std::find(c.tags.begin(), c.tags.end(), tag) == c.tags.end()) c.tags.push_back(tag);
  }
  for (const auto& a : anonymous_ids) {
    XOAL_RETURN_IF_ERROR(txn.AddAnonymousId(c.project_id, c.usid, a));
    if (std::find(c.anonymous_ids.begin(), c.anonymous_ids.end(), a) == c.anonymous_ids.end()) {
      c.anonymous_ids.push_back(a);
    }
  }
  std::sort(c.tags.begin(), c.tags.end());
  return Status::Ok();
}

Result<UpsertResult> UpsertCustomer(store::WriteTxn& txn, const WriteContext& ctx,
                                    const json::object& body) {
  const std::string& pid = ctx.project->id;
  XOAL_ASSIGN_OR_RETURN(auto user_id, ReadUserId(body, "user_id"));
  XOAL_ASSIGN_OR_RETURN(auto email_raw, OptionalString(body, "email"));
  XOAL_ASSIGN_OR_RETURN(auto anonymous_ids, ReadAnonymousIds(body));
  std::optional<store::Customer> by_user;
  std::optional<store::Customer> by_email;
  std::optional<store::Customer> by_anon;
  if (user_id) {
    XOAL_ASSIGN_OR_RETURN(by_user, txn.FindCustomer(pid, store::CustomerKey::kUserId, *user_id));
  }
  if (email_raw) {
    XOAL_ASSIGN_OR_RETURN(auto email, NormalizeEmail(*email_raw));
    XOAL_ASSIGN_OR_RETURN(by_email, txn.FindCustomer(pid, store::CustomerKey::kEmail, email));
  }
  for (const auto& a : anonymous_ids) {
    if (by_anon) break;
    XOAL_ASSIGN_OR_RETURN(by_anon, txn.FindCustomer(pid, store::CustomerKey::kAnonymousId, a));
  }

  std::optional<store::Customer> target = by_user ? by_user : by_email ? by_email : by_anon;
  if (target && user_id && target->user_id && target->user_id != user_id) {
    // Matched by email or anonymous id, but that profile is another known person.
    return Status::Conflict(
        by_email && by_email->usid == target->usid ? "email belongs to another user"
                                                   : "anonymous_id belongs to another user",
        by_email && by_email->usid == target->usid ? "email" : "anonymous_id");
  }
  UpsertResult result;
  result.created = !target;
  result.customer = target ? std::move(*target) : NewCustomer(ctx);
  XOAL_RETURN_IF_ERROR(ApplyCustomerBody(txn, ctx, result.customer, body, result.created));
  return result;
}

Result<store::Customer> PatchCustomer(store::WriteTxn& txn, const WriteContext& ctx,
                                      std::string_view usid, const json::object& body) {
  XOAL_ASSIGN_OR_RETURN(auto c, GetCustomer(txn, ctx.project->id, usid));
  XOAL_RETURN_IF_ERROR(ApplyCustomerBody(txn, ctx, c, body, false));
  return c;
}

Result<store::Customer> MergeCustomers(store::WriteTxn& txn, const WriteContext& ctx,
                                       std::string_view primary_usid,
                                       std::string_view secondary_usid) {
  const std::string& pid = ctx.project->id;
  XOAL_ASSIGN_OR_RETURN(auto primary, GetCustomer(txn, pid, primary_usid));
  XOAL_ASSIGN_OR_RETURN(auto secondary, GetCustomer(txn, pid, secondary_usid));
  if (primary.usid == secondary.usid) {
    return Status::InvalidArgument("primary and secondary are the same customer", "secondary");
  }

  for (const auto& [name, value] : secondary.attributes) {
    auto theirs = secondary.attribute_times.find(name);
    auto ours = primary.attribute_times.find(name);
    int64_t their_ms = theirs == secondary.attribute_times.end() ? 0 : theirs->value().to_number<int64_t>();
    int64_t our_ms = ours == primary.attribute_times.end() ? -1 : ours->value().to_number<int64_t>();
    if (!primary.attributes.contains(name) || their_ms > our_ms) {
      primary.attributes[name] = value;
      primary.attribute_times[name] = their_ms;
    }
  }
  if (!primary.user_id) primary.user_id = secondary.user_id;
  if (!primary.email) primary.email = secondary.email;
  primary.created_at = std::min(primary.created_at, secondary.created_at);
  primary.updated_at = ctx.now;

  // The secondary goes first, so that its user_id and email are free for the primary to take.
  XOAL_RETURN_IF_ERROR(txn.MergeCustomerInto(pid, secondary.usid, primary.usid, ctx.now));
  XOAL_RETURN_IF_ERROR(txn.UpdateCustomer(primary));
  spdlog::info("customers_merged project_id={} customer_id={} merged_customer_id={}", pid,
               primary.usid, secondary.usid);
  XOAL_ASSIGN_OR_RETURN(auto merged, txn.FindCustomer(pid, store::CustomerKey::kUsid, primary.usid));
  if (!merged) return Status::Internal("merged customer vanished");
  return std::move(*merged);
}

Result<ImportReport> ImportCustomersCsv(store::Store& store, const Clock& clock,
                                        const store::Project& project, std::string_view csv) {
  // Spreadsheet programs start UTF-8 CSV files with a byte order mark.
  if (csv.starts_with("\xEF\xBB\xBF")) csv.remove_prefix(3);
  std::string error;
  auto rows = ParseCsv(csv, error);
  if (!error.empty()) return Status::InvalidArgument("CSV: " + error);
  if (rows.empty()) return Status::InvalidArgument("CSV: no header row");
  const auto& header = rows[0];
  bool has_identity = std::any_of(header.begin(), header.end(), [](const std::string& h) {
    return h == "user_id" || h == "email" || h == "anonymous_id";
  });
  if (!has_identity) {
    return Status::InvalidArgument("CSV: the header must name user_id, email or anonymous_id");
  }

  ImportReport report;
  size_t total = rows.size() - 1;
  for (size_t start = 1; start < rows.size(); start += kImportChunkRows) {
    size_t end = std::min(rows.size(), start + kImportChunkRows);
    ImportReport chunk;
    XOAL_RETURN_IF_ERROR(store.Write([&](store::WriteTxn& txn) {
      chunk = ImportReport();
      WriteContext ctx{&project, clock.SystemNow(), clock.SystemNow(), "upload"};
      for (size_t i = start; i < end; ++i) {
        if (rows[i].size() != header.size()) {
          chunk.rejected.push_back(json::object{
              {"row", i}, {"reason", fmt::format("has {} cells, the header has {}",
                                                 rows[i].size(), header.size())}});
          continue;
        }
        json::object body = CsvRowToBody(header, rows[i]);
        bool created = false;
        Status st = txn.Nested([&](store::WriteTxn& inner) {
          XOAL_ASSIGN_OR_RETURN(auto r, UpsertCustomer(inner, ctx, body));
          created = r.created;
          return Status::Ok();
        });
        if (!st.ok()) {
          std::string reason = st.field().empty() ? st.message() : st.field() + ": " + st.message();
          chunk.rejected.push_back(json::object{{"row", i}, {"reason", reason}});
        } else {
          ++(created ? chunk.created : chunk.updated);
        }
      }
      return Status::Ok();
    }));
    report.created += chunk.created;
    report.updated += chunk.updated;
    for (auto& r : chunk.rejected) report.rejected.push_back(std::move(r));
    spdlog::info("customer_import_progress project_id={} rows_done={} rows_total={} rejected={}",
                 project.id, end - 1, total, report.rejected.size());
  }
  return report;
}

}  // namespace xoal::core
