// Rules and sources interned to 2-byte refs, shared by the subject tables of
// one engine.
//
// A contribution names its rule and its source by a 2-byte ref into these
// dictionaries instead of an 8-byte pointer and an inline string: there are
// few rules and few sources (cameras, agencies), and these bytes are most of
// what an idle subject costs (subject_blob.h). The engine owns one InternTable
// and hands it to every worker's table, so that refs mean the same in every
// shard; a test builds its own, so nothing leaks from one test to the next.
//
// Bounded: each dictionary holds at most `capacity` entries and never forgets
// one (a rule outlives every event that names it anyway; sources are a small
// set), so memory is bounded by the cap, not by traffic. Past the cap, or for
// a value a table cannot intern, the value is stored inline in the record
// (kSpilled): a flood of distinct sources costs bytes per record, never
// correctness.
//
// Lifetime: a Rule is interned by address; it must outlive every table that
// interned it (rules.h: every RuleSet ever published lives as long as the
// engine). Interned source text lives as long as this object.
//
// Thread-safety: intern_rule() and intern_source() may be called from any
// thread; they take a mutex (a table caches the refs it got, so that happens
// once per table and value, not per event). rule_at() and source_at() are a
// lock-free acquire load of a pointer to an immutable value, which was
// published with a release store before its ref was handed out; they may be
// called from any thread holding a ref this object returned.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "scorer/rules.h"

namespace tally::scorer {

class InternTable {
 public:
  // Event::actor_ref is a source ref (an actor's name is interned as a source).
  static_assert(kNoActor == 0xffff);
  // The ref of a value that is not interned: the record holds it inline.
  static constexpr std::uint16_t kSpilled = 0xffff;
  // Refs 0 .. 0xfffe.
  static constexpr std::size_t kMaxEntries = kSpilled;

  // `capacity` entries per dictionary, at most kMaxEntries (a test can make
  // a small one to reach the cap quickly).
  explicit InternTable(std::size_t capacity = kMaxEntries);
  InternTable(const InternTable&) = delete;
  InternTable& operator=(const InternTable&) = delete;
  ~InternTable();

  // The ref of `rule` (interned now if it was not), or kSpilled when the
  // dictionary is full.
  std::uint16_t intern_rule(const Rule* rule);
  // The ref of `source` (copied in now if it was not), or kSpilled when full.
  std::uint16_t intern_source(std::string_view source);

  // What a ref returned by intern_rule / intern_source stands for.
  const Rule& rule_at(std::uint16_t ref) const noexcept {
    return *rules_[ref].load(std::memory_order_acquire);
  }
  // The name behind an Event::actor_ref; "" for kNoActor (or kSpilled: the
  // dictionary was full when the name came, see actor_ref_of).
  std::string_view actor_at(std::uint16_t ref) const noexcept {
    return ref == kSpilled ? std::string_view() : source_at(ref);
  }
  std::string_view source_at(std::uint16_t ref) const noexcept {
    return *sources_[ref].load(std::memory_order_acquire);
  }

  std::size_t capacity() const noexcept { return capacity_; }

 private:
  const std::size_t capacity_;
  // Written once per ref, under mutex_; read without it.
  std::unique_ptr<std::atomic<const Rule*>[]> rules_;
  std::unique_ptr<std::atomic<const std::string*>[]> sources_;
  // Set once a dictionary is full, so that a table asking past the cap does
  // not take the mutex again (it does not cache kSpilled).
  std::atomic<bool> rules_full_{false};
  std::atomic<bool> sources_full_{false};

  std::mutex mutex_;  // guards the three members below
  absl::flat_hash_map<const Rule*, std::uint16_t> rule_index_;
  absl::flat_hash_map<std::string, std::uint16_t> source_index_;
  std::deque<std::string> source_text_;  // a deque: entries' addresses are stable
};

}  // namespace tally::scorer
