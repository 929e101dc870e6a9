#include "scorer/engine.h"

#include <chrono>

#include "stream/backoff.h"

namespace tally::scorer {
namespace {

class StatsCommand final : public ShardCommand {
 public:
  void run(ShardWorker& worker) override { result = worker.stats(); }
  ShardStats result;
};

}  // namespace

Engine::Engine(ScorerOptions options, std::shared_ptr<const RuleSet> rules)
    : options_(std::move(options)),
      groups_(options_.workers),
      queues_(kProducerCount, options_.workers),
      rules_(rules.get()),
      types_(rules.get()) {
  rule_history_.push_back(std::move(rules));
  ShardContext context{&rules_, &event_clock_};
  for (std::uint32_t id = 0; id < options_.workers; ++id) {
    done_tickets_.push_back(std::make_unique<stream::TicketQueue>());
    workers_.push_back(std::make_unique<ShardWorker>(id, options_.worker, context, queues_,
                                                     *done_tickets_.back()));
  }
}

Engine::~Engine() { stop(); }

std::vector<stream::TicketQueue*> Engine::done_ticket_queues() {
  std::vector<stream::TicketQueue*> queues;
  for (auto& queue : done_tickets_) queues.push_back(queue.get());
  return queues;
}

void Engine::start() {
  stop_.store(false);
  for (auto& worker : workers_) {
    threads_.emplace_back([this, w = worker.get()] { w->run(stop_); });
  }
}

void Engine::stop() {
  stop_.store(true, std::memory_order_release);
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

RulesResult Engine::reload() {
  const auto version = static_cast<std::uint32_t>(rule_history_.size() + 1);
  RulesResult result = load_rules_file(options_.rules_path, version);
  if (auto* loaded = std::get_if<std::shared_ptr<const RuleSet>>(&result)) {
    rule_history_.push_back(*loaded);
    rules_.store(loaded->get(), std::memory_order_release);
    types_.store(loaded->get(), std::memory_order_release);
    reloads_ok_.fetch_add(1, std::memory_order_relaxed);
  } else {
    reloads_refused_.fetch_add(1, std::memory_order_relaxed);
  }
  return result;
}

std::int64_t Engine::now_ms() const noexcept {
  if (rules().score().clock == Clock::kEvent) return event_clock_.load(std::memory_order_relaxed);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Engine::send(Producer from, std::uint32_t worker, ShardCommand& command) {
  stream::WorkItem item;
  item.kind = stream::WorkKind::kCommand;
  item.command = &command;
  stream::push_blocking(queues_.at(static_cast<std::uint32_t>(from), worker), &item, 1,
                        [] { return false; });
}

void Engine::run_on(Producer from, std::uint32_t worker, ShardCommand& command,
                    const std::function<void()>& while_waiting) {
  send(from, worker, command);
  wait_for(command, while_waiting);
}

void Engine::wait_for(const ShardCommand& command, const std::function<void()>& while_waiting) {
  stream::Backoff backoff;
  while (!command.done()) {
    if (while_waiting) while_waiting();
    backoff.pause();
  }
}

void Engine::run_on_all(Producer from, const std::vector<ShardCommand*>& commands,
                        const std::function<void()>& while_waiting) {
  for (std::uint32_t worker = 0; worker < commands.size(); ++worker) {
    send(from, worker, *commands[worker]);
  }
  for (ShardCommand* command : commands) wait_for(*command, while_waiting);
}

std::vector<ShardStats> Engine::stats(Producer from, const std::function<void()>& while_waiting) {
  std::unique_lock<std::mutex> lock(metrics_mutex_, std::defer_lock);
  if (from == Producer::kMetrics) lock.lock();
  std::vector<StatsCommand> commands(workers_.size());
  std::vector<ShardCommand*> pointers;
  for (auto& command : commands) pointers.push_back(&command);
  run_on_all(from, pointers, while_waiting);
  std::vector<ShardStats> result;
  for (auto& command : commands) result.push_back(std::move(command.result));
  return result;
}

void Engine::drain_alerts(const std::function<void(const Alert&)>& sink) {
  for (auto& worker : workers_) worker->alerts().consume_all(sink);
}

ApplyOutcome Engine::apply_directly(const stream::Event& event) {
  return workers_[groups_.worker_of(event.subject_hash)]->apply(event, now_ms());
}

}  // namespace tally::scorer
