// SubjectTable: how a shard's subjects are found, and why this way.
//
// Each subject is one small contiguous blob (subject_blob.h) in a BlobArena
// (blob_arena.h), and the table maps the subject's bytes to the blob's 4-byte
// handle:
//
//   absl::flat_hash_set<Handle>          5 bytes a slot (4 handle + 1 control),
//     hashed and compared by the         found by the subject's bytes (the hash
//     subject bytes inside the blob      functor resolves handle -> blob)
//         |
//         v
//   BlobArena: size classes of 8..248 bytes, larger blobs malloc'd
//
// A contribution's recorded revocation is the smallest (time, id) revoke
// naming it, and every revoke is kept while its target is, so explain, like
// the score, is a function of the set of events, never of their order.
//
// Cost of an operation on a subject holding n records: for a small subject,
// apply is one pass over the blob (dedup, insertion point, revoke matching)
// plus a memmove of the tail, and score_at one pass that stops at the first
// record later than T; for the millions of subjects that hold a few records
// this beats any index, and costs 0 bytes. A subject whose blob passes 4 KiB
// (about 150 records) gets a SubjectIndex beside it (subject_index.h), so that
// a fleet with tens of thousands of events pays O(log n) per event, not O(n).
//
// Growth: a blob moves to a bigger class only when its size crosses a class
// boundary, and the handle in the hash set is updated in place (the set's hash
// and equality depend on the subject bytes only, which the move keeps). That
// move is the only allocation an event can cause (besides the first sight of a
// rule or source by this table), and an event that crosses no boundary
// allocates nothing.
//
// Memory is bounded by purge(now, retain): what is past retention is dropped
// from each blob (blob::drop_past_retention), a subject left with nothing is
// removed, blobs move to smaller classes, and sparse size classes are
// compacted (BlobArena). So between purges the footprint is bounded by the
// peak of live content per class, and after one by about 4/3 of the live
// content, never by the number of events ever applied. The InternTable is
// capped (intern_table.h).
#include "scorer/subject_table.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/hash/hash.h>
#include <absl/strings/string_view.h>

#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "scorer/blob_arena.h"
#include "scorer/subject_blob.h"
#include "scorer/subject_index.h"

namespace tally::scorer {

// SubjectState is never defined: a `const SubjectState*` is the address of a
// subject's blob, and is only ever converted back to bytes.

namespace {

using Handle = BlobArena::Handle;
constexpr std::uint16_t kSpilled = InternTable::kSpilled;
// Past this many bytes of revokes, explain maps revocations in one pass.
constexpr std::uint32_t kManyRevokesBytes = 4096;

// The set hashes and compares handles by the subject bytes in their blobs, and
// looks up by subject bytes directly (transparent).
struct SubjectHash {
  using is_transparent = void;
  const BlobArena* arena;
  std::size_t operator()(std::string_view subject) const noexcept {
    return absl::Hash<absl::string_view>{}(absl::string_view(subject.data(), subject.size()));
  }
  std::size_t operator()(Handle handle) const noexcept {
    return (*this)(blob::subject_in(arena->resolve(handle)));
  }
};

struct SubjectEq {
  using is_transparent = void;
  const BlobArena* arena;
  std::string_view subject(Handle handle) const noexcept {
    return blob::subject_in(arena->resolve(handle));
  }
  bool operator()(Handle a, Handle b) const noexcept { return a == b || subject(a) == subject(b); }
  bool operator()(Handle a, std::string_view b) const noexcept { return subject(a) == b; }
  bool operator()(std::string_view a, Handle b) const noexcept { return a == subject(b); }
};

const SubjectState* state_of(const char* bytes) noexcept {
  return reinterpret_cast<const SubjectState*>(bytes);
}
const char* blob_of(const SubjectState& state) noexcept {
  return reinterpret_cast<const char*>(&state);
}

}  // namespace

struct SubjectTable::Impl {
  Impl(InternTable& shared, Options table_options) : interns(shared), options(table_options) {}

