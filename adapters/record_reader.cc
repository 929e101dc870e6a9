#include "adapters/record_reader.h"

#include <fmt/format.h>

namespace tally::adapters {

namespace {

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

RecordReader::RecordReader(ByteSource& source, InputFormat format, char delimiter)
    : lines_(source), format_(format), csv_(delimiter) {}

RecordReader::Next RecordReader::next() {
  issue_ = RecordIssue::kNone;
  detail_.clear();
  if (array_ != nullptr) return next_array_element();
  for (;;) {
    const auto line = lines_.next();
    if (!line) {
      if (!lines_.error_text().empty()) {
        error_ = lines_.error_text();
        return Next::kError;
      }
      if (lines_.idle()) return Next::kIdle;
      if (format_ == InputFormat::kCsv && csv_.finish() == CsvStatus::kUnterminated) {
        issue_ = RecordIssue::kCsvUnterminated;
        detail_ = csv_.error();
        raw_ = csv_.raw();
        line_ = physical_line_ + 1 - csv_.lines_in_record();
        return Next::kRejected;
      }
      return Next::kEnd;
    }
    ++physical_line_;
    if (!started_) {
      // The first line with content says what the input is, if not told.
      std::string_view text = *line;
      if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
      if (blank(text)) continue;
      started_ = true;
      const auto first = text.find_first_not_of(" \t");
      if (format_ == InputFormat::kAuto) {
        format_ = text[first] == '{' || text[first] == '[' ? InputFormat::kJson : InputFormat::kCsv;
      }
      if (format_ == InputFormat::kJson && text[first] == '[') return start_array(text);
    }
    if (format_ == InputFormat::kCsv) {
      // nullopt: inside a multi-line record, the header, or a skipped row.
      if (const auto next = next_csv(*line)) return *next;
      continue;
    }
    if (blank(*line)) continue;
    return next_json_line(*line);
  }
}

std::optional<RecordReader::Next> RecordReader::next_csv(std::string_view line) {
  if (!csv_.open() && blank(line)) return std::nullopt;  // a blank line between records
  const CsvStatus status = csv_.feed(line);
  if (status == CsvStatus::kNeedMore) return std::nullopt;
  line_ = physical_line_ + 1 - csv_.lines_in_record();
  raw_ = csv_.raw();
  if (status == CsvStatus::kBadQuote) {
    if (!have_header_) {
      error_ = fmt::format("line {}: the header is not valid CSV: {}", line_, csv_.error());
      return Next::kError;
    }
    issue_ = RecordIssue::kCsvBadQuote;
    detail_ = csv_.error();
    return Next::kRejected;
  }
  if (!have_header_) {
    keys_.clear();
    for (const std::string_view name : csv_.fields()) {
      std::string key = field_key(name);
      if (key.empty()) key = fmt::format("column_{}", keys_.size() + 1);
      // Two columns with one key: the later ones get _2, _3...
      std::string unique = key;
      for (int n = 2; std::find(keys_.begin(), keys_.end(), unique) != keys_.end(); ++n) {
        unique = fmt::format("{}_{}", key, n);
      }
      keys_.push_back(std::move(unique));
    }
    header_raw_ = std::string(csv_.raw());
    have_header_ = true;
    ++keys_version_;
    return std::nullopt;
  }
  if (csv_.fields().size() > keys_.size()) {
    issue_ = RecordIssue::kCsvColumnCount;
    detail_ = fmt::format("{} fields, the header has {}", csv_.fields().size(), keys_.size());
    return Next::kRejected;
  }
  if (csv_.raw() == header_raw_) return std::nullopt;  // the header again (rotation)
  record_.keys = &keys_;
  record_.values = &csv_.fields();
  record_.raw_json = nullptr;
  record_.keys_version = keys_version_;
  return Next::kRecord;
}

bool RecordReader::read_object(simdjson::dom::element element) {
  simdjson::dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) return false;
  keys_.resize(object.size());
  values_.clear();
  raw_json_.clear();
  arena_.clear();
  // Values written into arena_ are patched in once it stops growing.
  std::vector<std::pair<std::size_t, std::pair<std::size_t, std::size_t>>> arena_values;
  std::size_t k = 0;
  for (const auto field : object) {
    keys_[k].clear();
    append_field_key(keys_[k], field.key);
    switch (field.value.type()) {
      case simdjson::dom::element_type::STRING:
        values_.push_back(field.value.get_string().value_unsafe());
        raw_json_.push_back(false);
        break;
      case simdjson::dom::element_type::NULL_VALUE:
        values_.emplace_back();
        raw_json_.push_back(false);
        break;
      default: {
        const std::size_t from = arena_.size();
        arena_.append(simdjson::minify(field.value));
        arena_values.push_back({values_.size(), {from, arena_.size() - from}});
        values_.emplace_back();
        raw_json_.push_back(true);
      }
    }
    ++k;
  }
  for (const auto& [index, span] : arena_values) {
    values_[index] = std::string_view(arena_).substr(span.first, span.second);
  }
  record_.keys = &keys_;
  record_.values = &values_;
  record_.raw_json = &raw_json_;
  record_.keys_version = 0;
  return true;
}

RecordReader::Next RecordReader::next_json_line(std::string_view line) {
  line_ = physical_line_;
  raw_ = line;
  simdjson::dom::element element;
  const auto error = parser_.parse(line.data(), line.size()).get(element);
  if (error != simdjson::SUCCESS) {
    issue_ = RecordIssue::kMalformedJson;
    detail_ = simdjson::error_message(error);
    return Next::kRejected;
  }
  if (!read_object(element)) {
    issue_ = RecordIssue::kNotAnObject;
    detail_ = "a record is a JSON object";
    return Next::kRejected;
  }
  return Next::kRecord;
}

RecordReader::Next RecordReader::start_array(std::string_view first_line) {
  std::string text(first_line);
  text.push_back('\n');
  while (const auto line = lines_.next()) {
    text.append(*line);
    text.push_back('\n');
  }
  if (!lines_.error_text().empty()) {
    error_ = lines_.error_text();
    return Next::kError;
  }
  if (lines_.idle()) {
    error_ = "a JSON array cannot be followed (use JSON lines: one object a line)";
    return Next::kError;
  }
  document_ = std::make_unique<simdjson::padded_string>(text);
  simdjson::dom::array array;
  const auto error = parser_.parse(*document_).get_array().get(array);
  if (error != simdjson::SUCCESS) {
    error_ = fmt::format("the input starts with [ but is not a JSON array: {}",
                         simdjson::error_message(error));
    return Next::kError;
  }
  array_ = std::make_unique<simdjson::dom::array>(array);
  array_at_ = array_->begin();
  array_end_ = array_->end();
  line_ = 0;
  return next_array_element();
}

RecordReader::Next RecordReader::next_array_element() {
  if (array_at_ == array_end_) return Next::kEnd;
  const simdjson::dom::element element = *array_at_;
  ++array_at_;
  ++line_;
  element_text_ = simdjson::minify(element);
  raw_ = element_text_;
  if (!read_object(element)) {
    issue_ = RecordIssue::kNotAnObject;
    detail_ = "an element of the array is not a JSON object";
    return Next::kRejected;
  }
  return Next::kRecord;
}

}  // namespace tally::adapters
