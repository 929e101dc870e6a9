#include "core/rules_message.h"

#include <fmt/format.h>

#include "core/key_groups.h"
#include "core/partitions.h"

namespace tally::nats {

std::string rules_version(std::string_view toml_text) {
  return fmt::format("{:016x}", stable_hash64(toml_text));
}

std::string rules_subject(std::string_view stream) {
  std::string subject = partition_subject_prefix(stream);
  subject.resize(subject.size() - std::string_view("events.").size());
  return subject + "rules";
}

Result<Msg> make_rules_message(const std::string& subject, std::string_view version,
                               std::string_view text) {
  natsMsg* raw = nullptr;
  natsStatus s =
      natsMsg_Create(&raw, subject.c_str(), nullptr, text.data(), static_cast<int>(text.size()));
  if (s != NATS_OK) return status_of(s, "rules message");
  Msg message(raw);
  const std::string version_text(version);
  s = natsMsgHeader_Set(raw, kKindHeader, kRulesKind);
  if (s == NATS_OK) s = natsMsgHeader_Set(raw, kRulesVersionHeader, version_text.c_str());
  if (s != NATS_OK) return status_of(s, "rules message headers");
  return message;
}

bool is_rules_message(natsMsg* message) noexcept {
  const char* kind = nullptr;
  return natsMsgHeader_Get(message, kKindHeader, &kind) == NATS_OK && kind != nullptr &&
         std::string_view(kind) == kRulesKind;
}

Result<RulesMessage> read_rules_message(natsMsg* message) {
  const char* version = nullptr;
  if (natsMsgHeader_Get(message, kRulesVersionHeader, &version) != NATS_OK || version == nullptr) {
    return Status::invalid_argument(
        fmt::format("a rules message without its {} header", kRulesVersionHeader));
  }
  RulesMessage rules;
  rules.version = version;
  rules.text.assign(natsMsg_GetData(message),
                    static_cast<std::size_t>(natsMsg_GetDataLength(message)));
  if (rules_version(rules.text) != rules.version) {
    return Status::invalid_argument(
        fmt::format("a rules message marked version {} holds rules of version {}", rules.version,
                    rules_version(rules.text)));
  }
  rules.stream_sequence = natsMsg_GetSequence(message);
  return rules;
}

Result<std::optional<RulesMessage>> current_rules(const Connection& connection,
                                                  const std::string& stream) {
  natsMsg* raw = nullptr;
  jsErrCode error = jsErrCode(0);
  jsOptions options = connection.api_options();
  const std::string subject = rules_subject(stream);
  const natsStatus s = js_GetLastMsg(&raw, connection.jetstream(), stream.c_str(), subject.c_str(),
                                     &options, &error);
  if (s == NATS_NOT_FOUND && error != JSStreamNotFoundErr) return std::optional<RulesMessage>();
  if (s != NATS_OK) return status_of(s, "the log's rules (" + subject + ")", error);
  Msg message(raw);
  Result<RulesMessage> rules = read_rules_message(raw);
  if (!rules) return rules.status().with_context(subject);
  return std::optional<RulesMessage>(std::move(rules).value());
}

}  // namespace tally::nats
