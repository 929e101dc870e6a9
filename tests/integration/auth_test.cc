// tallyd --auth end to end: keys made by `tally keygen`, the real daemon,
// real CURVE clients (the library and the `tally` program), and every
// refusal: no key, an unknown key, a role that does not allow the message,
// a client removed by a reload; and no open socket off loopback without it.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "api/answers.h"
#include "client/http_get.h"
#include "client/query_client.h"
#include "security/curve_client.h"
#include "tests/support/child_process.h"
#include "tests/support/daemon_process.h"
#include "tests/support/events.h"
#include "tests/support/queries.h"
#include "tests/support/rules.h"

namespace tally::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// How long a test waits to be sure nothing gets through: handshakes on
// loopback take milliseconds.
constexpr auto kNothingWithin = 1500ms;
// How long an answer may take when one is due.
constexpr auto kAnswerWithin = 10s;

unsigned mode_of(const fs::path& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 0777;
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir_ / "rules.toml", kDemeritRules);
    for (const char* name :
         {"server", "producer", "appeals", "reader", "operator", "stranger", "late"}) {
      const ProgramResult made = run_program({tally_path(), "keygen", (dir_ / name).string()}, 30s);
      ASSERT_EQ(made.exit_code, 0) << made.output;
    }
    write_auth({"producer", "appeals", "reader", "operator"});
  }

  std::string public_key(const std::string& name) const {
    std::string key = read_file(dir_ / (name + ".pub"));
    while (!key.empty() && key.back() == '\n') key.pop_back();
    return key;
  }

  // The auth file, naming these clients, each with the role of its name.
  void write_auth(const std::vector<std::string>& clients) const {
    std::string text = "server_secret_key_file = \"server.key\"\n";
    for (const std::string& name : clients) {
      text += fmt::format("[[client]]\nname = \"{}\"\npublic_key = \"{}\"\nroles = [\"{}\"]\n",
                          name, public_key(name), name == "late" ? "reader" : name);
    }
    write_file(dir_ / "auth.toml", text);
  }

  std::shared_ptr<const security::CurveCredentials> credentials(const std::string& name) const {
    auto loaded = security::load_credentials((dir_ / (name + ".key")).string(),
                                             (dir_ / "server.pub").string());
    EXPECT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    return loaded.is_ok() ? std::move(loaded).value() : nullptr;
  }

  DaemonProcess start(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--auth", (dir_ / "auth.toml").string()});
    return DaemonProcess(dir_ / "rules.toml", dir_ / "data", std::move(extra));
  }

  // `tally` as `name` (its key), with these arguments after the endpoints.
  ProgramResult tally_as(const DaemonProcess& daemon, const std::string& name,
                         std::vector<std::string> args) const {
    std::vector<std::string> argv = {tally_path(),
                                     "--query",
                                     daemon.query(),
                                     "--submit",
                                     daemon.submit(),
                                     "--timeout",
                                     "3",
                                     "--key",
                                     (dir_ / (name + ".key")).string(),
                                     "--server-key",
                                     (dir_ / "server.pub").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv, 60s);
  }

  TempDir dir_{"auth"};
};

// One query through the library: the answer, or the failure (no answer).
Result<std::string> ask_as(zmq::context_t& context, const DaemonProcess& daemon,
                           std::shared_ptr<const security::CurveCredentials> curve,
                           const std::string& request,
                           std::chrono::milliseconds timeout = kAnswerWithin) {
  client::QueryClient client(context, daemon.query(), timeout, std::move(curve));
  return client.request(request);
}

TEST_F(AuthTest, KeygenWritesASecretOnlyItsOwnerReadsAndRefusesToOverwrite) {
  EXPECT_EQ(mode_of(dir_ / "server.key"), 0600u);
  EXPECT_EQ(mode_of(dir_ / "server.pub"), 0644u);
  EXPECT_EQ(read_file(dir_ / "server.key").size(), 41u);
  const ProgramResult again = run_program({tally_path(), "keygen", (dir_ / "server").string()});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.output.find("exists"), std::string::npos) << again.output;

  // A secret key others may read is refused, by the client and by tallyd.
  fs::permissions(dir_ / "reader.key", fs::perms::group_read, fs::perm_options::add);
  const ProgramResult client =
      run_program({tally_path(), "--key", (dir_ / "reader.key").string(), "--server-key",
                   (dir_ / "server.pub").string(), "stats"});
  EXPECT_EQ(client.exit_code, 2);
  EXPECT_NE(client.output.find("chmod 600"), std::string::npos) << client.output;
  fs::permissions(dir_ / "server.key", fs::perms::others_read, fs::perm_options::add);
  const ProgramResult daemon =
      run_program({tallyd_path(), "--rules", (dir_ / "rules.toml").string(), "--data-dir",
                   (dir_ / "data").string(), "--auth", (dir_ / "auth.toml").string()});
  EXPECT_EQ(daemon.exit_code, 2);
  EXPECT_NE(daemon.output.find("chmod 600"), std::string::npos) << daemon.output;
}

