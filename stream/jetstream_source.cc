#include "stream/jetstream_source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "core/backoff.h"
#include "core/nats_connection.h"
#include "core/rules_message.h"

namespace tally::stream {
namespace {

constexpr auto kLagRefresh = std::chrono::seconds(2);
constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

void add_relaxed(std::atomic<std::uint64_t>& counter, std::uint64_t amount) {
  counter.store(counter.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
}

std::string default_node_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "node";
  return host;
}

// Consumer names allow letters, digits, '-' and '_'.
std::string consumer_name(const std::string& node, std::uint32_t partition) {
  std::string name = "tally_";
  for (char c : node) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_';
    name += plain ? c : '-';
  }
  return name + "_p" + std::to_string(partition);
}

std::uint32_t stream_partition_count(const jsStreamInfo& info, const std::string& stream) {
  const std::string prefix = partition_subject_prefix(stream);
  std::uint32_t count = 0;
  if (info.Config != nullptr) {
    for (int i = 0; i < info.Config->SubjectsLen; ++i) {
      if (std::string_view(info.Config->Subjects[i]).starts_with(prefix)) ++count;
    }
  }
  return count;
}

}  // namespace

struct JetStreamSource::Partition {
  std::uint32_t number = 0;
  std::string consumer;
  nats::Subscription subscription;
  // Fetched, not yet taken: what came after a rules message waits here
  // until the barrier is crossed.
  std::deque<nats::Msg> held;
  // The rules message this partition stopped at; empty when not at a barrier.
  nats::Msg barrier;
  nats::RulesMessage barrier_rules;
};

struct JetStreamSource::InFlight {
  BatchTicket ticket;
  nats::Msg message;
};

