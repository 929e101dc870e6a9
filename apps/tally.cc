// tally: the command-line client. Parses flags and speaks tallyd's query API
// and ingest protocol through the adapters library; formatting only.
#include <fmt/format.h>
#include <simdjson.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "adapters/publisher.h"
#include "adapters/query_client.h"
#include "stream/json_text.h"

namespace {

using tally::adapters::PublisherOptions;
using tally::adapters::QueryClient;

std::string json_quoted(std::string_view text) {
  std::string out;
  tally::stream::append_json_string(out, text);
  return out;
}

// A time given on the command line: digits are epoch milliseconds, anything
// else is passed as an RFC 3339 string (the daemon validates it).
std::string time_value(const std::string& text) {
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  return digits ? text : json_quoted(text);
}

std::string_view str(simdjson::dom::element element) {
  std::string_view text;
  if (element.get_string().get(text) == simdjson::SUCCESS) return text;
  return "-";
}

void print_contributions(std::string_view title, simdjson::dom::array list) {
  if (list.size() == 0) return;
  fmt::print("{}:\n  {:<24} {:<32} {:>6}  {:<20} {:<20} {}\n", title, "id", "type", "points",
             "time", "expires", "source");
  for (auto c : list) {
    std::string expires(c["expires"].is_null() ? "never" : str(c["expires"]));
    fmt::print("  {:<24} {:<32} {:>6}  {:<20} {:<20} {}", str(c["id"]), str(c["type"]),
               c["points"].get_int64().value_unsafe(), str(c["time"]), expires, str(c["source"]));
    if (c["revoked_by"].error() == simdjson::SUCCESS) {
      fmt::print("  revoked by {} ({})", str(c["revoked_by"]), str(c["revoke_source"]));
    }
    fmt::print("\n");
  }
}

// Prints an answer for people; returns the exit code.
int print_answer(const std::string& op, const std::string& text, bool raw) {
  simdjson::dom::parser parser;
  simdjson::dom::element answer;
  if (parser.parse(text).get(answer) != simdjson::SUCCESS) {
    std::fprintf(stderr, "tally: the daemon answered something that is not JSON: %s\n",
                 text.c_str());
    return 1;
  }
  if (answer["error"].error() == simdjson::SUCCESS) {
    std::fprintf(stderr, "tally: %s: %s\n", std::string(str(answer["error"]["code"])).c_str(),
                 std::string(str(answer["error"]["message"])).c_str());
    return 1;
  }
  if (raw || op == "stats") {
    std::cout << text << "\n";
    return 0;
  }
  if (op == "score" || op == "explain") {
    fmt::print("{}  score {}  tier {}  events {}  (at {})\n", str(answer["subject"]),
               answer["score"].get_int64().value_unsafe(), str(answer["tier"]),
               answer["events"].get_int64().value_unsafe(), str(answer["at"]));
    if (op == "explain") {
      print_contributions("counting now", answer["contributions"].get_array().value_unsafe());
      print_contributions("not counting now (expired or not yet in force)",
                          answer["inactive"].get_array().value_unsafe());
      print_contributions("revoked", answer["revoked"].get_array().value_unsafe());
      simdjson::dom::array pending = answer["pending_revokes"].get_array().value_unsafe();
      for (auto p : pending) {
        fmt::print("pending revoke {} of {} ({}) — target not seen yet\n", str(p["id"]),
                   str(p["revokes"]), str(p["source"]));
      }
    }
  } else if (op == "top") {
    int rank = 0;
    simdjson::dom::array subjects = answer["subjects"].get_array().value_unsafe();
    for (auto s : subjects) {
      fmt::print("{:>4}. {:<40} {:>8}  {}\n", ++rank, str(s["subject"]),
                 s["score"].get_int64().value_unsafe(), str(s["tier"]));
    }
    if (rank == 0) fmt::print("no subjects yet\n");
  } else if (op == "reload") {
    bool reloaded = false;
    if (answer["reloaded"].get_bool().get(reloaded) != simdjson::SUCCESS) reloaded = false;
    if (!reloaded) {
      std::fprintf(stderr, "tally: reload refused, running rules kept: %s\n",
                   std::string(str(answer["error"]["message"])).c_str());
      return 1;
    }
    fmt::print("reloaded {}: version {}, {} rules\n", str(answer["file"]),
               answer["version"].get_int64().value_unsafe(),
               answer["rules"].get_int64().value_unsafe());
  } else if (op == "workers") {
    fmt::print("{} workers\n", answer["workers"].get_int64().value_unsafe());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "tally - the client for tallyd: ask scores and explanations, send events.\n\n"
      "Examples:\n"
      "  tally score plate:NY:ABC1234                 the score, tier and events counting now\n"
      "  tally score plate:NY:ABC1234 --at 2025-03-01T00:00:00Z\n"
      "  tally explain plate:NY:ABC1234               every contribution, and the revoked ones\n"
      "  tally top 10 [--lowest]                      the highest (or lowest) scores\n"
      "  tally stats | tally reload | tally workers\n"
      "  tally send events.ndjson --ack               publish NDJSON (a file, or - for stdin)\n",
      "tally"};
  app.require_subcommand(1);
  std::string query_endpoint = "tcp://127.0.0.1:7003";
  std::string ingest_endpoint = "tcp://127.0.0.1:7001";
  std::string submit_endpoint = "tcp://127.0.0.1:7002";
  double timeout_s = 5;
  bool raw = false;
  app.add_option("--query", query_endpoint, "tallyd's query socket")->capture_default_str();
  app.add_option("--ingest", ingest_endpoint, "tallyd's fire-and-forget ingest socket")
      ->capture_default_str();
  app.add_option("--submit", submit_endpoint, "tallyd's acknowledged-batch socket")
      ->capture_default_str();
  app.add_option("--timeout", timeout_s, "Seconds to wait for an answer")->capture_default_str();
  app.add_flag("--json", raw, "Print the daemon's JSON answer as it is");

  std::string subject, at;
  auto* score = app.add_subcommand("score", "A subject's score, tier and events counting");
  score->add_option("subject", subject, "e.g. plate:NY:ABC1234")->required();
  score->add_option("--at", at, "Answer for this time (RFC 3339 or epoch ms) instead of now");
  auto* explain = app.add_subcommand("explain", "A subject's score and every contribution");
  explain->add_option("subject", subject)->required();
  explain->add_option("--at", at, "Explain as of this time (RFC 3339 or epoch ms)");
  std::uint64_t n = 10;
  bool lowest = false;
  auto* top = app.add_subcommand("top", "The N highest (or lowest) scores");
  top->add_option("n", n, "How many (1-10000)")->capture_default_str();
  top->add_flag("--lowest", lowest, "The lowest scores instead");
  auto* stats = app.add_subcommand(
      "stats", "Counts: received, accepted, duplicates, rejected by reason, per worker");
  auto* reload =
      app.add_subcommand("reload", "Re-read the rules file; the answer says whether it took");
  std::uint64_t set_workers = 0;
  auto* workers =
      app.add_subcommand("workers", "The worker count (changing it live is a later feature)");
  workers->add_option("n", set_workers, "Ask for this many workers");
  std::string file;
  bool ack = false;
  std::size_t batch = 1000;
  double ack_timeout_s = 2;
  auto* send = app.add_subcommand("send", "Publish NDJSON events from a file or stdin (-)");
  send->add_option("file", file, "NDJSON file, or - for stdin")->required();
  send->add_flag("--ack", ack, "Acknowledged batches: resend unanswered ones, report what took");
  send->add_option("--batch", batch, "Events per message (1 = one event a message)")
      ->capture_default_str();
  send->add_option("--ack-timeout", ack_timeout_s, "Seconds before an unanswered batch is resent")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  zmq::context_t context(1);
  if (send->parsed()) {
    PublisherOptions options;
    options.acknowledged = ack;
    options.endpoint = ack ? submit_endpoint : ingest_endpoint;
    options.batch_max_events = batch;
    options.ack_timeout = std::chrono::milliseconds(static_cast<long>(ack_timeout_s * 1000));
    std::ifstream in_file;
    std::istream* in = &std::cin;
    if (file != "-") {
      in_file.open(file, std::ios::binary);
      if (!in_file) {
        std::fprintf(stderr, "tally: cannot read %s\n", file.c_str());
        return 2;
      }
      in = &in_file;
    }
    tally::adapters::Publisher publisher(context, options);
    std::string line;
    while (std::getline(*in, line)) publisher.add(line);
    const auto summary = publisher.finish();
    fmt::print("sent {} events in {} batches to {}\n", summary.events, summary.batches,
               options.endpoint);
    if (ack) {
      fmt::print("accepted {}, duplicates {}, rejected {}, resends {}\n", summary.accepted,
                 summary.duplicates, summary.rejected_total(), summary.resends);
      for (const auto& [reason, count] : summary.rejected)
        fmt::print("  rejected {}: {}\n", reason, count);
      if (!summary.complete()) {
        std::fprintf(stderr, "tally: %llu batches were never acknowledged\n",
                     static_cast<unsigned long long>(summary.unacknowledged_batches));
        return 1;
      }
    }
    return 0;
  }

  std::string op, request;
  if (score->parsed() || explain->parsed()) {
    op = score->parsed() ? "score" : "explain";
    request = fmt::format(R"({{"op":"{}","subject":{}{}}})", op, json_quoted(subject),
                          at.empty() ? "" : ",\"at\":" + time_value(at));
  } else if (top->parsed()) {
    op = "top";
    request =
        fmt::format(R"({{"op":"top","n":{},"order":"{}"}})", n, lowest ? "lowest" : "highest");
  } else if (stats->parsed()) {
    op = "stats";
    request = R"({"op":"stats"})";
  } else if (reload->parsed()) {
    op = "reload";
    request = R"({"op":"reload"})";
  } else if (workers->parsed()) {
    op = "workers";
    request = set_workers > 0 ? fmt::format(R"({{"op":"workers","set":{}}})", set_workers)
                              : R"({"op":"workers"})";
  }
  QueryClient client(context, query_endpoint,
                     std::chrono::milliseconds(static_cast<long>(timeout_s * 1000)));
  const auto answer = client.request(request);
  if (!answer) {
    std::fprintf(stderr, "tally: no answer from %s within %gs (is tallyd running?)\n",
                 query_endpoint.c_str(), timeout_s);
    return 2;
  }
  return print_answer(op, *answer, raw);
}
