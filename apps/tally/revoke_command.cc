#include "apps/tally/revoke_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "client/publisher.h"
#include "core/event_time.h"
#include "core/json_writer.h"

namespace tally::cli {

RevokeCommand::RevokeCommand(CLI::App& app) {
  command_ = app.add_subcommand(
      "revoke", "Cancel an event (an appeal upheld, a camera misread): its points go back");
  command_->add_option("subject", subject_, "Whose event")->required();
  command_->add_option("event_id", event_id_, "The id of the event to cancel")->required();
  command_
      ->add_option("--reason", reason_,
                   "Why, for the record (shown by explain and history; at most 120 bytes)")
      ->required();
  command_->add_option("--source", source_, "Who revokes it")->capture_default_str();
  command_->add_option("--id", id_,
                       "The revoke event's own id (default revoke:EVENT_ID, so sending the "
                       "same appeal twice records it once)");
  command_->add_option("--time", time_,
                       "When the decision was taken: RFC 3339 or epoch ms (default now)");
  command_->footer(
      "Sent on the acknowledged socket (--submit). The event's points stop counting at every\n"
      "date, as if it had never been accepted; if the event has not arrived yet, it is\n"
      "recorded as revoked when it does. Exits 0 when recorded (or already recorded), 1 if\n"
      "tallyd rejected it, 2 if it was not acknowledged.\n\n"
      "Example:\n"
      "  tally revoke plate:NY:ABC1234 nyc:4521236789 --reason \"appeal upheld: plate misread\" "
      "\\\n"
      "      --source dmv-appeals");
}

std::string RevokeCommand::event_line(const std::string& id) const {
  std::string line;
  JsonWriter json(line);
  json.begin_object().field("id", id).field("subject", subject_).field("type", "revoke");
  json.field("revokes", event_id_).key("time");
  // Digits are epoch milliseconds, sent as a JSON integer; anything else as a
  // string (tallyd checks RFC 3339 and rejects a bad one as bad_time).
  std::int64_t ms = 0;
  if (time_.empty()) {
    json.value(format_rfc3339_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count()));
  } else if (time_.find_first_not_of("0123456789") == std::string::npos &&
             std::from_chars(time_.data(), time_.data() + time_.size(), ms).ptr ==
                 time_.data() + time_.size()) {
    json.value(ms);
  } else {
    json.value(time_);
  }
  json.field("source", source_).key("attrs").begin_object().field("reason", reason_);
  json.end_object().end_object();
  return line;
}

int RevokeCommand::run(zmq::context_t& context, const ClientOptions& options) const {
  const std::string id = id_.empty() ? "revoke:" + event_id_ : id_;
  client::PublisherOptions publishing;
  publishing.endpoint = options.submit_endpoint;
  publishing.acknowledged = true;
  publishing.ack_timeout = to_ms(std::min(options.timeout_s, 2.0));
  publishing.max_attempts = std::max(1, static_cast<int>(options.timeout_s / 2.0) + 1);
  publishing.send_timeout = options.timeout();
  publishing.curve = options.curve;
  client::Publisher publisher(context, publishing);
  publisher.add(event_line(id));
  const client::PublishSummary summary = publisher.finish();
  if (!summary.complete()) {
    std::fprintf(stderr, "tally: the revoke was not acknowledged%s%s; sending it again is safe\n",
                 summary.failure.empty() ? "" : ": ", summary.failure.c_str());
    return kExitNoAnswer;
  }
  const char* outcome = summary.accepted > 0     ? "accepted"
                        : summary.duplicates > 0 ? "duplicate"
                                                 : "rejected";
  std::string rejection;
  if (!summary.rejected_lines.empty()) rejection = summary.rejected_lines.front().reason;
  if (options.json) {
    std::string out;
    JsonWriter json(out);
    json.begin_object().field("id", id).field("subject", subject_).field("revokes", event_id_);
    json.field("outcome", outcome);
    if (!rejection.empty()) json.field("reason", rejection);
    json.end_object();
    fmt::print("{}\n", out);
  } else if (summary.accepted > 0) {
    fmt::print("revoked {} of {} (revoke {}, source {}): {}\n", event_id_, subject_, id, source_,
               reason_);
  } else if (summary.duplicates > 0) {
    fmt::print("already recorded: revoke {} was sent before; nothing changed\n", id);
  } else {
    std::fprintf(stderr, "tally: the revoke was rejected: %s\n", rejection.c_str());
  }
  return summary.accepted + summary.duplicates > 0 ? kExitDone : kExitError;
}

}  // namespace tally::cli
