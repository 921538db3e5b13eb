// `xoal dev smtp-sink`: a local SMTP server for development that accepts every message and prints
// one line per message, so a developer (and examples/quickstart.sh) can watch what Xoal sends
// without a real mail server. It is the SMTP sink the tests use (channels/testing/smtp_sink.hpp).
// Never for production: it has no TLS and accepts anything.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>

#include "app/commands.hpp"
#include "channels/testing/smtp_sink.hpp"

namespace xoal::app {
namespace {

// The value of header `name` in the header block of `data` (up to the first empty line), as
// sent (MIME encoded words are not decoded), or "".
std::string HeaderValue(const std::string& data, std::string_view name) {
  size_t end = data.find("\r\n\r\n");
  std::string_view headers(data.data(), end == std::string::npos ? data.size() : end);
  size_t pos = 0;
  while (pos < headers.size()) {
    size_t eol = headers.find("\r\n", pos);
    std::string_view line = headers.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        std::equal(name.begin(), name.end(), line.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      std::string_view v = line.substr(name.size() + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return std::string(v);
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 2;
  }
  return {};
}

}  // namespace

int RunDevSmtpSink(const DevSmtpSinkOptions& options) {
  auto colon = options.listen.rfind(':');
  uint16_t port = 0;
  std::string host = colon == std::string::npos ? "" : options.listen.substr(0, colon);
  std::string_view digits =
      colon == std::string::npos ? "" : std::string_view(options.listen).substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (host.empty() || digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    spdlog::error("invalid_listen_address listen=\"{}\" expected=HOST:PORT", options.listen);
    return 2;
  }
  if (!options.dir.empty()) std::filesystem::create_directories(options.dir);

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::mutex out_mu;
  int count = 0;
  channels::testing::SmtpSinkOptions sink_options;
  sink_options.on_message = [&](const channels::testing::SmtpReceived& m) {
    std::lock_guard lock(out_mu);
    ++count;
    std::string to;
    for (const auto& r : m.rcpt_to) to += (to.empty() ? "" : ",") + r;
    std::cout << "received n=" << count << " from=" << m.mail_from << " to=" << to << " subject=\""
              << HeaderValue(m.data, "Subject") << "\" bytes=" << m.data.size() << std::endl;
    if (!options.dir.empty()) {
      std::ofstream(options.dir / (std::to_string(count) + ".eml"), std::ios::binary) << m.data;
    }
  };
  channels::testing::SmtpSink sink(std::move(sink_options));
  if (Status st = sink.Start(host, port); !st.ok()) {
    spdlog::error("smtp_sink_listen_failed listen=\"{}\" error=\"{}\"", options.listen,
                  st.message());
    return 1;
  }
  std::cout << "smtp sink listening address=" << host << ":" << sink.port() << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  sink.Stop();
  return 0;
}

}  // namespace xoal::app
