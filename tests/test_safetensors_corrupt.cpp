// The safetensors reader against a corpus of corrupt files: each class is
// checked for its error phrase through parse_safetensors (in memory) and
// load_safetensors (from a file), which must agree; plus every truncation.
#include <catch2/catch.hpp>

#include "safetensors_support.hpp"
#include "slope/io.hpp"

namespace fs = std::filesystem;
using namespace slope;
using namespace slope::testing;

namespace {

struct Case {
  const char* what;
  Bytes bytes;
  const char* phrase;
};

// A header of tensor entries around `body`, over a data buffer of `data` bytes.
Bytes header_of(const std::string& body, std::size_t data = 2) {
  return st_image("{" + body + "}", Bytes(data, 0xab));
}
// One valid U8 entry of 2 bytes at [0, 2) and the same entry with `fields` instead.
const std::string kOk = "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}";
Bytes entry(const std::string& fields, std::size_t data = 2) {
  return header_of("\"a\":{" + fields + "}", data);
}
Bytes entry(const std::string& dtype, const std::string& shape, const std::string& offsets,
            std::size_t data = 2) {
  return entry("\"dtype\":" + dtype + ",\"shape\":" + shape + ",\"data_offsets\":" + offsets, data);
}

void check_cases(const std::vector<Case>& cases) {
  TempDir dir{"safetensors"};
  fs::path p = dir / "bad.safetensors";
  for (const Case& c : cases) {
    INFO("case: " << c.what);
    require_io_error([&] { io::parse_safetensors(c.bytes, "mem.safetensors"); }, "mem.safetensors",
                     c.phrase);
    spit(p, c.bytes);
    require_io_error([&] { io::load_safetensors(p); }, p, c.phrase);
  }
}

}  // namespace

TEST_CASE("a safetensors length field that is short, too large or past the file is refused") {
  check_cases({
      {"empty file", {}, "truncated: 0 bytes, a safetensors file needs at least 8"},
      {"too short for the length field", {8, 0, 0}, "truncated: 3 bytes"},
      {"header length beyond the file", st_image_with_length(100, "{}"), "promises 100 header bytes, file holds 2"},
      {"header length over the cap", st_image_with_length(100'000'001, "{}"), "header length 100000001 is over the cap of 100000000"},
      {"header length near 2^64", st_image_with_length(~std::uint64_t{0}, "{}"), "is over the cap"},
      {"empty header", st_image(""), "the header is not a JSON object"},
  });
}

TEST_CASE("a safetensors header that is not valid UTF-8 is refused, whatever the kind of defect") {
  auto key = [](const std::string& k) { return st_image("{\"" + k + "\":{}}"); };
  check_cases({
      {"overlong 2-byte form", key("\xc0\xaf"), "not valid UTF-8: overlong encoding (at header byte 2)"},
      {"overlong 3-byte form", key("\xe0\x80\xaf"), "not valid UTF-8: overlong encoding"},
      {"overlong 4-byte form", key("\xf0\x80\x80\xaf"), "not valid UTF-8: overlong encoding"},
      {"surrogate", key("\xed\xa0\x80"), "not valid UTF-8: surrogate code point"},
      {"over U+10FFFF", key("\xf4\x90\x80\x80"), "not valid UTF-8: code point over U+10FFFF"},
      {"lead byte 0xFF", key("\xff"), "not valid UTF-8: code point over U+10FFFF"},
      {"lone continuation byte", key("\x80"), "not valid UTF-8: continuation byte without a lead byte"},
      {"missing continuation byte", key("\xc3("), "not valid UTF-8: missing continuation byte"},
      {"sequence cut by the header end", st_image("{\"\xe2\x82"), "not valid UTF-8: truncated sequence"},
  });
}

