// UTF-8 validation, JSON string escaping and the strict JSON cursor (json.hpp).
#include "json.hpp"

#include <fmt/format.h>

#include "slope/error.hpp"

namespace slope::io::json {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A byte for an error message: printable ASCII as itself, anything else in hex,
// so a message never carries a raw control byte or half a UTF-8 sequence.
std::string shown(char c) {
  auto b = static_cast<unsigned char>(c);
  return b >= 0x20 && b < 0x7f ? fmt::format("'{}'", c) : fmt::format("byte 0x{:02x}", b);
}

void append_utf8(std::string& out, std::uint32_t cp) {
  auto put = [&](std::uint32_t v) { out.push_back(static_cast<char>(v)); };
  if (cp < 0x80) {
    put(cp);
  } else if (cp < 0x800) {
    put(0xC0 | (cp >> 6));
    put(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    put(0xE0 | (cp >> 12));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  } else {
    put(0xF0 | (cp >> 18));
    put(0x80 | ((cp >> 12) & 0x3F));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  }
}

}  // namespace

const char* utf8_error(std::string_view s, std::size_t& at) {
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    at = i;
    // Lead byte: sequence length, its payload bits and the smallest code point
    // that needs this length (anything below is an overlong form).
    std::size_t n = 0;
    std::uint32_t cp = 0, least = 0;
    if (b >= 0xC2 && b <= 0xDF) n = 2, cp = b & 0x1F, least = 0x80;
    else if (b >= 0xE0 && b <= 0xEF) n = 3, cp = b & 0x0F, least = 0x800;
    else if (b >= 0xF0 && b <= 0xF4) n = 4, cp = b & 0x07, least = 0x10000;
    else if (b == 0xC0 || b == 0xC1) return "overlong encoding";
    else if (b < 0xC0) return "continuation byte without a lead byte";
    else return "code point over U+10FFFF";  // 0xF5..0xFF start nothing valid
    for (std::size_t k = 1; k < n; ++k) {
      if (i + k >= s.size()) return "truncated sequence";
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return "missing continuation byte";
      cp = (cp << 6) | (c & 0x3F);
    }
    if (cp < least) return "overlong encoding";
    if (cp >= 0xD800 && cp <= 0xDFFF) return "surrogate code point";
    if (cp > 0x10FFFF) return "code point over U+10FFFF";
    i += n;
  }
  return nullptr;
}

void append_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else
          out.push_back(c);
    }
  }
  out.push_back('"');
}

void Reader::fail(const std::string& what) const {
  throw IoError(fmt::format("{}: {} (at header byte {})", prefix_, what, pos_));
}

char Reader::peek() {
  while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
  return pos_ < s_.size() ? s_[pos_] : '\0';
}

std::string Reader::kind() {
  char c = peek();
  if (pos_ == s_.size()) fail("invalid JSON: the header ends where a value should start");
  if (c == '{') return "an object";
  if (c == '[') return "an array";
  if (c == '"') return "a string";
  if (c == '-' || is_digit(c)) return "a number";
  std::string_view rest = s_.substr(pos_);
  if (rest.starts_with("true") || rest.starts_with("false")) return "a boolean";
  if (rest.starts_with("null")) return "null";
  fail(fmt::format("invalid JSON: {} cannot start a value", shown(c)));
}

void Reader::expect(char c) {
  char got = peek();
  if (pos_ == s_.size()) fail(fmt::format("invalid JSON: the header ends where '{}' should be", c));
  if (got != c) fail(fmt::format("invalid JSON: expected '{}', got {}", c, shown(got)));
  ++pos_;
}

bool Reader::next_or_close(char close) {
  char c = peek();
  if (c == ',' || c == close) {
    ++pos_;
    return c == ',';
  }
  if (pos_ == s_.size()) fail(fmt::format("invalid JSON: the header ends before '{}'", close));
  fail(fmt::format("invalid JSON: expected ',' or '{}', got {}", close, shown(c)));
}

unsigned Reader::hex4() {
  unsigned v = 0;
  for (int i = 0; i < 4; ++i, ++pos_) {
    char c = pos_ < s_.size() ? s_[pos_] : '\0';
    unsigned d;
    if (is_digit(c)) d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
    else fail("invalid JSON: \\u must be followed by 4 hex digits");
    v = v * 16 + d;
  }
  return v;
}

std::string Reader::string() {
  expect('"');
  std::string out;
  while (true) {
    if (pos_ >= s_.size()) fail("invalid JSON: unterminated string");
    char c = s_[pos_];
    if (c == '"') break;
    if (static_cast<unsigned char>(c) < 0x20)  // JSON requires these escaped
      fail(fmt::format("invalid JSON: unescaped control character {} in a string", shown(c)));
    if (c != '\\') {
      out.push_back(c);  // UTF-8 was checked over the whole header already
      ++pos_;
      continue;
    }
    if (++pos_ >= s_.size()) fail("invalid JSON: unterminated string");
    char e = s_[pos_++];
    switch (e) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        std::uint32_t cp = hex4();
        if (cp >= 0xDC00 && cp <= 0xDFFF) fail("invalid JSON: \\u escape of a lone low surrogate");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          // A high surrogate counts only as the first half of a pair.
          if (s_.substr(pos_, 2) != "\\u") fail("invalid JSON: high surrogate without its pair");
          pos_ += 2;
          std::uint32_t low = hex4();
          if (low < 0xDC00 || low > 0xDFFF) fail("invalid JSON: high surrogate without its pair");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, cp);
        break;
      }
      default:
        --pos_;
        fail(fmt::format("invalid JSON: unknown escape: {} after '\\'", shown(e)));
    }
  }
  ++pos_;
  return out;
}

std::uint64_t Reader::integer(const std::string& what) {
  char c = peek();
  if (c == '-') fail(what + " must be a non-negative integer, got a negative number");
  if (!is_digit(c)) fail(fmt::format("{} must be a non-negative integer, got {}", what, kind()));
  if (c == '0' && pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1]))
    fail("invalid JSON: a number with a leading zero");
  std::uint64_t v = 0;
  for (; pos_ < s_.size() && is_digit(s_[pos_]); ++pos_) {
    auto d = static_cast<std::uint64_t>(s_[pos_] - '0');
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
      fail(what + " does not fit in 64 bits");
  }
  if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E'))
    fail(what + " must be a non-negative integer, got a number with a fraction or exponent");
  return v;
}

void Reader::finish() {
  for (; pos_ < s_.size(); ++pos_)
    if (s_[pos_] != ' ')
      fail(fmt::format("invalid JSON: {} after the closing '}}' (only space padding may follow)",
                       shown(s_[pos_])));
}

}  // namespace slope::io::json
