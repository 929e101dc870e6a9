#include "apps/tally/cluster_routing.h"

#include <fmt/format.h>

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
    Result<std::shared_ptr<const security::CurveCredentials>> curve = security::load_credentials(
        options.key_file, node.server_key.empty() ? options.server_key : node.server_key);
    if (!curve) {
      failures.push_back(fmt::format("{}: {}", node.name, curve.status().to_string()));
      say(options, "node " + failures.back());
      continue;
    }
    auto query = std::make_unique<client::QueryClient>(context, node.query_endpoint,
                                                       options.node_timeout(), *curve);
    Result<std::string> text = query->request(json);
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

}  // namespace tally::cli
