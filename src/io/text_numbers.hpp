#pragma once
// Numbers in text files (Matrix Market, CSV), read where they lie with std::from_chars:
// no line or field is copied, which keeps the readers at hundreds of MB/s. Errors name
// the file, the line and the offending text.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "reading.hpp"

namespace nmfuse::io {

class TextCursor {
 public:
  // `first_line`: the number of the text's first line, for a piece of a longer file.
  TextCursor(std::string_view text, const std::string& name, std::size_t first_line = 1)
      : text_(text), name_(name), line_(first_line) {}

  std::size_t line() const { return line_; }

  std::size_t offset() const { return pos_; }
  std::string where() const { return "line " + std::to_string(line_); }
  [[noreturn, gnu::cold, gnu::noinline]] void fail(const std::string& why) const { bad(name_, where() + ": " + why); }
  // A field that is not what it should be: "line 3: the value 'x' is not a number".
  [[noreturn, gnu::cold, gnu::noinline]] void fail_field(const std::string& what, const char* should_be) {
    const std::string w = word();
    fail(w.empty() ? what + " is missing" : what + " '" + w + "' is not " + should_be);
  }

  bool at_end() const { return pos_ >= text_.size(); }
  // At '\n', "\r\n" or the end of the text, blanks skipped.
  bool at_line_end() {
    skip_blanks();
    return at_end() || text_[pos_] == '\n' || (text_[pos_] == '\r' && next_is('\n'));
  }
  // Past the end of this line.
  void next_line() {
    const std::size_t end = text_.find('\n', pos_);
    pos_ = end == std::string_view::npos ? text_.size() : end + 1;
    ++line_;
  }
  // At the first character of the next line that holds anything but blanks and does not
  // start with `comment` (0: none); false at the end of the text.
  bool next_data_line(char comment) {
    while (!at_end()) {
      const std::size_t start = pos_;
      if (comment && text_[pos_] == comment) { next_line(); continue; }
      if (!at_line_end()) { pos_ = start; return true; }
      next_line();
    }
    return false;
  }
  // The rest of this line, for the readers' header lines.
  std::string_view rest_of_line() {
    const std::size_t end = std::min(text_.find('\n', pos_), text_.size());
    std::string_view r = text_.substr(pos_, end - pos_);
    if (!r.empty() && r.back() == '\r') r.remove_suffix(1);
    return r;
  }

  // A decimal integer, blanks before it skipped; false (the cursor left at it) if the
  // field is not one.
  bool integer(std::int64_t& v) {
    skip_blanks();
    field_ = pos_;
    const auto [end, ec] = std::from_chars(here(), limit(), v);
    if (ec != std::errc() || !ends_field(end)) return false;
    pos_ = std::size_t(end - text_.data());
    return true;
  }
  // A number as strtod reads it (a leading '+', "inf" and "nan" included), blanks before
  // it skipped; false (the cursor left at it) if the field is not one or overflows.
  bool real(double& v) {
    skip_blanks();
    field_ = pos_;
    const char* begin = here();
    if (begin < limit() && *begin == '+') ++begin;
    // Counts are the common case: up to 15 digits, read exactly without from_chars.
    std::uint64_t digits = 0;
    const char* p = begin;
    for (; p < limit() && p - begin < 15 && unsigned(*p - '0') < 10; ++p) digits = digits * 10 + unsigned(*p - '0');
    if (p > begin && ends_field(p)) {
      v = double(digits);
      pos_ = std::size_t(p - text_.data());
      return true;
    }
    const auto [end, ec] = std::from_chars(begin, limit(), v);
    if (!ends_field(end)) return false;
    if (ec == std::errc::result_out_of_range) {  // from_chars leaves v: underflow or overflow?
      v = std::strtod(std::string(begin, end).c_str(), nullptr);
      if (std::isinf(v)) return false;
    } else if (ec != std::errc()) {
      return false;
    }
    pos_ = std::size_t(end - text_.data());
    return true;
  }
  // Takes `c` (blanks before it skipped) if it is next.
  bool take(char c) {
    skip_blanks();
    if (at_end() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  // The text of the number read last.
  std::string last_field() const { return std::string(text_.substr(field_, pos_ - field_)); }
  // The whitespace- or comma-delimited text at the cursor, blanks skipped: for messages.
  std::string word() {
    skip_blanks();
    std::size_t end = pos_;
    while (end < text_.size() && !delimiter(text_[end])) ++end;
    return std::string(text_.substr(pos_, end - pos_));
  }

 private:
  static bool blank(char c) { return c == ' ' || c == '\t'; }
  static bool delimiter(char c) { return blank(c) || c == '\n' || c == '\r' || c == ','; }
  void skip_blanks() {
    while (pos_ < text_.size() && blank(text_[pos_])) ++pos_;
  }
  bool next_is(char c) const { return pos_ + 1 < text_.size() && text_[pos_ + 1] == c; }
  const char* here() const { return text_.data() + pos_; }
  const char* limit() const { return text_.data() + text_.size(); }
  bool ends_field(const char* end) const { return end == limit() || delimiter(*end); }

  std::string_view text_;
  const std::string& name_;
  std::size_t pos_ = 0, line_, field_ = 0;
};

}  // namespace nmfuse::io