TEST_CASE("a safetensors header that is not strict JSON is refused with what is wrong") {
  check_cases({
      {"missing colon", header_of("\"a\" {}"), "invalid JSON: expected ':', got '{'"},
      {"trailing comma", header_of(kOk + ","), "invalid JSON: expected a string key"},
      {"unquoted key", header_of("a:1"), "invalid JSON: expected a string key"},
      {"single quotes", st_image("{'a':{}}"), "invalid JSON: expected a string key"},
      {"unterminated string", st_image("{\"abc"), "invalid JSON: unterminated string"},
      {"unclosed object", st_image("{\"a\":{\"dtype\":\"U8\""), "invalid JSON: the header ends before '}'"},
      {"unknown escape", header_of("\"\\q\":{}"), "invalid JSON: unknown escape: 'q'"},
      {"short \\u escape", header_of("\"\\u12g4\":{}"), "\\u must be followed by 4 hex digits"},
      {"lone high surrogate", header_of("\"\\ud800x\":{}"), "high surrogate without its pair"},
      {"high surrogate then no low one", header_of("\"\\ud800\\u0041\":{}"), "high surrogate without its pair"},
      {"lone low surrogate", header_of("\"\\udc00\":{}"), "lone low surrogate"},
      {"raw newline in a string", header_of("\"a\nb\":{}"), "unescaped control character byte 0x0a"},
      {"leading zero", entry("\"U8\"", "[02]", "[0,2]"), "a number with a leading zero"},
      {"bad literal", entry("\"U8\"", "[tru]", "[0,2]"), "invalid JSON: 't' cannot start a value"},
      {"garbage after the object", st_image("{}x"), "invalid JSON: 'x' after the closing '}'"},
      {"a second object", st_image("{}{}"), "after the closing '}'"},
      {"newline padding", st_image("{}\n"), "byte 0x0a after the closing '}' (only space padding may follow)"},
      {"NUL padding", st_image(std::string("{}\0", 3)), "byte 0x00 after the closing '}'"},
  });
}

TEST_CASE("a safetensors header whose top level is not an object is refused") {
  check_cases({
      {"an array", st_image("[]"), "the header is not a JSON object (it must start with '{')"},
      {"a string", st_image("\"{}\""), "is not a JSON object"},
      {"leading space", st_image(" {}"), "is not a JSON object"},
      {"a number", st_image("8"), "is not a JSON object"},
  });
}

TEST_CASE("repeated tensor names, metadata keys and fields are refused, naming the repeat") {
  check_cases({
      {"duplicate tensor name", header_of(kOk + "," + kOk), "duplicate tensor name 'a'"},
      {"duplicate metadata key", header_of("\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}", 0), "duplicate metadata key 'k'"},
      {"two __metadata__ objects", header_of("\"__metadata__\":{},\"__metadata__\":{}", 0), "duplicate key '__metadata__'"},
      {"duplicate field", entry("\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]"),
       "tensor 'a': duplicate field 'dtype'"},
      {"same name, once escaped", header_of(kOk + ",\"\\u0061\":{}"), "duplicate tensor name 'a'"},
  });
}

TEST_CASE("a tensor entry with a missing, extra or wrongly typed field is refused") {
  check_cases({
      {"missing dtype", entry("\"shape\":[2],\"data_offsets\":[0,2]"), "tensor 'a': missing field 'dtype'"},
      {"missing shape", entry("\"dtype\":\"U8\",\"data_offsets\":[0,2]"), "tensor 'a': missing field 'shape'"},
      {"missing offsets", entry("\"dtype\":\"U8\",\"shape\":[2]"), "tensor 'a': missing field 'data_offsets'"},
      {"extra field", entry("\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2],\"offsets\":[0,2]"),
       "tensor 'a': unknown field 'offsets'"},
      {"entry is a string", header_of("\"a\":\"U8\""), "tensor 'a' must be an object, got a string"},
      {"dtype is a number", entry("4", "[2]", "[0,2]"), "tensor 'a': dtype must be a string, got a number"},
      {"shape is a string", entry("\"U8\"", "\"2\"", "[0,2]"), "shape must be an array of non-negative integers, got a string"},
      {"shape is an object", entry("\"U8\"", "{}", "[0,2]"), "got an object"},
      {"offsets is an object", entry("\"U8\"", "[2]", "{}"), "data_offsets must be an array of 2 integers, got an object"},
      {"one offset", entry("\"U8\"", "[2]", "[0]"), "data_offsets must be an array of 2 integers, got 1"},
      {"three offsets", entry("\"U8\"", "[2]", "[0,2,2]"), "data_offsets must be an array of 2 integers, got more"},
      {"offset is a string", entry("\"U8\"", "[2]", "[\"0\",2]"), "data_offsets[0] must be a non-negative integer, got a string"},
      {"dimension is a boolean", entry("\"U8\"", "[true]", "[0,2]"), "dimension 0 of the shape must be a non-negative integer, got a boolean"},
      {"dimension is null", entry("\"U8\"", "[null]", "[0,2]"), "got null"},
      {"nested arrays", entry("\"U8\"", "[[[[2]]]]", "[0,2]"), "dimension 0 of the shape must be a non-negative integer, got an array"},
      {"empty tensor name", header_of("\"\":{}"), "empty tensor name"},
      {"tensor name over the cap", header_of("\"" + std::string(4097, 'n') + "\":{}"), "tensor name of 4097 bytes is over the cap of 4096"},
  });
}

