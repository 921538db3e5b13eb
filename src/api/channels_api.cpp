// Channel configuration (SPEC, Management API "Settings"; Shapes "Channels"):
// GET and PUT /api/v1/channels/{email,sms,push,webhook}. Secrets are write-only.
#include <spdlog/spdlog.h>

#include "api/api.hpp"
#include "messaging/channel_config.hpp"

namespace xoal::api {
namespace {

using http::Method;

Result<messaging::Channel> ChannelParam(const ApiCall& call) {
  auto channel = messaging::ParseChannel(call.req.Param("channel"));
  if (!channel) {
    return Status::NotFound("no channel " + call.req.Param("channel") +
                            "; channels are email, sms, push and webhook");
  }
  return *channel;
}

json::object ChannelAnswer(messaging::Channel channel, const std::optional<json::object>& stored) {
  json::object out{{"channel", messaging::ChannelName(channel)},
                   {"configured", stored.has_value()}};
  if (stored) {
    for (auto& [k, v] : messaging::ChannelConfigToJson(channel, *stored)) out[k] = std::move(v);
  }
  return out;
}

http::Response GetChannel(Api& api, ApiCall& call) {
  auto channel = ChannelParam(call);
  if (!channel.ok()) return ErrorResponse(channel.status());
  std::optional<json::object> stored;
  Status st = api.deps().store.Read([&](store::ReadTxn& txn) {
    XOAL_ASSIGN_OR_RETURN(stored,
                          txn.GetChannelConfig(call.project.id, messaging::ChannelName(*channel)));
    return Status::Ok();
  });
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, ChannelAnswer(*channel, stored));
}

http::Response PutChannel(Api& api, ApiCall& call) {
  auto channel = ChannelParam(call);
  if (!channel.ok()) return ErrorResponse(channel.status());
  auto body = ParseObjectBody(call.req);
  if (!body.ok()) return ErrorResponse(body.status());
  std::string name(messaging::ChannelName(*channel));
  json::object saved;
  Status st = api.deps().store.Write([&](store::WriteTxn& txn) {
    // Read and replace in one transaction, so that a kept secret is the one stored now.
    XOAL_ASSIGN_OR_RETURN(auto previous, txn.GetChannelConfig(call.project.id, name));
    XOAL_ASSIGN_OR_RETURN(saved, messaging::ValidateChannelConfig(*channel, *body, previous));
    return txn.PutChannelConfig(call.project.id, name, saved, api.deps().clock.SystemNow());
  });
  if (!st.ok()) return ErrorResponse(st);
  spdlog::info("channel_configured project_id={} channel={}", call.project.id, name);
  return JsonResponse(200, ChannelAnswer(*channel, saved));
}

}  // namespace

void AddChannelRoutes(Api& api) {
  api.AddManagement(Method::kGet, "/api/v1/channels/{channel}", GetChannel);
  api.AddManagement(Method::kPut, "/api/v1/channels/{channel}", PutChannel);
}

}  // namespace xoal::api
