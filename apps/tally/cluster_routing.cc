#include "apps/tally/cluster_routing.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <set>

#include "api/answers.h"

namespace tally::cli {
namespace {

void say(const ClientOptions& options, const std::string& line) {
  if (options.verbose) std::fprintf(stderr, "tally: %s\n", line.c_str());
}

}  // namespace

Result<std::string> ask_node(zmq::context_t& context, const ClientOptions& options,
                             const client::ClusterNode& node, const std::string& json,
                             std::unique_ptr<client::QueryClient>* kept) {
  Result<std::shared_ptr<const security::CurveCredentials>> curve = security::load_credentials(
      options.key_file, node.server_key.empty() ? options.server_key : node.server_key);
  if (!curve) return curve.status();
  auto query = std::make_unique<client::QueryClient>(context, node.query_endpoint,
                                                     options.node_timeout(), *curve);
  Result<std::string> text = query->request(json);
  if (kept != nullptr) *kept = std::move(query);
  return text;
}

Result<RoutedAnswer> ask_cluster(zmq::context_t& context, const ClientOptions& options,
                                 const client::ClusterFile& cluster, const api::Request& request) {
  const std::string* subject = api::subject_of(request);
  std::deque<const client::ClusterNode*> next;
  if (subject != nullptr) {
    for (const client::ClusterNode* owner : cluster.owners_of(*subject)) next.push_back(owner);
  } else {
    for (const client::ClusterNode& node : cluster.nodes) next.push_back(&node);
  }
  const std::string json = api::to_json(request);
  std::set<std::string> asked;
  std::vector<std::string> failures;
  std::optional<std::string> last_moved;
  while (!next.empty()) {
    const client::ClusterNode& node = *next.front();
    next.pop_front();
    if (!asked.insert(node.name).second) continue;
    std::unique_ptr<client::QueryClient> query;
    Result<std::string> text = ask_node(context, options, node, json, &query);
    if (!text) {
      failures.push_back(fmt::format("{}: {}", node.name, text.status().message()));
      say(options, fmt::format("node {}: {}; asking the next", node.name, text.status().message()));
      continue;
    }
    if (subject != nullptr) {
      if (const Result<api::MovedError> moved = api::parse_moved(*text)) {
        say(options, fmt::format("node {} answered moved: {}", node.name, moved->message));
        // The owners it names go first, in its order; a name not in the file
        // cannot be reached (no endpoint) and is said so.
        for (auto owner = moved->owners.rbegin(); owner != moved->owners.rend(); ++owner) {
          const client::ClusterNode* named = cluster.node_named(*owner);
          if (named == nullptr) {
            say(options, fmt::format("node {} is not in {}", *owner, cluster.path));
          } else if (!asked.contains(named->name)) {
            next.push_front(named);
          }
        }
        last_moved = std::move(text).value();
        continue;
      }
    }
    say(options, fmt::format("answered by node {} ({})", node.name, node.query_endpoint));
    return RoutedAnswer{std::move(text).value(), &node, std::move(query)};
  }
  if (last_moved) return RoutedAnswer{std::move(*last_moved), nullptr, nullptr};
  std::string why = subject != nullptr
                        ? fmt::format("no owner of {} (partition {}) answered", *subject,
                                      partition_of_subject(*subject, cluster.partitions))
                        : std::string("no node answered");
  for (const std::string& failure : failures) why += "; " + failure;
  return Status::unavailable(std::move(why));
}

Result<std::string> ask_cluster_top(zmq::context_t& context, const ClientOptions& options,
                                    const client::ClusterFile& cluster,
                                    const api::TopRequest& request, std::string& uncovered) {
  const std::string json = api::to_json(api::Request(request));
  std::vector<bool> covered(cluster.partitions, false);
  std::vector<std::string> failures;
  api::TopAnswer merged{request.order, request.n, 0, {}};
  std::set<std::string> seen;  // a subject held by several replicas counts once
  bool answered = false;
  for (const client::ClusterNode& node : cluster.nodes) {
    Result<std::string> text = ask_node(context, options, node, json);
    if (!text) {
      failures.push_back(fmt::format("{}: {}", node.name, text.status().message()));
      say(options, fmt::format("node {}: {}", node.name, text.status().message()));
      continue;
    }
    Result<api::TopAnswer> answer = api::parse_answer<api::TopAnswer>(*text);
    if (!answer) return answer.status();
    say(options, fmt::format("top: node {} answered ({} subjects, partitions {})", node.name,
                             answer->subjects.size(), node.partitions.to_string()));
    answered = true;
    merged.at_ms = std::max(merged.at_ms, answer->at_ms);
    for (std::uint32_t p : node.partitions.list()) covered[p] = true;
    for (api::RankedSubject& ranked : answer->subjects) {
      if (seen.insert(ranked.subject).second) merged.subjects.push_back(std::move(ranked));
    }
  }
  if (!answered) {
    std::string why = "no node answered";
    for (const std::string& failure : failures) why += "; " + failure;
    return Status::unavailable(std::move(why));
  }
  const bool highest = request.order == api::Order::kHighest;
  std::sort(merged.subjects.begin(), merged.subjects.end(),
            [highest](const api::RankedSubject& a, const api::RankedSubject& b) {
              if (a.score != b.score) return highest ? a.score > b.score : a.score < b.score;
              return a.subject < b.subject;
            });
  if (merged.subjects.size() > request.n) merged.subjects.resize(request.n);
  std::string left;
  for (std::uint32_t p = 0; p < cluster.partitions; ++p) {
    if (!covered[p]) left += (left.empty() ? "" : ",") + std::to_string(p);
  }
  uncovered.clear();
  if (!left.empty()) {  // in the compact form, "4-7"
    const Result<PartitionSet> set = PartitionSet::parse(left, cluster.partitions);
    uncovered = set ? set->to_string() : left;
  }
  return api::to_json(merged);
}

}  // namespace tally::cli
