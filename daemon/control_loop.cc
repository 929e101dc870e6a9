#include "daemon/control_loop.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <iterator>
#include <zmq_addon.hpp>

#include "core/zmq_poll.h"

namespace tally::daemon {

ControlLoop::ControlLoop(scorer::Engine& engine, const IngestCounters& ingest, zmq::socket_t& query,
                         AlertPublisher& alerts, std::optional<RulesWatcher> watcher,
                         scorer::Autoscaler* autoscaler, security::AccessRegistry* access,
                         std::string auth_path)
    : engine_(engine),
      autoscaler_(autoscaler),
      query_(query),
      alerts_(alerts),
      watcher_(std::move(watcher)),
      handler_(engine, &ingest, [&alerts] { alerts.publish_pending(); }),
      access_(access) {
  handler_.set_alert_log(&alerts.log());
  if (access_ == nullptr) return;
  access_view_.emplace(*access_);
  handler_.set_reload_step(
      [access, path = std::move(auth_path)]() -> Result<std::function<void()>> {
        Result<std::shared_ptr<const security::AccessList>> list = security::AccessList::load(path);
        if (!list) return list.status().with_context("--auth");
        std::shared_ptr<const security::AccessList> loaded = std::move(list).value();
        if (loaded->server_public_key() != access->current()->server_public_key()) {
          return Status::invalid_argument(
              "--auth: the server key changed; a new server key needs a restart (every client "
              "must be given it)");
        }
        return std::function<void()>([access, loaded] {
          access->replace(loaded);
          spdlog::info("auth: {} clients now", loaded->clients().size());
        });
      });
}

void ControlLoop::refuse_reloads(std::string why) {
  handler_.set_reload_step([why = std::move(why)]() -> Result<std::function<void()>> {
    return Status::invalid_argument(why);
  });
}

void ControlLoop::run(SignalWatcher& signals) {
  while (!signals.stop_requested()) {
    alerts_.publish_pending();
    if (const auto now = std::chrono::steady_clock::now(); now >= next_sample_) {
      next_sample_ = now + kLoadSample;
      sample_load(now);
    }
    if (signals.take_reload()) reload_rules("signal");
    if (watcher_ && watcher_->changed(RulesWatcher::Clock::now())) {
      reload_rules("the rules file changed");
    }
    if (wait_for_request(kTurn)) answer_ready_requests();
    answer_finished_impacts();
  }
  impacts_.clear();  // stops and joins them while the workers still run
}

void ControlLoop::answer_finished_impacts() {
  for (auto it = impacts_.begin(); it != impacts_.end();) {
    if (!it->job->done()) {
      ++it;
      continue;
    }
    const std::string answer = scorer::QueryHandler::answer_of(*it->job);
    it->envelope.emplace_back(answer.data(), answer.size());
    (void)zmq::send_multipart(query_, it->envelope, zmq::send_flags::dontwait);
    it = impacts_.erase(it);
  }
}

bool ControlLoop::wait_for_request(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{query_.handle(), 0, ZMQ_POLLIN, 0};
  const Result<int> ready = poll_sockets({&item, 1}, timeout);
  if (!ready) {
    spdlog::error("query socket: {}", ready.status().to_string());
    return false;
  }
  return (item.revents & ZMQ_POLLIN) != 0;
}

void ControlLoop::answer_ready_requests() {
  for (int round = 0; round < kRequestsPerTurn; ++round) {
    frames_.clear();
    if (!zmq::recv_multipart(query_, std::back_inserter(frames_), zmq::recv_flags::dontwait)) {
      return;
    }
    if (frames_.size() < 2) continue;  // no routing id: cannot answer anyway
    // Echo the envelope and answer the last frame.
    scorer::QueryHandler::Permit permit;
    if (access_view_) {
      const std::string_view sender = security::sender_of(frames_.back());
      const security::Roles roles = access_view_->get().roles_of(sender);
      permit = [roles, sender](const api::Request& request) {
        return security::AccessList::may_ask(roles, sender, request);
      };
    }
    scorer::QueryHandler::Reply reply =
        handler_.start_or_answer(frames_.back().to_string_view(), permit);
    if (auto* job = std::get_if<std::unique_ptr<scorer::ImpactJob>>(&reply)) {
      frames_.pop_back();
      impacts_.push_back({std::move(frames_), std::move(*job)});
      frames_.clear();
      continue;
    }
    const std::string& answer = std::get<std::string>(reply);
    frames_.back() = zmq::message_t(answer.data(), answer.size());
    (void)zmq::send_multipart(query_, frames_, zmq::send_flags::dontwait);
  }
}

void ControlLoop::sample_load(std::chrono::steady_clock::time_point now) {
  engine_.sample_utilisation();
  if (autoscaler_ == nullptr) return;
  if (engine_.rescaling()) {
    autoscaler_->pause();
    return;
  }
  const scorer::Engine::Load load = engine_.load();
  if (load.queue_depth.empty()) return;  // the workers are changing
  const auto decision =
      autoscaler_->observe(now, engine_.workers(), engine_.utilisation(), load.queue_depth);
  if (!decision) return;
  const std::uint32_t from = engine_.workers();
  spdlog::info("autoscale: {} -> {} workers: {}", from, decision->workers, decision->reason);
  if (const Status started = engine_.rescale(decision->workers); !started.is_ok()) {
    spdlog::warn("autoscale: {} -> {} workers not started: {}", from, decision->workers,
                 started.to_string());
  }
}

void ControlLoop::reload_rules(std::string_view why) {
  const std::string answer = handler_.handle(R"({"op":"reload"})");
  spdlog::info("reload ({}): {}", why, answer);
}

}  // namespace tally::daemon