TEST_F(AuthTest, NoKeyOrAnUnknownKeyGetsNothingThroughOnAnySocket) {
  auto daemon = start({"--workers", "2"});
  zmq::context_t context(1);
  const auto stranger = credentials("stranger");
  for (const auto& curve : {std::shared_ptr<const security::CurveCredentials>(), stranger}) {
    const std::string who = curve ? "an unknown key" : "no key";
    // Query: no answer.
    EXPECT_FALSE(ask_as(context, daemon, curve, R"({"op":"stats"})", kNothingWithin))
        << who << " was answered";
    // Ingest and submit: nothing taken, nothing answered.
    zmq::socket_t push(context, zmq::socket_type::push);
    push.set(zmq::sockopt::linger, 0);
    security::secure_client_socket(push, curve.get());
    push.connect(daemon.ingest());
    (void)push.send(
        zmq::buffer(event_line("p-" + who, "victim", "red_light", "2024-01-01T00:00:00Z")),
        zmq::send_flags::dontwait);
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    security::secure_client_socket(dealer, curve.get());
    dealer.connect(daemon.submit());
    const std::string batch = event_line("s-" + who, "victim", "speeding", "2024-01-02T00:00:00Z");
    std::array<zmq::const_buffer, 2> frames = {zmq::str_buffer("b1"), zmq::buffer(batch)};
    (void)zmq::send_multipart(dealer, frames, zmq::send_flags::dontwait);
    zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
    EXPECT_EQ(zmq::poll(&item, 1, kNothingWithin), 0) << who << "'s batch was answered";
  }
  // Alerts: an outsider's subscription hears nothing while a reader hears.
  zmq::socket_t outsider(context, zmq::socket_type::sub);
  outsider.set(zmq::sockopt::subscribe, "");
  security::secure_client_socket(outsider, stranger.get());
  outsider.connect(daemon.alerts());
  zmq::socket_t reader(context, zmq::socket_type::sub);
  reader.set(zmq::sockopt::subscribe, "");
  const auto reader_keys = credentials("reader");
  security::secure_client_socket(reader, reader_keys.get());
  reader.connect(daemon.alerts());
  daemon.use_credentials(credentials("producer"));
  int probe = 0;
  ASSERT_TRUE(eventually(
      [&] {
        const std::string subject = fmt::format("probe-{}", probe++);
        daemon.submit_batch(
            subject, event_line(subject + "a", subject, "red_light", "2024-05-01T00:00:00Z") +
                         event_line(subject + "b", subject, "red_light", "2024-05-02T00:00:00Z"));
        zmq::pollitem_t heard{reader.handle(), 0, ZMQ_POLLIN, 0};
        return zmq::poll(&heard, 1, 200ms) > 0;
      },
      60s))
      << "the reader never heard an alert";
  zmq::pollitem_t outsider_item{outsider.handle(), 0, ZMQ_POLLIN, 0};
  EXPECT_EQ(zmq::poll(&outsider_item, 1, 200ms), 0) << "an unknown key heard an alert";

  // Nothing the outsiders sent was taken.
  daemon.use_credentials(reader_keys);
  EXPECT_EQ(score_of(daemon, "victim"), 0);
  EXPECT_NE(daemon.output().find("auth: unknown key"), std::string::npos);
  const std::string metrics = daemon.scrape_metrics();
  EXPECT_EQ(metrics.find("tally_auth_handshakes_total{result=\"denied\"} 0"), std::string::npos)
      << "refused handshakes are counted";
  EXPECT_NE(metrics.find("tally_auth_handshakes_total{result=\"denied\"}"), std::string::npos);
  EXPECT_EQ(daemon.terminate(), 0);
}

