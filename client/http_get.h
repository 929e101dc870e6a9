// A minimal HTTP/1.0 GET over a plain TCP socket, for reading tallyd's
// /metrics from tools (the benchmark driver, tests) without an HTTP library.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace tally::client {

// GET http://HOST:PORT/PATH with HOST an IPv4 address. The body of a 200
// answer, or nullopt (no connection, another status, or no progress for
// `timeout` while connecting, sending or reading). `basic_auth`, if not
// empty, is "USER:PASSWORD", sent as HTTP basic authentication.
std::optional<std::string> http_get(const std::string& host, int port, const std::string& path,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(30),
                                    const std::string& basic_auth = {});

}  // namespace tally::client
