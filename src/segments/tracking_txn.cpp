#include "segments/tracking_txn.hpp"

namespace xoal::segments::internal {
namespace {

// The names of the attributes whose values differ between two copies of a customer.
void DiffAttributes(const store::Customer& before, const store::Customer& after,
                    std::set<std::string>& out) {
  if (before.user_id != after.user_id) out.insert("user_id");
  if (before.email != after.email) out.insert("email");
  if (before.created_at != after.created_at) out.insert("created_at");
  // Conditions read these built-ins too (segments::CustomerAttribute), e.g. "updated within
  // the last hour"; every write moves updated_at.
  if (before.updated_at != after.updated_at) out.insert("updated_at");
  if (before.added_via != after.added_via) out.insert("added_via");
  for (const auto& [k, v] : after.attributes) {
    auto it = before.attributes.find(k);
    if (it == before.attributes.end() || it->value() != v) out.emplace(k);
  }
  for (const auto& [k, v] : before.attributes) {
    if (!after.attributes.contains(k)) out.emplace(k);
  }
}

}  // namespace

void Changes::MergeFrom(Changes&& other) {
  if (!other.project_id.empty()) project_id = other.project_id;
  for (auto& [usid, d] : other.customers) {
    Dirty& mine = customers[usid];
    mine.all = mine.all || d.all;
    mine.created = mine.created || d.created;
    mine.companies = mine.companies || d.companies;
    mine.attributes.merge(d.attributes);
    mine.events.merge(d.events);
    mine.tags.merge(d.tags);
    mine.segments.merge(d.segments);
  }
  for (auto& [usid, into] : other.removed) removed[usid] = into;
  companies.merge(other.companies);
  for (auto& e : other.events) events.push_back(std::move(e));
  for (auto& c : other.recorded) recorded.push_back(std::move(c));
}

const store::Customer* TrackingTxn::ReadCopy(const std::string& usid) const {
  for (const TrackingTxn* t = this; t; t = t->parent_) {
    auto it = t->read_.find(usid);
    if (it != t->read_.end()) return &it->second;
  }
  return nullptr;
}

Dirty& TrackingTxn::Mark(std::string_view project_id, std::string_view usid) {
  changes_.project_id = std::string(project_id);
  return changes_.customers[std::string(usid)];
}

Result<std::optional<store::Customer>> TrackingTxn::FindCustomer(std::string_view project_id,
                                                                 store::CustomerKey key,
                                                                 std::string_view value) {
  auto found = inner_.FindCustomer(project_id, key, value);
  if (found.ok() && found->has_value()) read_[(*found)->usid] = **found;
  return found;
}

Status TrackingTxn::Nested(const std::function<Status(store::WriteTxn&)>& fn) {
  // The child reads this txn's copies through parent_ instead of copying them: a batch of N
  // messages, each nested, would otherwise copy up to N customers N times.
  TrackingTxn child(inner_);
  child.parent_ = this;
  Status st = inner_.Nested([&](store::WriteTxn&) { return fn(child); });
  if (st.ok()) {
    changes_.MergeFrom(std::move(child.changes_));
    for (auto& [usid, c] : child.read_) read_[usid] = std::move(c);
  }
  return st;
}

Status TrackingTxn::InsertCustomer(store::Customer& c) {
  XOAL_RETURN_IF_ERROR(inner_.InsertCustomer(c));
  Dirty& d = Mark(c.project_id, c.usid);
  d.all = true;
  d.created = true;
  read_[c.usid] = c;
  return Status::Ok();
}

Status TrackingTxn::UpdateCustomer(const store::Customer& c) {
  XOAL_RETURN_IF_ERROR(inner_.UpdateCustomer(c));
  Dirty& d = Mark(c.project_id, c.usid);
  const store::Customer* before = ReadCopy(c.usid);
  if (!before) {
    d.all = true;
  } else {
    DiffAttributes(*before, c, d.attributes);
  }
  read_[c.usid] = c;
  return Status::Ok();
}

Status TrackingTxn::AddTag(std::string_view p, std::string_view usid, std::string_view tag,
                           SystemTime at) {
  XOAL_RETURN_IF_ERROR(inner_.AddTag(p, usid, tag, at));
  Mark(p, usid).tags.emplace(tag);
  return Status::Ok();
}

Status TrackingTxn::RemoveTag(std::string_view p, std::string_view usid, std::string_view tag) {
  XOAL_RETURN_IF_ERROR(inner_.RemoveTag(p, usid, tag));
  Mark(p, usid).tags.emplace(tag);
  return Status::Ok();
}

Status TrackingTxn::AddAnonymousId(std::string_view p, std::string_view usid,
                                   std::string_view anonymous_id) {
  XOAL_RETURN_IF_ERROR(inner_.AddAnonymousId(p, usid, anonymous_id));
  Mark(p, usid).attributes.insert("anonymous_ids");
  return Status::Ok();
}

Status TrackingTxn::DeleteCustomer(std::string_view p, std::string_view usid) {
  XOAL_RETURN_IF_ERROR(inner_.DeleteCustomer(p, usid));
  changes_.project_id = std::string(p);
  changes_.customers.erase(std::string(usid));
  changes_.removed[std::string(usid)] = "";
  return Status::Ok();
}

Status TrackingTxn::MergeCustomerInto(std::string_view p, std::string_view from,
                                      std::string_view into, SystemTime at) {
  XOAL_RETURN_IF_ERROR(inner_.MergeCustomerInto(p, from, into, at));
  changes_.customers.erase(std::string(from));
  changes_.removed[std::string(from)] = std::string(into);
  Mark(p, into).all = true;
  return Status::Ok();
}

Status TrackingTxn::PutCompany(store::Company& c) {
  XOAL_RETURN_IF_ERROR(inner_.PutCompany(c));
  changes_.project_id = c.project_id;
  changes_.companies.insert(c.id);
  return Status::Ok();
}

Status TrackingTxn::DeleteCompany(std::string_view p, std::string_view id) {
  // Its members leave it: note them before the memberships are gone.
  store::PageRequest page{0, 1000};
  while (true) {
    XOAL_ASSIGN_OR_RETURN(auto members, inner_.ListMembers(p, id, page));
    for (const auto& m : members) Mark(p, m.usid).companies = true;
    if (members.size() < static_cast<size_t>(page.limit)) break;
    page.after_seq = members.back().seq;
  }
  return inner_.DeleteCompany(p, id);
}

Status TrackingTxn::PutMembership(store::Membership& m) {
  XOAL_RETURN_IF_ERROR(inner_.PutMembership(m));
  Mark(m.project_id, m.usid).companies = true;
  return Status::Ok();
}

Status TrackingTxn::DeleteMembership(std::string_view p, std::string_view company_id,
                                     std::string_view usid) {
  XOAL_RETURN_IF_ERROR(inner_.DeleteMembership(p, company_id, usid));
  Mark(p, usid).companies = true;
  return Status::Ok();
}

Status TrackingTxn::InsertEvent(store::Event& e) {
  XOAL_RETURN_IF_ERROR(inner_.InsertEvent(e));
  Mark(e.project_id, e.usid).events.insert(e.name);
  changes_.events.push_back(e);
  return Status::Ok();
}

}  // namespace xoal::segments::internal
