#include "http/server.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace xoal::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

Method ToMethod(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
      return Method::kGet;
    case bhttp::verb::head:
      return Method::kHead;
    case bhttp::verb::post:
      return Method::kPost;
    case bhttp::verb::put:
      return Method::kPut;
    case bhttp::verb::patch:
      return Method::kPatch;
    case bhttp::verb::delete_:
      return Method::kDelete;
    case bhttp::verb::options:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Response ErrorResponse(int status, std::string_view code, std::string_view message) {
  Response r;
  r.status = status;
  r.body = "{\"error\":{\"code\":\"" + std::string(code) + "\",\"message\":\"" +
           std::string(message) + "\",\"field\":null}}";
  return r;
}

}  // namespace

class Session;

struct Server::State {
  ServerOptions options;
  Handler dispatch;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::unique_ptr<asio::thread_pool> workers;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> io_threads;
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};

  std::mutex mu;
  std::condition_variable cv;
  std::set<std::shared_ptr<Session>> sessions;  // guarded by mu
  int in_flight = 0;                            // guarded by mu

  void Accept();
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server::State& state, tcp::socket socket)
      : state_(state), stream_(std::move(socket)), strand_(stream_.get_executor()) {}

  void Start() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->ReadHeader(); });
  }

  // Closes the connection if it is waiting for a request; a request in progress finishes first.
  void CloseIfIdle() {
    asio::post(strand_, [self = shared_from_this()] {
      if (self->idle_) {
        beast::error_code ec;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        self->stream_.close();
      }
    });
  }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(state_.options.header_limit));
    parser_->body_limit(state_.options.body_limit);
    idle_ = true;
    if (state_.stopping) return Close();
    stream_.expires_after(state_.options.idle_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    idle_ = false;
    if (ec) return OnReadError(ec);
    stream_.expires_after(state_.options.read_timeout);
    if (beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
      // curl sends this for larger bodies and would otherwise wait a second before sending.
      auto cont =
          std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, 11);
      return bhttp::async_write(stream_, *cont,
                                [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                                  if (ec) return self->Close();
                                  self->ReadBody();
                                });
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      return WriteAndClose(ErrorResponse(413, "too_large", "request body over the limit"));
    }
    if (ec == bhttp::error::header_limit) {
      return WriteAndClose(ErrorResponse(431, "too_large", "request headers over the limit"));
    }
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset) {
      return Close();
    }
    WriteAndClose(ErrorResponse(400, "malformed", "malformed HTTP request"));
  }

  void OnBody(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    auto req = std::make_shared<Request>();
    req->method = ToMethod(msg.method());
    if (!SplitTarget(msg.target(), req->path, req->query)) {
      return WriteAndClose(ErrorResponse(400, "malformed", "bad escape in the request target"));
    }
    for (const auto& field : msg) {
      req->headers.emplace_back(Lower(field.name_string()), std::string(field.value()));
    }
    req->body = std::move(msg.body());
    {
      std::lock_guard lock(state_.mu);
      ++state_.in_flight;
    }
    stream_.expires_never();
    asio::post(*state_.workers, [self = shared_from_this(), req] {
      Response resp = self->state_.dispatch(*req);
      bool head = req->method == Method::kHead;
      asio::post(self->strand_, [self, resp = std::move(resp), head]() mutable {
        self->Write(std::move(resp), head);
      });
    });
  }

  void Write(Response resp, bool head) {
    auto out = std::make_shared<bhttp::response<bhttp::string_body>>();
    out->version(11);
    out->result(static_cast<unsigned>(resp.status));
    out->set(bhttp::field::server, "xoal");
    out->set(bhttp::field::content_type, resp.content_type);
    for (auto& [k, v] : resp.headers) out->set(k, v);
    bool keep = keep_alive_ && !state_.stopping;
    out->keep_alive(keep);
    out->body() = std::move(resp.body);
    out->prepare_payload();
    if (head) out->body().clear();
    stream_.expires_after(state_.options.read_timeout);
    bhttp::async_write(stream_, *out,
                       [self = shared_from_this(), out, keep](beast::error_code ec, size_t) {
                         self->Finished();
                         if (ec || !keep) return self->Close();
                         self->ReadHeader();
                       });
  }

  void WriteAndClose(Response resp) {
    keep_alive_ = false;
    {
      std::lock_guard lock(state_.mu);
      ++state_.in_flight;
    }
    Write(std::move(resp), false);
  }

  void Finished() {
    std::lock_guard lock(state_.mu);
    --state_.in_flight;
    state_.cv.notify_all();
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
    std::lock_guard lock(state_.mu);
    state_.sessions.erase(shared_from_this());
    state_.cv.notify_all();
  }

  Server::State& state_;
  beast::tcp_stream stream_;
  asio::strand<beast::tcp_stream::executor_type> strand_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool keep_alive_ = true;
  bool idle_ = true;
};

void Server::State::Accept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        spdlog::warn("http_accept_failed error=\"{}\"", ec.message());
      }
      if (!stopping && acceptor->is_open()) Accept();
      return;
    }
    if (stopping) return;
    auto session = std::make_shared<Session>(*this, std::move(socket));
    {
      std::lock_guard lock(mu);
      sessions.insert(session);
    }
    session->Start();
    Accept();
  });
}

Server::Server(ServerOptions options, Handler dispatch) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  state_->dispatch = std::move(dispatch);
}

Server::~Server() { Stop(); }

Result<uint16_t> Server::Start() {
  auto& s = *state_;
  beast::error_code ec;
  auto address = asio::ip::make_address(s.options.host, ec);
  if (ec) return Status::InvalidArgument("bad listen address " + s.options.host, "listen");
  tcp::endpoint endpoint(address, s.options.port);
  s.acceptor.emplace(s.ioc);
  if (s.acceptor->open(endpoint.protocol(), ec); ec) {
    return Status::Unavailable("cannot open socket: " + ec.message());
  }
  s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (s.acceptor->bind(endpoint, ec); ec) {
    return Status::Unavailable("cannot listen on " + s.options.host + ":" +
                               std::to_string(s.options.port) + ": " + ec.message());
  }
  if (s.acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Status::Unavailable("cannot listen: " + ec.message());
  }
  uint16_t port = s.acceptor->local_endpoint().port();

  s.workers = std::make_unique<asio::thread_pool>(s.options.worker_threads);
  s.work.emplace(s.ioc.get_executor());
  s.Accept();
  int n = s.options.io_threads > 0 ? s.options.io_threads
                                   : std::max(1u, std::thread::hardware_concurrency());
  for (int i = 0; i < n; ++i) s.io_threads.emplace_back([&s] { s.ioc.run(); });
  return port;
}

void Server::Stop() {
  auto& s = *state_;
  if (s.stopped.exchange(true)) return;
  s.stopping = true;
  if (s.acceptor) {
    asio::post(s.ioc, [&s] {
      beast::error_code ec;
      s.acceptor->close(ec);
    });
  }
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(s.mu);
    sessions.assign(s.sessions.begin(), s.sessions.end());
  }
  for (auto& session : sessions) session->CloseIfIdle();
  {
    std::unique_lock lock(s.mu);
    bool drained = s.cv.wait_for(lock, s.options.stop_timeout, [&s] { return s.in_flight == 0; });
    if (!drained) spdlog::warn("http_stop_timeout in_flight={}", s.in_flight);
  }
  if (s.workers) s.workers->join();
  s.work.reset();
  s.ioc.stop();
  for (auto& t : s.io_threads) t.join();
  s.io_threads.clear();
  std::lock_guard lock(s.mu);
  s.sessions.clear();
}

}  // namespace xoal::http
