#include "client/jetstream_admin.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <thread>

#include "client/jetstream_publisher.h"
#include "core/key_groups.h"
#include "core/rules_message.h"

namespace tally::client {
namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

StreamState state_of(const jsStreamInfo& info, const std::string& stream) {
  StreamState state;
  state.spec.stream = stream;
  if (Result<std::uint32_t> partitions = stream_partitions(info, stream)) {
    state.spec.partitions = *partitions;
  }
  if (info.Config != nullptr) {
    state.spec.replicas = static_cast<int>(info.Config->Replicas);
    state.spec.max_age = std::chrono::seconds(info.Config->MaxAge / kNanosPerSecond);
    state.spec.duplicate_window = std::chrono::seconds(info.Config->Duplicates / kNanosPerSecond);
  }
  if (info.State.Msgs > 0 || info.State.Bytes > 0) {
    state.messages = info.State.Msgs;
    state.bytes = info.State.Bytes;
  }
  state.last_sequence = info.State.LastSeq;
  if (info.Cluster != nullptr) {
    if (info.Cluster->Leader != nullptr) state.leader = info.Cluster->Leader;
    for (int i = 0; i < info.Cluster->ReplicasLen; ++i) {
      const jsPeerInfo* peer = info.Cluster->Replicas[i];
      state.replicas.push_back(
          fmt::format("{} ({})", peer->Name, peer->Current ? "current" : "lagging"));
    }
  }
  return state;
}

}  // namespace

Result<StreamState> describe_stream(const nats::Connection& connection, const std::string& stream) {
  Result<nats::StreamInfo> info = nats::stream_info(connection, stream);
  if (!info) return info.status();
  return state_of(**info, stream);
}

Result<StreamState> init_stream(const nats::Connection& connection, const StreamSpec& spec) {
  if (spec.partitions == 0 || spec.partitions > kKeyGroups || kKeyGroups % spec.partitions != 0) {
    return Status::invalid_argument(fmt::format(
        "--partitions {}: a partition count divides {} (the key groups): 1, 2, 4, ... 64 ... {}",
        spec.partitions, kKeyGroups, kKeyGroups));
  }
  if (spec.replicas < 1 || spec.replicas > 5) {
    return Status::invalid_argument(
        fmt::format("--replicas {}: JetStream keeps 1 to 5 copies", spec.replicas));
  }
  Result<StreamState> existing = describe_stream(connection, spec.stream);
  if (existing) return existing;
  if (existing.status().code() != Status::Code::kNotFound) return existing.status();

  std::vector<std::string> subjects;
  for (std::uint32_t p = 0; p < spec.partitions; ++p) {
    subjects.push_back(partition_subject(spec.stream, p));
  }
  subjects.push_back(nats::rules_subject(spec.stream));  // the log's current rules
  std::vector<const char*> subject_pointers;
  for (const std::string& subject : subjects) subject_pointers.push_back(subject.c_str());
  const std::string description =
      fmt::format("Tally events: {} partitions, subject {}<partition>", spec.partitions,
                  partition_subject_prefix(spec.stream));
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = spec.stream.c_str();
  config.Description = description.c_str();
  config.Subjects = subject_pointers.data();
  config.SubjectsLen = static_cast<int>(subject_pointers.size());
  config.Storage = js_FileStorage;
  config.Retention = js_LimitsPolicy;
  config.Replicas = spec.replicas;
  config.MaxAge = spec.max_age.count() * kNanosPerSecond;
  config.Duplicates = spec.duplicate_window.count() * kNanosPerSecond;
  config.DenyDelete = true;  // the log is the record: no message is taken out of it by hand
  jsStreamInfo* info = nullptr;
  jsErrCode error = jsErrCode(0);
  jsOptions options = connection.api_options();
  const natsStatus s = js_AddStream(&info, connection.jetstream(), &config, &options, &error);
  if (s != NATS_OK) return nats::status_of(s, "create stream " + spec.stream, error);
  nats::StreamInfo owned(info);
  StreamState state = state_of(*info, spec.stream);
  state.created = true;
  return state;
}

