#include "channels/sms.hpp"

#include "channels/classify.hpp"
#include "channels/curl_internal.hpp"

namespace xoal::channels {

SendResult TwilioSmsSender::Send(const SmsMessage& message, std::string_view idempotency_key,
                                 const SmsConfig& config) {
  if (config.base_url.empty() || !detail::IsPathSegment(config.account_sid) ||
      config.auth_token.empty() || config.from.empty()) {
    return InvalidConfig("sms needs base_url, account_sid, auth_token and from");
  }
  if (Status st = ValidateIdempotencyKey(idempotency_key); !st.ok()) {
    return InvalidMessage(st.field() + ": " + st.message());
  }
  if (message.to.empty() || message.body.empty()) {
    return InvalidMessage("an SMS needs a recipient and a body");
  }

  detail::HttpCall call;
  call.url = detail::StripTrailingSlash(config.base_url) + "/2010-04-01/Accounts/" +
             config.account_sid + "/Messages.json";
  call.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                  {"Accept", "application/json"},
                  {"I-Twilio-Idempotency-Token", std::string(idempotency_key)}};
  call.body =
      detail::FormEncode({{"To", message.to}, {"From", config.from}, {"Body", message.body}});
  call.basic_auth = {{config.account_sid, config.auth_token}};
  call.timeouts = config.timeouts;
  detail::HttpResponse response = detail::PerformHttp(call);

  SendResult result = detail::ClassifyHttp(response, clock_.SystemNow());
  if (result.sent()) result.provider_message_id = detail::JsonStringMember(response.body, "sid");
  detail::LogAttempt("sms", idempotency_key, result);
  return result;
}

}  // namespace xoal::channels
