#include "messaging/links.hpp"

#include <gtest/gtest.h>

namespace xoal::messaging {
namespace {

core::MessagingSettings Settings() {
  core::MessagingSettings s;
  s.public_base_url = "https://xoal.example";
  s.link_secret = "secret-1";
  s.track_opens = true;
  s.track_clicks = true;
  return s;
}

TEST(LinkTokenTest, SignedTokensRoundTripAndRefuseTampering) {
  LinkToken t{LinkKind::kClick, "prj_1", "usr_1", "msg_1", "https://shop.example/a?b=1&c=2"};
  std::string token = SignLinkToken(t, "secret-1");
  auto parsed = ParseLinkToken(token);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->url, t.url);
  EXPECT_EQ(parsed->message_id, "msg_1");
  EXPECT_TRUE(VerifyLinkToken(token, "secret-1"));
  EXPECT_FALSE(VerifyLinkToken(token, "secret-2"));
  EXPECT_FALSE(VerifyLinkToken(token, ""));
  // Another destination under the same signature.
  LinkToken evil = t;
  evil.url = "https://evil.example/";
  std::string forged = SignLinkToken(evil, "other").substr(0, token.find('.') + 0);
  std::string swapped = SignLinkToken(evil, "x");
  swapped = swapped.substr(0, swapped.find('.')) + token.substr(token.find('.'));
  EXPECT_TRUE(ParseLinkToken(swapped));
  EXPECT_FALSE(VerifyLinkToken(swapped, "secret-1"));
  EXPECT_FALSE(ParseLinkToken("nodot"));
  EXPECT_FALSE(ParseLinkToken(forged));
}

TEST(LinkTokenTest, UnsubscribeUrlUsesTheBase) {
  std::string url = UnsubscribeUrl(Settings(), "prj_1", "usr_1");
  ASSERT_TRUE(url.starts_with("https://xoal.example/unsubscribe/")) << url;
  auto t = ParseLinkToken(url.substr(url.rfind('/') + 1));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, LinkKind::kUnsubscribe);
  EXPECT_EQ(t->usid, "usr_1");
}

TEST(AddTrackingTest, RewritesWebLinksAddsAPixelAndListsDestinations) {
  std::string html =
      "<html><body><a href=\"https://shop.example/a?x=1&amp;y=2\">A</a> "
      "<A class='b' HREF='http://b.example/'>B</A> <a href=\"mailto:hi@example.com\">m</a> "
      "<a href=\"https://shop.example/a?x=1&amp;y=2\">again</a> <abbr>no</abbr> "
      "<a href=\"https://xoal.example/unsubscribe/t\">u</a></body></html>";
  TrackedHtml t = AddTracking(html, Settings(), "prj_1", "usr_1", "msg_1");
  EXPECT_EQ(t.links,
            (std::vector<std::string>{"https://shop.example/a?x=1&y=2", "http://b.example/"}));
  EXPECT_EQ(t.html.find("https://shop.example"), std::string::npos) << t.html;
  EXPECT_NE(t.html.find("mailto:hi@example.com"), std::string::npos);
  EXPECT_NE(t.html.find("https://xoal.example/unsubscribe/t"), std::string::npos);
  size_t clicks = 0;
  for (size_t at = 0; (at = t.html.find("https://xoal.example/t/click/", at)) != std::string::npos;
       ++at) {
    ++clicks;
  }
  EXPECT_EQ(clicks, 3u);
  size_t pixel = t.html.find("<img src=\"https://xoal.example/t/open/");
  EXPECT_NE(pixel, std::string::npos);
  EXPECT_LT(pixel, t.html.find("</body>"));
}

TEST(AddTrackingTest, NothingWhenDisabled) {
  core::MessagingSettings s = Settings();
  s.track_opens = s.track_clicks = false;
  std::string html = "<a href=\"https://a.example/\">A</a>";
  TrackedHtml t = AddTracking(html, s, "p", "u", "m");
  EXPECT_EQ(t.html, html);
  EXPECT_TRUE(t.links.empty());
}

// Review 5: marketing email whose template does not show the unsubscribe link got only the
// List-Unsubscribe header; a body without the link gets a footer, one with it is left alone.
TEST(UnsubscribeFooterTest, AddsTheLinkOnlyWhereTheBodyDoesNotShowIt) {
  const std::string url = "https://xoal.example/unsubscribe/abc.123";

  EXPECT_EQ(HtmlWithUnsubscribeFooter("<html><body><p>Hi</p></BODY></html>", url),
            "<html><body><p>Hi</p><p style=\"font-size:12px;color:#666666\"><a "
            "href=\"https://xoal.example/unsubscribe/abc.123\">Unsubscribe</a></p></BODY></html>");
  EXPECT_EQ(HtmlWithUnsubscribeFooter("<p>Hi</p>", url),
            "<p>Hi</p><p style=\"font-size:12px;color:#666666\"><a "
            "href=\"https://xoal.example/unsubscribe/abc.123\">Unsubscribe</a></p>");
  EXPECT_EQ(HtmlWithUnsubscribeFooter("<a href=\"" + url + "\">stop</a>", url),
            "<a href=\"" + url + "\">stop</a>");
  EXPECT_EQ(HtmlWithUnsubscribeFooter("<a href=\"https://x.example/u?a=1&amp;b=2\">stop</a>",
                                      "https://x.example/u?a=1&b=2"),
            "<a href=\"https://x.example/u?a=1&amp;b=2\">stop</a>");
  EXPECT_EQ(HtmlWithUnsubscribeFooter("", url), "");
  EXPECT_EQ(TextWithUnsubscribeFooter("Hi", url), "Hi\n\nUnsubscribe: " + url + "\n");
  EXPECT_EQ(TextWithUnsubscribeFooter("Hi\n", url), "Hi\n\nUnsubscribe: " + url + "\n");
  EXPECT_EQ(TextWithUnsubscribeFooter("Stop: " + url, url), "Stop: " + url);
  EXPECT_EQ(TextWithUnsubscribeFooter("", url), "");
}

}  // namespace
}  // namespace xoal::messaging