  InternTable& interns;
  const Options options;
  BlobArena arena;
  absl::flat_hash_set<Handle, SubjectHash, SubjectEq> subjects{0, SubjectHash{&arena},
                                                               SubjectEq{&arena}};
  std::size_t walks_unfinished = 0;
  // This table's refs into the shared InternTable, so that its mutex is taken
  // once per table and value, not per event.
  absl::flat_hash_map<const Rule*, std::uint16_t> rule_refs;
  absl::flat_hash_map<std::string, std::uint16_t> source_refs;
  // The few subjects large enough to be indexed (subject_index.h), by subject.
  absl::flat_hash_map<std::string, std::unique_ptr<SubjectIndex>> indexes;

  std::uint16_t rule_ref(const Rule* rule) {
    if (const auto it = rule_refs.find(rule); it != rule_refs.end()) return it->second;
    const std::uint16_t ref = interns.intern_rule(rule);
    if (ref != kSpilled) rule_refs.emplace(rule, ref);
    return ref;
  }

  std::uint16_t source_ref(std::string_view source) {
    const absl::string_view key(source.data(), source.size());
    if (const auto it = source_refs.find(key); it != source_refs.end()) return it->second;
    const std::uint16_t ref = interns.intern_source(source);
    if (ref != kSpilled) source_refs.emplace(std::string(source), ref);
    return ref;
  }

  // A new subject's blob, holding the event that made it: one allocation,
  // nothing to search.
  Handle create(const Event& event, const Rule& rule) {
    const std::string_view subject = event.subject.view();
    const std::string_view id = event.id.view();
    const std::string_view source = event.source.view();
    const std::uint16_t source_ref_value = source_ref(source);
    const std::uint16_t rule_ref_value = rule.is_revoke ? kSpilled : rule_ref(&rule);
    const std::uint32_t bytes =
        rule.is_revoke
            ? blob::revoke_bytes(id, event.revokes.view(), event.reason.view(),
                                 interns.actor_at(event.actor_ref), source, source_ref_value)
            : blob::contribution_bytes(id, rule_ref_value, source, source_ref_value);
    const std::uint32_t records_at = blob::records_at(subject);
    const std::uint32_t size = records_at + bytes;
    const Handle handle = arena.allocate(BlobArena::capacity_for(size));
    char* out = arena.resolve(handle);
    blob::write_header(out, subject, size, rule.is_revoke ? records_at : size);
    if (rule.is_revoke) {
      blob::write_revoke(out + records_at, event.time_ms, source, source_ref_value, false, id,
                         event.revokes.view(), event.reason.view(),
                         interns.actor_at(event.actor_ref));
    } else {
      blob::write_contribution(out + records_at, event.time_ms, &rule, rule_ref_value, source,
                               source_ref_value, false, id);
    }
    return handle;
  }

  // Makes room for `extra` more bytes; the blob may move (handle updated).
  char* grow(Handle& handle, std::uint32_t size, std::uint32_t extra) {
    if (extra > blob::kMaxBlobBytes - size) {
      throw std::length_error("subject table: one subject holds too many records");
    }
    const std::uint32_t old_capacity = BlobArena::capacity_for(size);
    const std::uint32_t new_capacity = BlobArena::capacity_for(size + extra);
    if (new_capacity != old_capacity) {
      handle = arena.reallocate(handle, old_capacity, new_capacity, size);
    }
    return arena.resolve(handle);
  }

  // Before `extra` bytes are added: a short-form blob that would outgrow its
  // header is rewritten in the long form. Returns how far every offset in the
  // blob moved (0 or blob::kWidenBytes).
  std::uint32_t widen_for(Handle& handle, std::uint32_t extra) {
    const char* bytes = arena.resolve(handle);
    const std::uint32_t size = blob::blob_size(bytes);
    if (blob::long_form(bytes) || size + extra < blob::kShortFormLimit) return 0;
    blob::widen_header(grow(handle, size, blob::kWidenBytes), size);
    return blob::kWidenBytes;
  }