namespace {

// Adds <stream>.rules to a stream made before it existed.
Status add_rules_subject(const nats::Connection& connection, const jsStreamInfo& info) {
  std::vector<const char*> subjects(info.Config->Subjects,
                                    info.Config->Subjects + info.Config->SubjectsLen);
  const std::string rules = nats::rules_subject(info.Config->Name);
  subjects.push_back(rules.c_str());
  jsStreamConfig config = *info.Config;
  config.Subjects = subjects.data();
  config.SubjectsLen = static_cast<int>(subjects.size());
  jsStreamInfo* updated = nullptr;
  jsErrCode error = jsErrCode(0);
  jsOptions options = connection.api_options();
  const natsStatus s = js_UpdateStream(&updated, connection.jetstream(), &config, &options, &error);
  if (s != NATS_OK) {
    return nats::status_of(s, fmt::format("add subject {} to stream {}", rules, info.Config->Name),
                           error);
  }
  jsStreamInfo_Destroy(updated);
  return Status::ok();
}

// Publishes one rules message, retried with its id; true if it was stored before.
Result<bool> publish_rules_message(const nats::Connection& connection, const std::string& stream,
                                   const std::string& subject, const std::string& message_id,
                                   std::string_view version, std::string_view text,
                                   std::chrono::milliseconds retry_for) {
  const auto give_up_at = std::chrono::steady_clock::now() + retry_for;
  for (int attempt = 0;; ++attempt) {
    Result<nats::Msg> message = nats::make_rules_message(subject, version, text);
    if (!message) return message.status();
    jsPubOptions publish;
    jsPubOptions_Init(&publish);
    publish.MsgId = message_id.c_str();
    publish.ExpectStream = stream.c_str();
    publish.MaxWait = connection.options().timeout.count();
    jsPubAck* ack = nullptr;
    jsErrCode error = jsErrCode(0);
    const natsStatus s =
        js_PublishMsg(&ack, connection.jetstream(), message->get(), &publish, &error);
    if (s == NATS_OK) {
      const bool duplicate = ack->Duplicate;
      jsPubAck_Destroy(ack);
      return duplicate;
    }
    const bool transient =
        s != NATS_MAX_PAYLOAD && s != NATS_INVALID_ARG && s != NATS_INVALID_SUBJECT;
    if (!transient || std::chrono::steady_clock::now() >= give_up_at) {
      return nats::status_of(s, "publish rules to " + subject, error);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50 * (attempt + 1), 500)));
  }
}

}  // namespace

Result<RulesPublished> publish_rules(const nats::Connection& connection, const std::string& stream,
                                     std::string_view toml_text,
                                     std::chrono::milliseconds retry_for) {
  Result<nats::StreamInfo> info = nats::stream_info(connection, stream);
  if (!info) return info.status();
  Result<std::uint32_t> partitions = stream_partitions(**info, stream);
  if (!partitions) return partitions.status();
  RulesPublished published;
  published.version = nats::rules_version(toml_text);
  const std::string rules = nats::rules_subject(stream);
  bool has_rules_subject = false;
  for (int i = 0; i < (*info)->Config->SubjectsLen; ++i) {
    if (rules == (*info)->Config->Subjects[i]) has_rules_subject = true;
  }
  if (!has_rules_subject) {
    if (Status added = add_rules_subject(connection, **info); !added.is_ok()) return added;
    published.subject_added = true;
  }
  Result<std::optional<nats::RulesMessage>> current = nats::current_rules(connection, stream);
  if (!current) return current.status();
  if (*current && (*current)->version == published.version) {
    published.unchanged = true;
    published.partitions = *partitions;
    return published;
  }
  const std::uint64_t after = *current ? (*current)->stream_sequence : 0;
  for (std::uint32_t p = 0; p < *partitions; ++p) {
    Result<bool> stored =
        publish_rules_message(connection, stream, partition_subject(stream, p),
                              fmt::format("rules-{}-{}-p{}", published.version, after, p),
                              published.version, toml_text, retry_for);
    if (!stored) {
      return stored.status().with_context(
          fmt::format("partition {} ({} of {} partitions have the rules; run the same command "
                      "again to complete it)",
                      p, p, *partitions));
    }
    ++published.partitions;
    if (*stored) ++published.already;
  }
  Result<bool> last = publish_rules_message(connection, stream, rules,
                                            fmt::format("rules-{}-{}", published.version, after),
                                            published.version, toml_text, retry_for);
  if (!last) return last.status();
  return published;
}

Result<std::vector<ConsumerState>> list_consumers(const nats::Connection& connection,
                                                  const std::string& stream) {
  jsConsumerInfoList* list = nullptr;
  jsErrCode error = jsErrCode(0);
  jsOptions options = connection.api_options();
  const natsStatus s =
      js_Consumers(&list, connection.jetstream(), stream.c_str(), &options, &error);
  std::vector<ConsumerState> out;
  if (s == NATS_NOT_FOUND && error != JSStreamNotFoundErr) return out;  // no consumers yet
  if (s != NATS_OK) return nats::status_of(s, "consumers of " + stream, error);
  const std::string prefix = partition_subject_prefix(stream);
  for (int i = 0; i < list->Count; ++i) {
    const jsConsumerInfo& info = *list->List[i];
    ConsumerState state;
    state.name = info.Name != nullptr ? info.Name : "";
    if (info.Config != nullptr && info.Config->FilterSubject != nullptr) {
      state.filter_subject = info.Config->FilterSubject;
      if (std::string_view filter(state.filter_subject); filter.starts_with(prefix)) {
        filter.remove_prefix(prefix.size());
        std::uint32_t partition = 0;
        const auto [end, parse_error] =
            std::from_chars(filter.data(), filter.data() + filter.size(), partition);
        if (parse_error == std::errc() && end == filter.data() + filter.size()) {
          state.partition = partition;
        }
      }
    }
    state.pending = info.NumPending;
    state.ack_pending = info.NumAckPending;
    state.redelivered = info.NumRedelivered;
    state.acked_stream_sequence = info.AckFloor.Stream;
    out.push_back(std::move(state));
  }
  jsConsumerInfoList_Destroy(list);
  std::sort(out.begin(), out.end(),
            [](const ConsumerState& a, const ConsumerState& b) { return a.name < b.name; });
  return out;
}

}  // namespace tally::client
