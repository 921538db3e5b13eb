// Deliverability and links end to end (docs/messaging.md, "Deliverability" and "Links"): Xoal's
// own List-Unsubscribe and one-click unsubscribe, suppression lists, transactional bypass,
// frequency caps across a local midnight, quiet hours (hold and skip) in two time zones, open
// and click tracking with refusal of tampered tokens, and provider reports of delivery and
// bounces. Over `xoal serve --test-clock` with the SMTP sink.
#include "integration/messaging_fixture.hpp"

namespace xoal::testing {
namespace {

using MessagingPolicyTest = MessagingTest;

json::object Email(const std::string& usid, const std::string& key, bool transactional,
                   const std::string& html = "<p>Hi</p>") {
  return json::object{{"customer", json::object{{"usid", usid}}},
                      {"channel", "email"},
                      {"idempotency_key", key},
                      {"transactional", transactional},
                      {"message", json::object{{"subject", "News"}, {"html", html}}}};
}

class PolicyTest : public MessagingPolicyTest {
 protected:
  void SetClock(const std::string& iso) {
    ASSERT_TRUE(HasStatus(http_->Post("/_test/clock", json::object{{"set", iso}}), 200));
  }
  void Patch(const json::object& settings) {
    HttpResponse r = http_->Patch("/api/v1/project", settings, key());
    ASSERT_TRUE(HasStatus(r, 200)) << r.body;
  }
  json::value Send(const json::object& body) {
    HttpResponse r = Enqueue(body);
    EXPECT_TRUE(r.status == 201 || r.status == 200) << r.body;
    return r.json;
  }
  bool HasEvent(const std::string& usid, const std::string& name) {
    HttpResponse events = http_->Get("/api/v1/customers/" + usid + "/events", key());
    for (const auto& e : DataOf(events)) {
      if (Str(e, "name") == name) return true;
    }
    return false;
  }
};

TEST_F(PolicyTest, MarketingEmailCarriesXoalsOneClickUnsubscribe) {
  ConfigureEmail();
  Patch({{"public_base_url", "https://links.example"}});
  std::string usid = Ann();
  json::object body = Email(usid, "m-1", false, "<a href=\"{{ unsubscribe_url }}\">stop</a>");
  std::string id = Str(Send(body), "id");
  WaitForStatus(id, "sent", 1);

  auto received = smtp_.messages();
  ASSERT_EQ(received.size(), 1u);
  const std::string data = received[0].data;
  EXPECT_NE(data.find("List-Unsubscribe: <https://links.example/unsubscribe/"), std::string::npos)
      << data;
  EXPECT_NE(data.find("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"), std::string::npos);
  std::string header_path = PathAfter(data, "/unsubscribe/");
  ASSERT_FALSE(header_path.empty());
  // The template's {{ unsubscribe_url }} is the same link.
  std::string mime_body = DecodeQp(data.substr(data.find("\r\n\r\n")));
  EXPECT_EQ(PathAfter(mime_body, "https://links.example/unsubscribe/"),
            "https://links.example" + header_path);

  // GET only asks; the customer stays subscribed (mail scanners follow links).
  HttpResponse page = http_->Get(header_path);
  ASSERT_TRUE(HasStatus(page, 200));
  EXPECT_NE(page.body.find("<form method=\"post\""), std::string::npos);
  EXPECT_FALSE(HasEvent(usid, "unsubscribed"));

  // One-click POST (RFC 8058 body) unsubscribes and records the event.
  HttpResponse post = http_->SendRaw("POST", header_path, "List-Unsubscribe=One-Click",
                                     "application/x-www-form-urlencoded");
  ASSERT_TRUE(HasStatus(post, 200)) << post.body;
  HttpResponse c = http_->Get("/api/v1/customers/" + usid, key());
  EXPECT_EQ(JsonAt(c.json, "/email_subscribed"), "false") << c.body;
  EXPECT_TRUE(HasEvent(usid, "unsubscribed"));

  // Marketing now skips; transactional still goes.
  json::value skipped = Send(Email(usid, "m-2", false));
  EXPECT_EQ(Str(skipped, "status"), "skipped");
  EXPECT_EQ(Str(skipped, "skip_reason"), "unsubscribed");
  WaitForStatus(Str(Send(Email(usid, "t-1", true)), "id"), "sent", 1);

  // A tampered token is refused.
  std::string tampered = header_path;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_TRUE(HasStatus(http_->SendRaw("POST", tampered, "", ""), 404));
  EXPECT_TRUE(HasStatus(http_->Get(tampered), 404));
}

// Review 5: SPEC says marketing email carries an unsubscribe link, but a template without
// {{ unsubscribe_url }} got only the List-Unsubscribe header. Each part that does not show the
// link gets a footer with the header's link; a template that shows it and transactional email
// are left as written.
TEST_F(PolicyTest, MarketingEmailWithoutTheLinkInItsTemplateGetsAFooter) {
  ConfigureEmail();
  Patch({{"public_base_url", "https://links.example"}});
  std::string usid = Ann();
  json::object plain = Email(usid, "f-plain", false, "<html><body><p>Hi</p></body></html>");
  plain["message"].as_object()["text"] = "Hi";
  json::object own = Email(usid, "f-own", false, "<a href=\"{{ unsubscribe_url }}\">stop</a>");
  json::object receipt = Email(usid, "f-receipt", true, "<p>Receipt</p>");
  receipt["message"].as_object()["text"] = "Receipt";

  for (const json::object* body : {&plain, &own, &receipt}) {
    WaitForStatus(Str(Send(*body), "id"), "sent", 1);
  }

  auto mail = [&](const std::string& key) {
    for (const auto& m : smtp_.messages()) {
      if (m.data.find("X-Xoal-Idempotency-Key: " + key + "\r\n") != std::string::npos) {
        return m.data;
      }
    }
    return std::string();
  };
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  std::string url = ListUnsubscribeUrl(mail("f-plain"));
  ASSERT_NE(PathAfter(url, "https://links.example/unsubscribe/"), "") << mail("f-plain");
  std::string plain_body = DecodeQp(mail("f-plain").substr(mail("f-plain").find("\r\n\r\n")));
  EXPECT_NE(plain_body.find("<p>Hi</p><p style=\"font-size:12px;color:#666666\"><a href=\"" + url +
                            "\">Unsubscribe</a></p></body>"),
            std::string::npos)
      << plain_body;
  EXPECT_NE(plain_body.find("Hi\r\n\r\nUnsubscribe: " + url), std::string::npos) << plain_body;
  std::string own_body = DecodeQp(mail("f-own").substr(mail("f-own").find("\r\n\r\n")));
  EXPECT_EQ(count(own_body, ListUnsubscribeUrl(mail("f-own"))), 1u) << own_body;
  EXPECT_EQ(own_body.find("Unsubscribe"), std::string::npos) << own_body;
  EXPECT_EQ(mail("f-receipt").find("nsubscribe"), std::string::npos) << mail("f-receipt");
}

// With click tracking on, links in the HTML go through /t/click, but the footer is added after
// tracking: its link stays the List-Unsubscribe one, here the message's own unsubscribe_url.
TEST_F(PolicyTest, UnsubscribeFooterLinkIsNotAClickRedirect) {
  ConfigureEmail();
  Patch({{"public_base_url", "https://links.example"},
         {"tracking", json::object{{"opens", true}, {"clicks", true}}}});
  std::string usid = Ann();
  json::object body =
      Email(usid, "f-tracked", false, "<p><a href=\"https://shop.example/\">Shop</a></p>");
  body["message"].as_object()["unsubscribe_url"] = "https://lists.example/u/{{ customer.user_id }}";

  WaitForStatus(Str(Send(body), "id"), "sent", 1);

  ASSERT_EQ(smtp_.messages().size(), 1u);
  std::string data = smtp_.messages()[0].data;
  EXPECT_EQ(ListUnsubscribeUrl(data), "https://lists.example/u/ann-1");
  std::string decoded = DecodeQp(data);
  EXPECT_NE(decoded.find("<a href=\"https://lists.example/u/ann-1\">Unsubscribe</a>"),
            std::string::npos)
      << decoded;
  EXPECT_EQ(decoded.find("href=\"https://shop.example/"), std::string::npos) << decoded;
  EXPECT_NE(decoded.find("https://links.example/t/click/"), std::string::npos) << decoded;
}

// RFC 8058 one-click POSTs may be repeated (providers retry, people click twice): the customer
// is unsubscribed once, with one `unsubscribed` event.
TEST_F(PolicyTest, RepeatedOneClickUnsubscribeRecordsOneEvent) {
  Patch({{"public_base_url", "https://links.example"}});
  std::string usid = Ann();
  HttpResponse preview =
      http_->Post("/api/v1/templates/render",
                  json::object{{"customer", json::object{{"usid", usid}}},
                               {"message", json::object{{"text", "{{ unsubscribe_url }}"}}}},
                  key());
  ASSERT_TRUE(HasStatus(preview, 200)) << preview.body;
  std::string path = PathAfter(JsonAt(preview.json, "/message/text"), "/unsubscribe/");
  ASSERT_FALSE(path.empty()) << preview.body;
  for (int i = 0; i < 3; ++i) {
    HttpResponse post = http_->SendRaw("POST", path, "List-Unsubscribe=One-Click",
                                       "application/x-www-form-urlencoded");
    ASSERT_TRUE(HasStatus(post, 200)) << post.body;
  }
  HttpResponse events = http_->Get("/api/v1/customers/" + usid + "/events", key());
  int unsubscribed = 0;
  for (const auto& e : DataOf(events)) unsubscribed += Str(e, "name") == "unsubscribed" ? 1 : 0;
  EXPECT_EQ(unsubscribed, 1) << events.body;
}

TEST_F(PolicyTest, SuppressedAddressesAreNeverSentToTransactionalIncluded) {
  ConfigureEmail();
  std::string usid = Ann();
  HttpResponse add =
      http_->Post("/api/v1/suppressions", json::object{{"address", " Ann@Example.com"}}, key());
  ASSERT_TRUE(HasStatus(add, 201)) << add.body;
  EXPECT_EQ(Str(add.json, "address"), "ann@example.com");
  EXPECT_EQ(Str(add.json, "channel"), "email");
  EXPECT_TRUE(HasStatus(
      http_->Post("/api/v1/suppressions", json::object{{"address", "ann@example.com"}}, key()),
      200));
  EXPECT_TRUE(IsError(http_->Post("/api/v1/suppressions", json::object{{"address", "x"}}, key()),
                      422, "invalid", "address"));

  json::value m = Send(Email(usid, "t-1", true));
  EXPECT_EQ(Str(m, "status"), "skipped");
  EXPECT_EQ(Str(m, "skip_reason"), "suppressed");
  EXPECT_EQ(Column(http_->Get("/api/v1/messages?skip_reason=suppressed", key()), "id"),
            std::vector<std::string>{Str(m, "id")});
  EXPECT_EQ(Column(http_->Get("/api/v1/suppressions", key()), "address"),
            std::vector<std::string>{"ann@example.com"});

  EXPECT_TRUE(HasStatus(http_->Delete("/api/v1/suppressions/ann@example.com", key()), 204));
  EXPECT_TRUE(HasStatus(http_->Delete("/api/v1/suppressions/ann@example.com", key()), 404));
  WaitForStatus(Str(Send(Email(usid, "t-2", true)), "id"), "sent", 1);
  EXPECT_EQ(smtp_.messages().size(), 1u);
}

TEST_F(PolicyTest, FrequencyCapCountsDaysInTheCustomersZone) {
  ConfigureSms();
  Patch({{"frequency_cap", json::object{{"per_day", 2}}}});
  // 23:00 on March 2 in New York (UTC-5) is 04:00 UTC on March 3.
  SetClock("2026-03-03T03:30:00Z");
  std::string ny = CreateCustomer(
      json::object{{"user_id", "ny"}, {"phone", "+15550000001"}, {"timezone", "America/New_York"}});
  auto sms = [&](const std::string& usid, const std::string& key, bool transactional = false) {
    return Send(json::object{{"customer", json::object{{"usid", usid}}},
                             {"channel", "sms"},
                             {"idempotency_key", key},
                             {"transactional", transactional},
                             {"message", json::object{{"body", "hi"}}}});
  };
  EXPECT_EQ(Str(sms(ny, "a"), "status"), "queued");
  EXPECT_EQ(Str(sms(ny, "b"), "status"), "queued");
  json::value third = sms(ny, "c");
  EXPECT_EQ(Str(third, "skip_reason"), "frequency_cap");
  EXPECT_EQ(Str(sms(ny, "t", true), "status"), "queued");  // transactional is exempt
  // 00:10 local on March 3: a new day in New York.
  SetClock("2026-03-03T05:10:00Z");
  EXPECT_EQ(Str(sms(ny, "d"), "status"), "queued");
  // A customer without a zone counts in the project's (UTC): 05:10 is the same UTC day as the
  // messages below, so the cap holds after two.
  std::string utc = CreateCustomer(json::object{{"user_id", "utc"}, {"phone", "+15550000002"}});
  EXPECT_EQ(Str(sms(utc, "u1"), "status"), "queued");
  EXPECT_EQ(Str(sms(utc, "u2"), "status"), "queued");
  EXPECT_EQ(Str(sms(utc, "u3"), "skip_reason"), "frequency_cap");
}

TEST_F(PolicyTest, QuietHoursHoldOrSkipInEachCustomersZone) {
  ConfigureSms();
  Patch({{"quiet_hours", json::object{{"start", "21:00"}, {"end", "08:00"}}}});
  // Review 5: the default mode was applied but never shown.
  HttpResponse project = http_->Get("/api/v1/project", key());
  ASSERT_TRUE(HasStatus(project, 200));
  EXPECT_EQ(JsonAt(project.json, "/quiet_hours/mode"), "\"hold\"");
  // 21:30 UTC: 22:30 in Lagos (inside), 06:30 next day in Tokyo (inside, morning part),
  // 16:30 in New York (outside).
  SetClock("2026-03-02T21:30:00Z");
  auto customer = [&](const std::string& id, const std::string& zone, const std::string& phone) {
    return CreateCustomer(json::object{{"user_id", id}, {"phone", phone}, {"timezone", zone}});
  };
  std::string lagos = customer("lagos", "Africa/Lagos", "+15550000011");
  std::string tokyo = customer("tokyo", "Asia/Tokyo", "+15550000012");
  std::string ny = customer("ny", "America/New_York", "+15550000013");
  auto sms = [&](const std::string& usid, const std::string& key) {
    return Send(json::object{{"customer", json::object{{"usid", usid}}},
                             {"channel", "sms"},
                             {"idempotency_key", key},
                             {"message", json::object{{"body", "hi"}}}});
  };
  json::value l = sms(lagos, "l");
  json::value t = sms(tokyo, "t");
  EXPECT_EQ(Str(l, "status"), "queued");
  EXPECT_EQ(Str(l, "next_attempt_at"), "2026-03-03T07:00:00.000Z");  // 08:00 in Lagos
  EXPECT_EQ(JsonAt(l, "/last_answer/outcome"), "\"held\"");
  EXPECT_EQ(Str(t, "next_attempt_at"), "2026-03-02T23:00:00.000Z");  // 08:00 in Tokyo
  WaitForStatus(Str(sms(ny, "n"), "id"), "sent", 1);
  EXPECT_EQ(sms_.requests().size(), 1u);

  // The held message goes when the window opens, not before.
  SetClock("2026-03-02T23:00:00Z");
  WaitForStatus(Str(t, "id"), "sent", 1);
  EXPECT_EQ(Str(GetMessage(Str(l, "id")), "status"), "queued");
  SetClock("2026-03-03T07:00:00Z");
  WaitForStatus(Str(l, "id"), "sent", 1);

  // Skip mode: 22:30 in Lagos again, skipped at once.
  Patch({{"quiet_hours", json::object{{"start", "21:00"}, {"end", "08:00"}, {"mode", "skip"}}}});
  SetClock("2026-03-03T21:30:00Z");
  EXPECT_EQ(Str(sms(lagos, "l2"), "skip_reason"), "quiet_hours");
  EXPECT_EQ(Str(sms(ny, "n2"), "status"), "queued");
  EXPECT_TRUE(IsError(
      http_->Patch(
          "/api/v1/project",
          json::object{{"quiet_hours", json::object{{"start", "25:00"}, {"end", "08:00"}}}}, key()),
      422, "invalid", "quiet_hours.start"));
}

TEST_F(PolicyTest, OpensAndClicksAreTrackedOnlyForTheMessagesOwnLinks) {
  ConfigureEmail();
  Patch({{"tracking", json::object{{"opens", true}, {"clicks", true}}}});
  std::string usid = Ann();
  std::string id = Str(Send(Email(usid, "track-1", true,
                                  "<html><body><a href=\"https://shop.example/sale?a=1&amp;b=2\">"
                                  "Sale</a></body></html>")),
                       "id");
  WaitForStatus(id, "sent", 1);
  auto received = smtp_.messages();
  ASSERT_EQ(received.size(), 1u);
  std::string html = DecodeQp(received[0].data);
  EXPECT_EQ(html.find("https://shop.example"), std::string::npos) << html;
  std::string click = PathAfter(html, "/t/click/");
  std::string open = PathAfter(html, "/t/open/");
  ASSERT_FALSE(click.empty()) << html;
  ASSERT_FALSE(open.empty()) << html;

  HttpResponse pixel = http_->Get(open);
  ASSERT_TRUE(HasStatus(pixel, 200));
  EXPECT_EQ(pixel.Header("Content-Type"), "image/gif");
  EXPECT_TRUE(HasEvent(usid, "message_opened"));

  HttpResponse go = http_->Get(click);
  ASSERT_TRUE(HasStatus(go, 302));
  EXPECT_EQ(go.Header("Location"), "https://shop.example/sale?a=1&b=2");
  EXPECT_TRUE(HasEvent(usid, "message_clicked"));

  // A changed signature, or a token of another kind, is refused.
  std::string tampered = click;
  tampered.back() = tampered.back() == 'a' ? 'b' : 'a';
  EXPECT_TRUE(HasStatus(http_->Get(tampered), 404));
  EXPECT_TRUE(HasStatus(http_->Get("/t/click/" + open.substr(8)), 404));
  EXPECT_TRUE(HasStatus(http_->Get("/t/click/garbage"), 404));
}

TEST_F(PolicyTest, ProviderReportsRecordDeliveryAndHardBouncesSuppress) {
  ConfigureEmail();
  std::string usid = Ann();
  std::string id = Str(Send(Email(usid, "r-1", true)), "id");
  WaitForStatus(id, "sent", 1);
  std::string path = "/api/v1/messages/" + id + "/events";
  EXPECT_TRUE(HasStatus(http_->Post(path, json::object{{"type", "delivered"}}, key()), 200));
  EXPECT_TRUE(HasEvent(usid, "message_delivered"));
  EXPECT_TRUE(
      IsError(http_->Post(path, json::object{{"type", "lost"}}, key()), 422, "invalid", "type"));
  // Review 5: a misspelt member was ignored, so {"permanant": false} suppressed the address.
  EXPECT_TRUE(
      IsError(http_->Post(path, json::object{{"type", "bounced"}, {"permanant", false}}, key()),
              422, "invalid", "permanant"));
  EXPECT_FALSE(HasEvent(usid, "message_bounced"));
  HttpResponse bounce = http_->Post(path, json::object{{"type", "bounced"}}, key());
  ASSERT_TRUE(HasStatus(bounce, 200)) << bounce.body;
  EXPECT_TRUE(HasEvent(usid, "message_bounced"));
  EXPECT_EQ(Column(http_->Get("/api/v1/suppressions", key()), "reason"),
            std::vector<std::string>{"bounce"});
  EXPECT_EQ(Str(Send(Email(usid, "r-2", true)), "skip_reason"), "suppressed");
}

}  // namespace
}  // namespace xoal::testing