  // The subject's index, built now if its blob has grown past the threshold
  // (subject_index.h); nullptr for the small subjects a scan serves best.
  SubjectIndex* index_of(const char* bytes) {
    if (blob::blob_size(bytes) < options.index_from_bytes) return nullptr;
    const std::string_view subject = blob::subject_in(bytes);
    auto it = indexes.find(absl::string_view(subject.data(), subject.size()));
    if (it == indexes.end()) {
      it = indexes.emplace(std::string(subject), std::make_unique<SubjectIndex>(bytes, interns))
               .first;
    }
    return it->second.get();
  }

  // Before anything but an insert rewrites a blob: its index no longer holds.
  void drop_index(const char* bytes) {
    if (indexes.empty()) return;
    const std::string_view subject = blob::subject_in(bytes);
    indexes.erase(absl::string_view(subject.data(), subject.size()));
  }

  // Where a new contribution goes, found by one pass over a small blob.
  struct Place {
    ApplyOutcome outcome = ApplyOutcome::kAccepted;
    std::uint32_t insert_at = 0;  // from the blob's start
    bool flag = false;            // contribution: revoked; revoke: the target is here
    std::uint32_t target_at = 0;  // revoke: the target's offset, when here
  };

  // An indexed subject's dedup and limit, before any search.
  std::optional<ApplyOutcome> refusal(const SubjectIndex& index, std::string_view id) const {
    if (index.has_id(id)) return ApplyOutcome::kDuplicate;
    if (index.records() >= options.max_events_per_subject) return ApplyOutcome::kSubjectFull;
    return std::nullopt;
  }

  Place place_contribution(const char* bytes, const Event& event, SubjectIndex* index) const {
    const std::string_view id = event.id.view();
    const std::uint32_t begin = blob::contributions_at(bytes);
    const std::uint32_t revokes_begin = blob::revokes_at(bytes);
    Place place;
    if (index != nullptr) {
      if (const auto refused = refusal(*index, id)) return {*refused};
      place.insert_at = begin + index->contribution_insert_point(
                                    bytes + begin, revokes_begin - begin, event.time_ms, id);
      place.flag = index->awaited(id);
      return place;
    }
    // One pass: dedup, the insertion point, and whether a revoke names it.
    std::uint32_t records = 0;
    place.insert_at = revokes_begin;
    for (std::uint32_t at = begin; at < revokes_begin; ++records) {
      const blob::Contribution c = blob::read_contribution(bytes + at);
      if (c.id == id) return {ApplyOutcome::kDuplicate};
      if (place.insert_at == revokes_begin &&
          blob::ordered_before(event.time_ms, id, c.time_ms, c.id)) {
        place.insert_at = at;
      }
      at += c.bytes;
    }
    const std::uint32_t size = blob::blob_size(bytes);
    for (std::uint32_t at = revokes_begin; at < size; ++records) {
      const blob::Revoke r = blob::read_revoke(bytes + at);
      if (r.id == id) return {ApplyOutcome::kDuplicate};
      place.flag = place.flag || r.target == id;
      at += r.bytes;
    }
    if (records >= options.max_events_per_subject) return {ApplyOutcome::kSubjectFull};
    return place;
  }