TEST_CASE("safetensors dtypes outside F64 F32 I64 I32 U8 are refused, known ones as unsupported") {
  check_cases({
      {"F16", entry("\"F16\"", "[1]", "[0,2]"), "tensor 'a': unsupported dtype F16 (slope reads F64 F32 I64 I32 U8)"},
      {"BF16", entry("\"BF16\"", "[1]", "[0,2]"), "unsupported dtype BF16"},
      {"BOOL", entry("\"BOOL\"", "[2]", "[0,2]"), "unsupported dtype BOOL"},
      {"F8_E4M3", entry("\"F8_E4M3\"", "[2]", "[0,2]"), "unsupported dtype F8_E4M3"},
      {"U64", entry("\"U64\"", "[]", "[0,8]", 8), "unsupported dtype U64"},
      {"unknown", entry("\"F17\"", "[2]", "[0,2]"), "tensor 'a': unknown dtype 'F17'"},
      {"lower case", entry("\"u8\"", "[2]", "[0,2]"), "unknown dtype 'u8'"},
  });
}

TEST_CASE("safetensors shapes out of range and sizes that do not match are refused") {
  const std::string d31 = "2147483648";  // 2^31, the largest dimension allowed
  check_cases({
      {"rank over the cap", entry("\"U8\"", "[1,1,1,1,1,1,1,1,2]", "[0,2]"), "tensor 'a': rank over the cap of 8"},
      {"negative dimension", entry("\"U8\"", "[-2]", "[0,2]"), "dimension 0 of the shape must be a non-negative integer, got a negative number"},
      {"fractional dimension", entry("\"U8\"", "[2.0]", "[0,2]"), "got a number with a fraction or exponent"},
      {"exponent dimension", entry("\"U8\"", "[2e0]", "[0,2]"), "got a number with a fraction or exponent"},
      {"dimension over 2^64", entry("\"U8\"", "[18446744073709551616]", "[0,2]"), "dimension 0 of the shape does not fit in 64 bits"},
      {"dimension over the cap", entry("\"U8\"", "[4294967296]", "[0,2]"), "tensor 'a': dimension 4294967296 is over the cap of 2147483648"},
      {"size product overflow", entry("\"F64\"", "[" + d31 + "," + d31 + "," + d31 + "]", "[0,2]"),
       "the byte size of shape (2147483648, 2147483648, 2147483648) of F64 overflows 64 bits"},
      {"size over the cap", entry("\"F32\"", "[65536,65536]", "[0,2]"), "is 17179869184 bytes, over the cap of 2147483648"},
      {"bytes do not match the shape", entry("\"U8\"", "[3]", "[0,2]"), "data_offsets [0, 2] hold 2 bytes, shape (3,) of U8 needs 3"},
      {"bytes do not match the dtype", entry("\"I32\"", "[2]", "[0,2]"), "shape (2,) of I32 needs 8"},
      {"0-d needs one element", entry("\"U8\"", "[]", "[0,0]", 0), "shape () of U8 needs 1"},
  });
}

