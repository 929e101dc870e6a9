#include "scorer/autoscaler.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace tally::scorer {
namespace {

std::optional<std::uint32_t> parse_count(std::string_view text) {
  std::uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

Result<AutoscaleOptions> parse_autoscale_range(std::string_view text) {
  const std::size_t colon = text.find(':');
  const auto min =
      colon == std::string_view::npos ? std::nullopt : parse_count(text.substr(0, colon));
  const auto max =
      colon == std::string_view::npos ? std::nullopt : parse_count(text.substr(colon + 1));
  if (!min || !max || *min < 1 || *min > *max || *max > 4096) {
    return Status::invalid_argument(fmt::format(
        "\"{}\": expected MIN:MAX worker counts with 1 <= MIN <= MAX <= 4096, e.g. \"1:8\"", text));
  }
  AutoscaleOptions options;
  options.min = *min;
  options.max = *max;
  return options;
}

void Autoscaler::pause() noexcept {
  hot_since_.reset();
  cold_since_.reset();
  seen_workers_ = 0;
}

std::optional<Autoscaler::Decision> Autoscaler::decide(std::uint32_t to, std::string reason) {
  (to > seen_workers_ ? ups_ : downs_).fetch_add(1, std::memory_order_relaxed);
  pause();
  return Decision{to, std::move(reason)};
}

std::optional<Autoscaler::Decision> Autoscaler::observe(
    Clock::time_point now, std::uint32_t workers, const std::vector<double>& utilisation,
    const std::vector<std::size_t>& queue_depth) {
  if (!options_.enabled() || workers == 0) return std::nullopt;
  if (workers != seen_workers_) {  // a change since the last sample: start again
    pause();
    seen_workers_ = workers;
  }
  if (workers < options_.min || workers > options_.max) {
    const std::uint32_t to = std::clamp(workers, options_.min, options_.max);
    return decide(to, fmt::format("{} workers is outside the autoscale range {}:{}", workers,
                                  options_.min, options_.max));
  }
  const double busiest =
      utilisation.empty() ? 0.0 : *std::max_element(utilisation.begin(), utilisation.end());
  const std::size_t deepest =
      queue_depth.empty() ? 0 : *std::max_element(queue_depth.begin(), queue_depth.end());
  const bool hot = busiest > options_.high && deepest > options_.backlog;
  const bool cold = !utilisation.empty() && busiest < options_.low;
  if (!hot) hot_since_.reset();
  if (!cold) cold_since_.reset();
  if (hot && !hot_since_) hot_since_ = now;
  if (cold && !cold_since_) cold_since_ = now;
  const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  if (hot && now - *hot_since_ >= options_.after && workers < options_.max) {
    return decide(
        workers + 1,
        fmt::format("the busiest worker has been over {:.0f} % busy for {:.0f} s with "
                    "queues backing up ({:.0f} % now, {} items waiting)",
                    options_.high * 100, seconds(now - *hot_since_), busiest * 100, deepest));
  }
  if (cold && now - *cold_since_ >= options_.after * 10 && workers > options_.min) {
    return decide(workers - 1,
                  fmt::format("every worker has been under {:.0f} % busy for {:.0f} s (the "
                              "busiest {:.0f} % now)",
                              options_.low * 100, seconds(now - *cold_since_), busiest * 100));
  }
  return std::nullopt;
}

}  // namespace tally::scorer
