#include "core/partitions.h"

#include <charconv>

namespace tally {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

bool parse_number(std::string_view text, std::uint32_t& value) {
  text = trim(text);
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string partition_subject_prefix(std::string_view stream) {
  std::string prefix;
  prefix.reserve(stream.size() + 8);
  for (char c : stream) prefix += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  prefix += ".events.";
  return prefix;
}

std::string partition_subject(std::string_view stream, std::uint32_t partition) {
  return partition_subject_prefix(stream) + std::to_string(partition);
}

PartitionSet PartitionSet::all(std::uint32_t partitions) {
  PartitionSet set;
  set.owned_.assign(partitions, true);
  return set;
}

Result<PartitionSet> PartitionSet::parse(std::string_view spec, std::uint32_t partitions) {
  if (partitions == 0) return Status::invalid_argument("a stream has at least one partition");
  if (trim(spec) == "all") return all(partitions);
  PartitionSet set;
  set.owned_.assign(partitions, false);
  const std::string whole(spec);
  while (!spec.empty()) {
    const std::size_t comma = spec.find(',');
    const std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    const std::size_t dash = item.find('-');
    std::uint32_t first = 0;
    std::uint32_t last = 0;
    const bool ok = dash == std::string_view::npos
                        ? parse_number(item, first) && parse_number(item, last)
                        : parse_number(item.substr(0, dash), first) &&
                              parse_number(item.substr(dash + 1), last);
    if (!ok || first > last) {
      return Status::invalid_argument("partitions \"" + whole +
                                      "\": expected numbers and ranges such as 0-31,40, got \"" +
                                      std::string(item) + "\"");
    }
    if (last >= partitions) {
      return Status::out_of_range("partitions \"" + whole + "\": partition " +
                                  std::to_string(last) + " does not exist (the stream has " +
                                  std::to_string(partitions) + ", 0 to " +
                                  std::to_string(partitions - 1) + ")");
    }
    for (std::uint32_t p = first; p <= last; ++p) set.owned_[p] = true;
  }
  if (set.size() == 0) return Status::invalid_argument("partitions: the set is empty");
  return set;
}

std::vector<std::uint32_t> PartitionSet::list() const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t p = 0; p < owned_.size(); ++p) {
    if (owned_[p]) out.push_back(p);
  }
  return out;
}

std::size_t PartitionSet::size() const noexcept {
  std::size_t count = 0;
  for (bool owned : owned_) count += owned ? 1 : 0;
  return count;
}

std::string PartitionSet::to_string() const {
  std::string out;
  std::uint32_t p = 0;
  const auto n = static_cast<std::uint32_t>(owned_.size());
  while (p < n) {
    if (!owned_[p]) {
      ++p;
      continue;
    }
    std::uint32_t last = p;
    while (last + 1 < n && owned_[last + 1]) ++last;
    if (!out.empty()) out += ',';
    out += std::to_string(p);
    if (last != p) {
      out += '-';
      out += std::to_string(last);
    }
    p = last + 1;
  }
  return out;
}

}  // namespace tally
