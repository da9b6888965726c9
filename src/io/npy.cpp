// NumPy .npy files.
//
// Format (numpy.lib.format): the 6-byte magic "\x93NUMPY", a major and a minor
// version byte, the header length (uint16 LE in version 1.0, uint32 LE in 2.0
// and 3.0), then an ASCII Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ended by '\n' so that the data starts at a multiple
// of 64 bytes, then the raw elements in C order.
#include <algorithm>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "slope/io.hpp"

namespace slope::io {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;

std::string_view descr_of(DType t) {
  switch (t) {
    case DType::u8: return "|u1";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
  }
  return "";
}

std::optional<DType> dtype_of_descr(std::string_view d) {
  if (d == "|u1" || d == "<u1") return DType::u8;
  if (d == "<i4") return DType::i32;
  if (d == "<i8") return DType::i64;
  if (d == "<f4") return DType::f32;
  if (d == "<f8") return DType::f64;
  return std::nullopt;
}

// A strict parser for the one dict shape numpy writes: string keys; values are
// strings, True/False, or tuples of non-negative integers.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& file) : s_(text), file_(file) {}

  void parse(std::string& descr, bool& fortran, Shape& shape) {
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      std::string key = quoted();
      expect(':');
      if (key == "descr" && !seen_descr) {
        descr = quoted();
        seen_descr = true;
      } else if (key == "fortran_order" && !seen_fortran) {
        fortran = boolean();
        seen_fortran = true;
      } else if (key == "shape" && !seen_shape) {
        shape = tuple();
        seen_shape = true;
      } else {
        fail(fmt::format("unexpected or repeated key '{}'", key));
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++pos_;
    skip_space();
    if (pos_ != s_.size()) fail("text after the closing '}'");
    if (!seen_descr || !seen_fortran || !seen_shape)
      fail("missing one of 'descr', 'fortran_order', 'shape'");
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t')) ++pos_;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(fmt::format("{}: bad .npy header: {} (at header byte {})", file_, what, pos_));
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(fmt::format("expected '{}'", c));
    ++pos_;
  }
  std::string quoted() {
    skip_space();
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    std::size_t end = s_.find(q, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.substr(pos_, 4) == "True") return pos_ += 4, true;
    if (s_.substr(pos_, 5) == "False") return pos_ += 5, false;
    fail("expected True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("expected a dimension");
      std::uint64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        v = v * 10 + static_cast<std::uint64_t>(peek() - '0');
        // Check per digit so a 40-digit number cannot wrap around.
        if (v > kMaxArrayBytes) fail(fmt::format("dimension over the cap of {}", kMaxArrayBytes));
        ++pos_;
      }
      shape.push_back(static_cast<std::size_t>(v));
      if (shape.size() > kMaxRank) fail(fmt::format("rank over the cap of {}", kMaxRank));
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')'");
    }
    ++pos_;
    return shape;
  }

  std::string_view s_;
  const std::string& file_;
  std::size_t pos_ = 0;
};

}  // namespace

void write_npy(const fs::path& path, const Array& array) {
  if (array.shape.size() > kMaxRank)
    throw ValueError(fmt::format("write_npy: rank {} over the cap of {}", array.shape.size(),
                                 kMaxRank));
  if (array.bytes.size() != numel(array.shape) * dtype_size(array.dtype))
    throw ValueError(fmt::format("write_npy: {} bytes for shape {} of {}", array.bytes.size(),
                                 to_string(array.shape), dtype_name(array.dtype)));
  // Python tuple syntax: "()" for a scalar, "(3,)" for one dimension.
  std::string dims;
  for (std::size_t d : array.shape) dims += fmt::format("{}, ", d);
  if (array.shape.size() > 1) dims.resize(dims.size() - 2);
  else if (array.shape.size() == 1) dims.pop_back();
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}",
                                 descr_of(array.dtype), dims);
  // Pad with spaces so magic(6) + version(2) + length(2) + dict + '\n' is a
  // multiple of 64, as numpy does (aligned data for memory mapping).
  std::size_t total = kMagicLen + 2 + 2 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';

  std::vector<std::uint8_t> out;
  out.reserve(10 + dict.size() + array.bytes.size());
  out.insert(out.end(), kMagic, kMagic + kMagicLen);
  out.push_back(1);  // version 1.0
  out.push_back(0);
  out.push_back(static_cast<std::uint8_t>(dict.size() & 0xff));
  out.push_back(static_cast<std::uint8_t>(dict.size() >> 8));
  out.insert(out.end(), dict.begin(), dict.end());
  out.insert(out.end(), array.bytes.begin(), array.bytes.end());
  write_file_atomic(path, out);
}