Result<std::unique_ptr<JetStreamSource>> JetStreamSource::open(
    JetStreamOptions options, QueueMatrix& queues, std::uint32_t producer, KeyGroupMap& groups,
    const std::atomic<const EventTypeResolver*>& types, std::atomic<std::int64_t>& event_clock,
    std::vector<TicketQueue*> done_tickets, RefusalBox* refusals) {
  if (options.node.empty()) options.node = default_node_name();
  nats::ConnectOptions connect;
  connect.urls = options.urls;
  connect.name = "tallyd " + options.node;
  // The servers may still be starting when a whole cluster comes up at once.
  connect.first_connect_patience = std::chrono::seconds(10);
  Result<std::unique_ptr<nats::Connection>> connection = nats::Connection::connect(connect);
  if (!connection) return connection.status();
  // The stream may not be readable for a moment after a server restart
  // (its Raft group electing a leader): a few seconds' patience.
  Result<nats::StreamInfo> info = Status::unavailable("not asked yet");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (true) {
    info = nats::stream_info(**connection, options.stream);
    if (info || info.status().code() == Status::Code::kNotFound ||
        std::chrono::steady_clock::now() > deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!info) {
    if (info.status().code() == Status::Code::kNotFound) {
      return Status::not_found(fmt::format(
          "no stream {} on the NATS servers: make it with `tally cluster init --nats URLS`",
          options.stream));
    }
    return info.status();
  }
  const std::uint32_t partitions = stream_partition_count(**info, options.stream);
  if (partitions == 0) {
    return Status::invalid_argument(
        fmt::format("stream {} has no subjects {}<p>: it was not made by `tally cluster init`",
                    options.stream, partition_subject_prefix(options.stream)));
  }
  Result<PartitionSet> owned = PartitionSet::parse(options.partitions, partitions);
  if (!owned) return owned.status().with_context("--partitions");
  return std::unique_ptr<JetStreamSource>(new JetStreamSource(
      std::move(options), std::move(connection).value(), std::move(owned).value(), queues, producer,
      groups, types, event_clock, std::move(done_tickets), refusals));
}

JetStreamSource::JetStreamSource(JetStreamOptions options,
                                 std::unique_ptr<nats::Connection> connection, PartitionSet owned,
                                 QueueMatrix& queues, std::uint32_t producer, KeyGroupMap& groups,
                                 const std::atomic<const EventTypeResolver*>& types,
                                 std::atomic<std::int64_t>& event_clock,
                                 std::vector<TicketQueue*> done_tickets, RefusalBox* refusals)
    : options_(std::move(options)),
      connection_(std::move(connection)),
      owned_(std::move(owned)),
      decoder_(options_.decoder),
      rejected_log_(std::make_unique<RejectedLog>(options_.rejects)),
      types_(types),
      event_clock_(event_clock),
      jetstream_counters_(std::make_unique<JetStreamCounters>(owned_.partitions())),
      resume_after_(owned_.partitions(), 0) {
  router_ = std::make_unique<BatchRouter>(
      queues, producer, groups, std::move(done_tickets), counters_, *rejected_log_,
      [this] { drain_done_tickets(); }, refusals);
}

JetStreamSource::~JetStreamSource() {
  // Unacknowledged messages are simply dropped here: JetStream delivers
  // them again to this node's consumers after ack_wait.
  in_flight_.clear();
  subscriptions_.clear();  // destroyed, never unsubscribed: the durable consumers stay
}

std::string JetStreamSource::describe() const {
  return fmt::format("stream {} partitions {} of {} as node {}, from {}", options_.stream,
                     owned_.to_string(), owned_.partitions(), options_.node,
                     connection_->connected_url());
}

Status JetStreamSource::start(bool rebuild) {
  const auto deadline = std::chrono::steady_clock::now() + options_.start_patience;
  for (std::uint32_t p : owned_.list()) {
    // Right after a server restarts, the stream's or the consumer's Raft
    // group may have no leader for a few seconds: the servers then answer
    // with errors that mean "not yet", not "never". Anything but a missing
    // stream or consumer is tried again until the deadline.
    while (true) {
      const Status bound = bind_partition(p, rebuild);
      if (bound.is_ok()) break;
      if (bound.code() == Status::Code::kNotFound ||
          std::chrono::steady_clock::now() + kStartRetryPause > deadline) {
        return bound;
      }
      std::this_thread::sleep_for(kStartRetryPause);
    }
  }
  return Status::ok();
}

Status JetStreamSource::bind_partition(std::uint32_t p, bool rebuild) {
  jsOptions api = connection_->api_options();
  Partition partition;
  partition.number = p;
  partition.consumer = consumer_name(options_.node, p);
  const std::string subject = partition_subject(options_.stream, p);
  jsErrCode error = jsErrCode(0);
  if (rebuild) {
    const natsStatus deleted = js_DeleteConsumer(connection_->jetstream(), options_.stream.c_str(),
                                                 partition.consumer.c_str(), &api, &error);
    if (deleted != NATS_OK && deleted != NATS_NOT_FOUND && error != JSConsumerNotFoundErr) {
      return nats::status_of(deleted, "delete consumer " + partition.consumer, error);
    }
  }
  jsConsumerConfig config;
  jsConsumerConfig_Init(&config);
  config.Durable = partition.consumer.c_str();
  config.FilterSubject = subject.c_str();
  config.AckPolicy = js_AckExplicit;
  config.DeliverPolicy = js_DeliverAll;
  if (!rebuild) {
    // Messages delivered to this node before it stopped and never
    // acknowledged would come again only after ack_wait, behind newer ones:
    // behind a rules message, they would be decoded by the wrong rules. So
    // such a consumer is made again from its ack floor, which delivers
    // everything after the floor in stream order (what was acknowledged
    // after it comes again as duplicates, dropped by event id).
    jsConsumerInfo* existing = nullptr;
    const natsStatus found =
        js_GetConsumerInfo(&existing, connection_->jetstream(), options_.stream.c_str(),
                           partition.consumer.c_str(), &api, &error);
    bool kept = false;  // the consumer stays as it is
    if (found == NATS_OK) {
      const bool unacknowledged = existing->NumAckPending > 0;
      kept = !unacknowledged;
      const std::uint64_t floor = existing->AckFloor.Stream;
      jsConsumerInfo_Destroy(existing);
      if (unacknowledged) {
        resume_after_[p] = floor;  // kept, in case making it again must be retried
        error = jsErrCode(0);
        const natsStatus deleted =
            js_DeleteConsumer(connection_->jetstream(), options_.stream.c_str(),
                              partition.consumer.c_str(), &api, &error);
        if (deleted != NATS_OK && deleted != NATS_NOT_FOUND && error != JSConsumerNotFoundErr) {
          return nats::status_of(deleted, "delete consumer " + partition.consumer, error);
        }
      }
    } else if (found != NATS_NOT_FOUND && error != JSConsumerNotFoundErr) {
      return nats::status_of(found, "consumer " + partition.consumer, error);
    }
    if (!kept && resume_after_[p] > 0) {
      config.DeliverPolicy = js_DeliverByStartSequence;
      config.OptStartSeq = resume_after_[p] + 1;
    }
  }
  config.AckWait = options_.ack_wait.count() * kNanosPerSecond;
  config.MaxAckPending = static_cast<std::int64_t>(options_.max_in_flight) * 4;
  config.MaxWaiting = 512;
  jsConsumerInfo* info = nullptr;
  error = jsErrCode(0);
  // Made here, and bound below, so that the client library never owns
  // (and so never deletes) a node's durable consumer.
  natsStatus s = js_AddConsumer(&info, connection_->jetstream(), options_.stream.c_str(), &config,
                                &api, &error);
  if (s != NATS_OK && error != JSConsumerNameExistErr && error != JSConsumerExistingActiveErr) {
    return nats::status_of(s, "consumer " + partition.consumer, error);
  }
  jsConsumerInfo_Destroy(info);
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = options_.stream.c_str();
  sub_options.Consumer = partition.consumer.c_str();
  natsSubscription* subscription = nullptr;
  error = jsErrCode(0);
  s = js_PullSubscribe(&subscription, connection_->jetstream(), subject.c_str(),
                       partition.consumer.c_str(), &api, &sub_options, &error);
  if (s != NATS_OK) {
    return nats::status_of(s, "subscribe " + partition.consumer, error);
  }
  partition.subscription.reset(subscription);
  subscriptions_.push_back(std::move(partition));
  return Status::ok();
}

void JetStreamSource::run(const std::atomic<bool>& stop) {
  Backoff idle;
  std::size_t next = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    drain_done_tickets();
    router_->apply_route_changes();  // between messages, so between batches
    std::size_t taken = 0;
    // One sweep over the partitions, starting where the last one stopped,
    // as long as there is room in flight.
    for (std::size_t i = 0; i < subscriptions_.size(); ++i) {
      if (in_flight_.size() >= options_.max_in_flight) break;
      Partition& partition = subscriptions_[next];
      next = (next + 1) % subscriptions_.size();
      if (partition.barrier) continue;  // nothing after its rules message yet
      if (partition.held.empty()) {
        const int room = static_cast<int>(options_.max_in_flight - in_flight_.size());
        fetch(partition, std::min(room, options_.fetch_batch));
      }
      taken += take_held(partition);
      drain_done_tickets();
    }
    if (partitions_at_barrier_ > 0) cross_barrier();
    rejected_log_->flush();
    if (std::chrono::steady_clock::now() - lag_refreshed_ > kLagRefresh) refresh_lag();
    if (taken == 0) {
      // Nothing new (or everything in flight): wait a little, longer the
      // longer it stays quiet, acknowledging what finishes meanwhile.
      const auto until =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(in_flight_.empty() ? 20 : 1);
      while (std::chrono::steady_clock::now() < until && !stop.load(std::memory_order_relaxed)) {
        drain_done_tickets();
        if (router_->apply_route_changes()) break;
        idle.pause();
      }
    } else {
      idle.reset();
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  Backoff backoff;
  while (!in_flight_.empty() && std::chrono::steady_clock::now() < deadline) {
    drain_done_tickets();
    backoff.pause();
  }
  rejected_log_->flush();
}

std::size_t JetStreamSource::fetch(Partition& partition, int max_messages) {
  natsMsgList list{};
  jsFetchRequest request;
  jsFetchRequest_Init(&request);
  request.Batch = max_messages;
  request.NoWait = true;
  const natsStatus s = natsSubscription_FetchRequest(&list, partition.subscription.get(), &request);
  if (s != NATS_OK) {
    // NoWait and nothing there: a timeout or "not found"; anything else is
    // a server or connection away, counted, and tried again next sweep.
    if (s != NATS_TIMEOUT && s != NATS_NOT_FOUND) {
      add_relaxed(jetstream_counters_->fetch_errors, 1);
    }
    natsMsgList_Destroy(&list);
    return 0;
  }
  const auto count = static_cast<std::size_t>(list.Count);
  for (int i = 0; i < list.Count; ++i) {
    partition.held.emplace_back(list.Msgs[i]);  // ours now, until acknowledged
    list.Msgs[i] = nullptr;
  }
  natsMsgList_Destroy(&list);
  return count;
}

std::size_t JetStreamSource::take_held(Partition& partition) {
  std::size_t taken = 0;
  while (!partition.held.empty() && !partition.barrier &&
         in_flight_.size() < options_.max_in_flight) {
    natsMsg* message = partition.held.front().release();
    partition.held.pop_front();
    ++taken;
    if (nats::is_rules_message(message)) {
      reach_rules(partition, message);
    } else {
      take(partition, message);
    }
  }
  return taken;
}

void JetStreamSource::set_rules_installer(RulesInstaller installer, std::string version_in_force) {
  install_rules_ = std::move(installer);
  version_in_force_ = std::move(version_in_force);
}

Result<std::optional<std::pair<std::string, std::string>>> JetStreamSource::log_rules() const {
  Result<std::optional<nats::RulesMessage>> current =
      nats::current_rules(*connection_, options_.stream);
  if (!current) return current.status();
  if (!*current) return std::optional<std::pair<std::string, std::string>>();
  return std::optional<std::pair<std::string, std::string>>(
      std::pair((*current)->version, std::move((*current)->text)));
}

void JetStreamSource::reach_rules(Partition& partition, void* raw) {
  nats::Msg message(static_cast<natsMsg*>(raw));
  Result<nats::RulesMessage> rules = nats::read_rules_message(message.get());
  if (!rules) {
    // Damaged: no version to switch to. Holding the partition is the one
    // choice that cannot make this node differ from its replicas.
    add_relaxed(jetstream_counters_->rules_refused, 1);
    jetstream_counters_->rules_stuck.store(true, std::memory_order_relaxed);
    spdlog::error("partition {}: {}; its events are held until this is resolved", partition.number,
                  rules.status().to_string());
    partition.barrier = std::move(message);
    ++partitions_at_barrier_;
    return;
  }
  if (partitions_at_barrier_ == 0 && rules->version == version_in_force_) {
    // The rules in force already (a redelivery after a crash, or rules a
    // new node started with): nothing to switch.
    (void)natsMsg_Ack(message.get(), nullptr);
    return;
  }
  spdlog::info(
      "partition {}: rules version {} reached (stream sequence {}); {} of {} partitions "
      "there",
      partition.number, rules->version, rules->stream_sequence, partitions_at_barrier_ + 1,
      subscriptions_.size());
  partition.barrier = std::move(message);
  partition.barrier_rules = std::move(rules).value();
  ++partitions_at_barrier_;
}

void JetStreamSource::cross_barrier() {
  if (partitions_at_barrier_ < subscriptions_.size()) return;
  if (jetstream_counters_->rules_stuck.load(std::memory_order_relaxed)) return;
  const nats::RulesMessage& rules = subscriptions_.front().barrier_rules;
  for (const Partition& partition : subscriptions_) {
    if (partition.barrier_rules.version != rules.version) {
      add_relaxed(jetstream_counters_->rules_refused, 1);
      jetstream_counters_->rules_stuck.store(true, std::memory_order_relaxed);
      spdlog::error(
          "rules through the log: partition {} is at rules version {} but partition {} at {}: "
          "a rules publish failed part-way; this node holds every partition and decodes "
          "nothing more (run `tally cluster rules` again with the file that failed, then restart "
          "this node)",
          subscriptions_.front().number, rules.version, partition.number,
          partition.barrier_rules.version);
      return;
    }
  }
  // (a) Everything decoded by the old rules is journaled and acknowledged.
  drain_done_tickets();
  if (!in_flight_.empty()) return;
  if (natsConnection_FlushTimeout(connection_->get(), 2000) != NATS_OK) return;  // next turn
  // (b) The new rules, kept on disk and in force.
  if (rules.version != version_in_force_) {
    const Status installed = install_rules_
                                 ? install_rules_(rules.text, rules.version)
                                 : Status::invalid_argument("this node has no rules installer");
    if (!installed.is_ok()) {
      add_relaxed(jetstream_counters_->rules_refused, 1);
      jetstream_counters_->rules_stuck.store(true, std::memory_order_relaxed);
      spdlog::error(
          "rules through the log: version {} refused: {}; this node keeps version {} and decodes "
          "nothing more of its partitions (continuing would make it differ from its replicas)",
          rules.version, installed.to_string(), version_in_force_);
      return;
    }
    version_in_force_ = rules.version;
    add_relaxed(jetstream_counters_->rules_switches, 1);
    spdlog::info("rules through the log: version {} in force from here in partitions {}",
                 rules.version, owned_.to_string());
  }
  // (c) The barrier is crossed: its messages acknowledged, the partitions go on.
  for (Partition& partition : subscriptions_) {
    (void)natsMsg_Ack(partition.barrier.get(), nullptr);
    partition.barrier.reset();
    partition.barrier_rules = {};
  }
  partitions_at_barrier_ = 0;
}

void JetStreamSource::take(Partition& partition, void* raw) {
  auto flight = std::make_unique<InFlight>();
  flight->message.reset(static_cast<natsMsg*>(raw));
  natsMsg* message = flight->message.get();
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, message) == NATS_OK) {
    flight->ticket.batch_id = fmt::format("{}:{}", partition.number, meta->Sequence.Stream);
    if (meta->NumDelivered > 1) add_relaxed(jetstream_counters_->redeliveries, 1);
    jsMsgMetaData_Destroy(meta);
  }
  add_relaxed(counters_.messages, 1);
  BatchTicket* ticket = &flight->ticket;
  in_flight_.emplace(ticket, std::move(flight));
  router_->begin("jetstream", ticket);
  const std::string_view payload(natsMsg_GetData(message),
                                 static_cast<std::size_t>(natsMsg_GetDataLength(message)));
  const std::uint32_t lines =
      decoder_.decode_batch(payload, *types_.load(std::memory_order_acquire), *router_);
  add_relaxed(counters_.received, lines);
  const std::uint32_t workers = router_->finish(event_clock_);
  if (workers == 0) {
    finish(*ticket);
    return;
  }
  ticket->pending_workers.store(workers, std::memory_order_relaxed);
  router_->end_ticket(*ticket);
}

