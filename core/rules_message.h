// Rules carried by the replicated log: the one format the publisher
// (`tally cluster rules`, `tally cluster init --rules`) writes and tallyd's
// JetStream source reads (docs/cluster.md, "Rules through the log").
//
// A rules message is a NATS message with headers and the rules file's bytes
// as its body:
//
//   Tally-Kind: rules
//   Tally-Rules-Version: 9c1e0f23a4b5d6e7      16 hex digits, rules_version()
//   Nats-Msg-Id: rules-<version>-<after>-p<p>   (set by the publisher)
//   <body: the TOML file, exactly as validated>
//
// It is published into every partition subject (<stream>.events.<p>), where
// it is a barrier for the nodes that consume it, and last into
// <stream>.rules, so the log's current rules are one get-last-message away.
// The version is a hash of the file's bytes: two files with the same bytes
// are the same rules, anything else is a different version.
//
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/nats_connection.h"
#include "core/status.h"

namespace tally::nats {

inline constexpr const char* kKindHeader = "Tally-Kind";
inline constexpr const char* kRulesKind = "rules";
inline constexpr const char* kRulesVersionHeader = "Tally-Rules-Version";

// The version of a rules file's bytes: 16 lower-case hex digits.
std::string rules_version(std::string_view toml_text);

// "<stream lower case>.rules": where the latest rules message is kept.
std::string rules_subject(std::string_view stream);

struct RulesMessage {
  std::string version;
  std::string text;
  std::uint64_t stream_sequence = 0;  // 0 when unknown
};

// A message with the rules headers, for `subject`.
Result<Msg> make_rules_message(const std::string& subject, std::string_view version,
                               std::string_view text);
// Whether a message is marked as rules (a header lookup; event messages
// carry no headers).
bool is_rules_message(natsMsg* message) noexcept;
// The version and text of a rules message; refused when the version
// header is missing or does not match the body's bytes (a message damaged
// or written by hand).
Result<RulesMessage> read_rules_message(natsMsg* message);

// The log's current rules: the last message on <stream>.rules; nullopt
// when there is none (rules never published through the log).
Result<std::optional<RulesMessage>> current_rules(const Connection& connection,
                                                  const std::string& stream);

}  // namespace tally::nats
