// How a shard's state becomes storage records: the journal record of an
// applied event, and a snapshot part holding a whole table.
//
// A record carries the terms its event was applied with (points, expiry, rule
// version), not a reference to a rule, so contributions stay non-retroactive
// across restarts (storage/journal_format.h draws the format).
//
// Thread-safety: write_snapshot_part() must run on the thread that owns
// `table`; record_of() is a pure function.
#pragma once

#include <cstdint>
#include <string>

#include "core/event.h"
#include "scorer/subject_table.h"
#include "storage/env.h"
#include "storage/journal_format.h"
#include "storage/snapshot_writer.h"

namespace tally::scorer {

// The journal record of an accepted event or revoke; views point into `event`
// and its rule.
// `interns` resolves a revoke's actor ref to the client's name.
storage::journal::Record record_of(const Event& event, const InternTable& interns) noexcept;

// Writes `table` as part `worker` of snapshot `generation` in `dir`, through
// `env`: one record per contribution (revoked ones included) and one per
// revoke.
storage::SnapshotPartResult write_snapshot_part(const SubjectTable& table, storage::Env* env,
                                                const std::string& dir, std::uint64_t generation,
                                                std::uint32_t worker);

}  // namespace tally::scorer