  Place place_revoke(const char* bytes, const Event& event, SubjectIndex* index) const {
    const std::string_view id = event.id.view();
    const std::string_view target = event.revokes.view();
    const std::uint32_t begin = blob::contributions_at(bytes);
    const std::uint32_t revokes_begin = blob::revokes_at(bytes);
    const std::uint32_t size = blob::blob_size(bytes);
    Place place;
    if (index != nullptr) {
      if (const auto refused = refusal(*index, id)) return {*refused};
      place.insert_at =
          revokes_begin + index->revoke_insert_point(bytes + revokes_begin, size - revokes_begin,
                                                     event.time_ms, id);
      if (const std::optional<std::int64_t> time = index->contribution_time(target)) {
        place.flag = true;
        place.target_at =
            begin + index->contribution_offset(bytes + begin, revokes_begin - begin, *time, target);
      }
      return place;
    }
    std::uint32_t records = 0;
    for (std::uint32_t at = begin; at < revokes_begin; ++records) {
      const blob::Contribution c = blob::read_contribution(bytes + at);
      if (c.id == id) return {ApplyOutcome::kDuplicate};
      if (c.id == target) {
        place.flag = true;
        place.target_at = at;
      }
      at += c.bytes;
    }
    place.insert_at = size;
    for (std::uint32_t at = revokes_begin; at < size; ++records) {
      const blob::Revoke r = blob::read_revoke(bytes + at);
      if (r.id == id) return {ApplyOutcome::kDuplicate};
      if (place.insert_at == size && blob::ordered_before(event.time_ms, id, r.time_ms, r.id)) {
        place.insert_at = at;
      }
      at += r.bytes;
    }
    if (records >= options.max_events_per_subject) return {ApplyOutcome::kSubjectFull};
    return place;
  }

  ApplyOutcome add_contribution(Handle& handle, const Event& event, const Rule& rule,
                                SubjectIndex* index) {
    const char* bytes_in = arena.resolve(handle);
    const Place place = place_contribution(bytes_in, event, index);
    if (place.outcome != ApplyOutcome::kAccepted) return place.outcome;
    const std::string_view id = event.id.view();
    const std::string_view source = event.source.view();
    const std::uint16_t rule_ref_value = rule_ref(&rule);
    const std::uint16_t source_ref_value = source_ref(source);
    const std::uint32_t bytes =
        blob::contribution_bytes(id, rule_ref_value, source, source_ref_value);
    std::uint32_t size = blob::blob_size(bytes_in);
    if (std::uint64_t{size} + bytes + blob::kWidenBytes > blob::kMaxBlobBytes) {
      return ApplyOutcome::kSubjectFull;
    }
    std::uint32_t revokes_begin = blob::revokes_at(bytes_in);
    const std::uint32_t shift = widen_for(handle, bytes);
    size += shift;
    revokes_begin += shift;
    const std::uint32_t insert_at = place.insert_at + shift;

    char* out = grow(handle, size, bytes);
    std::memmove(out + insert_at + bytes, out + insert_at, size - insert_at);
    blob::write_contribution(out + insert_at, event.time_ms, &rule, rule_ref_value, source,
                             source_ref_value, place.flag, id);
    blob::set_sizes(out, size + bytes, revokes_begin + bytes);
    if (place.flag) {
      // The tombstones naming this id resolve: their target is here now.
      for (std::uint32_t at = revokes_begin + bytes; at < size + bytes;) {
        const blob::Revoke r = blob::read_revoke(out + at);
        if (r.target == id) blob::set_flag(out + at + blob::kRevokeIdAt, true);
        at += r.bytes;
      }
    }
    if (index != nullptr) {
      const std::uint32_t begin = blob::contributions_at(out);
      index->contribution_inserted(event.time_ms, id, rule, place.flag, insert_at - begin, bytes,
                                   out + begin, revokes_begin + bytes - begin);
    }
    return ApplyOutcome::kAccepted;
  }

