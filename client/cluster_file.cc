#include "client/cluster_file.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "security/curve_keys.h"

namespace tally::client {
namespace {

Status refusal(const std::string& path, const toml::source_region& where, std::string_view why) {
  return Status::invalid_argument(
      fmt::format("{}:{}:{}: {}", path, where.begin.line, where.begin.column, why));
}

// What a consumer name can carry (stream/jetstream_source.cc makes them).
bool is_node_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_';
    if (!plain) return false;
  }
  return true;
}

// A node's string value: required or not; refused when present and not a string.
Result<std::string> text_of(const std::string& path, const toml::table& node, std::string_view key,
                            bool required) {
  const toml::node* value = node.get(key);
  if (value == nullptr) {
    if (!required) return std::string();
    return refusal(path, node.source(), fmt::format("a [[node]] needs `{}`", key));
  }
  const auto* text = value->as_string();
  if (text == nullptr || text->get().empty()) {
    return refusal(path, value->source(), fmt::format("`{}` must be a non-empty string", key));
  }
  return text->get();
}

Result<ClusterNode> node_of(const std::string& path, const toml::table& table,
                            std::uint32_t partitions) {
  for (const auto& [key, value] : table) {
    const std::string_view name = key.str();
    if (name != "name" && name != "query" && name != "alerts" && name != "server_key" &&
        name != "partitions") {
      return refusal(path, value.source(),
                     fmt::format("unknown key `{}` in [[node]] (expected name, query, alerts, "
                                 "server_key, partitions)",
                                 name));
    }
  }
  ClusterNode node;
  Result<std::string> name = text_of(path, table, "name", true);
  if (!name) return name.status();
  if (!is_node_name(*name)) {
    return refusal(path, table.get("name")->source(),
                   fmt::format("node name `{}`: 1 to 64 letters, digits, '-' or '_' (the "
                               "node's --node, as its consumers carry it)",
                               *name));
  }
  node.name = std::move(name).value();
  Result<std::string> query = text_of(path, table, "query", true);
  if (!query) return query.status();
  if (query->find("://") == std::string::npos) {
    return refusal(path, table.get("query")->source(),
                   fmt::format("`query` must be an endpoint such as tcp://127.0.0.1:7003, not "
                               "`{}`",
                               *query));
  }
  node.query_endpoint = std::move(query).value();
  Result<std::string> alerts = text_of(path, table, "alerts", false);
  if (!alerts) return alerts.status();
  node.alerts_endpoint = std::move(alerts).value();
  Result<std::string> key = text_of(path, table, "server_key", false);
  if (!key) return key.status();
  node.server_key = std::move(key).value();
  if (!node.server_key.empty() && !security::is_z85_key(node.server_key)) {
    const std::filesystem::path file(node.server_key);
    if (file.is_relative()) {
      node.server_key = (std::filesystem::path(path).parent_path() / file).string();
    }
  }
  Result<std::string> spec = text_of(path, table, "partitions", false);
  if (!spec) return spec.status();
  Result<PartitionSet> owned = PartitionSet::parse(spec->empty() ? "all" : *spec, partitions);
  if (!owned) {
    return refusal(path, table.get("partitions")->source(),
                   fmt::format("node `{}`: partitions: {}", node.name, owned.status().message()));
  }
  node.partitions = std::move(owned).value();
  return node;
}

}  // namespace

Result<ClusterFile> ClusterFile::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found(fmt::format("{}: cannot read the cluster file", path));
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

Result<ClusterFile> ClusterFile::parse(std::string_view text, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse(text, path);
  } catch (const toml::parse_error& error) {
    return refusal(path, error.source(), error.description());
  }
  for (const auto& [key, value] : table) {
    if (key.str() != "partitions" && key.str() != "node") {
      return refusal(
          path, value.source(),
          fmt::format("unknown key `{}` (expected partitions and [[node]] tables)", key.str()));
    }
  }
  ClusterFile file;
  file.path = path;
  const toml::node* count = table.get("partitions");
  if (count == nullptr) {
    return Status::invalid_argument(
        fmt::format("{}: `partitions` (the stream's partition count, as `tally cluster status` "
                    "shows it) is required",
                    path));
  }
  const auto* number = count->as_integer();
  if (number == nullptr || number->get() < 1 || number->get() > kKeyGroups ||
      kKeyGroups % number->get() != 0) {
    return refusal(path, count->source(),
                   fmt::format("`partitions` must be the stream's partition count: a number "
                               "dividing {} (1, 2, 4, ... 64 ... {})",
                               kKeyGroups, kKeyGroups));
  }
  file.partitions = static_cast<std::uint32_t>(number->get());
  const toml::node* nodes = table.get("node");
  const toml::array* array = nodes != nullptr ? nodes->as_array() : nullptr;
  if (nodes != nullptr && array == nullptr) {
    return refusal(path, nodes->source(), "use [[node]] tables");
  }
  if (array == nullptr || array->empty()) {
    return Status::invalid_argument(fmt::format("{}: no [[node]]: a cluster has nodes", path));
  }
  for (const toml::node& element : *array) {
    const toml::table* entry = element.as_table();
    if (entry == nullptr) return refusal(path, element.source(), "each [[node]] is a table");
    Result<ClusterNode> node = node_of(path, *entry, file.partitions);
    if (!node) return node.status();
    if (file.node_named(node->name) != nullptr) {
      return refusal(path, entry->source(), fmt::format("two nodes named `{}`", node->name));
    }
    file.nodes.push_back(std::move(node).value());
  }
  for (std::uint32_t p = 0; p < file.partitions; ++p) {
    bool owned = false;
    for (const ClusterNode& node : file.nodes) owned = owned || node.partitions.contains(p);
    if (!owned) {
      return Status::invalid_argument(fmt::format(
          "{}: partition {} has no node: every partition needs an owner to be asked", path, p));
    }
  }
  return file;
}

std::vector<const ClusterNode*> ClusterFile::owners_of(std::string_view subject) const {
  const std::uint32_t partition = partition_of_subject(subject, partitions);
  std::vector<const ClusterNode*> owners;
  for (const ClusterNode& node : nodes) {
    if (node.partitions.contains(partition)) owners.push_back(&node);
  }
  return owners;
}

const ClusterNode* ClusterFile::node_named(std::string_view name) const {
  for (const ClusterNode& node : nodes) {
    if (node.name == name) return &node;
  }
  return nullptr;
}

}  // namespace tally::client
