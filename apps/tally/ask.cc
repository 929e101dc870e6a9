#include "apps/tally/ask.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <string>
#include <thread>

#include "api/answers.h"
#include "apps/tally/answer_printing.h"
#include "apps/tally/cluster_routing.h"
#include "apps/tally/rules_impact.h"
#include "client/query_client.h"

namespace tally::cli {
namespace {

int report_failure(api::Op op, const Status& why) {
  const auto code = api::error_code_of(why);
  const std::string message(why.message());
  if (!code) {  // unreadable, or a code this client does not know ("CODE: MESSAGE")
    std::fprintf(stderr, "tally: %s\n", message.c_str());
  } else if (op == api::Op::kReload) {
    std::fprintf(stderr, "tally: reload refused (%s), running rules kept: %s\n",
                 std::string(to_string(*code)).c_str(), message.c_str());
  } else {
    std::fprintf(stderr, "tally: %s: %s\n", std::string(to_string(*code)).c_str(), message.c_str());
  }
  return kExitError;
}

template <typename Answer>
int show(api::Op op, const std::string& text, bool json, void (*print)(const Answer&)) {
  const Result<Answer> answer = api::parse_answer<Answer>(text);
  if (json) {
    fmt::print("{}\n", text);
    return answer ? kExitDone : kExitError;
  }
  if (!answer) return report_failure(op, answer.status());
  print(*answer);
  return kExitDone;
}

// `tally workers N`: the change runs in tallyd; follow it to its end,
// printing progress when it changes, then the outcome and the workers.
int follow_rescale(client::QueryClient& client, const ClientOptions& options,
                   const std::string& first) {
  Result<api::WorkersAnswer> answer = api::parse_answer<api::WorkersAnswer>(first);
  if (!answer) return report_failure(api::Op::kWorkers, answer.status());
  std::uint32_t shown = std::numeric_limits<std::uint32_t>::max();
  std::string text = first;
  while (answer->rescale && answer->rescale->state == "running") {
    if (!options.json && answer->rescale->groups_total > 0 &&
        answer->rescale->groups_moved != shown) {
      shown = answer->rescale->groups_moved;
      print_rescale_progress(*answer->rescale);
      std::fflush(stdout);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto next = client.request(api::to_json(api::Request(api::WorkersRequest{})));
    if (!next) {
      std::fprintf(stderr, "tally: %s\n", next.status().to_string().c_str());
      return kExitNoAnswer;
    }
    text = *next;
    answer = api::parse_answer<api::WorkersAnswer>(text);
    if (!answer) return report_failure(api::Op::kWorkers, answer.status());
  }
  if (options.json) {
    fmt::print("{}\n", text);
  } else {
    if (answer->rescale) print_rescale_outcome(*answer->rescale);
    print_workers(*answer);
  }
  return answer->rescale && answer->rescale->state == "failed" ? kExitError : kExitDone;
}

}  // namespace

CLI::App* add_query_subcommand(CLI::App& app, const std::string& name,
                               const std::string& description, const std::string& footer) {
  CLI::App* command = app.add_subcommand(name, description);
  command->footer(footer +
                  "\n\nExit codes: 0 answered; 1 tallyd refused (printed as tally: CODE: "
                  "MESSAGE);\n2 no answer within --timeout, or bad input.");
  return command;
}

int ask(zmq::context_t& context, const ClientOptions& options, const api::Request& request) {
  if (!options.cluster_file.empty()) {
    const Result<client::ClusterFile> cluster = client::ClusterFile::load(options.cluster_file);
    if (!cluster) {
      std::fprintf(stderr, "tally: --cluster %s\n", cluster.status().to_string().c_str());
      return kExitNoAnswer;
    }
    if (const auto* top = std::get_if<api::TopRequest>(&request)) {
      std::string uncovered;
      const Result<std::string> merged =
          ask_cluster_top(context, options, *cluster, *top, uncovered);
      if (!merged) {
        std::fprintf(stderr, "tally: %s\n", merged.status().to_string().c_str());
        return api::error_code_of(merged.status()) ? kExitError : kExitNoAnswer;
      }
      const int shown = present(nullptr, options, request, *merged);
      if (uncovered.empty()) return shown;
      std::fprintf(stderr, "tally: top leaves out partitions %s: no node owning them answered\n",
                   uncovered.c_str());
      return kExitNoAnswer;
    }
    Result<RoutedAnswer> routed = ask_cluster(context, options, *cluster, request);
    if (!routed) {
      std::fprintf(stderr, "tally: %s\n", routed.status().to_string().c_str());
      return kExitNoAnswer;
    }
    return present(routed->client.get(), options, request, routed->text);
  }
  client::QueryClient client(context, options.query_endpoint, options.timeout(), options.curve);
  const auto text = client.request(api::to_json(request));
  if (!text) {
    std::fprintf(stderr, "tally: %s\n", text.status().to_string().c_str());
    return kExitNoAnswer;
  }
  return present(&client, options, request, *text);
}

int present(client::QueryClient* client, const ClientOptions& options, const api::Request& request,
            const std::string& answer) {
  const std::string* text = &answer;
  const api::Op op = api::op_of(request);
  switch (op) {
    case api::Op::kScore:
      return show<api::ScoreAnswer>(op, *text, options.json, print_score);
    case api::Op::kExplain:
      return show<api::ExplainAnswer>(op, *text, options.json, print_explain);
    case api::Op::kHistory:
      return show<api::HistoryAnswer>(op, *text, options.json, print_history);
    case api::Op::kTop:
      return show<api::TopAnswer>(op, *text, options.json, print_top);
    case api::Op::kStats:
      return show<api::StatsAnswer>(op, *text, options.json, print_stats);
    case api::Op::kReload:
      return show<api::ReloadAnswer>(op, *text, options.json, print_reload);
    case api::Op::kWorkers:
      if (std::get<api::WorkersRequest>(request).set && client != nullptr) {
        return follow_rescale(*client, options, *text);
      }
      return show<api::WorkersAnswer>(op, *text, options.json, print_workers);
    case api::Op::kSnapshot:
      return show<api::SnapshotAnswer>(op, *text, options.json, print_snapshot);
    case api::Op::kImpact:
      return show<api::ImpactAnswer>(op, *text, options.json, print_impact);
    case api::Op::kAlerts:  // `tally alerts` reads them (alerts_command.h); here as JSON
      return show<api::AlertsAnswer>(op, *text, true, [](const api::AlertsAnswer&) {});
  }
  return kExitError;
}

}  // namespace tally::cli
