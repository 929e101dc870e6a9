#include "apps/tally/answer_printing.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "apps/tally/table.h"
#include "core/event_time.h"

namespace tally::cli {
namespace {

std::string time_text(std::int64_t ms, const char* never = "never") {
  return ms == kNever ? never : format_rfc3339_ms(ms);
}

// A revoke's declared source, and the client that sent it when tallyd
// authenticated it (--auth): "dmv (client dmv-appeals)".
std::string revoke_source_text(const std::string& source, const std::string& client) {
  return client.empty() ? source : fmt::format("{} (client {})", source, client);
}

void print_contributions(std::string_view title, const std::vector<api::Contribution>& list,
                         bool revoked) {
  if (list.empty()) return;
  std::vector<Row> rows;
  rows.push_back({"id", "type", "points", "time", "expires", "source"});
  if (revoked) {
    rows[0].insert(rows[0].end(), {"revoked by", "revoke source", "revoked at", "reason"});
  }
  for (const api::Contribution& c : list) {
    Row row = {
        c.id,    c.type, std::to_string(c.points), time_text(c.time_ms), time_text(c.expires_ms),
        c.source};
    if (revoked) {
      row.insert(row.end(),
                 {c.revocation.by, revoke_source_text(c.revocation.source, c.revocation.client),
                  time_text(c.revocation.at_ms), c.revocation.reason});
    }
    rows.push_back(std::move(row));
  }
  fmt::print("{} ({}):\n", title, list.size());
  print_table(rows, {false, false, true, false, false, false, false, false, false, false});
}

// The detail column of `tally history`: what happened, in words.
std::string detail_of(const api::TimelineEntry& entry) {
  using What = api::TimelineEntry::What;
  switch (entry.what) {
    case What::kAccepted:
      return fmt::format("{} {} {:+} (rules v{}, source {}){}", entry.id, entry.type, entry.points,
                         entry.rules_version, entry.source, entry.revoked ? ", later revoked" : "");
    case What::kExpired:
    case What::kExpires:
      return fmt::format("{} {:+}", entry.id, entry.points);
    case What::kRevoked:
      return fmt::format("{} by {} (source {}): {}", entry.id, entry.by,
                         revoke_source_text(entry.source, entry.client), entry.reason);
    case What::kRevokePending:
      return fmt::format("{} revokes {}, not seen yet (source {}): {}", entry.id, entry.revokes,
                         revoke_source_text(entry.source, entry.client), entry.reason);
    case What::kTier: {
      const auto tier_name = [](const std::string& name) { return name.empty() ? "(none)" : name; };
      return fmt::format("{} -> {} ({} {})", tier_name(entry.from), tier_name(entry.to),
                         entry.by_expiry ? "expiry of" : "event", entry.cause);
    }
  }
  return "";
}

}  // namespace

void print_score(const api::ScoreAnswer& answer) {
  fmt::print("{}  score {}  tier {}  events {}  (at {})\n", answer.subject, answer.score,
             answer.tier, answer.events, time_text(answer.at_ms));
}

void print_explain(const api::ExplainAnswer& answer) {
  print_score(answer.score);
  if (answer.contributions.empty() && answer.inactive.empty() && answer.revoked.empty() &&
      answer.pending_revokes.empty()) {
    fmt::print("no events\n");
    return;
  }
  print_contributions("counting now", answer.contributions, false);
  print_contributions("not counting now (expired, or not yet in force)", answer.inactive, false);
  print_contributions("revoked", answer.revoked, true);
  if (!answer.pending_revokes.empty()) {
    std::vector<Row> rows = {{"id", "revokes", "time", "source", "reason"}};
    for (const api::PendingRevoke& p : answer.pending_revokes) {
      rows.push_back({p.id, p.revokes, time_text(p.time_ms), revoke_source_text(p.source, p.client),
                      p.reason});
    }
    fmt::print("revokes waiting for their event ({}):\n", answer.pending_revokes.size());
    print_table(rows, {false, false, false, false, false});
  }
}

void print_history(const api::HistoryAnswer& answer) {
  print_score(answer.score);
  if (answer.timeline.empty()) {
    fmt::print("no events\n");
    return;
  }
  std::vector<Row> rows = {{"time", "what", "detail", "score"}};
  for (const api::TimelineEntry& entry : answer.timeline) {
    const bool scored = entry.what != api::TimelineEntry::What::kRevokePending;
    rows.push_back({time_text(entry.time_ms), std::string(to_string(entry.what)), detail_of(entry),
                    scored ? std::to_string(entry.score) : "-"});
  }
  print_table(rows, {false, false, false, true});
}

void print_top(const api::TopAnswer& answer) {
  if (answer.subjects.empty()) {
    fmt::print("no subjects yet\n");
    return;
  }
  std::size_t width = 0;
  for (const api::RankedSubject& s : answer.subjects) width = std::max(width, s.subject.size());
  fmt::print("{} scores (at {}):\n", to_string(answer.order), time_text(answer.at_ms));
  int rank = 0;
  for (const api::RankedSubject& s : answer.subjects) {
    fmt::print("{:>4}. {:<{}}  {:>8}  {}\n", ++rank, s.subject, width, s.score, s.tier);
  }
}

void print_stats(const api::StatsAnswer& answer) {
  std::vector<Row> rows = {{"received", std::to_string(answer.received)},
                           {"accepted", std::to_string(answer.accepted)},
                           {"duplicates", std::to_string(answer.duplicates)},
                           {"rejected", std::to_string(answer.rejected_total)}};
  for (const auto& [reason, count] : answer.rejected) {  // the reasons that happened
    if (count != 0) rows.push_back({fmt::format("  {}", reason), std::to_string(count)});
  }
  rows.push_back({"subjects", std::to_string(answer.subjects)});
  rows.push_back({"rules_version", std::to_string(answer.rules_version)});
  print_table(rows, {false, true});
  if (answer.workers.empty()) return;
  std::vector<Row> table = {
      {"worker", "accepted", "duplicates", "subjects", "queue", "busy s", "memory MiB"}};
  for (const api::WorkerStats& w : answer.workers) {
    table.push_back({std::to_string(w.worker), std::to_string(w.accepted),
                     std::to_string(w.duplicates), std::to_string(w.subjects),
                     std::to_string(w.queue_depth), fmt::format("{:.3f}", w.busy_seconds),
                     fmt::format("{:.1f}", static_cast<double>(w.memory_bytes) / (1 << 20))});
  }
  fmt::print("workers ({}):\n", answer.workers.size());
  print_table(table, std::vector<bool>(7, true));
}

void print_reload(const api::ReloadAnswer& answer) {
  fmt::print("reloaded {}: rules version {}, {} rules\n", answer.file, answer.version,
             answer.rules);
}

void print_workers(const api::WorkersAnswer& answer) {
  fmt::print("{} workers\n", answer.workers);
  if (!answer.per_worker.empty()) {
    std::vector<Row> table = {{"worker", "utilisation", "queue", "subjects", "key groups"}};
    for (const api::WorkerLoad& w : answer.per_worker) {
      table.push_back({std::to_string(w.worker), fmt::format("{:.0f} %", w.utilisation * 100),
                       std::to_string(w.queue_depth), std::to_string(w.subjects),
                       std::to_string(w.key_groups)});
    }
    print_table(table, std::vector<bool>(5, true));
  }
  if (answer.rescale && answer.rescale->state == "running") print_rescale_progress(*answer.rescale);
}

void print_rescale_progress(const api::RescaleStatus& rescale) {
  const double share = rescale.groups_total == 0 ? 1.0
                                                 : static_cast<double>(rescale.groups_moved) /
                                                       static_cast<double>(rescale.groups_total);
  fmt::print("changing {} -> {} workers: {} of {} key groups moved ({:.0f} %), {:.1f} s\n",
             rescale.from, rescale.to, rescale.groups_moved, rescale.groups_total, share * 100,
             rescale.seconds);
}

void print_rescale_outcome(const api::RescaleStatus& rescale) {
  if (rescale.state == "failed") {
    fmt::print("change {} -> {} workers failed after {:.3f} s ({} of {} key groups moved): {}\n",
               rescale.from, rescale.to, rescale.seconds, rescale.groups_moved,
               rescale.groups_total, rescale.error);
    return;
  }
  fmt::print(
      "{} -> {} workers in {:.3f} s: {} key groups ({} subjects) moved; the longest pause of "
      "any group was {:.1f} ms\n",
      rescale.from, rescale.to, rescale.seconds, rescale.groups_moved, rescale.subjects_moved,
      rescale.longest_pause_seconds * 1e3);
}

void print_snapshot(const api::SnapshotAnswer& answer) {
  fmt::print("snapshot {}: {} records, {} bytes in {:g} s (longest worker pause {:g} s)\n",
             answer.snapshot, answer.records, answer.bytes, answer.seconds,
             answer.longest_pause_seconds);
}

}  // namespace tally::cli
