#include "apps/tally/cluster_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>

#include "api/answers.h"
#include "apps/tally/cluster_routing.h"
#include "apps/tally/input_lines.h"
#include "client/cluster_file.h"
#include "client/jetstream_admin.h"
#include "client/jetstream_publisher.h"
#include "core/json_writer.h"
#include "core/nats_connection.h"
#include "core/rules_message.h"
#include "scorer/rules.h"

namespace tally::cli {
namespace {

int fail(const Status& status) {
  std::fprintf(stderr, "tally: %s\n", status.to_string().c_str());
  return status.code() == Status::Code::kUnavailable ||
                 status.code() == Status::Code::kInvalidArgument ||
                 status.code() == Status::Code::kOutOfRange
             ? kExitNoAnswer
             : kExitError;
}

Result<std::unique_ptr<nats::Connection>> connect(const std::string& urls_text,
                                                  const ClientOptions& options) {
  Result<std::vector<std::string>> urls = nats::parse_urls(urls_text);
  if (!urls) return urls.status();
  nats::ConnectOptions connect_options;
  connect_options.urls = std::move(urls).value();
  connect_options.name = "tally";
  connect_options.timeout = options.timeout();
  return nats::Connection::connect(connect_options);
}

void print_stream(const client::StreamState& state, bool json_output) {
  const std::int64_t max_age_ms = state.spec.max_age.count() * 1000;
  const std::int64_t window_ms = state.spec.duplicate_window.count() * 1000;
  if (json_output) {
    std::string out;
    JsonWriter json(out);
    json.begin_object()
        .field("stream", state.spec.stream)
        .field("created", state.created)
        .field("partitions", state.spec.partitions)
        .field("subjects", partition_subject_prefix(state.spec.stream) + "<partition>")
        .field("replicas", state.spec.replicas)
        .field("max_age", scorer::format_duration(max_age_ms))
        .field("duplicate_window", scorer::format_duration(window_ms))
        .field("messages", state.messages)
        .field("bytes", state.bytes)
        .field("leader", state.leader)
        .end_object();
    fmt::print("{}\n", out);
    return;
  }
  fmt::print(
      "stream {}: {} partitions (subjects {}0 .. {}{}), {} replicas, max age {}, "
      "duplicate window {}\n",
      state.spec.stream, state.spec.partitions, partition_subject_prefix(state.spec.stream),
      partition_subject_prefix(state.spec.stream), state.spec.partitions - 1, state.spec.replicas,
      scorer::format_duration(max_age_ms), scorer::format_duration(window_ms));
  fmt::print("  {} messages, {} bytes{}\n", state.messages, state.bytes,
             state.leader.empty() ? "" : fmt::format(", leader {}", state.leader));
  for (const std::string& replica : state.replicas) fmt::print("  replica {}\n", replica);
}

// What `cluster status --cluster FILE` says of one node of the file.
struct NodeHealth {
  std::string name;
  std::string state;   // healthy, catching_up, down, not_consuming
  std::string detail;  // for people
  bool ok() const { return state == "healthy" || state == "catching_up"; }
};

// Each node of the cluster file: does it answer (`stats`, within
// --node-timeout), does the stream show its consumers, how far behind is it.
// `consumed` maps node name -> (partitions per its consumers, pending).
std::vector<NodeHealth> node_health(
    const client::ClusterFile& cluster, const ClientOptions& options,
    const std::map<std::string, std::pair<std::string, std::uint64_t>>& consumed) {
  zmq::context_t context(1);
  std::vector<NodeHealth> out;
  for (const client::ClusterNode& node : cluster.nodes) {
    NodeHealth health{node.name, "healthy", ""};
    const Result<std::string> answer =
        ask_node(context, options, node, api::to_json(api::Request(api::StatsRequest{})));
    const auto stats = answer ? api::parse_answer<api::StatsAnswer>(*answer)
                              : Result<api::StatsAnswer>(answer.status());
    const auto found = consumed.find(node.name);
    if (!stats) {
      health.state = "down";
      health.detail =
          fmt::format("no answer from {}: {}", node.query_endpoint, stats.status().to_string());
    } else if (found == consumed.end()) {
      health.state = "not_consuming";
      health.detail = fmt::format(
          "answers at {} but the stream has no consumer of node {} (not started with --nats, "
          "or under another --node)",
          node.query_endpoint, node.name);
    } else {
      health.detail =
          fmt::format("{} events settled, {} subjects, rules version {}",
                      stats->totals().processed(), stats->subjects, stats->rules_version);
      if (found->second.second > 0) {
        health.state = "catching_up";
        health.detail += fmt::format(", {} messages behind", found->second.second);
      }
      if (found->second.first != node.partitions.to_string()) {
        health.detail += fmt::format("; consumes partitions {}, the file says {}",
                                     found->second.first, node.partitions.to_string());
      }
    }
    out.push_back(std::move(health));
  }
  return out;
}

// The rules file's bytes, validated as tallyd validates them (a file that
// cannot be read is refused as load_rules_file refuses it).
Result<std::string> read_valid_rules(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return scorer::load_rules_file(path, 1).status();
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Result<std::shared_ptr<const scorer::RuleSet>> rules = scorer::parse_rules(text, path, 1);
  if (!rules) return rules.status();
  return text;
}

void print_rules_published(const client::RulesPublished& published, const std::string& stream,
                           bool json_output) {
  if (json_output) {
    std::string out;
    JsonWriter json(out);
    json.begin_object()
        .field("stream", stream)
        .field("version", published.version)
        .field("partitions", published.partitions)
        .field("already_stored", published.already)
        .field("unchanged", published.unchanged)
        .field("subject_added", published.subject_added)
        .end_object();
    fmt::print("{}\n", out);
    return;
  }
  if (published.subject_added) {
    fmt::print("added subject {} to stream {}\n", nats::rules_subject(stream), stream);
  }
  if (published.unchanged) {
    fmt::print("rules version {} are the log's current rules already; nothing published\n",
               published.version);
    return;
  }
  fmt::print(
      "published rules version {} into {} partitions of stream {} ({} stored before), and "
      "to {}\n",
      published.version, published.partitions, stream, published.already,
      nats::rules_subject(stream));
}

}  // namespace

ClusterCommand::ClusterCommand(CLI::App& app) {
  command_ = app.add_subcommand(
      "cluster",
      "The replicated log on NATS JetStream: make its stream, change its rules, see its consumers");
  command_->require_subcommand(1);
  init_ = command_->add_subcommand(
      "init", "Make the stream tallyd nodes consume (once; a second run changes nothing)");
  status_ = command_->add_subcommand(
      "status", "The stream, and each node's partitions with their consumer lag");
  rules_command_ = command_->add_subcommand(
      "rules", "Change the rules of every node: a rules message into every partition of the log");
  for (CLI::App* sub : {init_, status_, rules_command_}) {
    sub->add_option("--nats", nats_, "NATS servers, comma-separated (nats://HOST:PORT,...)")
        ->required();
    sub->add_option("--stream", stream_, "Stream name")->capture_default_str();
  }
  init_
      ->add_option("--partitions", partitions_,
                   "Partitions (fixed for the stream's life; divides 4096)")
      ->capture_default_str();
  init_->add_option("--replicas", replicas_, "Copies of every message, on different servers (1-5)")
      ->capture_default_str();
  init_->add_option("--max-age", max_age_, "Keep messages this long (s, m, h, d, w)")
      ->capture_default_str();
  init_->add_option("--rules", rules_,
                    "Rules file: the max age is raised to its `retain` if that is longer; a new "
                    "stream starts with it (a rules message in every partition)");
  init_
      ->add_option("--duplicate-window", duplicate_window_,
                   "A message id seen within this is stored once")
      ->capture_default_str();
  init_->footer(
      "The stream has one subject per partition, <stream lower case>.events.<p>; an\n"
      "event's partition is its subject's key group modulo the partition count, so\n"
      "every event of a subject is in one partition. Its max age must be at least the\n"
      "rules' `retain`, so that a node rebuilding from the stream sees every event\n"
      "that still counts. With --rules, a stream it makes starts with those rules\n"
      "in every partition (as `tally cluster rules` would put them).\n\n"
      "Example:\n"
      "  tally cluster init --nats nats://127.0.0.1:4222,nats://127.0.0.1:4223 \\\n"
      "      --partitions 64 --replicas 3 --rules config/rules/demerit-ny.toml");
  rules_command_->add_option("file", rules_, "The rules file (TOML)")->required();
  rules_command_->footer(
      "Validates FILE as tallyd would (a refused file: FILE:LINE:COLUMN: reason, exit 3),\n"
      "then publishes it, marked as rules with its version (a hash of its bytes), into\n"
      "every partition <stream>.events.<p>, and last into <stream>.rules (the log's\n"
      "current rules). Exit 0 only when every partition acknowledged it; a run that\n"
      "failed part-way is completed by running it again with the same file.\n\n"
      "Each node switches when it has consumed the rules message in every partition it\n"
      "owns: events before it keep the old rules' points, events after it get the new\n"
      "ones, on every replica alike. In a cluster this is the only way rules change:\n"
      "tallyd refuses `reload`, SIGHUP and --watch-rules, and refuses to start with a\n"
      "--rules file that is neither the log's current rules nor the ones it holds.\n\n"
      "Example:\n"
      "  tally cluster rules --nats nats://127.0.0.1:4222 config/rules/demerit-ny.toml");
  status_->add_option("--cluster", cluster_file_,
                      "cluster.toml: also ask each node listed for its health (exit 1 if one "
                      "is down or not consuming)");
  status_->footer(
      "Each tallyd node has one durable consumer per partition it owns, named\n"
      "tally_<node>_p<partition>; `pending` is what it has still to read (the lag).\n"
      "With --cluster FILE each node of the file is asked for `stats` (within\n"
      "--node-timeout) and said to be healthy, catching_up (it answers and has\n"
      "messages to read), down (no answer) or not_consuming (it answers, but the\n"
      "stream has no consumer of that node name).");
}

int ClusterCommand::run(const ClientOptions& options) const {
  if (init_->parsed()) return init(options);
  if (rules_command_->parsed()) return publish_rules(options);
  return status(options);
}

int ClusterCommand::init(const ClientOptions& options) const {
  client::StreamSpec spec;
  spec.stream = stream_;
  spec.partitions = partitions_;
  spec.replicas = replicas_;
  const Result<std::int64_t> max_age_ms = scorer::parse_duration_ms(max_age_);
  if (!max_age_ms) return fail(max_age_ms.status().with_context("--max-age"));
  const Result<std::int64_t> window_ms = scorer::parse_duration_ms(duplicate_window_);
  if (!window_ms) return fail(window_ms.status().with_context("--duplicate-window"));
  std::int64_t keep_ms = *max_age_ms;
  std::string rules_text;
  if (!rules_.empty()) {
    Result<std::string> text = read_valid_rules(rules_);
    if (!text) return fail(text.status());
    auto rules = scorer::parse_rules(*text, rules_, 1);
    keep_ms = std::max(keep_ms, (*rules)->score().retain_ms);
    rules_text = std::move(text).value();
  }
  spec.max_age = std::chrono::seconds(keep_ms / 1000);
  spec.duplicate_window = std::chrono::seconds(*window_ms / 1000);
  auto connection = connect(nats_, options);
  if (!connection) return fail(connection.status());
  const Result<client::StreamState> state = client::init_stream(**connection, spec);
  if (!state) return fail(state.status());
  if (!options.json) {
    fmt::print("{}\n", state->created ? fmt::format("created stream {}", stream_)
                                      : fmt::format("stream {} exists; nothing changed", stream_));
  }
  print_stream(*state, options.json);
  // A new stream starts with its rules in every partition, so that a node
  // rebuilding from the first message decodes every event by the rules it
  // was published under. An existing stream keeps its rules: changing them
  // is `tally cluster rules`.
  if (state->created && !rules_.empty()) {
    const Result<client::RulesPublished> published =
        client::publish_rules(**connection, stream_, rules_text);
    if (!published) return fail(published.status());
    print_rules_published(*published, stream_, options.json);
  }
  return kExitDone;
}

int ClusterCommand::publish_rules(const ClientOptions& options) const {
  const Result<std::string> text = read_valid_rules(rules_);
  if (!text) {
    std::fprintf(stderr, "tally: rules refused: %s\n", text.status().to_string().c_str());
    return kExitRulesRefused;
  }
  auto connection = connect(nats_, options);
  if (!connection) return fail(connection.status());
  const Result<client::RulesPublished> published =
      client::publish_rules(**connection, stream_, *text);
  if (!published) return fail(published.status());
  print_rules_published(*published, stream_, options.json);
  return kExitDone;
}

int ClusterCommand::status(const ClientOptions& options) const {
  auto connection = connect(nats_, options);
  if (!connection) return fail(connection.status());
  const Result<client::StreamState> state = client::describe_stream(**connection, stream_);
  if (!state) return fail(state.status());
  const Result<std::vector<client::ConsumerState>> consumers =
      client::list_consumers(**connection, stream_);
  if (!consumers) return fail(consumers.status());
  // Consumers named tally_<node>_p<partition>, grouped by node.
  struct NodeView {
    std::vector<std::uint32_t> partitions;
    std::string partition_list;         // "3,0,1": as the consumers came
    std::optional<PartitionSet> owned;  // the list as a set, if it is one
    std::uint64_t pending = 0;
    std::int64_t ack_pending = 0;
    std::int64_t redelivered = 0;
    std::vector<const client::ConsumerState*> consumers;
  };
  std::map<std::string, NodeView> nodes;
  for (const client::ConsumerState& consumer : *consumers) {
    std::string node = consumer.name;
    if (node.starts_with("tally_")) node = node.substr(6);
    if (const std::size_t cut = node.rfind("_p"); cut != std::string::npos) node.resize(cut);
    NodeView& view = nodes[node];
    if (consumer.partition >= 0) {
      view.partitions.push_back(static_cast<std::uint32_t>(consumer.partition));
    }
    view.pending += consumer.pending;
    view.ack_pending += consumer.ack_pending;
    view.redelivered += consumer.redelivered;
    view.consumers.push_back(&consumer);
  }
  for (auto& [name, view] : nodes) {
    for (std::uint32_t p : view.partitions) {
      view.partition_list += (view.partition_list.empty() ? "" : ",") + std::to_string(p);
    }
    if (auto parsed = PartitionSet::parse(view.partition_list, state->spec.partitions)) {
      view.owned = std::move(parsed).value();
    }
  }
  std::vector<NodeHealth> healths;
  if (!cluster_file_.empty()) {
    const Result<client::ClusterFile> cluster = client::ClusterFile::load(cluster_file_);
    if (!cluster) return fail(cluster.status());
    std::map<std::string, std::pair<std::string, std::uint64_t>> consumed;
    for (const auto& [name, view] : nodes) {
      consumed[name] = {view.owned ? view.owned->to_string() : view.partition_list, view.pending};
    }
    healths = node_health(*cluster, options, consumed);
  }
  const bool all_ok =
      std::all_of(healths.begin(), healths.end(), [](const NodeHealth& h) { return h.ok(); });
  if (options.json) {
    std::string out;
    JsonWriter json(out);
    json.begin_object().field("stream", stream_).field("partitions", state->spec.partitions);
    json.field("messages", state->messages).key("nodes").begin_array();
    for (const auto& [name, view] : nodes) {
      const PartitionSet owned =
          view.owned ? *view.owned : PartitionSet::all(state->spec.partitions);
      json.begin_object().field("node", name).field("partitions", owned.to_string());
      json.field("pending", view.pending).field("ack_pending", view.ack_pending);
      json.field("redelivered", view.redelivered).key("lag").begin_object();
      for (const client::ConsumerState* consumer : view.consumers) {
        json.field(std::to_string(consumer->partition), consumer->pending);
      }
      json.end_object().end_object();
    }
    json.end_array();
    if (!cluster_file_.empty()) {
      json.key("health").begin_array();
      for (const NodeHealth& health : healths) {
        json.begin_object().field("node", health.name).field("state", health.state);
        json.field("detail", health.detail).end_object();
      }
      json.end_array();
    }
    json.end_object();
    fmt::print("{}\n", out);
    return all_ok ? kExitDone : kExitError;
  }
  print_stream(*state, false);
  if (nodes.empty()) fmt::print("no node consumes it yet\n");
  for (const auto& [name, view] : nodes) {
    fmt::print(
        "node {}: partitions {}, lag {} (pending), {} delivered unacknowledged, {} "
        "redelivered\n",
        name, view.owned ? view.owned->to_string() : view.partition_list, view.pending,
        view.ack_pending, view.redelivered);
    std::string lagging;
    for (const client::ConsumerState* consumer : view.consumers) {
      if (consumer->pending > 0) {
        lagging += fmt::format(" p{}:{}", consumer->partition, consumer->pending);
      }
    }
    if (!lagging.empty()) fmt::print("  lag by partition:{}\n", lagging);
  }
  for (const NodeHealth& health : healths) {
    fmt::print("health {}: {} ({})\n", health.name, health.state, health.detail);
  }
  return all_ok ? kExitDone : kExitError;
}

int send_to_jetstream(const std::vector<std::string>& files, const std::string& nats_urls,
                      const std::string& stream, std::size_t batch, const ClientOptions& options) {
  Result<std::vector<std::string>> urls = nats::parse_urls(nats_urls);
  if (!urls) return fail(urls.status());
  client::JetStreamPublisherOptions publishing;
  publishing.urls = std::move(urls).value();
  publishing.stream = stream;
  publishing.batch_max_events = batch;
  publishing.ack_timeout = options.timeout();
  auto publisher = client::JetStreamPublisher::open(publishing);
  if (!publisher) return fail(publisher.status());
  const int read =
      feed_lines(files, [&](std::string_view line) { return (*publisher)->add(line); });
  if (read != kExitDone) return read;
  const client::JetStreamPublishSummary s = (*publisher)->finish();
  if (options.json) {
    std::string out;
    JsonWriter json(out);
    json.begin_object().field("stream", stream).field("partitions", (*publisher)->partitions());
    json.field("events", s.events).field("batches", s.batches);
    json.field("acknowledged", s.acknowledged_events)
        .field("duplicate_batches", s.duplicate_batches);
    json.field("retries", s.retries).field("unacknowledged", s.unacknowledged_events);
    if (!s.failure.empty()) json.field("failure", s.failure);
    json.end_object();
    fmt::print("{}\n", out);
  } else {
    fmt::print("published {} events in {} batches to stream {} ({} partitions)\n", s.events,
               s.batches, stream, (*publisher)->partitions());
    fmt::print("acknowledged {}, batches already stored {}, retries {}, unacknowledged {}\n",
               s.acknowledged_events, s.duplicate_batches, s.retries, s.unacknowledged_events);
  }
  if (!s.failure.empty()) {
    std::fprintf(stderr, "tally: %s\n", s.failure.c_str());
    return kExitError;
  }
  if (!s.complete()) {
    std::fprintf(stderr, "tally: %llu events never got a PubAck; sending them again is safe\n",
                 static_cast<unsigned long long>(s.unacknowledged_events));
    return kExitError;
  }
  return kExitDone;
}

}  // namespace tally::cli
