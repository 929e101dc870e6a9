#include "scorer/intern_table.h"

#include <absl/strings/string_view.h>

#include <algorithm>

namespace tally::scorer {

InternTable::InternTable(std::size_t capacity)
    : capacity_(std::min(capacity, kMaxEntries)),
      // Value-initialised: every slot starts null.
      rules_(std::make_unique<std::atomic<const Rule*>[]>(capacity_)),
      sources_(std::make_unique<std::atomic<const std::string*>[]>(capacity_)) {}

InternTable::~InternTable() = default;

std::uint16_t InternTable::intern_rule(const Rule* rule) {
  if (rules_full_.load(std::memory_order_relaxed)) return kSpilled;
  const std::lock_guard lock(mutex_);
  if (const auto it = rule_index_.find(rule); it != rule_index_.end()) return it->second;
  if (rule_index_.size() == capacity_) {
    rules_full_.store(true, std::memory_order_relaxed);
    return kSpilled;
  }
  const auto ref = static_cast<std::uint16_t>(rule_index_.size());
  rules_[ref].store(rule, std::memory_order_release);
  rule_index_.emplace(rule, ref);
  return ref;
}

std::uint16_t InternTable::intern_source(std::string_view source) {
  if (sources_full_.load(std::memory_order_relaxed)) return kSpilled;
  const std::lock_guard lock(mutex_);
  // Debian's abseil has its own string_view type: convert for the lookup.
  const absl::string_view key(source.data(), source.size());
  if (const auto it = source_index_.find(key); it != source_index_.end()) return it->second;
  if (source_index_.size() == capacity_) {
    sources_full_.store(true, std::memory_order_relaxed);
    return kSpilled;
  }
  const auto ref = static_cast<std::uint16_t>(source_index_.size());
  sources_[ref].store(&source_text_.emplace_back(source), std::memory_order_release);
  source_index_.emplace(std::string(source), ref);
  return ref;
}

}  // namespace tally::scorer
