// tallyd's answers for people: a line, or tables (tally --json prints the
// JSON instead). Each takes the typed answer api/ read back.
#pragma once

#include "api/answers.h"

namespace tally::cli {

void print_score(const api::ScoreAnswer& answer);
void print_explain(const api::ExplainAnswer& answer);
void print_history(const api::HistoryAnswer& answer);
void print_top(const api::TopAnswer& answer);
void print_stats(const api::StatsAnswer& answer);
void print_reload(const api::ReloadAnswer& answer);
void print_workers(const api::WorkersAnswer& answer);
// A worker-count change under way: "changing 2 -> 4 workers: 512 of 2048 ...".
void print_rescale_progress(const api::RescaleStatus& rescale);
// How it ended: the time, what moved and the longest pause, or why it failed.
void print_rescale_outcome(const api::RescaleStatus& rescale);
void print_snapshot(const api::SnapshotAnswer& answer);

}  // namespace tally::cli
