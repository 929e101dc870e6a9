// The brief's default endpoints, written once. tallyd binds them unless told
// otherwise (flags, config file); `tally`, the adapters and tally-bench
// connect to them by default; docs/client.md lists them (a test checks).
//
// Each is a plain character array so that an Options field can default to it
// (`std::string query_bind = api::kDefaultQueryEndpoint;`).
#pragma once

namespace tally::api {

// Fire-and-forget ingest: tallyd PULLs, clients PUSH NDJSON batches.
inline constexpr char kDefaultIngestEndpoint[] = "tcp://127.0.0.1:7001";
// Acknowledged batches: tallyd is a ROUTER, clients DEALERs.
inline constexpr char kDefaultSubmitEndpoint[] = "tcp://127.0.0.1:7002";
// The query and admin API (api/protocol.h): tallyd is a ROUTER, clients REQ or DEALER.
inline constexpr char kDefaultQueryEndpoint[] = "tcp://127.0.0.1:7003";
// Tier-change alerts: tallyd PUBlishes, first frame the topic.
inline constexpr char kDefaultAlertsEndpoint[] = "tcp://127.0.0.1:7004";
// Prometheus metrics: HTTP GET /metrics at HOST:PORT.
inline constexpr char kDefaultMetricsAddress[] = "127.0.0.1:9464";

}  // namespace tally::api
