#include "client/jetstream_publisher.h"

#include <fmt/format.h>

#include <thread>

#include "core/key_groups.h"

namespace tally::client {
namespace {

std::uint64_t mix(std::uint64_t hash, std::uint64_t value) {
  hash ^= value + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  return hash;
}

}  // namespace

Result<std::uint32_t> stream_partitions(const jsStreamInfo& info, const std::string& stream) {
  const std::string prefix = partition_subject_prefix(stream);
  std::uint32_t count = 0;
  if (info.Config != nullptr) {
    for (int i = 0; i < info.Config->SubjectsLen; ++i) {
      if (std::string_view(info.Config->Subjects[i]).starts_with(prefix)) ++count;
    }
  }
  if (count == 0) {
    return Status::invalid_argument(fmt::format(
        "stream {} has no subjects {}<partition>: it was not made by `tally cluster init`", stream,
        prefix));
  }
  return count;
}

Result<std::unique_ptr<JetStreamPublisher>> JetStreamPublisher::open(
    JetStreamPublisherOptions options) {
  nats::ConnectOptions connect;
  connect.urls = options.urls;
  connect.name = options.client_name;
  connect.timeout = options.ack_timeout;
  Result<std::unique_ptr<nats::Connection>> connection = nats::Connection::connect(connect);
  if (!connection) return connection.status();
  Result<nats::StreamInfo> info = nats::stream_info(**connection, options.stream);
  if (!info) {
    if (info.status().code() == Status::Code::kNotFound) {
      return Status::not_found(fmt::format(
          "no stream {} on the NATS servers: make it with `tally cluster init --nats URLS`",
          options.stream));
    }
    return info.status();
  }
  Result<std::uint32_t> partitions = stream_partitions(**info, options.stream);
  if (!partitions) return partitions.status();
  return std::unique_ptr<JetStreamPublisher>(
      new JetStreamPublisher(std::move(options), std::move(connection).value(), *partitions));
}

JetStreamPublisher::JetStreamPublisher(JetStreamPublisherOptions options,
                                       std::unique_ptr<nats::Connection> connection,
                                       std::uint32_t partitions)
    : options_(std::move(options)),
      connection_(std::move(connection)),
      partitions_(partitions),
      batches_(partitions) {
  summary_.events_per_partition.assign(partitions, 0);
  for (std::uint32_t p = 0; p < partitions; ++p) {
    subjects_.push_back(partition_subject(options_.stream, p));
  }
}

JetStreamPublisher::~JetStreamPublisher() = default;

bool JetStreamPublisher::add(std::string_view line) {
  if (!summary_.failure.empty()) return false;
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return true;

  padded_.assign(line);
  padded_.resize(line.size() + simdjson::SIMDJSON_PADDING);
  std::string_view subject;
  std::string_view id;
  simdjson::ondemand::document document;
  bool readable = parser_.iterate(padded_.data(), line.size(), padded_.size()).get(document) ==
                  simdjson::SUCCESS;
  simdjson::ondemand::object object;
  readable = readable && document.get_object().get(object) == simdjson::SUCCESS;
  if (readable) {
    for (auto field : object) {
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) break;
      if (key == "subject") {
        if (field.value().get_string().get(subject) != simdjson::SUCCESS) subject = {};
      } else if (key == "id") {
        if (field.value().get_string().get(id) != simdjson::SUCCESS) id = {};
      }
    }
  }
  // Unreadable: partition 0, where tallyd refuses it by name.
  const std::uint32_t partition = subject.empty() ? 0 : partition_of_subject(subject, partitions_);
  Batch& batch = batches_[partition];
  if (batch.events > 0 && batch.payload.size() + line.size() + 1 > options_.batch_max_bytes) {
    if (!publish(partition)) return false;
  }
  batch.payload.append(line);
  batch.payload += '\n';
  ++batch.events;
  batch.id_hash = mix(batch.id_hash, stable_hash64(id.empty() ? line : id));
  ++summary_.events;
  ++summary_.events_per_partition[partition];
  if (batch.events >= options_.batch_max_events) return publish(partition);
  return true;
}

bool JetStreamPublisher::flush() {
  for (std::uint32_t p = 0; p < partitions_; ++p) {
    if (batches_[p].events > 0 && !publish(p)) return false;
  }
  return summary_.failure.empty();
}

bool JetStreamPublisher::publish(std::uint32_t partition) {
  Batch& batch = batches_[partition];
  ++summary_.batches;
  const std::string message_id =
      fmt::format("{}-{}-{:016x}", partition, batch.events, batch.id_hash);
  jsPubOptions publish_options;
  jsPubOptions_Init(&publish_options);
  publish_options.MsgId = message_id.c_str();
  publish_options.MaxWait = options_.ack_timeout.count();
  publish_options.ExpectStream = options_.stream.c_str();
  const auto give_up_at = std::chrono::steady_clock::now() + options_.retry_for;
  Status last;
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0) ++summary_.retries;
    jsPubAck* ack = nullptr;
    jsErrCode error = jsErrCode(0);
    const natsStatus s = js_Publish(&ack, connection_->jetstream(), subjects_[partition].c_str(),
                                    batch.payload.data(), static_cast<int>(batch.payload.size()),
                                    &publish_options, &error);
    if (s == NATS_OK) {
      if (ack->Duplicate) ++summary_.duplicate_batches;
      jsPubAck_Destroy(ack);
      ++summary_.acknowledged_batches;
      summary_.acknowledged_events += batch.events;
      break;
    }
    last = nats::status_of(s, "publish to " + subjects_[partition], error);
    // A lost server, a leader election, a reconnect: the same message id
    // again is safe. Anything else (a payload too large, a wrong stream)
    // will not get better.
    const bool transient =
        s != NATS_MAX_PAYLOAD && s != NATS_INVALID_ARG && s != NATS_INVALID_SUBJECT;
    if (!transient || std::chrono::steady_clock::now() >= give_up_at) {
      ++summary_.unacknowledged_batches;
      summary_.unacknowledged_events += batch.events;
      if (!transient) summary_.failure = last.to_string();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50 * (attempt + 1), 500)));
  }
  batch.payload.clear();
  batch.events = 0;
  batch.id_hash = 0;
  return summary_.failure.empty();
}

JetStreamPublishSummary JetStreamPublisher::finish() {
  flush();
  return summary_;
}

}  // namespace tally::client
