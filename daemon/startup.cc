#include "daemon/startup.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "core/rules_message.h"
#include "scorer/rules.h"

#ifndef TALLY_VERSION
#define TALLY_VERSION "0.0.0"
#endif

namespace tally::daemon {
namespace {

std::shared_ptr<const scorer::RuleSet> load_initial_rules(const std::string& path) {
  if (path.empty()) throw ConfigError("no rules file: pass --rules FILE (or `rules` in --config)");
  Result<std::shared_ptr<const scorer::RuleSet>> result = scorer::load_rules_file(path, 1);
  if (!result) throw ConfigError("rules refused: " + result.status().to_string());
  return std::move(result).value();
}

std::string read_text(storage::Env* env, const std::string& path) {
  Result<std::unique_ptr<storage::FileContents>> contents = env->read_file(path);
  if (!contents) throw ConfigError("cannot read " + path + ": " + contents.status().to_string());
  return std::string((*contents)->bytes());
}

// Loopback endpoints only reach this machine's users; anything else reaches
// whoever the network lets through.
bool is_loopback(std::string_view endpoint) {
  for (const std::string_view local : {"tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://",
                                       "inproc://", "127.", "localhost:", "[::1]:"}) {
    if (endpoint.starts_with(local)) return true;
  }
  return false;
}

// Without --auth, every listening address must be loopback unless
// --insecure says otherwise: an open socket lets anyone send events and
// revokes, and read and change everything.
void check_exposure(const DaemonOptions& options) {
  if (!options.auth_path.empty() || options.insecure) return;
  std::vector<std::pair<const char*, std::string>> listening = {
      {"query", options.query_bind},
      {"alerts", options.alerts_bind},
      {"metrics", options.metrics.listen}};
  if (!options.jetstream.enabled()) {
    listening.emplace_back("ingest", options.ingest.ingest_bind);
    listening.emplace_back("submit", options.ingest.submit_bind);
  }
  for (const auto& [what, endpoint] : listening) {
    if (is_loopback(endpoint)) continue;
    throw ConfigError(fmt::format(
        "refusing to listen for {} on {} without --auth: anyone who can reach it could send "
        "events and revokes, read personal records and change the daemon. Give --auth FILE "
        "(README, \"Security\"), bind a loopback address, or pass --insecure to accept that",
        what, endpoint));
  }
}

// --auth: the access list, the ZAP handler, and the ingest sockets' hooks.
void prepare_access(DaemonOptions& options, DaemonParts& parts) {
  if (options.auth_path.empty()) return;
  Result<std::shared_ptr<const security::AccessList>> list =
      security::AccessList::load(options.auth_path);
  if (!list) throw ConfigError("--auth: " + list.status().to_string());
  parts.access = std::make_unique<security::AccessRegistry>(std::move(list).value());
  parts.zap =
      std::make_unique<security::ZapHandler>(parts.context, *parts.access, parts.auth_counters);
  const std::shared_ptr<const security::AccessList> server = parts.access->current();
  options.ingest.secure_socket = [server](zmq::socket_t& socket, bool acknowledged) {
    security::secure_server_socket(
        socket, *server, acknowledged ? security::Door::kSubmit : security::Door::kIngest);
  };
}

// What the sender of each ingest message may send, by its roles in force, and
// its name as an actor ref for the revokes it sends (interned once per name).
std::function<stream::SenderRights(const zmq::message_t&)> rights_of_senders(
    const security::AccessRegistry& access, scorer::InternTable& interns) {
  return [view = security::AccessView(access), interns = &interns,
          refs = std::map<std::string, std::uint16_t, std::less<>>()](
             const zmq::message_t& message) mutable {
    const std::string_view sender = security::sender_of(message);
    const security::Roles roles = view.get().roles_of(sender);
    stream::SenderRights rights{security::has(roles, security::Role::kProducer),
                                security::has(roles, security::Role::kAppeals)};
    if (rights.revokes) {
      auto it = refs.find(sender);
      if (it == refs.end()) it = refs.emplace(sender, interns->intern_source(sender)).first;
      rights.actor_ref = it->second;
    }
    return rights;
  };
}

void prepare_data_dir(DaemonOptions& options, DaemonParts& parts) {
  storage::Env* env = options.scorer.worker.env;
  if (const Status created = env->create_dir(options.data_dir); !created.is_ok()) {
    throw ConfigError("cannot create the data directory: " + created.to_string());
  }
  options.ingest.rejects.path =
      (std::filesystem::path(options.data_dir) / "rejected.ndjson").string();
  options.jetstream.rejects = options.ingest.rejects;
  options.scorer.worker.journal.enabled = options.journal;
  options.scorer.worker.journal.dir = options.data_dir;
  options.scorer.alert_log = options.journal;
  options.alert_log.fsync = options.scorer.worker.journal.fsync;
  options.alert_log.dir =
      options.journal ? (std::filesystem::path(options.data_dir) / "alerts").string() : "";
  options.alert_log.segment_bytes = std::min(
      options.alert_log.segment_bytes, std::max<std::uint64_t>(options.alert_log.max_bytes / 4, 1));
  if (options.journal) {
    Result<storage::DirLock> lock = storage::DirLock::acquire(env, options.data_dir);
    if (!lock) throw StateRefused(lock.status().to_string());
    parts.lock.emplace(std::move(lock).value());
  }
  Result<std::unique_ptr<storage::AlertLog>> log = storage::AlertLog::open(env, options.alert_log);
  if (!log) throw StateRefused("alert log: " + log.status().to_string());
  parts.alert_log = std::move(log).value();
}

zmq::socket_t bind_socket(zmq::context_t& context, zmq::socket_type type,
                          const std::string& endpoint, const char* what,
                          const security::AccessList* access, security::Door door) {
  zmq::socket_t socket(context, type);
  socket.set(zmq::sockopt::linger, 0);
  if (access != nullptr) security::secure_server_socket(socket, *access, door);
  try {
    socket.bind(endpoint);
  } catch (const zmq::error_t& error) {
    throw ConfigError(fmt::format("cannot bind {} socket to {}: {}", what, endpoint, error.what()));
  }
  return socket;
}

void open_sockets(DaemonOptions& options, DaemonParts& parts) {
  scorer::Engine& engine = *parts.engine;
  if (parts.access) options.ingest.rights_of = rights_of_senders(*parts.access, engine.interns());
  parts.ingest = std::make_unique<stream::IngestServer>(
      options.ingest, parts.context, engine.queues(),
      static_cast<std::uint32_t>(scorer::QueueRow::kIngest), engine.groups(), engine.types(),
      engine.event_clock(), engine.done_ticket_queues(), &engine.refusals());
  if (options.jetstream.enabled()) {
    // Events come from the log alone: a replica that also took events of
    // its own would hold scores the others do not.
    auto source = stream::JetStreamSource::open(
        options.jetstream, engine.queues(), static_cast<std::uint32_t>(scorer::QueueRow::kIngest),
        engine.groups(), engine.types(), engine.event_clock(), engine.done_ticket_queues(),
        &engine.refusals());
    if (!source) throw ConfigError("--nats: " + source.status().to_string());
    parts.jetstream = std::move(source).value();
    if (!parts.jetstream->partitions().is_all()) {
      client::PartitionOwnersOptions owners;
      owners.urls = parts.jetstream->options().urls;
      owners.stream = parts.jetstream->options().stream;
      parts.owners = std::make_unique<client::PartitionOwnersWatcher>(
          std::move(owners), parts.jetstream->partitions().partitions());
    }
  } else {
    try {
      parts.ingest->bind();
    } catch (const std::runtime_error& bind_error) {
      throw ConfigError(bind_error.what());
    }
  }
  const std::shared_ptr<const security::AccessList> access =
      parts.access ? parts.access->current() : nullptr;
  parts.query = bind_socket(parts.context, zmq::socket_type::router, options.query_bind, "query",
                            access.get(), security::Door::kQuery);
  parts.query.set(zmq::sockopt::maxmsgsize, options.ingest.max_message_bytes);
  // Answers queued per client: one that asks without reading cannot make
  // tallyd hold its answers without bound (further ones are dropped, and
  // it times out as a client that got no answer).
  parts.query.set(zmq::sockopt::sndhwm, 64);
  parts.alerts = bind_socket(parts.context, zmq::socket_type::pub, options.alerts_bind, "alerts",
                             access.get(), security::Door::kAlerts);
  // A PUB socket drops for a subscriber that falls behind its high-water
  // mark. Every alert is in the alert log first and carries its seq, so a
  // subscriber that falls behind reads what it lost there; the queue only
  // bounds what tallyd holds for each slow one (about 2 MB).
  parts.alerts.set(zmq::sockopt::sndhwm, 10000);
  parts.alert_publisher = std::make_unique<AlertPublisher>(engine, parts.alerts, *parts.alert_log,
                                                           parts.alert_counters);
  if (options.autoscale.enabled()) {
    parts.autoscaler = std::make_unique<scorer::Autoscaler>(options.autoscale);
  }
  options.metrics.version = TALLY_VERSION;
  if (!options.metrics_auth_path.empty()) {
    Result<security::SecretKey> secret = security::read_secret_line_file(options.metrics_auth_path);
    if (!secret) throw ConfigError("--metrics-auth: " + secret.status().to_string());
    const std::string& line = secret->z85();
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == line.size()) {
      throw ConfigError("--metrics-auth " + options.metrics_auth_path +
                        ": the first line must be USER:PASSWORD");
    }
    options.metrics.basic_auth_user = line.substr(0, colon);
    options.metrics.basic_auth_password = line.substr(colon + 1);
  }
  try {
    parts.metrics = std::make_unique<monitoring::MetricsExporter>(
        options.metrics, engine, parts.ingest_counters(), parts.autoscaler.get(),
        &parts.alert_counters, parts.access ? &parts.auth_counters : nullptr,
        parts.jetstream ? &parts.jetstream->jetstream_counters() : nullptr);
  } catch (const std::runtime_error& listen_error) {
    throw ConfigError(listen_error.what());
  }
}

// In a cluster, the rules a node starts with: those in force when it
// stopped (DATA/cluster-rules.toml, written at every switch through the
// log), else its --rules file. Its engine then reloads from that file.
struct ClusterRules {
  std::string file_text;  // --rules
  std::string kept_path;  // DATA/cluster-rules.toml; empty without a journal
  std::string kept_text;  // empty: none kept yet
};

ClusterRules choose_cluster_rules(DaemonOptions& options,
                                  std::shared_ptr<const scorer::RuleSet>& rules) {
  ClusterRules cluster;
  if (!options.jetstream.enabled()) return cluster;
  storage::Env* env = options.scorer.worker.env;
  cluster.file_text = read_text(env, options.rules_path);
  if (!options.journal) return cluster;  // it rebuilds from the stream at every start
  cluster.kept_path = (std::filesystem::path(options.data_dir) / "cluster-rules.toml").string();
  options.scorer.rules_path = cluster.kept_path;
  if (!env->file_exists(cluster.kept_path)) return cluster;
  cluster.kept_text = read_text(env, cluster.kept_path);
  Result<std::shared_ptr<const scorer::RuleSet>> kept =
      scorer::parse_rules(cluster.kept_text, cluster.kept_path, 1);
  if (!kept) throw StateRefused("the rules in force: " + kept.status().to_string());
  rules = std::move(kept).value();
  return cluster;
}

// A node serves the rules of the log, never a file of its own: its
// --rules file must be the log's current rules (<stream>.rules) or the rules
// it kept; with none kept it starts with --rules, which must be the log's
// (or the log has none yet). Then the source installs whatever rules it
// meets in the log through the engine, keeping them in DATA.
void settle_cluster_rules(const DaemonOptions& options, DaemonParts& parts,
                          const ClusterRules& cluster) {
  if (!parts.jetstream) return;
  stream::JetStreamSource& source = *parts.jetstream;
  const std::string file_version = nats::rules_version(cluster.file_text);
  auto log = source.log_rules();
  if (!log) throw ConfigError("--nats: " + log.status().to_string());
  const std::string log_version = *log ? (*log)->first : std::string("(none published)");
  const bool kept = !cluster.kept_text.empty();
  const std::string kept_version = kept ? nats::rules_version(cluster.kept_text) : "";
  const bool matches_log = !*log || file_version == log_version;
  if (!(matches_log || (kept && file_version == kept_version))) {
    throw ConfigError(fmt::format(
        "--rules {} is rules version {}, but the log's current rules ({}) are version {}{}: a "
        "node refuses to serve rules that differ from the log's. Start it with the log's rules "
        "file, or, to change the rules of every node, publish the file into the log: tally "
        "cluster rules --nats URLS --stream {} FILE",
        options.rules_path, file_version, nats::rules_subject(options.jetstream.stream),
        log_version,
        kept ? fmt::format(" and this node's rules in force are version {} ({})", kept_version,
                           cluster.kept_path)
             : "",
        options.jetstream.stream));
  }
  storage::Env* env = options.scorer.worker.env;
  if (!kept && !cluster.kept_path.empty()) {
    if (Status written = storage::write_file_atomically(env, options.data_dir, cluster.kept_path,
                                                        cluster.file_text);
        !written.is_ok()) {
      throw StateRefused("cannot keep the rules in force: " + written.to_string());
    }
  }
  source.set_rules_installer(
      [engine = parts.engine.get(), env, dir = options.data_dir, path = cluster.kept_path](
          std::string_view text, std::string_view version) -> Status {
        const std::string name = fmt::format("rules version {} from the log", version);
        if (auto valid = scorer::parse_rules(text, name, 0); !valid) return valid.status();
        if (!path.empty()) {
          if (Status written = storage::write_file_atomically(env, dir, path, text);
              !written.is_ok()) {
            return written.with_context("keep the rules in force in " + path);
          }
        }
        return engine->install_rules(text, name).status();
      },
      kept ? kept_version : file_version);
}

// Replays the data directory into the started workers and says what was
// read. Returns whether it held nothing (a new node, or no journal).
bool recover(const DaemonOptions& options, scorer::Engine& engine, AlertPublisher& alerts) {
  if (!options.journal) {
    std::printf(
        "journal off: scores live in memory only; the alert log too (alert seq starts at 1)\n");
    return true;
  }
  Result<storage::RecoveryReport> recovered =
      engine.recover([&alerts](const storage::journal::Record& alert) { alerts.restore(alert); });
  if (!recovered) throw StateRefused(recovered.status().to_string());
  const storage::RecoveryReport& report = *recovered;
  for (const std::string& repaired : report.repaired) {
    spdlog::warn("recovery: torn journal tail (a crash mid-write; never acknowledged): {}",
                 repaired);
  }
  const std::string snapshot =
      report.snapshot_generation ? std::to_string(*report.snapshot_generation) : "none";
  std::printf(
      "recovered %llu records (snapshot %s: %llu, journals: %llu) from %llu files, %.1f MB, "
      "in %.2f s; journal fsync=%s\n",
      static_cast<unsigned long long>(report.snapshot_records + report.journal_records),
      snapshot.c_str(), static_cast<unsigned long long>(report.snapshot_records),
      static_cast<unsigned long long>(report.journal_records),
      static_cast<unsigned long long>(report.files), static_cast<double>(report.bytes) / 1e6,
      report.seconds, storage::to_string(options.scorer.worker.journal.fsync));
  const storage::AlertLog& log = alerts.log();
  if (log.next_seq() == log.oldest_seq()) {
    std::printf("alert log: no alerts kept; the next is seq %llu\n",
                static_cast<unsigned long long>(log.next_seq()));
  } else {
    std::printf("alert log: seq %llu to %llu kept (%.1f MB), %llu restored from the journals\n",
                static_cast<unsigned long long>(log.oldest_seq()),
                static_cast<unsigned long long>(log.next_seq() - 1),
                static_cast<double>(log.bytes()) / 1e6,
                static_cast<unsigned long long>(log.counters().appended));
  }
  return report.snapshot_records + report.journal_records == 0;
}

// Subscribes the JetStream source once the data directory is recovered: it
// resumes each consumer where it left off, or, with nothing on disk, reads
// its partitions again from the stream's first message.
void start_consuming(DaemonParts& parts, bool empty_disk) {
  if (!parts.jetstream) return;
  if (const Status started = parts.jetstream->start(empty_disk); !started.is_ok()) {
    throw ConfigError("--nats: " + started.to_string());
  }
  if (empty_disk) {
    std::printf("jetstream: nothing on disk; rebuilding partitions %s from the stream\n",
                parts.jetstream->partitions().to_string().c_str());
  }
}

}  // namespace