  ApplyOutcome add_revoke(Handle& handle, const Event& event, SubjectIndex* index) {
    const char* bytes_in = arena.resolve(handle);
    const Place place = place_revoke(bytes_in, event, index);
    if (place.outcome != ApplyOutcome::kAccepted) return place.outcome;
    const std::string_view id = event.id.view();
    const std::string_view target = event.revokes.view();
    const std::string_view source = event.source.view();
    const std::uint16_t source_ref_value = source_ref(source);
    const std::string_view reason = event.reason.view();
    const std::string_view actor = interns.actor_at(event.actor_ref);
    const std::uint32_t bytes =
        blob::revoke_bytes(id, target, reason, actor, source, source_ref_value);
    std::uint32_t size = blob::blob_size(bytes_in);
    if (std::uint64_t{size} + bytes + blob::kWidenBytes > blob::kMaxBlobBytes) {
      return ApplyOutcome::kSubjectFull;
    }
    const std::uint32_t revokes_begin = blob::revokes_at(bytes_in);
    const std::uint32_t shift = widen_for(handle, bytes);
    size += shift;
    const std::uint32_t insert_at = place.insert_at + shift;

    char* out = grow(handle, size, bytes);
    std::memmove(out + insert_at + bytes, out + insert_at, size - insert_at);
    blob::write_revoke(out + insert_at, event.time_ms, source, source_ref_value, place.flag, id,
                       target, reason, actor);
    blob::set_sizes(out, size + bytes, revokes_begin + shift);
    // Contribution offsets are unchanged: revoke records come after them.
    if (place.flag) blob::set_flag(out + place.target_at + shift + blob::kContributionIdAt, true);
    if (index != nullptr) {
      const std::uint32_t section = revokes_begin + shift;
      index->revoke_inserted(event.time_ms, id, target, place.flag, insert_at - section, bytes,
                             out + section, size + bytes - section);
    }
    return ApplyOutcome::kAccepted;
  }

  // Drops what is past retention from one subject, compacting the blob in
  // place (and moving it to a smaller class). true: nothing is left and the
  // blob has been released.
  bool purge_subject(Handle& handle, std::int64_t now_ms, std::int64_t retain_ms) {
    char* bytes = arena.resolve(handle);
    drop_index(bytes);
    const std::uint32_t size = blob::blob_size(bytes);
    const blob::RetainedSizes kept = blob::drop_past_retention(bytes, now_ms, retain_ms, interns);
    const std::uint32_t old_capacity = BlobArena::capacity_for(size);
    if (kept.size == 0) {
      arena.release(handle, old_capacity);
      return true;
    }
    const std::uint32_t new_capacity = BlobArena::capacity_for(kept.size);
    if (new_capacity != old_capacity) {
      handle = arena.reallocate(handle, old_capacity, new_capacity, kept.size);
    }
    return false;
  }

