// tally: the command-line client for tallyd. This main parses flags and
// hands the subcommand to its group: queries and admin commands become api/
// requests (ask.h prints the answers), `send` and `revoke` publish events,
// `rules check` needs no daemon. The talking is the client library's
// (QueryClient, Publisher).
//
// Exit codes: 0 done; 1 tallyd answered with an error (or `send --ack`: some
// batch was never acknowledged); 2 no answer / no connection, or bad input;
// 3 `rules check`: the rules file was refused.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <zmq.hpp>

#include "api/endpoints.h"
#include "apps/tally/admin_commands.h"
#include "apps/tally/alerts_command.h"
#include "apps/tally/ask.h"
#include "apps/tally/client_options.h"
#include "apps/tally/cluster_command.h"
#include "apps/tally/keygen_command.h"
#include "apps/tally/query_commands.h"
#include "apps/tally/revoke_command.h"
#include "apps/tally/rules_command.h"
#include "apps/tally/send_command.h"

int main(int argc, char** argv) {
  using namespace tally::cli;
  CLI::App app{
      "tally - the client for tallyd: ask for scores and the events behind them, administer the "
      "daemon, send events.",
      "tally"};
  app.require_subcommand(1);
  ClientOptions options;
  add_client_options(app, options);
  const QueryCommands queries(app);
  const AdminCommands admin(app);
  const SendCommand send(app);
  const RevokeCommand revoke(app);
  const RulesCommand rules(app);
  const ClusterCommand cluster(app);
  const AlertsCommand alerts(app);
  const KeygenCommand keygen(app);
  app.footer(
      "Examples:\n"
      "  tally score plate:NY:ABC1234 [--at 2025-03-01T00:00:00Z]\n"
      "  tally explain plate:NY:ABC1234\n"
      "  tally history plate:NY:ABC1234\n"
      "  tally revoke plate:NY:ABC1234 nyc:4521236789 --reason \"appeal upheld\"\n"
      "  tally rules check config/rules/demerit-ny.toml\n"
      "  tally rules diff OLD.toml NEW.toml | tally rules impact NEW.toml [--csv FILE]\n"
      "  tally top 10 [--lowest]\n"
      "  tally stats | tally reload | tally workers [N] | tally snapshot\n"
      "  tally send events.ndjson --ack\n"
      "  tally alerts --follow [--tier suspended] [--state FILE]\n"
      "  tally keygen reader && tally --key reader.key --server-key server.pub score S\n"
      "  tally cluster init --nats nats://127.0.0.1:4222 | tally cluster status --nats URLS\n"
      "  tally --cluster cluster.toml [--verbose] score plate:NY:ABC1234\n"
      "Run `tally COMMAND --help` for each command's flags.\n\n"
      "Exit codes: 0 done; 1 tallyd answered with an error (send --ack: something\n"
      "was not acknowledged); 2 no answer within --timeout, or bad input; 3 rules\n"
      "check: the rules file was refused.");
  CLI11_PARSE(app, argc, argv);
  if (!options.load_credentials()) return kExitNoAnswer;
  if (!options.cluster_file.empty() && !queries.parsed()) {
    // Reload, snapshot and workers act on one node, and events go through the
    // log (send --nats): neither is routed by subject.
    std::fprintf(stderr,
                 "tally: --cluster routes the queries (score, explain, history, top, stats); "
                 "give the other commands one node with --query\n");
    return kExitNoAnswer;
  }

  if (keygen.parsed()) return keygen.run();
  if (rules.parsed()) return rules.run(options);
  if (cluster.parsed()) return cluster.run(options);
  try {
    if (alerts.parsed()) return alerts.run(options);
    zmq::context_t context(1);
    if (send.parsed()) return send.run(context, options);
    if (revoke.parsed()) return revoke.run(context, options);
    if (admin.parsed()) return ask(context, options, admin.request());
    const tally::Result<tally::api::Request> request = queries.request();
    if (!request) {
      std::fprintf(stderr, "tally: %s\n", std::string(request.status().message()).c_str());
      return kExitNoAnswer;
    }
    return ask(context, options, *request);
  } catch (const zmq::error_t& error) {
    // In practice: an endpoint ZeroMQ cannot parse, e.g. "localhost:7003".
    std::fprintf(stderr, "tally: %s (endpoints look like %s)\n", error.what(),
                 tally::api::kDefaultQueryEndpoint);
    return kExitNoAnswer;
  }
}
