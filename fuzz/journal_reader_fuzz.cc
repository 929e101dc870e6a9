// Journal bytes as recovery reads them: records, a torn tail or damage,
// never a crash or a read past the end.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "storage/journal_format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::size_t offset = 0;
  tally::storage::journal::Record record;
  while (offset < bytes.size()) {
    const std::size_t before = offset;
    if (tally::storage::journal::read_record(bytes, offset, record) !=
        tally::storage::journal::ReadStatus::kOk) {
      break;
    }
    if (offset <= before) __builtin_trap();  // a record always advances
  }
  return 0;
}
