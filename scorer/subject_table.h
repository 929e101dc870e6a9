// A shard's subjects and everything each one holds: contributions (the points
// an event was given when it was applied), revocations (including tombstones
// for targets that have not arrived), and the ids seen, for dedup.
//
// Semantics (the brief's, exactly): a subject's score at T is
// base + sum(points) over accepted, unrevoked contributions with
// time <= T < expires, clamped by the caller. A revoke removes its target as
// if never accepted, whether the target arrived before or after it. Ids are
// deduplicated within a subject (a resent event always names the same
// subject). All of this is a function of the set of events, not their order.
//
// Bounded memory: purge(now, retain) drops contributions that expired more
// than `retain` ago, revocations whose revoke time is more than `retain` ago
// and whose target is gone, and subjects left with nothing.
//
// Storage: each subject is one byte blob (subject_blob.h) in a BlobArena
// (blob_arena.h), found through a hash set of 4-byte handles; rules and
// sources are refs into the engine's InternTable (intern_table.h). How and why:
// subject_table.cc.
//
// Thread-safety: none. One SubjectTable belongs to one shard worker; tables
// of different workers may be used at the same time (what they share, the
// InternTable, is synchronised). A SubjectState is only meaningful to the
// table it came from, and only until that table's next apply or purge.
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/event.h"
#include "core/key_groups.h"
#include "scorer/intern_table.h"
#include "scorer/rules.h"

namespace tally::scorer {

class SubjectState;  // opaque: the address of a subject's blob (subject_blob.h)

// Where a walk over a table in slices stands (SubjectTable::walk_step).
// Opaque; belongs to one table, and is used on that table's thread only.
class SubjectWalk {
 public:
  SubjectWalk();
  ~SubjectWalk();
  SubjectWalk(SubjectWalk&&) noexcept;
  SubjectWalk& operator=(SubjectWalk&&) noexcept;

 private:
  friend class SubjectTable;
  struct State;
  std::unique_ptr<State> state_;
};

enum class WalkStep : std::uint8_t {
  kMore,     // visited `max` subjects; step again
  kDone,     // every subject visited
  kRestart,  // the table re-indexed since the last step (it grew): forget what
             // was visited; the next step begins again
};

enum class ApplyOutcome : std::uint8_t {
  kAccepted,     // recorded (a late target of a revoke is recorded as revoked)
  kDuplicate,    // its id was already seen for this subject: no change
  kSubjectFull,  // the subject holds Options::max_events_per_subject: refused, no change
};

// One contribution as explain shows it.
struct ContributionView {
  std::string_view id;
  std::string_view type;  // the rule's name
  std::uint32_t rules_version = 0;
  std::int32_t points = 0;
  std::int64_t time_ms = 0;
  std::int64_t expires_ms = kNever;
  std::string_view source;
  bool revoked = false;
  std::string_view revoked_by;     // the revoke event's id, when revoked
  std::string_view revoke_source;  // the revoke event's source
  std::string_view revoke_reason;  // the revoke event's attrs.reason
  std::string_view revoke_actor;   // the authenticated client that sent it (--auth)
  std::int64_t revoked_at_ms = 0;  // the revoke event's time
  const Rule* rule = nullptr;      // the terms it was applied with
};

// A revoke whose target has not (yet) been seen for this subject.
struct PendingRevokeView {
  std::string_view id;      // the revoke event's id
  std::string_view target;  // the id it revokes
  std::string_view source;
  std::string_view reason;
  std::string_view actor;  // the authenticated client that sent it (--auth)
  std::int64_t time_ms = 0;
};

// Any revoke held for a subject, whether its target is here or not.
struct RevokeView {
  std::string_view id;
  std::string_view target;
  std::string_view source;
  std::string_view reason;
  std::string_view actor;  // the authenticated client that sent it (--auth)
  std::int64_t time_ms = 0;
  bool target_present = false;
};

struct ScoreSum {
  std::int64_t raw = 0;      // sum of points counting at T (not clamped, no base)
  std::uint32_t active = 0;  // how many contributions count at T
};

struct SubjectTableOptions {
  // Events (contributions and revokes) one subject may hold; one more is
  // refused (kSubjectFull) until purges make room. Default 100,000: far above
  // any real subject (a large fleet collects thousands a year), and what
  // bounds the cost of one event: an event arriving out of time order moves
  // the subject's later records (about 3 MB, 60 us, at 100,000).
  std::uint32_t max_events_per_subject = 100'000;
  // A subject whose blob reaches this many bytes (about 150 records) gets an
  // index (subject_index.h). Tests set 0 (index every subject) or the
  // largest value (index none) to check both paths give the same answers.
  std::uint32_t index_from_bytes = 4096;
  // Subjects the index is sized for from the start (0, the default: it grows
  // as they come). Each time the index doubles it re-hashes every subject,
  // reading each one's bytes: at half a million subjects a worker that is a
  // stall of about 50 ms in which no event is applied. A deployment that
  // knows its size sets it and never pays that under load.
  std::size_t expected_subjects = 0;
};

class SubjectTable {
 public:
  using Options = SubjectTableOptions;
  // The largest max_events_per_subject: what fits a blob whatever the records.
  static constexpr std::uint32_t kMaxEventsPerSubject = 2'000'000;

