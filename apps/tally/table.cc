#include "apps/tally/table.h"

#include <fmt/format.h>

#include <algorithm>

namespace tally::cli {

void print_table(const std::vector<Row>& rows, const std::vector<bool>& numeric) {
  std::vector<std::size_t> width(numeric.size(), 0);
  for (const Row& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const Row& row : rows) {
    std::string line = " ";
    for (std::size_t c = 0; c < row.size(); ++c) {
      const bool last = c + 1 == row.size();
      line += ' ';
      if (numeric[c]) {
        line += fmt::format("{:>{}}", row[c], width[c]);
      } else {
        line += last ? row[c] : fmt::format("{:<{}}", row[c], width[c]);
      }
      if (!last) line += ' ';
    }
    fmt::print("{}\n", line);
  }
}

}  // namespace tally::cli
