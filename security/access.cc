#include "security/access.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <filesystem>

namespace tally::security {
namespace {

Status refusal(const std::string& path, const toml::source_region& where, std::string_view why) {
  return Status::invalid_argument(
      fmt::format("{}:{}:{}: {}", path, where.begin.line, where.begin.column, why));
}

}  // namespace

std::string roles_text(Roles roles) {
  std::string text;
  for (std::size_t i = 0; i < kRoleNames.size(); ++i) {
    if (!has(roles, static_cast<Role>(i))) continue;
    if (!text.empty()) text += ",";
    text.append(kRoleNames[i]);
  }
  return text.empty() ? "none" : text;
}

Result<std::shared_ptr<const AccessList>> AccessList::load(const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    return refusal(path, error.source(), error.description());
  }
  auto list = std::make_shared<AccessList>();
  for (const auto& [key, node] : table) {
    if (key.str() != "server_secret_key_file" && key.str() != "client") {
      return refusal(path, node.source(),
                     fmt::format("unknown key `{}`; expected server_secret_key_file and "
                                 "[[client]] tables",
                                 key.str()));
    }
  }
  const auto* key_file = table.get_as<std::string>("server_secret_key_file");
  if (key_file == nullptr) {
    return Status::invalid_argument(fmt::format(
        "{}: `server_secret_key_file` (a string: the server's key, made by `tally keygen`) is "
        "required",
        path));
  }
  std::filesystem::path key_path(key_file->get());
  if (key_path.is_relative()) key_path = std::filesystem::path(path).parent_path() / key_path;
  Result<SecretKey> secret = read_secret_key_file(key_path.string());
  if (!secret) return secret.status().with_context(path);
  list->server_secret_ = std::move(secret).value();
  Result<std::string> server_public = public_key_of(list->server_secret_);
  if (!server_public) return server_public.status().with_context(key_path.string());
  list->server_public_ = std::move(server_public).value();

  if (const toml::node* clients = table.get("client")) {
    const toml::array* array = clients->as_array();
    if (array == nullptr) return refusal(path, clients->source(), "use [[client]] tables");
    for (const toml::node& element : *array) {
      const toml::table* entry = element.as_table();
      if (entry == nullptr) return refusal(path, element.source(), "each [[client]] is a table");
      Client client;
      const auto* name = entry->get_as<std::string>("name");
      const auto* key = entry->get_as<std::string>("public_key");
      const auto* roles = entry->get_as<toml::array>("roles");
      if (name == nullptr || name->get().empty() || name->get().size() > 64) {
        return refusal(path, element.source(), "a client needs a `name` of 1 to 64 bytes");
      }
      client.name = name->get();
      if (key == nullptr || !is_z85_key(key->get())) {
        return refusal(path, element.source(),
                       fmt::format("client `{}` needs a `public_key` of 40 Z85 characters (its "
                                   ".pub file, made by `tally keygen`)",
                                   client.name));
      }
      client.public_key = key->get();
      if (roles == nullptr) {
        return refusal(path, element.source(),
                       fmt::format("client `{}` needs `roles`: a list of producer, appeals, "
                                   "reader, operator",
                                   client.name));
      }
      for (const toml::node& role : *roles) {
        const auto* role_name = role.as_string();
        std::size_t index = kRoleNames.size();
        for (std::size_t i = 0; role_name != nullptr && i < kRoleNames.size(); ++i) {
          if (role_name->get() == kRoleNames[i]) index = i;
        }
        if (index == kRoleNames.size()) {
          return refusal(path, role.source(),
                         "a role is one of producer, appeals, reader, operator");
        }
        client.roles = static_cast<Roles>(client.roles | bit(static_cast<Role>(index)));
      }
      if (list->by_name_.contains(client.name)) {
        return refusal(path, element.source(), fmt::format("two clients named `{}`", client.name));
      }
      if (list->by_key_.contains(client.public_key)) {
        return refusal(
            path, element.source(),
            fmt::format("client `{}` has the public key of another client", client.name));
      }
      list->by_name_.emplace(client.name, list->clients_.size());
      list->by_key_.emplace(client.public_key, list->clients_.size());
      list->clients_.push_back(std::move(client));
    }
  }
  return std::shared_ptr<const AccessList>(std::move(list));
}

const Client* AccessList::by_key(std::string_view public_key) const {
  const auto it = by_key_.find(std::string(public_key));
  return it == by_key_.end() ? nullptr : &clients_[it->second];
}

Roles AccessList::roles_of(std::string_view name) const {
  const auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? Roles{0} : clients_[it->second].roles;
}

bool AccessList::may_enter(Roles roles, Door door) noexcept {
  switch (door) {
    case Door::kIngest:
    case Door::kSubmit:
      return has(roles, Role::kProducer) || has(roles, Role::kAppeals);
    case Door::kQuery:
      return has(roles, Role::kReader) || has(roles, Role::kOperator);
    case Door::kAlerts:
      return has(roles, Role::kReader);
  }
  return false;
}

Status AccessList::may_ask(Roles roles, std::string_view client, const api::Request& request) {
  const api::Op op = api::op_of(request);
  bool operate = false;
  switch (op) {
    case api::Op::kReload:
    case api::Op::kSnapshot:
    case api::Op::kImpact:
      operate = true;
      break;
    case api::Op::kWorkers:
      operate = std::get<api::WorkersRequest>(request).set.has_value();
      break;
    default:
      break;
  }
  const Role needed = operate ? Role::kOperator : Role::kReader;
  if (has(roles, needed)) return Status::ok();
  return api::refusal(
      api::ErrorCode::kForbidden,
      fmt::format("client `{}` (roles {}) may not ask `{}`{}: that takes the {} role", client,
                  roles_text(roles), api::to_string(op),
                  op == api::Op::kWorkers && operate ? " with `set`" : "",
                  kRoleNames[static_cast<std::size_t>(needed)]));
}

void AccessRegistry::replace(std::shared_ptr<const AccessList> list) {
  const std::lock_guard lock(mutex_);
  list_ = std::move(list);
  generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const AccessList> AccessRegistry::current() const {
  const std::lock_guard lock(mutex_);
  return list_;
}

}  // namespace tally::security
