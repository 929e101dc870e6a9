#include "tests/support/prometheus_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "client/http_get.h"
#include "tests/support/queries.h"

namespace tally::testing {

namespace fs = std::filesystem;

std::string PrometheusServer::program() {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    if (dir.empty()) continue;
    const fs::path candidate = fs::path(dir) / "prometheus";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

PrometheusServer::PrometheusServer(const fs::path& config, const fs::path& storage_dir) {
  const std::string binary = program();
  if (binary.empty()) throw std::runtime_error("prometheus is not installed");
  process_ = std::make_unique<ChildProcess>(std::vector<std::string>{
      binary, "--config.file=" + config.string(), "--storage.tsdb.path=" + storage_dir.string(),
      "--web.listen-address=127.0.0.1:0"});

  const auto fail = [&](const std::string& what) {
    process_->kill();
    process_->wait_for_output_end(std::chrono::seconds(10));
    throw std::runtime_error("prometheus " + what + "; it printed:\n" + process_->output());
  };
  // level=info component=web msg="Listening on" address=127.0.0.1:42797
  const auto listening = process_->wait_for_line(
      [](std::string_view line) {
        return line.find("msg=\"Listening on\"") != std::string_view::npos &&
               line.find("address=") != std::string_view::npos;
      },
      kStartTimeout);
  if (!listening) fail("did not say where it listens");
  const std::string& line = *listening;
  const auto address = line.find("address=", line.find("Listening on"));
  const auto colon = line.find(':', address);
  const auto end = line.find_first_not_of("0123456789", colon + 1);
  port_ = std::atoi(line.substr(colon + 1, end - colon - 1).c_str());
  if (port_ <= 0) fail("printed a listening line without a port: " + line);

  const bool ready = eventually(
      [&] {
        return !process_->exited() && client::http_get("127.0.0.1", port_, "/-/ready").has_value();
      },
      kStartTimeout, std::chrono::milliseconds(50));
  if (!ready) fail("did not answer /-/ready");
}

PrometheusServer::~PrometheusServer() {
  if (::testing::Test::HasFailure() && process_) {
    std::fprintf(stderr, "---- prometheus (pid %d) printed:\n%s---- end of prometheus's output\n",
                 static_cast<int>(process_->pid()), process_->output().c_str());
  }
}

std::optional<simdjson::dom::element> PrometheusServer::get_data(const std::string& path) {
  std::optional<std::string> body = client::http_get("127.0.0.1", port_, path);
  if (!body) return std::nullopt;
  body_ = std::move(*body);
  simdjson::dom::element answer;
  std::string_view status;
  simdjson::dom::element data;
  if (parser_.parse(body_).get(answer) != simdjson::SUCCESS ||
      answer["status"].get(status) != simdjson::SUCCESS || status != "success" ||
      answer["data"].get(data) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return data;
}

std::optional<simdjson::dom::array> PrometheusServer::instant_query(std::string_view expr) {
  const auto data = get_data("/api/v1/query?query=" + url_encode(expr));
  simdjson::dom::array result;
  if (!data || (*data)["result"].get(result) != simdjson::SUCCESS) return std::nullopt;
  return result;
}

std::optional<simdjson::dom::array> PrometheusServer::rule_groups() {
  const auto data = get_data("/api/v1/rules");
  simdjson::dom::array groups;
  if (!data || (*data)["groups"].get(groups) != simdjson::SUCCESS) return std::nullopt;
  return groups;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || byte == '-' || byte == '_' ||
                            byte == '.' || byte == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

}  // namespace tally::testing
