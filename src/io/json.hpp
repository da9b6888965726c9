// The JSON a safetensors header holds: a strict reader driven by the caller's
// grammar, plus the UTF-8 check and string escaping the writer needs.
// Internal to src/io.
//
// The reader is a cursor, not a document builder: the caller asks for the
// value it expects next (an object, an array, a string, an integer), so
// nothing is allocated beyond the strings and numbers the format keeps, and
// nesting is exactly as deep as the caller's grammar (three levels for
// safetensors: header, tensor entry, shape). A value of another kind is
// reported by the caller with kind(); the reader never recurses on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace slope::io::json {

/// Checks that `s` is UTF-8 as RFC 3629 defines it: no overlong forms, no
/// surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no cut-off sequence.
/// Returns nullptr if it is; otherwise what is wrong, with `at` set to the
/// first byte of the bad sequence.
const char* utf8_error(std::string_view s, std::size_t& at);

/// Appends `s` (valid UTF-8) as a JSON string literal: `"` and `\` escaped,
/// control characters as \b \f \n \r \t or \u00XX, everything else as is.
void append_string(std::string& out, std::string_view s);

/// A cursor over JSON text (RFC 8259) that the caller drives. Whitespace
/// between tokens is skipped; every defect throws IoError
/// "<prefix>: <what> (at header byte N)".
class Reader {
 public:
  /// `text` must outlive the reader and already be valid UTF-8.
  Reader(std::string_view text, std::string prefix) : s_(text), prefix_(std::move(prefix)) {}

  [[noreturn]] void fail(const std::string& what) const;

  /// The next non-space byte, without consuming it; '\0' at the end.
  char peek();
  /// What kind of value starts at the cursor ("an object", "an array",
  /// "a string", "a number", "a boolean", "null"), for type errors; an
  /// invalid JSON error if no value starts there.
  std::string kind();
  /// Consumes `c` (after whitespace) or fails.
  void expect(char c);
  /// A string literal, its escapes decoded (\uXXXX surrogate pairs joined;
  /// a lone surrogate is an error).
  std::string string();
  /// A non-negative integer without fraction or exponent that fits in 64 bits;
  /// errors begin with `what`, e.g. "tensor 'w': dimension 0 of the shape".
  std::uint64_t integer(const std::string& what);

  /// An object: `member(key)` is called with the cursor on each value and
  /// must consume it. Keys arrive in file order; repeats are the caller's to catch.
  template <class F>
  void object(F&& member) {
    expect('{');
    if (peek() == '}') return void(++pos_);
    while (true) {
      if (peek() != '"') fail("invalid JSON: expected a string key");
      std::string key = string();
      expect(':');
      member(key);
      if (!next_or_close('}')) return;
    }
  }
  /// An array: `item(i)` is called with the cursor on the i-th value.
  template <class F>
  void array(F&& item) {
    expect('[');
    if (peek() == ']') return void(++pos_);
    for (std::size_t i = 0;; ++i) {
      item(i);
      if (!next_or_close(']')) return;
    }
  }

  /// After the top-level value only space padding (0x20) may follow, as the
  /// format pads; any other byte is an error.
  void finish();

 private:
  // Consumes ',' (true: another element follows) or `close` (false).
  bool next_or_close(char close);
  unsigned hex4();

  std::string_view s_;
  std::string prefix_;
  std::size_t pos_ = 0;
};

}  // namespace slope::io::json
