// safetensors files (slope/io.hpp): round trips, a byte-exact golden file,
// what the reader accepts from other writers, and the writer's refusals.
// The corruption corpus is in test_safetensors_corrupt.cpp.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "safetensors_support.hpp"
#include "slope/io.hpp"

namespace fs = std::filesystem;
using namespace slope;
using namespace slope::testing;

namespace {

template <class T>
io::Array array_of(std::vector<T> values, Shape shape) {
  return io::Array::from<T>(values, std::move(shape));
}

// One tensor of every supported dtype, with the values whose bits are easiest
// to lose: NaN payloads, -0.0, infinities, denormals, the integer extremes.
io::TensorFile sample_file() {
  io::TensorFile f;
  double nan_payload = std::bit_cast<double>(std::uint64_t{0x7ff8000000000123});
  f.tensors["f64"] = array_of<double>({nan_payload, -0.0, 1e-310, -1e300}, {2, 2});
  f.tensors["f32"] = array_of<float>({std::numeric_limits<float>::infinity(), -0.0f, 1e-40f,
                                      std::bit_cast<float>(0xffc00001u), 3.5f, -7.25f},
                                     {2, 3});
  f.tensors["i64"] = array_of<std::int64_t>({std::numeric_limits<std::int64_t>::min(), -1, 0,
                                             std::numeric_limits<std::int64_t>::max()},
                                            {4});
  f.tensors["i32"] = array_of<std::int32_t>({std::numeric_limits<std::int32_t>::min(), 5}, {1, 2});
  f.tensors["u8"] = array_of<std::uint8_t>({0, 255, 128}, {3, 1});
  f.tensors["scalar"] = array_of<float>({42.0f}, {});
  f.tensors["empty"] = array_of<double>({}, {3, 0, 2});
  f.tensors["rank8"] = array_of<std::int32_t>(std::vector<std::int32_t>(16, 9), {1, 2, 1, 2, 1, 2, 1, 2});
  f.metadata["format"] = "slope";
  f.metadata["step"] = "1200";
  return f;
}

void require_same(const io::TensorFile& a, const io::TensorFile& b) {
  CHECK(a.metadata == b.metadata);
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    INFO("tensor " << name);
    REQUIRE(b.tensors.count(name) == 1);
    const io::Array& u = b.tensors.at(name);
    CHECK(u.dtype == t.dtype);
    CHECK(u.shape == t.shape);
    CHECK(u.bytes == t.bytes);  // bitwise: NaN payloads and -0.0 included
  }
}

std::uint64_t header_length(const Bytes& b) {
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{b[static_cast<std::size_t>(i)]} << (8 * i);
  return n;
}

}  // namespace

TEST_CASE("a safetensors file round-trips every dtype, 0-d, zero-size and rank-8 tensors bitwise") {
  TempDir dir{"safetensors"};
  io::TensorFile f = sample_file();
  io::save_safetensors(dir / "m.safetensors", f);
  require_same(f, io::load_safetensors(dir / "m.safetensors"));
  require_same(f, io::parse_safetensors(io::serialize_safetensors(f), "mem"));
  const io::TensorFile back = io::load_safetensors(dir / "m.safetensors");
  CHECK(back.tensors.at("scalar").to_vector<float>() == std::vector<float>{42.0f});
  CHECK(back.tensors.at("empty").bytes.empty());
  CHECK(back.tensors.at("rank8").shape.size() == 8);
}

