#include "segments/tracking_txn.hpp"

#include <algorithm>

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

// Sorted and without repeats, as the store returns a customer's tags and anonymous ids.
void Normalize(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

void InsertSorted(std::vector<std::string>& v, std::string_view x) {
  auto it = std::lower_bound(v.begin(), v.end(), x);
  if (it == v.end() || *it != x) v.insert(it, std::string(x));
}

void EraseSorted(std::vector<std::string>& v, std::string_view x) {
  auto it = std::lower_bound(v.begin(), v.end(), x);
  if (it != v.end() && *it == x) v.erase(it);
}

}  // namespace

void Changes::MergeFrom(Changes&& other) {
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

const TrackingTxn::Copy* TrackingTxn::FindCopy(const std::string& usid) const {
  for (const TrackingTxn* t = this; t; t = t->parent_) {
    auto it = t->read_.find(usid);
    if (it != t->read_.end()) return &it->second;
  }
  return nullptr;
}

const store::Customer* TrackingTxn::ReadCopy(const std::string& usid) const {
  const Copy* copy = FindCopy(usid);
  return copy ? &copy->customer : nullptr;
}

const store::Customer* TrackingTxn::FreshCopy(const std::string& usid) const {
  const Copy* copy = FindCopy(usid);
  return copy && copy->fresh ? &copy->customer : nullptr;
}

TrackingTxn::Copy* TrackingTxn::OwnCopy(const std::string& usid) {
  auto it = read_.find(usid);
  if (it != read_.end()) return &it->second;
  const Copy* up = parent_ ? parent_->FindCopy(usid) : nullptr;
  return up ? &read_.emplace(usid, *up).first->second : nullptr;
}

void TrackingTxn::KeepFresh(store::Customer copy) {
  Normalize(copy.tags);
  Normalize(copy.anonymous_ids);
  std::string usid = copy.usid;
  read_[usid] = Copy{std::move(copy), true};
}

Status TrackingTxn::AnonymousIdMoving(std::string_view project_id, const std::string& anonymous_id,
                                      const std::string& usid) {
  XOAL_ASSIGN_OR_RETURN(
      auto owner, inner_.FindCustomer(project_id, store::CustomerKey::kAnonymousId, anonymous_id));
  if (owner && owner->usid != usid)
    Mark(project_id, owner->usid).attributes.insert("anonymous_ids");
  std::set<std::string> holders;
  for (const TrackingTxn* t = this; t; t = t->parent_) {
    for (const auto& [other, copy] : t->read_) {
      const auto& ids = copy.customer.anonymous_ids;
      if (other != usid && std::binary_search(ids.begin(), ids.end(), anonymous_id)) {
        holders.insert(other);
      }
    }
  }
  for (const auto& other : holders) OwnCopy(other)->fresh = false;
  return Status::Ok();
}

Changes& TrackingTxn::ChangesOf(std::string_view project_id) {
  auto it = changes_.find(project_id);
  if (it == changes_.end()) it = changes_.emplace(std::string(project_id), Changes{}).first;
  return it->second;
}

bool TrackingTxn::empty() const {
  return std::all_of(changes_.begin(), changes_.end(),
                     [](const auto& kv) { return kv.second.empty(); });
}

Dirty& TrackingTxn::Mark(std::string_view project_id, std::string_view usid) {
  return ChangesOf(project_id).customers[std::string(usid)];
}

void TrackingTxn::MarkTag(std::string_view project_id, std::string_view usid,
                          std::string_view tag) {
  Dirty& d = Mark(project_id, usid);
  d.tags.emplace(tag);
  d.attributes.insert("tags");  // conditions may read the list as the attribute "tags"
}

Result<std::optional<store::Customer>> TrackingTxn::FindCustomer(std::string_view project_id,
                                                                 store::CustomerKey key,
                                                                 std::string_view value) {
  auto found = inner_.FindCustomer(project_id, key, value);
  if (found.ok() && found->has_value()) KeepFresh(**found);
  return found;
}

Status TrackingTxn::Nested(const std::function<Status(store::WriteTxn&)>& fn) {
  // The child reads this txn's copies through parent_ instead of copying them: a batch of N
  // messages, each nested, would otherwise copy up to N customers N times.
  TrackingTxn child(inner_);
  child.parent_ = this;
  Status st = inner_.Nested([&](store::WriteTxn&) { return fn(child); });
  if (st.ok()) {
    for (auto& [pid, changes] : child.changes_) ChangesOf(pid).MergeFrom(std::move(changes));
    if (child.at_) at_ = child.at_;
    for (auto& [usid, c] : child.read_) read_[usid] = std::move(c);
  }
  return st;
}

Status TrackingTxn::InsertCustomer(store::Customer& c) {
  for (const auto& a : c.anonymous_ids) {
    XOAL_RETURN_IF_ERROR(AnonymousIdMoving(c.project_id, a, c.usid));
  }
  XOAL_RETURN_IF_ERROR(inner_.InsertCustomer(c));
  Dirty& d = Mark(c.project_id, c.usid);
  d.all = true;
  d.created = true;
  KeepFresh(c);
  return Status::Ok();
}

Status TrackingTxn::UpdateCustomer(const store::Customer& c) {
  XOAL_RETURN_IF_ERROR(inner_.UpdateCustomer(c));
  Dirty& d = Mark(c.project_id, c.usid);
  const Copy* before = FindCopy(c.usid);
  if (!before) {
    d.all = true;
    read_[c.usid] = Copy{c, false};  // its tags and anonymous ids are unknown
    return Status::Ok();
  }
  DiffAttributes(before->customer, c, d.attributes);
  // The update writes the profile's row only: the sets stay as the copy has them.
  Copy next{c, before->fresh};
  next.customer.tags = before->customer.tags;
  next.customer.anonymous_ids = before->customer.anonymous_ids;
  read_[c.usid] = std::move(next);
  return Status::Ok();
}

Status TrackingTxn::AddTag(std::string_view p, std::string_view usid, std::string_view tag,
                           SystemTime at) {
  XOAL_RETURN_IF_ERROR(inner_.AddTag(p, usid, tag, at));
  MarkTag(p, usid, tag);
  if (Copy* copy = OwnCopy(std::string(usid))) InsertSorted(copy->customer.tags, tag);
  return Status::Ok();
}

Status TrackingTxn::RemoveTag(std::string_view p, std::string_view usid, std::string_view tag) {
  XOAL_RETURN_IF_ERROR(inner_.RemoveTag(p, usid, tag));
  MarkTag(p, usid, tag);
  if (Copy* copy = OwnCopy(std::string(usid))) EraseSorted(copy->customer.tags, tag);
  return Status::Ok();
}

Status TrackingTxn::AddAnonymousId(std::string_view p, std::string_view usid,
                                   std::string_view anonymous_id) {
  XOAL_RETURN_IF_ERROR(AnonymousIdMoving(p, std::string(anonymous_id), std::string(usid)));
  XOAL_RETURN_IF_ERROR(inner_.AddAnonymousId(p, usid, anonymous_id));
  Mark(p, usid).attributes.insert("anonymous_ids");
  if (Copy* copy = OwnCopy(std::string(usid)))
    InsertSorted(copy->customer.anonymous_ids, anonymous_id);
  return Status::Ok();
}

Status TrackingTxn::DeleteCustomer(std::string_view p, std::string_view usid) {
  XOAL_RETURN_IF_ERROR(inner_.DeleteCustomer(p, usid));
  if (Copy* copy = OwnCopy(std::string(usid))) copy->fresh = false;
  Changes& changes = ChangesOf(p);
  changes.customers.erase(std::string(usid));
  changes.removed[std::string(usid)] = "";
  return Status::Ok();
}

Status TrackingTxn::MergeCustomerInto(std::string_view p, std::string_view from,
                                      std::string_view into, SystemTime at) {
  XOAL_RETURN_IF_ERROR(inner_.MergeCustomerInto(p, from, into, at));
  for (std::string_view u : {from, into}) {
    if (Copy* copy = OwnCopy(std::string(u))) copy->fresh = false;
  }
  Changes& changes = ChangesOf(p);
  changes.customers.erase(std::string(from));
  changes.removed[std::string(from)] = std::string(into);
  Mark(p, into).all = true;
  return Status::Ok();
}

Status TrackingTxn::PutCompany(store::Company& c) {
  XOAL_RETURN_IF_ERROR(inner_.PutCompany(c));
  ChangesOf(c.project_id).companies.insert(c.id);
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
  ChangesOf(e.project_id).events.push_back(e);
  return Status::Ok();
}

}  // namespace xoal::segments::internal