void JetStreamSource::drain_done_tickets() {
  router_->take_finished([this](BatchTicket& ticket) { finish(ticket); });
}

void JetStreamSource::finish(BatchTicket& ticket) {
  const auto found = in_flight_.find(&ticket);
  if (found == in_flight_.end()) return;
  // Journaled (by the rules of --fsync): now the stream may forget it for us.
  if (natsMsg_Ack(found->second->message.get(), nullptr) == NATS_OK) {
    add_relaxed(jetstream_counters_->acked, 1);
    add_relaxed(counters_.acks_sent, 1);
  } else {
    add_relaxed(jetstream_counters_->ack_failures, 1);
  }
  in_flight_.erase(found);
}

void JetStreamSource::refresh_lag() {
  lag_refreshed_ = std::chrono::steady_clock::now();
  jsOptions api = connection_->api_options();
  api.Wait = 500;
  for (Partition& partition : subscriptions_) {
    jsConsumerInfo* info = nullptr;
    jsErrCode error = jsErrCode(0);
    if (js_GetConsumerInfo(&info, connection_->jetstream(), options_.stream.c_str(),
                           partition.consumer.c_str(), &api, &error) == NATS_OK) {
      jetstream_counters_->lag[partition.number].store(
          static_cast<std::int64_t>(info->NumPending) + info->NumAckPending,
          std::memory_order_relaxed);
      jsConsumerInfo_Destroy(info);
    }
    drain_done_tickets();
  }
}

}  // namespace tally::stream