TEST_F(AuthTest, EachRoleDoesWhatItMayAndTheRestIsRefusedByName) {
  auto daemon = start({"--workers", "2"});
  // A producer's events are taken; its revoke is rejected `forbidden`.
  daemon.use_credentials(credentials("producer"));
  const std::string answer = daemon.submit_batch(
      "b1", event_line("e1", "plate:1", "red_light", "2024-01-01T00:00:00Z") +
                event_line("r1", "plate:1", "revoke", "2024-01-02T00:00:00Z", {.revokes = "e1"}));
  EXPECT_NE(answer.find(R"("accepted":1)"), std::string::npos) << answer;
  EXPECT_NE(answer.find(R"({"line":2,"reason":"forbidden"})"), std::string::npos) << answer;
  EXPECT_NE(read_file(dir_ / "data" / "rejected.ndjson").find(R"("reason":"forbidden")"),
            std::string::npos);

  // The appeals office's revoke is taken (through `tally revoke`).
  const ProgramResult revoke =
      tally_as(daemon, "appeals", {"revoke", "plate:1", "e1", "--reason", "appeal upheld"});
  EXPECT_EQ(revoke.exit_code, 0) << revoke.output;
  // ...and it may not send events.
  daemon.use_credentials(credentials("appeals"));
  const std::string appeal_event =
      daemon.submit_batch("b2", event_line("e2", "plate:2", "speeding", "2024-01-03T00:00:00Z"));
  EXPECT_NE(appeal_event.find(R"({"line":1,"reason":"forbidden"})"), std::string::npos)
      << appeal_event;

  // A reader reads; its reload is refused `forbidden`.
  const ProgramResult score = tally_as(daemon, "reader", {"score", "plate:1"});
  EXPECT_EQ(score.exit_code, 0) << score.output;
  const ProgramResult refused = tally_as(daemon, "reader", {"reload"});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("forbidden"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("operator"), std::string::npos) << refused.output;
  // An operator reloads, and may not read personal records.
  const ProgramResult reload = tally_as(daemon, "operator", {"reload"});
  EXPECT_EQ(reload.exit_code, 0) << reload.output;
  const ProgramResult explain = tally_as(daemon, "operator", {"explain", "plate:1"});
  EXPECT_EQ(explain.exit_code, 1) << explain.output;
  EXPECT_NE(explain.output.find("forbidden"), std::string::npos) << explain.output;

  daemon.use_credentials(credentials("reader"));
  EXPECT_EQ(score_of(daemon, "plate:1"), 0) << "the appeals office's revoke counts";
  // Every accepted revoke names the client that sent it, beside its source,
  // in explain and history, and after a restart (journal) and a snapshot.
  const auto revoked_by_appeals = [](DaemonProcess& running) {
    const std::string explained = running.ask(R"({"op":"explain","subject":"plate:1"})");
    EXPECT_NE(explained.find(R"("revoke_source":"appeals","revoke_reason":"appeal upheld")"),
              std::string::npos)
        << explained;
    EXPECT_NE(explained.find(R"("revoke_client":"appeals")"), std::string::npos) << explained;
    const std::string history = running.ask(R"({"op":"history","subject":"plate:1"})");
    EXPECT_NE(history.find(R"("what":"revoked")"), std::string::npos) << history;
    EXPECT_NE(history.find(R"("client":"appeals")"), std::string::npos) << history;
  };
  revoked_by_appeals(daemon);
  const ProgramResult shown = tally_as(daemon, "reader", {"explain", "plate:1"});
  EXPECT_NE(shown.output.find("appeals (client appeals)"), std::string::npos) << shown.output;
  const std::string metrics = daemon.scrape_metrics();
  EXPECT_NE(metrics.find("tally_events_rejected_total{reason=\"forbidden\"} 2"), std::string::npos);
  daemon.kill_hard();  // what follows is recovered from the journal
  {
    auto restarted = start({"--workers", "3"});
    restarted.use_credentials(credentials("reader"));
    revoked_by_appeals(restarted);
    EXPECT_EQ(restarted.terminate(), 0);  // a snapshot at the stop
  }
  auto from_snapshot = start({"--workers", "1"});
  from_snapshot.use_credentials(credentials("reader"));
  revoked_by_appeals(from_snapshot);
  EXPECT_EQ(from_snapshot.terminate(), 0);
}

