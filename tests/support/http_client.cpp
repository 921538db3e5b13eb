#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <optional>

namespace xoal::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

HttpResponse TransportError(std::string what, const beast::error_code& ec) {
  HttpResponse r;
  r.error = what + ": " + ec.message();
  return r;
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  std::string wanted = Lower(name);
  for (const auto& [k, v] : headers) {
    if (k == wanted) {
      return v;
    }
  }
  return {};
}

struct HttpClient::Impl {
  std::string host;
  uint16_t port;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  // Starts one async operation through `start`, runs the io_context until it completes, and
  // returns its error. The stream's expiry closes the socket, so this is bounded by `timeout`.
  template <class StartOp>
  beast::error_code Run(StartOp start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  beast::error_code Connect() {
    Disconnect();
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) {
      return ec;
    }
    stream.emplace(ioc);
    stream->expires_after(timeout);
    ec = Run([&](auto handler) { stream->async_connect(endpoints, std::move(handler)); });
    if (ec) {
      Disconnect();
    }
    return ec;
  }

  void Disconnect() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->close();
      stream.reset();
    }
    buffer.clear();
  }
};

HttpClient::HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() { impl_->Disconnect(); }

void HttpClient::Close() { impl_->Disconnect(); }

HttpResponse HttpClient::Request(std::string_view method, std::string_view target, std::string body,
                                 const HeaderList& headers) {
  bhttp::request<bhttp::string_body> req;
  bhttp::verb verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, impl_->host + ":" + std::to_string(impl_->port));
  for (const auto& [name, value] : headers) {
    req.insert(name, value);
  }
  req.body() = std::move(body);
  req.prepare_payload();

  // At most two attempts: the second only when a reused connection was found closed.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = impl_->stream.has_value();
    last_reused_ = reused;
    if (!reused) {
      if (beast::error_code ec = impl_->Connect()) {
        return TransportError("connect", ec);
      }
    }

    impl_->stream->expires_after(impl_->timeout);
    beast::error_code ec = impl_->Run(
        [&](auto handler) { bhttp::async_write(*impl_->stream, req, std::move(handler)); });
    if (ec) {
      impl_->Disconnect();
      if (reused && ec != beast::error::timeout) {
        continue;
      }
      return TransportError("write", ec);
    }

    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);
    parser.header_limit(64 * 1024);
    if (verb == bhttp::verb::head) {
      parser.skip(true);
    }
    impl_->stream->expires_after(impl_->timeout);
    ec = impl_->Run([&](auto handler) {
      bhttp::async_read(*impl_->stream, impl_->buffer, parser, std::move(handler));
    });
    if (ec) {
      bool nothing_read = !parser.got_some() && impl_->buffer.size() == 0;
      impl_->Disconnect();
      if (reused && nothing_read && ec != beast::error::timeout) {
        continue;
      }
      return TransportError("read", ec);
    }

    auto res = parser.release();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      out.headers.emplace_back(Lower(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(res.body());
    if (!out.body.empty()) {
      boost::system::error_code jec;
      out.json = boost::json::parse(out.body, jec);
      out.json_ok = !jec;
      if (jec) {
        out.json = nullptr;
      }
    }
    if (!res.keep_alive()) {
      impl_->Disconnect();
    }
    return out;
  }
  return TransportError("request", asio::error::connection_reset);
}

HttpResponse HttpClient::SendRaw(std::string_view method, std::string_view target, std::string body,
                                 std::string_view content_type, std::string_view key) {
  HeaderList headers;
  if (!content_type.empty()) {
    headers.emplace_back("Content-Type", std::string(content_type));
  }
  if (!key.empty()) {
    headers.emplace_back("Authorization", "Bearer " + std::string(key));
  }
  return Request(method, target, std::move(body), headers);
}

HttpResponse HttpClient::SendJson(std::string_view method, std::string_view target,
                                  const boost::json::value* body, std::string_view key) {
  if (body == nullptr) {
    return SendRaw(method, target, {}, {}, key);
  }
  return SendRaw(method, target, boost::json::serialize(*body), "application/json", key);
}

HttpResponse HttpClient::Get(std::string_view target, std::string_view key) {
  return SendJson("GET", target, nullptr, key);
}

HttpResponse HttpClient::Delete(std::string_view target, std::string_view key) {
  return SendJson("DELETE", target, nullptr, key);
}

HttpResponse HttpClient::Post(std::string_view target, const boost::json::value& body,
                              std::string_view key) {
  return SendJson("POST", target, &body, key);
}

HttpResponse HttpClient::Put(std::string_view target, const boost::json::value& body,
                             std::string_view key) {
  return SendJson("PUT", target, &body, key);
}

HttpResponse HttpClient::Patch(std::string_view target, const boost::json::value& body,
                               std::string_view key) {
  return SendJson("PATCH", target, &body, key);
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

}  // namespace xoal::testing
