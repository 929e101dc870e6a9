#include "adapters/progress_meter.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace tally::adapters {
namespace {

std::string duration_text(double seconds) {
  const auto whole = static_cast<std::uint64_t>(seconds + 0.5);
  if (whole >= 3600) {
    return fmt::format("{}:{:02}:{:02}", whole / 3600, whole / 60 % 60, whole % 60);
  }
  return fmt::format("{}:{:02}", whole / 60, whole % 60);
}

}  // namespace

std::string thousands(std::uint64_t value) {
  const std::string digits = std::to_string(value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

ProgressMeter::ProgressMeter(std::string program, ProgressMode mode,
                             std::chrono::milliseconds interval)
    : program_(std::move(program)), mode_(mode), interval_(interval) {
  if (mode_ == ProgressMode::kAuto) {
    mode_ = ::isatty(STDERR_FILENO) != 0 ? ProgressMode::kBar : ProgressMode::kLog;
  }
  if (mode_ == ProgressMode::kBar) interval_ = std::chrono::milliseconds(200);
  started_ = last_ = Clock::now();
}

void ProgressMeter::show(const ProgressCounts& counts, bool force) {
  if (mode_ == ProgressMode::kOff || (force && mode_ == ProgressMode::kLog && !shown_)) return;
  const auto now = Clock::now();
  if (!force && now - last_ < interval_) return;
  last_ = now;
  shown_ = true;
  const double elapsed = std::chrono::duration<double>(now - started_).count();
  const double rate = elapsed > 0 ? static_cast<double>(counts.records) / elapsed : 0;
  std::string text = fmt::format("{} records  {}/s", thousands(counts.records),
                                 thousands(static_cast<std::uint64_t>(rate)));
  if (counts.total_bytes > 0 && counts.done_bytes <= counts.total_bytes) {
    const double fraction =
        static_cast<double>(counts.done_bytes) / static_cast<double>(counts.total_bytes);
    if (mode_ == ProgressMode::kBar) {
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(fraction * kWidth);
      text += fmt::format("  [{}{}]", std::string(static_cast<std::size_t>(filled), '#'),
                          std::string(static_cast<std::size_t>(kWidth - filled), '.'));
    }
    text += fmt::format(" {:3.0f}%", fraction * 100);
    if (fraction > 0.001 && fraction < 1) {
      text += fmt::format("  ETA {}", duration_text(elapsed * (1 - fraction) / fraction));
    }
  }
  if (counts.published != nullptr) {
    text += fmt::format("  sent {}  acknowledged {}", thousands(counts.published->events_sent),
                        thousands(counts.published->acknowledged_events));
  }
  if (mode_ == ProgressMode::kBar) {
    std::fprintf(stderr, "\r%s\033[K", text.c_str());
    drawn_ = true;
  } else {
    std::fprintf(stderr, "%s: %s\n", program_.c_str(), text.c_str());
  }
  std::fflush(stderr);
}

void ProgressMeter::clear() {
  if (drawn_) std::fprintf(stderr, "\r\033[K");
  drawn_ = false;
}

}  // namespace tally::adapters
