// Applying ingestion messages: identity resolution, merges, timestamp-ordered attributes,
// events, companies, de-duplication by messageId, and the ingestion error log.
//
// Identity (SPEC, Customers): a message's person is found by user_id, then anonymous id, then
// email, and created when none matches (added_via "data_ingestion"). An anonymous profile that
// identifies becomes the user's profile; when a message shows two profiles to be one person (an
// identify whose anonymous id or email belongs to another profile with no conflicting user_id,
// or an alias) they are merged, events included, so none is lost or counted twice.
#pragma once

#include <string>
#include <vector>

#include "common/clock.hpp"
#include "core/fields.hpp"
#include "ingest/message.hpp"
#include "store/store.hpp"

namespace xoal::ingest {

struct IngestContext {
  const store::Project* project = nullptr;
  Source source = Source::kApi;
  SystemTime received_at;
  core::FieldTypeCache* field_types = nullptr;  // set by IngestBatch for its transaction
};

struct Applied {
  bool duplicate = false;  // its messageId was seen before: nothing was changed
  std::string usid;        // the profile it was applied to
};

// Applies one message inside `txn`. A non-ok Status means the message cannot be applied; the
// caller runs this in WriteTxn::Nested so that its partial changes are undone. Parts that are
// dropped while the rest goes on (an attribute of the wrong type) are appended to msg.notes.
Result<Applied> ApplyMessage(store::WriteTxn& txn, const IngestContext& ctx, Message& msg);

// What one request did, as the ingestion endpoints answer it.
struct BatchResult {
  int accepted = 0;
  int duplicates = 0;
  json::array rejected;  // {"index": n, "reason": "..."}
};

// Normalizes and applies the items of one request in one store write, each on its own: an
// invalid or oversize item is rejected alone and the rest are applied. Returns once the
// accepted messages are durable. Rejections and notes go to the ingestion error log.
// `implied_type` is the message type a tracking API path implies ("" for none).
Result<BatchResult> IngestBatch(store::Store& store, const IngestContext& ctx,
                                const std::vector<json::value>& items,
                                std::string_view implied_type = {});

json::object IngestionErrorToJson(const store::IngestionError& e);

}  // namespace xoal::ingest
