#include "scorer/shard_persistence.h"

#include "scorer/rules.h"

namespace tally::scorer {

storage::journal::Record record_of(const Event& event, const InternTable& interns) noexcept {
  const Rule& rule = RuleSet::rule_of(*event.type);
  storage::journal::Record record;
  record.kind =
      rule.is_revoke ? storage::journal::RecordKind::kRevoke : storage::journal::RecordKind::kEvent;
  record.time_ms = event.time_ms;
  record.points = rule.points;
  record.expires_after_ms = rule.expires_after_ms;
  record.rules_version = rule.rules_version;
  record.id = event.id.view();
  record.subject = event.subject.view();
  record.type = rule.name;
  record.source = event.source.view();
  record.revokes = rule.is_revoke ? event.revokes.view() : std::string_view();
  record.reason = rule.is_revoke ? event.reason.view() : std::string_view();
  record.actor = rule.is_revoke ? interns.actor_at(event.actor_ref) : std::string_view();
  return record;
}

storage::SnapshotPartResult write_snapshot_part(const SubjectTable& table, storage::Env* env,
                                                const std::string& dir, std::uint64_t generation,
                                                std::uint32_t worker) {
  storage::SnapshotPartWriter out(env, dir, generation, worker);
  storage::journal::Record record;
  table.for_each_subject([&](const SubjectState& state) {
    record.subject = SubjectTable::subject_of(state);
    table.for_each_contribution(state, [&](const ContributionView& c) {
      record.kind = storage::journal::RecordKind::kEvent;
      record.time_ms = c.time_ms;
      record.points = c.rule->points;
      record.expires_after_ms = c.rule->expires_after_ms;
      record.rules_version = c.rule->rules_version;
      record.id = c.id;
      record.type = c.rule->name;
      record.source = c.source;
      record.revokes = {};
      record.reason = {};
      record.actor = {};
      out.add(record);
    });
    table.for_each_revoke(state, [&](const RevokeView& r) {
      record.kind = storage::journal::RecordKind::kRevoke;
      record.time_ms = r.time_ms;
      record.points = 0;
      record.expires_after_ms = kNever;
      record.rules_version = 0;
      record.id = r.id;
      record.type = RuleSet::kRevokeType;
      record.source = r.source;
      record.revokes = r.target;
      record.reason = r.reason;
      record.actor = r.actor;
      out.add(record);
    });
  });
  return out.finish();
}

}  // namespace tally::scorer