TEST_CASE("safetensors offsets must tile the data buffer exactly") {
  auto two = [](const std::string& a_off, const std::string& b_off, std::size_t data) {
    return header_of("\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":" + a_off +
                         "},\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":" + b_off + "}",
                     data);
  };
  check_cases({
      {"begin after end", entry("\"U8\"", "[2]", "[2,0]"), "tensor 'a': data_offsets [2, 0] begin after they end"},
      {"offset over 2^64", entry("\"U8\"", "[2]", "[0,18446744073709551618]"), "data_offsets[1] does not fit in 64 bits"},
      {"gap at the start", entry("\"U8\"", "[2]", "[1,3]", 3), "tensor 'a': data_offsets [1, 3] leave a gap: no tensor holds data bytes [0, 1)"},
      {"gap between tensors", two("[0,2]", "[3,5]", 5), "tensor 'b': data_offsets [3, 5] leave a gap"},
      {"overlap", two("[0,2]", "[1,3]", 3), "tensor 'b': data_offsets [1, 3] overlap tensor 'a', which ends at byte 2"},
      {"same range twice", two("[0,2]", "[0,2]", 2), "overlap tensor 'a'"},
      {"trailing bytes", entry("\"U8\"", "[2]", "[0,2]", 3), "1 trailing bytes after the 2 data bytes"},
      {"data shorter", entry("\"U8\"", "[2]", "[0,2]", 1), "truncated: the tensors need 2 data bytes, file holds 1"},
      {"no tensors but data", header_of("", 4), "4 trailing bytes after the 0 data bytes"},
      {"huge offsets, tiny file", entry("\"U8\"", "[2]", "[4294967296,4294967298]"), "leave a gap"},
  });
}

TEST_CASE("safetensors metadata must be one object of string values") {
  std::string many = "\"__metadata__\":{";
  for (int i = 0; i <= 65536; ++i) many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"\"";
  check_cases({
      {"value is a number", header_of("\"__metadata__\":{\"k\":1}", 0), "metadata value 'k' must be a string, got a number"},
      {"value is an object", header_of("\"__metadata__\":{\"k\":{\"k\":{}}}", 0), "metadata value 'k' must be a string, got an object"},
      {"value is null", header_of("\"__metadata__\":{\"k\":null}", 0), "got null"},
      {"__metadata__ is a string", header_of("\"__metadata__\":\"x\"", 0), "__metadata__ must be an object of strings, got a string"},
      {"__metadata__ is an array", header_of("\"__metadata__\":[]", 0), "__metadata__ must be an object of strings, got an array"},
      {"empty key", header_of("\"__metadata__\":{\"\":\"v\"}", 0), "empty metadata key"},
      {"too many entries", header_of(many + "}", 0), "more than 65536 tensors and metadata keys"},
  });
}

TEST_CASE("every truncation of a valid safetensors file is refused") {
  io::TensorFile f;
  f.metadata["note"] = "caf\xc3\xa9 \\ \"q\"";
  f.tensors["w"] = io::Array::from<float>(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  f.tensors["b"] = io::Array::from<double>(std::vector<double>{0.5, -0.5}, {2});
  f.tensors["step"] = io::Array::from<std::int64_t>(std::vector<std::int64_t>{7}, {});
  f.tensors["none"] = io::Array::from<std::uint8_t>(std::vector<std::uint8_t>{}, {0, 3});
  const Bytes good = io::serialize_safetensors(f);
  REQUIRE(io::parse_safetensors(good, "mem").tensors.size() == 4);
  TempDir dir{"safetensors"};
  fs::path p = dir / "cut.safetensors";
  for (std::size_t n = 0; n < good.size(); ++n) {
    INFO("length " << n);
    Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_AS(io::parse_safetensors(cut, "mem"), IoError);
    spit(p, cut);
    CHECK_THROWS_AS(io::load_safetensors(p), IoError);
  }
}