template <class T>
void write_npy(const fs::path& path, std::span<const T> values, const Shape& shape) {
  write_npy(path, Array::from(values, shape));
}

template void write_npy<std::uint8_t>(const fs::path&, std::span<const std::uint8_t>, const Shape&);
template void write_npy<std::int32_t>(const fs::path&, std::span<const std::int32_t>, const Shape&);
template void write_npy<std::int64_t>(const fs::path&, std::span<const std::int64_t>, const Shape&);
template void write_npy<float>(const fs::path&, std::span<const float>, const Shape&);
template void write_npy<double>(const fs::path&, std::span<const double>, const Shape&);

Array read_npy(const fs::path& path) {
  const std::string file = path.string();
  // The whole file is read (capped by what any valid array could need); every
  // promise in the header is then checked against the bytes actually present.
  std::vector<std::uint8_t> bytes = read_file(path, kMaxArrayBytes + 12 + kMaxNpyHeaderBytes);
  auto fail = [&](const std::string& what) -> IoError {
    return IoError(fmt::format("{}: {}", file, what));
  };
  if (bytes.size() < 10)
    throw fail(fmt::format("truncated: {} bytes, a .npy preamble needs at least 10", bytes.size()));
  if (std::memcmp(bytes.data(), kMagic, kMagicLen) != 0) throw fail("not a .npy file (bad magic)");
  const unsigned major = bytes[6], minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0)
    throw fail(fmt::format("unsupported .npy version {}.{}", major, minor));
  std::size_t prefix = major == 1 ? 10 : 12;
  if (bytes.size() < prefix)
    throw fail(fmt::format("truncated: {} bytes, a version {}.0 preamble needs {}", bytes.size(),
                           major, prefix));
  std::uint64_t hlen = bytes[8] | (std::uint64_t{bytes[9]} << 8);
  if (major > 1) hlen |= (std::uint64_t{bytes[10]} << 16) | (std::uint64_t{bytes[11]} << 24);
  if (hlen > kMaxNpyHeaderBytes)
    throw fail(fmt::format("header length {} over the cap of {}", hlen, kMaxNpyHeaderBytes));
  if (bytes.size() - prefix < hlen)
    throw fail(fmt::format("truncated: header promises {} header bytes, file holds {}", hlen,
                           bytes.size() - prefix));
  std::string_view text(reinterpret_cast<const char*>(bytes.data() + prefix), hlen);
  if (std::any_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) >= 0x80 || c == '\0'; }))
    throw fail("bad .npy header: not ASCII text");

  std::string descr;
  bool fortran = false;
  Array out;
  HeaderParser(text, file).parse(descr, fortran, out.shape);
  auto dt = dtype_of_descr(descr);
  if (!dt) throw fail(fmt::format("unsupported dtype '{}' (slope reads <f4 <f8 <i4 <i8 |u1)", descr));
  if (fortran && out.shape.size() > 1) throw fail("Fortran-order arrays are not supported");
  out.dtype = *dt;

  std::uint64_t want = dtype_size(out.dtype);
  for (std::size_t d : out.shape)
    if (__builtin_mul_overflow(want, std::uint64_t{d}, &want) || want > kMaxArrayBytes)
      throw fail(fmt::format("shape {} is over the cap of {} bytes", to_string(out.shape),
                             kMaxArrayBytes));
  std::uint64_t have = bytes.size() - prefix - hlen;
  if (have < want)
    throw fail(fmt::format("truncated: header promises {} data bytes for shape {}, file holds {}",
                           want, to_string(out.shape), have));
  if (have > want)
    throw fail(fmt::format("{} trailing bytes after the {} data bytes of shape {}", have - want,
                           want, to_string(out.shape)));
  // Drop the preamble in place: no second copy of the data.
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(prefix + hlen));
  out.bytes = std::move(bytes);
  return out;
}

}  // namespace slope::io
