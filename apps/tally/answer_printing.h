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
void print_snapshot(const api::SnapshotAnswer& answer);

}  // namespace tally::cli