TEST_F(AuthTest, AReloadLetsANewClientInAndShutsARemovedOneOut) {
  auto daemon = start();
  zmq::context_t context(1);
  const auto late = credentials("late");
  const auto reader = credentials("reader");
  EXPECT_FALSE(ask_as(context, daemon, late, R"({"op":"stats"})", kNothingWithin));
  ASSERT_TRUE(ask_as(context, daemon, reader, R"({"op":"stats"})"));

  // `late` in, `reader` out.
  write_auth({"producer", "appeals", "late", "operator"});
  const ProgramResult reload = tally_as(daemon, "operator", {"reload"});
  ASSERT_EQ(reload.exit_code, 0) << reload.output;
  const auto let_in = ask_as(context, daemon, late, R"({"op":"stats"})");
  ASSERT_TRUE(let_in) << let_in.status().to_string();
  EXPECT_NE(let_in->find("\"received\""), std::string::npos) << *let_in;
  EXPECT_FALSE(ask_as(context, daemon, reader, R"({"op":"stats"})", kNothingWithin))
      << "a removed client was answered on a new connection";

  // A connection made before the reload is refused from then on, by name.
  client::QueryClient still_open(context, daemon.query(), kAnswerWithin, late);
  ASSERT_TRUE(still_open.request(R"({"op":"stats"})"));
  write_auth({"producer", "appeals", "operator"});
  ASSERT_EQ(tally_as(daemon, "operator", {"reload"}).exit_code, 0);
  const auto after = still_open.request(R"({"op":"stats"})");
  ASSERT_TRUE(after) << after.status().to_string();
  EXPECT_NE(after->find("\"forbidden\""), std::string::npos) << *after;

  // A broken auth file is refused with its place; nothing changes.
  write_file(dir_ / "auth.toml", "server_secret_key_file = \"server.key\"\n[[client]]\nname = 1\n");
  const ProgramResult broken = tally_as(daemon, "operator", {"reload"});
  EXPECT_EQ(broken.exit_code, 1) << broken.output;
  EXPECT_NE(broken.output.find("auth.toml:"), std::string::npos) << broken.output;
  EXPECT_EQ(daemon.terminate(), 0);
}

TEST_F(AuthTest, MetricsCanRequireBasicAuthentication) {
  write_file(dir_ / "metrics.pass", "prometheus:s3cret-Value\n");
  fs::permissions(dir_ / "metrics.pass", fs::perms::owner_read | fs::perms::owner_write);
  auto daemon = start({"--metrics-auth", (dir_ / "metrics.pass").string()});
  const std::string rest = daemon.metrics_url().substr(std::string("http://").size());
  const std::string host = rest.substr(0, rest.find(':'));
  const int port = std::stoi(rest.substr(rest.find(':') + 1));
  EXPECT_FALSE(client::http_get(host, port, "/metrics", 10s)) << "answered without credentials";
  EXPECT_FALSE(client::http_get(host, port, "/metrics", 10s, "prometheus:wrong"));
  const auto body = client::http_get(host, port, "/metrics", 10s, "prometheus:s3cret-Value");
  ASSERT_TRUE(body);
  EXPECT_NE(body->find("tally_build_info"), std::string::npos);
  EXPECT_EQ(daemon.terminate(), 0);

  fs::permissions(dir_ / "metrics.pass", fs::perms::group_read, fs::perm_options::add);
  const ProgramResult exposed =
      run_program({tallyd_path(), "--rules", (dir_ / "rules.toml").string(), "--data-dir",
                   (dir_ / "data").string(), "--metrics-auth", (dir_ / "metrics.pass").string()});
  EXPECT_EQ(exposed.exit_code, 2);
  EXPECT_NE(exposed.output.find("chmod 600"), std::string::npos) << exposed.output;
}

TEST_F(AuthTest, WithoutAuthOnlyLoopbackUnlessInsecureAndStateIsOwnerOnly) {
  const ProgramResult open =
      run_program({tallyd_path(), "--rules", (dir_ / "rules.toml").string(), "--data-dir",
                   (dir_ / "open").string(), "--query-bind", "tcp://0.0.0.0:0"});
  EXPECT_EQ(open.exit_code, 2) << open.output;
  EXPECT_NE(open.output.find("refusing to listen for query on tcp://0.0.0.0:0 without --auth"),
            std::string::npos)
      << open.output;
  EXPECT_NE(open.output.find("--insecure"), std::string::npos) << open.output;

  auto daemon = DaemonProcess(dir_ / "rules.toml", dir_ / "data", {"--insecure"});
  daemon.submit_batch("b", event_line("e", "s", "red_light", "2024-01-01T00:00:00Z") +
                               event_line("e", "s", "no_such_rule", "2024-01-01T00:00:00Z"));
  EXPECT_EQ(daemon.terminate(), 0);
  EXPECT_EQ(mode_of(dir_ / "data"), 0700u);
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "data")) {
    if (entry.is_directory()) {
      EXPECT_EQ(mode_of(entry.path()), 0700u) << entry.path();
    } else {
      EXPECT_EQ(mode_of(entry.path()), 0600u) << entry.path();
      ++files;
    }
  }
  EXPECT_GE(files, 3u) << "journal, snapshot, dead letters at least";
}

}  // namespace
}  // namespace tally::testing
