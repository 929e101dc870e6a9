// Tables for people: rows as columns two spaces apart.
#pragma once

#include <string>
#include <vector>

namespace tally::cli {

using Row = std::vector<std::string>;

// Prints `rows` (the first a header) with columns two spaces apart, indented
// by two; `numeric` columns are right-aligned.
void print_table(const std::vector<Row>& rows, const std::vector<bool>& numeric);

}  // namespace tally::cli