  std::size_t table_bytes() const noexcept {
    // absl's raw_hash_set: one control byte a slot plus a group's worth of
    // cloned control bytes, then the slots.
    const auto hash_table = [](std::size_t capacity, std::size_t slot) {
      return capacity == 0 ? 0 : capacity * (1 + slot) + 16;
    };
    return hash_table(subjects.capacity(), sizeof(Handle)) +
           hash_table(rule_refs.capacity(), sizeof(std::pair<const Rule*, std::uint16_t>)) +
           hash_table(source_refs.capacity(), sizeof(std::pair<std::string, std::uint16_t>));
  }
};

SubjectTable::SubjectTable(InternTable& interns, Options options)
    : impl_(std::make_unique<Impl>(interns, options)) {
  if (options.expected_subjects > 0) reserve(options.expected_subjects);
}
SubjectTable::~SubjectTable() = default;

SubjectTable::Applied SubjectTable::apply(const Event& event,
                                          std::optional<std::int64_t> score_at_ms) {
  Impl& impl = *impl_;
  const std::string_view subject = event.subject.view();
  const Rule& rule = RuleSet::rule_of(*event.type);
  auto it = impl.subjects.find(subject);
  if (it == impl.subjects.end()) {
    const Handle handle = impl.create(event, rule);
    impl.subjects.insert(handle);
    const SubjectState* state = state_of(impl.arena.resolve(handle));
    ScoreSum after;
    if (score_at_ms) after = score_at(*state, *score_at_ms);
    return {ApplyOutcome::kAccepted, state, {}, after};
  }
  // The set's elements are const because changing one could change its hash;
  // a handle's hash and equality are its subject's bytes, which moving the
  // blob keeps, so updating the handle in place is safe.
  Handle& handle = const_cast<Handle&>(*it);
  SubjectIndex* index = impl.index_of(impl.arena.resolve(handle));
  // Scores from the index when it can tell; else one pass over the blob.
  const auto score_now = [&] {
    if (index != nullptr) {
      if (const std::optional<ScoreSum> sum = index->score_at(*score_at_ms)) return *sum;
    }
    return score_at(*state_of(impl.arena.resolve(handle)), *score_at_ms);
  };
  ScoreSum before;
  if (score_at_ms) before = score_now();
  const ApplyOutcome outcome = rule.is_revoke ? impl.add_revoke(handle, event, index)
                                              : impl.add_contribution(handle, event, rule, index);
  ScoreSum after = before;
  if (score_at_ms && outcome == ApplyOutcome::kAccepted) after = score_now();
  return {outcome, state_of(impl.arena.resolve(handle)), before, after};
}

const SubjectState* SubjectTable::find(std::string_view subject) const {
  const auto it = impl_->subjects.find(subject);
  if (it == impl_->subjects.end()) return nullptr;
  return state_of(impl_->arena.resolve(*it));
}

void SubjectTable::prefetch(std::string_view subject) const noexcept {
  impl_->subjects.prefetch(subject);
}

ScoreSum SubjectTable::score_at(const SubjectState& state, std::int64_t at_ms) const noexcept {
  const InternTable& interns = impl_->interns;
  const char* bytes = blob_of(state);
  const std::uint32_t end = blob::revokes_at(bytes);
  ScoreSum sum;
  for (std::uint32_t at = blob::contributions_at(bytes); at < end;) {
    const blob::Contribution c = blob::read_contribution(bytes + at);
    if (c.time_ms > at_ms) break;  // sorted by time: nothing later counts either
    if (!c.revoked) {
      const Rule& rule = c.rule(interns);
      if (at_ms < blob::expires_of(c.time_ms, rule)) {
        sum.raw += rule.points;
        ++sum.active;
      }
    }
    at += c.bytes;
  }
  return sum;
}

bool SubjectTable::expires_within(const SubjectState& state, std::int64_t after_ms,
                                  std::int64_t until_ms) const noexcept {
  const InternTable& interns = impl_->interns;
  const char* bytes = blob_of(state);
  const std::uint32_t end = blob::revokes_at(bytes);
  for (std::uint32_t at = blob::contributions_at(bytes); at < end;) {
    const blob::Contribution c = blob::read_contribution(bytes + at);
    if (!c.revoked) {
      const std::int64_t expires = blob::expires_of(c.time_ms, c.rule(interns));
      if (expires != kNever && expires > after_ms && expires <= until_ms) return true;
    }
    at += c.bytes;
  }
  return false;
}

std::string_view SubjectTable::subject_of(const SubjectState& state) noexcept {
  return blob::subject_in(blob_of(state));
}

void SubjectTable::for_each_contribution(
    const SubjectState& state, const std::function<void(const ContributionView&)>& visit) const {
  const InternTable& interns = impl_->interns;
  const char* bytes = blob_of(state);
  const std::uint32_t end = blob::revokes_at(bytes);
  // A revoked contribution's revocation is found by a pass over the revokes;
  // where there are many, one pass maps them all first (a subject with
  // thousands of revoked events would otherwise cost O(n^2) to explain).
  absl::flat_hash_map<std::string_view, const char*> first_revoke;
  const std::uint32_t size = blob::blob_size(bytes);
  if (size - end > kManyRevokesBytes) {
    for (std::uint32_t at = end; at < size;) {
      const blob::Revoke r = blob::read_revoke(bytes + at);
      first_revoke.try_emplace(r.target, bytes + at);  // sorted: the first is the smallest
      at += r.bytes;
    }
  }
  for (std::uint32_t at = blob::contributions_at(bytes); at < end;) {
    const blob::Contribution c = blob::read_contribution(bytes + at);
    ContributionView view;
    view.id = c.id;
    const Rule& rule = c.rule(interns);
    view.type = rule.name;
    view.rules_version = rule.rules_version;
    view.points = rule.points;
    view.time_ms = c.time_ms;
    view.expires_ms = blob::expires_of(c.time_ms, rule);
    view.rule = &rule;
    view.source = c.source(interns);
    view.revoked = c.revoked;
    if (c.revoked) {
      const auto mapped = first_revoke.find(c.id);
      if (const char* record = first_revoke.empty()
                                   ? blob::first_revoke_of(bytes, c.id)
                                   : (mapped != first_revoke.end() ? mapped->second : nullptr)) {
        const blob::Revoke r = blob::read_revoke(record);
        view.revoked_by = r.id;
        view.revoke_source = r.source(interns);
        view.revoke_reason = r.reason;
        view.revoke_actor = r.actor;
        view.revoked_at_ms = r.time_ms;
      }
    }
    visit(view);
    at += c.bytes;
  }
}

void SubjectTable::for_each_pending_revoke(
    const SubjectState& state, const std::function<void(const PendingRevokeView&)>& visit) const {
  for_each_revoke(state, [&](const RevokeView& r) {
    if (r.target_present) return;
    visit({r.id, r.target, r.source, r.reason, r.actor, r.time_ms});
  });
}

void SubjectTable::for_each_revoke(const SubjectState& state,
                                   const std::function<void(const RevokeView&)>& visit) const {
  const InternTable& interns = impl_->interns;
  const char* bytes = blob_of(state);
  const std::uint32_t end = blob::blob_size(bytes);
  for (std::uint32_t at = blob::revokes_at(bytes); at < end;) {
    const blob::Revoke r = blob::read_revoke(bytes + at);
    RevokeView view;
    view.id = r.id;
    view.target = r.target;
    view.source = r.source(interns);
    view.reason = r.reason;
    view.actor = r.actor;
    view.time_ms = r.time_ms;
    view.target_present = r.target_present;
    visit(view);
    at += r.bytes;
  }
}

void SubjectTable::for_each_subject(const std::function<void(const SubjectState&)>& visit) const {
  for (const Handle handle : impl_->subjects) visit(*state_of(impl_->arena.resolve(handle)));
}

std::size_t SubjectTable::extract_groups(
    const std::bitset<kKeyGroups>& groups,
    const std::function<void(std::uint32_t group, std::string_view blob)>& take) {
  Impl& impl = *impl_;
  // A subject's group is a hash of its bytes, which live in its blob: one
  // cache miss per subject if walked in the set's order. So the handles are
  // copied out first (the set's slots, read in order) and each blob is
  // prefetched a few subjects ahead, which turns a walk bound by memory
  // latency into one bound by bandwidth (about 10x faster at a million
  // subjects).
  const std::vector<Handle> handles(impl.subjects.begin(), impl.subjects.end());
  constexpr std::size_t kAhead = 16;
  std::size_t removed = 0;
  for (std::size_t i = 0; i < handles.size(); ++i) {
    if (i + kAhead < handles.size()) __builtin_prefetch(impl.arena.resolve(handles[i + kAhead]));
    const Handle handle = handles[i];
    const char* bytes = impl.arena.resolve(handle);
    const std::uint32_t group = key_group_of(stable_hash64(blob::subject_in(bytes)));
    if (!groups.test(group)) continue;
    const std::uint32_t size = blob::blob_size(bytes);
    take(group, std::string_view(bytes, size));
    impl.drop_index(bytes);
    impl.subjects.erase(handle);  // found by the subject bytes, in the blob still held
    impl.arena.release(handle, BlobArena::capacity_for(size));
    ++removed;
  }
  return removed;
}

std::size_t SubjectTable::insert_blobs(std::string_view blobs,
                                       const std::function<void(const SubjectState&)>& added) {
  Impl& impl = *impl_;
  std::size_t inserted = 0;
  while (!blobs.empty()) {
    const std::uint32_t size = blob::blob_size(blobs.data());
    const Handle handle = impl.arena.allocate(BlobArena::capacity_for(size));
    char* out = impl.arena.resolve(handle);
    std::memcpy(out, blobs.data(), size);
    const bool fresh = impl.subjects.insert(handle).second;
    if (!fresh) throw std::logic_error("subject table: a moved subject was already here");
    added(*state_of(out));
    blobs.remove_prefix(size);
    ++inserted;
  }
  return inserted;
}

struct SubjectWalk::State {
  using Iterator = absl::flat_hash_set<Handle, SubjectHash, SubjectEq>::const_iterator;
  bool started = false;
  std::size_t capacity = 0;  // the index's when the walk began: a change means a rehash
  Iterator next;
};

SubjectWalk::SubjectWalk() : state_(std::make_unique<State>()) {}
SubjectWalk::~SubjectWalk() = default;
SubjectWalk::SubjectWalk(SubjectWalk&&) noexcept = default;
SubjectWalk& SubjectWalk::operator=(SubjectWalk&&) noexcept = default;

void SubjectTable::end_walk(SubjectWalk& walk) const {
  if (!walk.state_->started) return;
  walk.state_->started = false;
  --impl_->walks_unfinished;
}

WalkStep SubjectTable::walk_step(SubjectWalk& walk, std::size_t max_subjects,
                                 const std::function<void(const SubjectState&)>& visit) const {
  // absl keeps iterators valid across inserts that do not rehash, and only
  // erasing a slot invalidates it: so a walk holds purges off (no erase), and
  // notices a rehash by the index's capacity.
  Impl& impl = *impl_;
  SubjectWalk::State& state = *walk.state_;
  if (!state.started) {
    state.started = true;
    state.capacity = impl.subjects.capacity();
    state.next = impl.subjects.cbegin();
    ++impl.walks_unfinished;
  } else if (impl.subjects.capacity() != state.capacity) {
    state.capacity = impl.subjects.capacity();
    state.next = impl.subjects.cbegin();
    return WalkStep::kRestart;
  }
  for (std::size_t visited = 0; visited < max_subjects; ++visited, ++state.next) {
    if (state.next == impl.subjects.cend()) {
      state.started = false;
      --impl.walks_unfinished;
      return WalkStep::kDone;
    }
    visit(*state_of(impl.arena.resolve(*state.next)));
  }
  if (state.next == impl.subjects.cend()) {
    state.started = false;
    --impl.walks_unfinished;
    return WalkStep::kDone;
  }
  return WalkStep::kMore;
}

std::size_t SubjectTable::purge(std::int64_t now_ms, std::int64_t retain_ms) {
  Impl& impl = *impl_;
  if (impl.walks_unfinished > 0) return 0;  // the next purge does it
  std::size_t removed = 0;
  for (auto it = impl.subjects.begin(); it != impl.subjects.end();) {
    Handle& handle = const_cast<Handle&>(*it);  // see apply()
    if (impl.purge_subject(handle, now_ms, retain_ms)) {
      // absl: erasing does not move other elements, so `it++` stays valid.
      impl.subjects.erase(it++);
      ++removed;
    } else {
      ++it;
    }
  }
  // Size classes left sparse give their chunks back (see BlobArena).
  if (impl.arena.begin_compaction()) {
    for (const Handle& element : impl.subjects) {
      Handle& handle = const_cast<Handle&>(element);  // see apply()
      handle = impl.arena.relocate(handle);
    }
    impl.arena.finish_compaction();
  }
  // A table left mostly empty (a big expiry wave) gives its slots back.
  if (impl.subjects.capacity() > 1024 && impl.subjects.size() * 4 < impl.subjects.capacity()) {
    impl.subjects.rehash(0);
  }
  return removed;
}

void SubjectTable::reserve(std::size_t subjects) { impl_->subjects.reserve(subjects); }

std::size_t SubjectTable::subjects() const noexcept { return impl_->subjects.size(); }

std::size_t SubjectTable::memory_bytes() const noexcept {
  std::size_t indexes = 0;
  for (const auto& [subject, index] : impl_->indexes)
    indexes += subject.size() + index->memory_bytes();
  return sizeof(Impl) + impl_->table_bytes() + impl_->arena.memory_bytes() + indexes;
}

}  // namespace tally::scorer
