#include "apps/tally/send_command.h"

#include <fmt/format.h>

#include <cstdio>

#include "apps/tally/cluster_command.h"
#include "apps/tally/input_lines.h"
#include "client/publisher.h"
#include "core/json_writer.h"

namespace tally::cli {
namespace {

using client::PublishSummary;

// Where the publisher's input line numbers (one count over every file) came from.
struct InputFile {
  std::string name;
  std::uint64_t first_line = 0;  // publisher input line of its line 1
};

std::string where(const std::vector<InputFile>& inputs, std::uint64_t input_line) {
  auto file = inputs.begin();
  for (auto it = inputs.begin(); it != inputs.end() && it->first_line <= input_line; ++it) {
    file = it;
  }
  return fmt::format("{}:{}", file->name == "-" ? "<stdin>" : file->name,
                     input_line - file->first_line + 1);
}

void print_send_json(const PublishSummary& s, const std::string& endpoint, bool ack,
                     const std::vector<InputFile>& inputs) {
  std::string out;
  JsonWriter json(out);
  json.begin_object().field("endpoint", endpoint).field("acknowledged", ack);
  json.field("events", s.events).field("sent", s.events_sent).field("batches", s.batches);
  if (ack) {
    json.field("accepted", s.accepted).field("duplicates", s.duplicates);
    json.field("rejected_total", s.rejected_total()).key("rejected").begin_object();
    for (const auto& [reason, count] : s.rejected) json.field(reason, count);
    json.end_object().key("rejected_lines").begin_array();
    for (const auto& line : s.rejected_lines) {
      json.begin_object().field("at", where(inputs, line.input_line));
      json.field("reason", line.reason).end_object();
    }
    json.end_array().field("resends", s.resends);
    json.field("unacknowledged_batches", s.unacknowledged_batches);
    json.field("unacknowledged_events", s.unacknowledged_events);
  }
  if (!s.failure.empty()) json.field("failure", s.failure);
  json.end_object();
  fmt::print("{}\n", out);
}

void print_send_summary(const PublishSummary& s, const std::string& endpoint, bool ack,
                        const std::vector<InputFile>& inputs) {
  if (s.events_sent == s.events) {
    fmt::print("sent {} events in {} {} to {}\n", s.events, s.batches,
               s.batches == 1 ? "batch" : "batches", endpoint);
  } else {
    fmt::print("sent {} of {} events to {}\n", s.events_sent, s.events, endpoint);
  }
  if (!ack) {
    fmt::print("fire-and-forget: tallyd does not answer; `tally stats` shows what it took\n");
    return;
  }
  fmt::print("accepted {}, duplicates {}, rejected {}, resends {}\n", s.accepted, s.duplicates,
             s.rejected_total(), s.resends);
  for (const auto& [reason, count] : s.rejected) fmt::print("  rejected {}: {}\n", reason, count);
  constexpr std::size_t kShown = 20;
  for (std::size_t i = 0; i < s.rejected_lines.size() && i < kShown; ++i) {
    fmt::print("  {}: {}\n", where(inputs, s.rejected_lines[i].input_line),
               s.rejected_lines[i].reason);
  }
  if (s.rejected_total() > kShown) {
    fmt::print("  (the first {} shown; tallyd's rejected.ndjson has every one)\n", kShown);
  }
}

}  // namespace

SendCommand::SendCommand(CLI::App& app) {
  command_ = app.add_subcommand(
      "send", "Publish NDJSON events (one JSON object a line) from files or stdin");
  command_->add_option("file", files_, "NDJSON files; - reads stdin")->required();
  command_->add_flag(
      "--ack", ack_,
      "Acknowledged batches (to --submit): resend unanswered ones, report what took");
  command_->add_option("--batch", batch_, "Events per message (1 = one a message)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command_
      ->add_option("--ack-timeout", ack_timeout_s_,
                   "--ack: seconds before an unanswered batch is sent again")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command_->add_option("--attempts", attempts_, "--ack: sends of one batch before giving up on it")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command_->add_option("--nats", nats_,
                       "Publish into the JetStream stream on these NATS servers (comma-separated) "
                       "instead of to one tallyd; exit 0 only when every event has a PubAck");
  command_->add_option("--stream", stream_, "--nats: the stream")->capture_default_str();
  command_->footer(
      "Without --ack, events go fire-and-forget to --ingest (PUSH): fastest, but\n"
      "tallyd does not answer. With --ack they go to --submit as acknowledged\n"
      "batches; the summary gives accepted, duplicates, rejected by reason (with\n"
      "the file and line of each rejected event) and resends, and the exit code\n"
      "is 1 unless every batch was acknowledged. Sending again is safe: events\n"
      "with ids tallyd has seen count as duplicates.\n\n"
      "Exit codes: 0 sent (and acknowledged); 1 some batch unacknowledged; 2 no\n"
      "connection, or a file cannot be read.\n\n"
      "Examples:\n"
      "  tally send events.ndjson --ack\n"
      "  zcat day.ndjson.gz | tally send - --batch 5000\n"
      "  tally --submit tcp://10.0.0.5:7002 send --ack a.ndjson b.ndjson\n"
      "  tally send --nats nats://127.0.0.1:4222 events.ndjson   (a cluster: docs/cluster.md)");
}

int SendCommand::run(zmq::context_t& context, const ClientOptions& options) const {
  if (!nats_.empty()) return send_to_jetstream(files_, nats_, stream_, batch_, options);
  const std::string& endpoint = ack_ ? options.submit_endpoint : options.ingest_endpoint;
  client::PublisherOptions publishing;
  publishing.endpoint = endpoint;
  publishing.acknowledged = ack_;
  publishing.batch_max_events = batch_;
  publishing.ack_timeout = to_ms(ack_timeout_s_);
  publishing.max_attempts = attempts_;
  publishing.send_timeout = options.timeout();
  publishing.curve = options.curve;
  client::Publisher publisher(context, publishing);

  std::vector<InputFile> inputs;
  std::uint64_t lines = 0;
  const int read = feed_lines(
      files_,
      [&](std::string_view line) {
        ++lines;
        return publisher.add(line);
      },
      [&](const std::string& name) {
        inputs.push_back({name, lines + 1});
      });
  if (read != kExitDone) return read;
  const PublishSummary summary = publisher.finish();
  if (options.json) {
    print_send_json(summary, endpoint, ack_, inputs);
  } else {
    print_send_summary(summary, endpoint, ack_, inputs);
  }
  if (!summary.failure.empty()) {
    std::fprintf(stderr, "tally: %s\n", summary.failure.c_str());
    return kExitNoAnswer;
  }
  if (!summary.complete()) {
    std::fprintf(stderr,
                 "tally: %llu batches (%llu events) were never acknowledged; sending them again "
                 "is safe\n",
                 static_cast<unsigned long long>(summary.unacknowledged_batches),
                 static_cast<unsigned long long>(summary.unacknowledged_events));
    return kExitError;
  }
  return kExitDone;
}

}  // namespace tally::cli
