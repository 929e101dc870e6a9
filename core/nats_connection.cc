#include "core/nats_connection.h"

#include <thread>

namespace tally::nats {
namespace {

struct OptionsDeleter {
  void operator()(natsOptions* options) const noexcept { natsOptions_Destroy(options); }
};

}  // namespace

Result<std::vector<std::string>> parse_urls(std::string_view comma_separated) {
  std::vector<std::string> urls;
  while (!comma_separated.empty()) {
    const std::size_t comma = comma_separated.find(',');
    std::string_view url = comma_separated.substr(0, comma);
    comma_separated =
        comma == std::string_view::npos ? std::string_view() : comma_separated.substr(comma + 1);
    while (!url.empty() && url.front() == ' ') url.remove_prefix(1);
    while (!url.empty() && url.back() == ' ') url.remove_suffix(1);
    if (!url.empty()) urls.emplace_back(url);
  }
  if (urls.empty()) {
    return Status::invalid_argument(
        "no NATS server given: expected URLs such as "
        "nats://127.0.0.1:4222[,nats://...]");
  }
  return urls;
}

Status status_of(natsStatus status, std::string_view doing, jsErrCode js_error) {
  if (status == NATS_OK) return Status::ok();
  std::string message(doing);
  message += ": ";
  message += natsStatus_GetText(status);
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0') {
    message += " (";
    message += last;
    message += ")";
  }
  if (js_error == JSStreamNotFoundErr || js_error == JSConsumerNotFoundErr ||
      status == NATS_NOT_FOUND) {
    return Status::not_found(std::move(message));
  }
  switch (status) {
    case NATS_TIMEOUT:
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_RESPONDERS:
    case NATS_STALE_CONNECTION:
    case NATS_IO_ERROR:
      return Status::unavailable(std::move(message));
    default:
      return Status::invalid_argument(std::move(message));
  }
}

Result<std::unique_ptr<Connection>> Connection::connect(const ConnectOptions& options) {
  if (options.urls.empty()) return Status::invalid_argument("no NATS server given");
  natsOptions* raw_options = nullptr;
  if (natsStatus s = natsOptions_Create(&raw_options); s != NATS_OK) {
    return status_of(s, "NATS options");
  }
  std::unique_ptr<natsOptions, OptionsDeleter> nats_options(raw_options);
  std::vector<const char*> servers;
  for (const std::string& url : options.urls) servers.push_back(url.c_str());
  natsStatus s =
      natsOptions_SetServers(raw_options, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetName(raw_options, options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(raw_options, options.timeout.count());
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(raw_options, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(raw_options, options.reconnect_wait.count());
  // Messages published while reconnecting wait in the client up to this
  // many bytes (the caller's retry covers the rest).
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(raw_options, 64 << 20);
  if (s != NATS_OK) return status_of(s, "NATS options");

  natsConnection* connection = nullptr;
  const auto deadline = std::chrono::steady_clock::now() + options.first_connect_patience;
  while (true) {
    s = natsConnection_Connect(&connection, raw_options);
    if (s == NATS_OK || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(options.reconnect_wait);
  }
  if (s != NATS_OK) {
    std::string urls;
    for (const std::string& url : options.urls) urls += (urls.empty() ? "" : ",") + url;
    return status_of(s, "cannot connect to NATS at " + urls);
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = options.timeout.count();
  jsCtx* jetstream = nullptr;
  if (s = natsConnection_JetStream(&jetstream, connection, &js_options); s != NATS_OK) {
    natsConnection_Destroy(connection);
    return status_of(s, "JetStream context");
  }
  return std::unique_ptr<Connection>(new Connection(options, connection, jetstream));
}

Connection::~Connection() {
  jsCtx_Destroy(jetstream_);
  natsConnection_Close(connection_);
  natsConnection_Destroy(connection_);
}

std::string Connection::connected_url() const {
  char buffer[256] = {};
  if (natsConnection_GetConnectedUrl(connection_, buffer, sizeof buffer) != NATS_OK) return "";
  return buffer;
}

bool Connection::connected() const noexcept {
  return natsConnection_Status(connection_) == NATS_CONN_STATUS_CONNECTED;
}

jsOptions Connection::api_options() const {
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = options_.timeout.count();
  return js_options;
}

Result<StreamInfo> stream_info(const Connection& connection, const std::string& stream) {
  jsStreamInfo* info = nullptr;
  jsErrCode error = jsErrCode(0);
  jsOptions js_options = connection.api_options();
  const natsStatus s =
      js_GetStreamInfo(&info, connection.jetstream(), stream.c_str(), &js_options, &error);
  if (s != NATS_OK) return status_of(s, "stream " + stream, error);
  return StreamInfo(info);
}

}  // namespace tally::nats