TEST_CASE("a safetensors file with no tensors and no metadata is the two-byte object, padded") {
  Bytes b = io::serialize_safetensors({});
  CHECK(b == Bytes{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '});
  io::TensorFile back = io::parse_safetensors(b, "mem");
  CHECK(back.tensors.empty());
  CHECK(back.metadata.empty());
}

TEST_CASE("metadata with unicode, quotes, backslashes and control characters round-trips") {
  io::TensorFile f;
  f.metadata["caf\xc3\xa9"] = "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";  // café: 日本 😀
  f.metadata["quote\"back\\slash/"] = "line\nfeed\ttab\rcr\bbs\ffeed";
  f.metadata[std::string("nul\0byte", 8)] = std::string("\x01\x1f\x7f\0", 4);
  f.metadata["empty value"] = "";
  f.tensors["na\xc3\xafve \"name\"\n"] = array_of<std::uint8_t>({1}, {1});
  TempDir dir{"safetensors"};
  io::save_safetensors(dir / "u.safetensors", f);
  require_same(f, io::load_safetensors(dir / "u.safetensors"));
  // Control characters are escaped, never written raw into the JSON.
  Bytes b = io::serialize_safetensors(f);
  std::string header(b.begin() + 8, b.begin() + 8 + static_cast<std::ptrdiff_t>(header_length(b)));
  CHECK(header.find("line\\nfeed\\ttab\\rcr\\bbs\\ffeed") != std::string::npos);
  CHECK(header.find("\\u0001\\u001f\x7f\\u0000") != std::string::npos);
  CHECK(header.find("quote\\\"back\\\\slash/") != std::string::npos);
  CHECK(std::none_of(header.begin(), header.end(), [](char c) { return c >= 0 && c < 0x20; }));
}

TEST_CASE("the data buffer of a written safetensors file starts at a multiple of 8 bytes") {
  // Names of every length from 1 to 16 move the header end through all residues.
  for (std::size_t len = 1; len <= 16; ++len) {
    io::TensorFile f;
    f.tensors[std::string(len, 'n')] = array_of<double>({1.0, 2.0}, {2});
    Bytes b = io::serialize_safetensors(f);
    std::uint64_t n = header_length(b);
    INFO("name length " << len);
    CHECK((8 + n) % 8 == 0);
    CHECK(b.size() == 8 + n + 16);
    // The padding is spaces after the closing brace, fewer than 8 of them.
    std::string h(b.begin() + 8, b.begin() + 8 + static_cast<std::ptrdiff_t>(n));
    std::size_t pad = h.size() - 1 - h.find_last_not_of(' ');
    CHECK(pad < 8);
    CHECK(h[h.size() - 1 - pad] == '}');
  }
}

TEST_CASE("equal safetensors contents give byte-identical files whatever the insertion order") {
  io::TensorFile a, b;
  a.tensors["z"] = array_of<float>({1, 2}, {2});
  a.tensors["a"] = array_of<std::int64_t>({3}, {1});
  a.metadata["k2"] = "v2";
  a.metadata["k1"] = "v1";
  b.metadata["k1"] = "v1";
  b.tensors["a"] = array_of<std::int64_t>({3}, {1});
  b.metadata["k2"] = "v2";
  b.tensors["z"] = array_of<float>({1, 2}, {2});
  CHECK(io::serialize_safetensors(a) == io::serialize_safetensors(b));
  CHECK(io::serialize_safetensors(a) == io::serialize_safetensors(io::parse_safetensors(io::serialize_safetensors(a), "mem")));
}

TEST_CASE("a tiny safetensors file is written byte for byte as the format prescribes") {
  io::TensorFile f;
  f.metadata["by"] = "slope";
  f.tensors["w"] = array_of<float>({1.0f, -2.0f}, {2});
  f.tensors["b"] = array_of<std::uint8_t>({7}, {});
  // 135 bytes of JSON plus one space of padding: N = 136 = 0x88.
  const std::string header =
      "{\"__metadata__\":{\"by\":\"slope\"},"
      "\"b\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]},"
      "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}} ";
  REQUIRE(header.size() == 136);
  Bytes expected = {0x88, 0, 0, 0, 0, 0, 0, 0};
  for (char c : header) expected.push_back(static_cast<std::uint8_t>(c));
  const Bytes data = {7, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0};  // 7, 1.0f, -2.0f
  expected.insert(expected.end(), data.begin(), data.end());
  CHECK(io::serialize_safetensors(f) == expected);
  io::TensorFile back = io::parse_safetensors(expected, "golden");
  require_same(f, back);
  CHECK(back.tensors.at("w").to_vector<float>() == std::vector<float>{1.0f, -2.0f});
}

TEST_CASE("the reader accepts what other writers produce: any key order, whitespace, escapes") {
  // Data in another order than the names (the reference writer sorts by
  // alignment), pretty-printed JSON, escaped names, no padding at all.
  const std::string header =
      "{\n  \"\\u00e9\\ud83d\\ude00\\/x\" : { \"shape\" : [ 1 ] , \"data_offsets\" : [ 8 , 9 ],"
      " \"dtype\" : \"U8\" },\n\t\"a\":{\"data_offsets\":[0,8],\"dtype\":\"F64\",\"shape\":[]},\r\n"
      "  \"__metadata__\": {}, \"z\":{\"dtype\":\"I32\",\"shape\":[0,5],\"data_offsets\":[9,9]}\n}";
  Bytes data(9, 0);
  data[8] = 42;
  double one = 1.0;
  std::memcpy(data.data(), &one, 8);
  io::TensorFile f = io::parse_safetensors(st_image(header, data), "foreign");
  REQUIRE(f.tensors.size() == 3);
  CHECK(f.metadata.empty());
  CHECK(f.tensors.at("a").to_vector<double>() == std::vector<double>{1.0});
  CHECK(f.tensors.at("\xc3\xa9\xf0\x9f\x98\x80/x").bytes == Bytes{42});
  CHECK(f.tensors.at("z").shape == Shape{0, 5});
  CHECK(f.tensors.at("z").dtype == io::DType::i32);
}

TEST_CASE("serialize_safetensors refuses contents that no reader would accept") {
  auto refuses = [](io::TensorFile f, const std::string& phrase) {
    INFO(phrase);
    CHECK_THROWS_MATCHES(io::serialize_safetensors(f), ValueError, what(Catch::Contains(phrase)));
  };
  auto with_tensor = [](const std::string& name, io::Array a) {
    io::TensorFile f;
    f.tensors[name] = std::move(a);
    return f;
  };
  io::Array ok = array_of<float>({1, 2}, {2});
  refuses(with_tensor("", ok), "tensor name must have 1 to 4096 bytes, got 0");
  refuses(with_tensor(std::string(4097, 'n'), ok), "got 4097");
  refuses(with_tensor("__metadata__", ok), "'__metadata__' is the metadata's key");
  refuses(with_tensor("bad\xc3", ok), "is not valid UTF-8: truncated sequence");
  io::Array wrong = ok;
  wrong.bytes.pop_back();
  refuses(with_tensor("w", wrong), "has 7 bytes for shape (2,) of F32");
  io::Array deep = array_of<float>({1}, Shape(9, 1));
  refuses(with_tensor("w", deep), "rank 9, over the cap of 8");
  io::Array huge;
  huge.dtype = io::DType::f64;
  huge.shape = {1u << 20, 1u << 20};
  refuses(with_tensor("w", huge), "over the cap of 2147483648 bytes");
  io::TensorFile meta;
  meta.metadata[""] = "v";
  refuses(meta, "metadata key must have 1 to 4096 bytes");
  meta.metadata.clear();
  meta.metadata["k"] = "\xed\xa0\x80";
  refuses(meta, "surrogate code point");
}

TEST_CASE("load_safetensors names the path of a missing file, a directory and a FIFO") {
  TempDir dir{"safetensors"};
  require_io_error([&] { io::load_safetensors(dir / "absent"); }, dir / "absent", "cannot open");
  require_io_error([&] { io::load_safetensors(dir.path); }, dir.path, "not a regular file");
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  require_io_error([&] { io::load_safetensors(dir / "fifo"); }, dir / "fifo", "not a regular file");
}

TEST_CASE("a sparse file whose data buffer is over the cap is refused before it is read") {
  TempDir dir{"safetensors"};
  fs::path p = dir / "huge.safetensors";
  spit(p, st_image("{}      "));
  fs::resize_file(p, 16 + io::kMaxSafetensorsDataBytes + 1);  // holes: no disk used
  require_io_error([&] { io::load_safetensors(p); }, p, "data buffer of 4294967297 bytes is over the cap");
}

TEST_CASE("saving a safetensors file over an old one keeps exactly one complete file") {
  TempDir dir{"safetensors"};
  io::save_safetensors(dir / "m.safetensors", sample_file());
  io::TensorFile small;
  small.metadata["only"] = "this";
  io::save_safetensors(dir / "m.safetensors", small);
  require_same(small, io::load_safetensors(dir / "m.safetensors"));
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

TEST_CASE("the fuzz seeds, written by Python's json module, parse as their names say") {
  // An independent writer: the valid seeds must re-serialize to the same bytes
  // where they use slope's layout, and every bad seed must be refused.
  const fs::path dir = fs::path(SLOPE_SOURCE_DIR) / "tests/fuzz/corpus/safetensors";
  const Bytes mixed = slurp(dir / "valid_mixed");
  REQUIRE(!mixed.empty());
  const io::TensorFile f = io::load_safetensors(dir / "valid_mixed");
  CHECK(f.tensors.size() == 6);
  CHECK(f.metadata.at("note") == "caf\xc3\xa9 \\ \"q\"\n");
  CHECK(io::serialize_safetensors(f) == mixed);
  for (const char* name : {"valid_empty", "valid_meta_only"})
    CHECK(io::serialize_safetensors(io::load_safetensors(dir / name)) == slurp(dir / name));
  io::TensorFile by_alignment = io::load_safetensors(dir / "valid_by_alignment");
  by_alignment.metadata = f.metadata;
  require_same(f, by_alignment);
  CHECK(io::load_safetensors(dir / "valid_pretty_escaped").tensors.count("\xc3\xa9\xf0\x9f\x98\x80") == 1);
  int bad = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind("bad_", 0) != 0) continue;
    INFO(entry.path());
    CHECK_THROWS_AS(io::load_safetensors(entry.path()), IoError);
    ++bad;
  }
  CHECK(bad >= 8);
}