  // `interns` is shared with the engine's other tables and must outlive this one.
  explicit SubjectTable(InternTable& interns, Options options = {});
  ~SubjectTable();
  SubjectTable(const SubjectTable&) = delete;
  SubjectTable& operator=(const SubjectTable&) = delete;

  struct Applied {
    ApplyOutcome outcome;
    const SubjectState* state;  // the event's subject, after the apply
    ScoreSum before;            // at score_at, before the apply (if asked)
    ScoreSum after;             // at score_at, after it (if asked)
  };
  // Applies one decoded event. Its terms (points, expiry) are taken from
  // event.type, i.e. the rules it was decoded with. With `score_at`, also
  // scores the subject at that time as it was before and after the event,
  // in the same lookup (the worker's tier detection).
  Applied apply(const Event& event, std::optional<std::int64_t> score_at = std::nullopt);

  // nullptr when the subject holds nothing.
  const SubjectState* find(std::string_view subject) const;

  // A hint that `subject` will be applied or looked up soon: starts loading
  // its slot in the table. Over millions of subjects each apply waits on
  // memory; a worker holding a batch of events can call this a few events
  // ahead (see bench/micro_apply.cc) so that those waits overlap.
  void prefetch(std::string_view subject) const noexcept;

  // What a state of this table holds. Members, not static: rules and
  // sources are read through this table's InternTable.
  ScoreSum score_at(const SubjectState& state, std::int64_t at_ms) const noexcept;
  static std::string_view subject_of(const SubjectState& state) noexcept;
  // True when an unrevoked contribution's expiry falls in (after, until]: a
  // tight scan, so the expiry sweep skips most subjects cheaply.
  bool expires_within(const SubjectState& state, std::int64_t after_ms,
                      std::int64_t until_ms) const noexcept;

  // Visits every contribution, revoked ones included, in time order.
  void for_each_contribution(const SubjectState& state,
                             const std::function<void(const ContributionView&)>& visit) const;
  void for_each_pending_revoke(const SubjectState& state,
                               const std::function<void(const PendingRevokeView&)>& visit) const;
  // Visits every revoke, pending or not, in (time, id) order (snapshots).
  void for_each_revoke(const SubjectState& state,
                       const std::function<void(const RevokeView&)>& visit) const;
  // Visits every subject (not on the hot path: top, stats).
  void for_each_subject(const std::function<void(const SubjectState&)>& visit) const;

  // Moving key groups between tables (a live worker-count change): removes
  // every subject whose key group is in `groups`, handing its blob (the
  // subject's whole state, subject_blob.h) to `take` just before. Returns
  // how many went. The blobs mean the same in any table that shares this
  // one's InternTable.
  std::size_t extract_groups(
      const std::bitset<kKeyGroups>& groups,
      const std::function<void(std::uint32_t group, std::string_view blob)>& take);
  // Adds the subjects of blobs taken by extract_groups (back to back in
  // `blobs`), none of which may be here already; `added` sees each one.
  std::size_t insert_blobs(std::string_view blobs,
                           const std::function<void(const SubjectState&)>& added);

  // A walk in slices, for a long read (the impact of a proposed rules file)
  // that must let the worker apply events between slices: visits up to
  // `max_subjects` more. Every subject present for the whole walk is visited
  // exactly once; one added meanwhile may or may not be. While any walk is
  // unfinished, purge() does nothing (it would remove what a walk stands on);
  // a walk finishes at kDone.
  WalkStep walk_step(SubjectWalk& walk, std::size_t max_subjects,
                     const std::function<void(const SubjectState&)>& visit) const;
  // Ends a walk before kDone (purges resume once no walk is unfinished).
  void end_walk(SubjectWalk& walk) const;

  // Drops what is older than retention (see header comment). Returns how many
  // subjects were removed entirely; 0, doing nothing, while a walk is
  // unfinished.
  std::size_t purge(std::int64_t now_ms, std::int64_t retain_ms);

  std::size_t subjects() const noexcept;
  // Makes room in the index for `subjects` in all: the inserts up to that
  // many re-index nothing, so a walk begun after this is not restarted (nor
  // its order shuffled) by them.
  void reserve(std::size_t subjects);
  // Approximate heap bytes held, for the memory-per-subject figure.
  std::size_t memory_bytes() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally::scorer