std::unique_ptr<DaemonParts> start_up(DaemonOptions& options) {
  // spdlog makes its logger on first use: make it here, before any other
  // thread logs (a thread sanitizer cannot see the library's own guard).
  (void)spdlog::default_logger();
  auto rules = load_initial_rules(options.rules_path);
  options.scorer.rules_path = options.rules_path;
  check_exposure(options);
  auto parts = std::make_unique<DaemonParts>();
  prepare_access(options, *parts);
  prepare_data_dir(options, *parts);
  const ClusterRules cluster = choose_cluster_rules(options, rules);
  parts->engine = std::make_unique<scorer::Engine>(options.scorer, std::move(rules));
  open_sockets(options, *parts);
  settle_cluster_rules(options, *parts, cluster);
  parts->engine->start();
  start_consuming(*parts, recover(options, *parts->engine, *parts->alert_publisher));
  return parts;
}

void print_ready_lines(DaemonParts& parts, const DaemonOptions& options) {
  const scorer::Engine& engine = *parts.engine;
  std::printf("tallyd %s: rules %s (%zu rules, version %u), %u workers, data in %s\n",
              TALLY_VERSION, options.rules_path.c_str(), engine.rules().rules().size(),
              engine.rules().version(), engine.workers(), options.data_dir.c_str());
  if (parts.jetstream) {
    std::printf("consuming %s\n", parts.jetstream->describe().c_str());
    std::printf(
        "rules through the log: version %s in force; `reload` refused (tally cluster "
        "rules changes them)\n",
        parts.jetstream->rules_version_in_force().c_str());
  } else {
    std::printf("listening ingest %s (PULL)\n", parts.ingest->ingest_endpoint().c_str());
    std::printf("listening submit %s (ROUTER, acknowledged batches)\n",
                parts.ingest->submit_endpoint().c_str());
  }
  if (parts.access) {
    const auto list = parts.access->current();
    std::printf("auth %s: %zu clients; server public key %s (clients pass it as --server-key)\n",
                options.auth_path.c_str(), list->clients().size(),
                list->server_public_key().c_str());
  }
  std::printf("listening query %s (ROUTER)\n",
              parts.query.get(zmq::sockopt::last_endpoint).c_str());
  std::printf("listening alerts %s (PUB)\n", parts.alerts.get(zmq::sockopt::last_endpoint).c_str());
  std::printf("listening metrics %s\n", parts.metrics->url().c_str());
  std::printf("ready\n");
  std::fflush(stdout);
}

}  // namespace tally::daemon
