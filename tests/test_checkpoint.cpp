// Checkpoints (slope/io.hpp): round trips, determinism and a corpus of corruptions.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "test_support.hpp"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "slope/io.hpp"

namespace fs = std::filesystem;
using namespace slope;
using namespace slope::testing;

namespace {

io::Checkpoint sample_checkpoint() {
  io::Checkpoint ck;
  std::vector<float> w = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -0.5f};
  ck.put<float>("W1", w, {2, 3});
  std::vector<double> m = {0.125, -1e300};
  ck.put<double>("opt.m", m, {2});
  std::vector<std::int32_t> y = {3, -4, 5};
  ck.put<std::int32_t>("labels", y, {3});
  std::vector<std::int64_t> order = {5, 1, 4, 0, 2, 3};
  ck.put<std::int64_t>("data.order", order, {6});
  std::vector<std::uint8_t> img = {0, 255, 17, 42};
  ck.put<std::uint8_t>("img", img, {1, 2, 2});
  std::vector<float> s = {42.0f};
  ck.put<float>("step", s, {});
  ck.set_meta("format", "slope-train");
  ck.set_meta("rng", std::string(40, 'x'));
  return ck;
}

}  // namespace

TEST_CASE("a checkpoint round-trips arrays of every dtype and its metadata") {
  TempDir dir{"checkpoint"};
  io::Checkpoint ck = sample_checkpoint();
  ck.save(dir / "a.ckpt");
  io::Checkpoint back = io::Checkpoint::load(dir / "a.ckpt");
  REQUIRE(back.arrays().size() == 6);
  for (const auto& [name, a] : ck.arrays()) {
    INFO(name);
    REQUIRE(back.has(name));
    CHECK(back.array(name).dtype == a.dtype);
    CHECK(back.array(name).shape == a.shape);
    CHECK(back.array(name).bytes == a.bytes);
  }
  CHECK(back.metadata() == ck.metadata());
  Shape s{2, 3};
  CHECK(back.get<float>("W1", &s) == std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -0.5f});
  CHECK(back.get<double>("opt.m")[1] == -1e300);
  CHECK(back.meta("format") == "slope-train");
}

TEST_CASE("equal checkpoint contents give byte-identical files whatever the insertion order") {
  io::Checkpoint a, b;
  std::vector<float> x = {1, 2}, y = {3};
  a.put<float>("x", x, {2});
  a.put<float>("y", y, {1});
  a.set_meta("k", "v");
  b.set_meta("k", "v");
  b.put<float>("y", y, {1});
  b.put<float>("x", x, {2});
  CHECK(a.serialize() == b.serialize());
}

TEST_CASE("checkpoint accessors report missing names, wrong dtypes and wrong shapes") {
  io::Checkpoint ck = sample_checkpoint();
  CHECK_THROWS_AS(ck.array("nope"), ValueError);
  CHECK_THROWS_AS(ck.meta("nope"), ValueError);
  CHECK_THROWS_AS(ck.get<double>("W1"), ValueError);
  Shape wrong{3, 2};
  CHECK_THROWS_AS(ck.get<float>("W1", &wrong), ValueError);
  std::vector<float> v = {1, 2, 3};
  CHECK_THROWS_AS(ck.put<float>("", v, {3}), ValueError);
  CHECK_THROWS_AS(ck.put<float>("v", v, {2}), ValueError);
  CHECK_THROWS_AS(ck.set_meta("", "x"), ValueError);
}

TEST_CASE("flipping any payload byte of a checkpoint gives a checksum error") {
  Bytes good = sample_checkpoint().serialize();
  REQUIRE(good.size() > 24);
  // In memory: the file path only adds the same bytes read from disk.
  for (std::size_t i = 24; i < good.size(); ++i) {
    Bytes bad = good;
    bad[i] ^= 0x01;
    INFO("byte " << i);
    require_io_error([&] { io::Checkpoint::deserialize(bad, "mem.ckpt"); }, "mem.ckpt",
                     "checksum mismatch");
  }
  TempDir dir{"checkpoint"};
  Bytes bad = good;
  bad.back() ^= 0x80;
  spit(dir / "c.ckpt", bad);
  require_io_error([&] { io::Checkpoint::load(dir / "c.ckpt"); }, dir / "c.ckpt", "checksum mismatch");
}

TEST_CASE("damaged checkpoint headers and sizes are named in the error") {
  TempDir dir{"checkpoint"};
  Bytes good = sample_checkpoint().serialize();
  fs::path p = dir / "c.ckpt";
  auto with = [&](std::size_t at, std::uint8_t v) {
    Bytes b = good;
    b[at] = v;
    return b;
  };
  Bytes longer = good;
  longer.push_back(0);
  Bytes huge = with(23, 0x7f);
  struct Case {
    const char* what;
    Bytes bytes;
    const char* phrase;
  };
  std::vector<Case> cases = {
      {"empty file", {}, "truncated"},
      {"bad magic", with(0, 'X'), "bad magic"},
      {"other version", with(8, 9), "format version 9"},
      {"checksum field", with(12, good[12] ^ 0xff), "checksum mismatch"},
      {"length too long", with(16, static_cast<std::uint8_t>(good[16] + 1)), "truncated: header promises"},
      {"length over the cap", huge, "over the cap"},
      {"trailing byte", longer, "1 trailing bytes"},
  };
  for (const Case& c : cases) {
    SECTION(c.what) {
      spit(p, c.bytes);
      require_io_error([&] { io::Checkpoint::load(p); }, p, c.phrase);
    }
  }
}

TEST_CASE("every truncation of a checkpoint is rejected") {
  Bytes good = sample_checkpoint().serialize();
  for (std::size_t n = 0; n < good.size(); ++n) {
    INFO("length " << n);
    CHECK_THROWS_AS(io::Checkpoint::deserialize(std::span(good).first(n), "mem"), IoError);
  }
  // Through a file for the lengths around the header, which load() checks before reading on.
  TempDir dir{"checkpoint"};
  fs::path p = dir / "c.ckpt";
  for (std::size_t n = 0; n < 40; ++n) {
    spit(p, Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
    INFO("file length " << n);
    CHECK_THROWS_AS(io::Checkpoint::load(p), IoError);
  }
}

namespace {
// A checkpoint file around a hand-made payload, with a correct header and CRC,
// to reach the structural checks behind the checksum.
Bytes wrap_payload(const Bytes& payload) {
  Bytes b = {'S', 'L', 'O', 'P', 'E', 'C', 'K', 'P', 1, 0, 0, 0};
  std::uint32_t crc = io::crc32(payload);
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(crc >> (8 * i)));
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(std::uint64_t{payload.size()} >> (8 * i)));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}
void u32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void u64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
// One array entry: name, dtype code, dims, then `data` bytes.
Bytes entry(const std::string& name, std::uint8_t dtype, std::vector<std::uint64_t> dims, Bytes data) {
  Bytes b;
  u32(b, static_cast<std::uint32_t>(name.size()));
  for (char c : name) b.push_back(static_cast<std::uint8_t>(c));
  b.push_back(dtype);
  b.push_back(static_cast<std::uint8_t>(dims.size()));
  for (auto d : dims) u64(b, d);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}
Bytes arrays_payload(std::vector<Bytes> entries) {
  Bytes b;
  u32(b, 0);  // no metadata
  u32(b, static_cast<std::uint32_t>(entries.size()));
  for (auto& e : entries) b.insert(b.end(), e.begin(), e.end());
  return b;
}
}  // namespace

TEST_CASE("structurally malformed checkpoint payloads are rejected even with a valid checksum") {
  TempDir dir{"checkpoint"};
  fs::path p = dir / "c.ckpt";
  Bytes ok = entry("a", 1, {2}, {7, 8});
  Bytes many_meta;
  u32(many_meta, 1u << 30);
  Bytes long_key;
  u32(long_key, 1);
  u32(long_key, 100000);
  Bytes empty_key;
  u32(empty_key, 1);
  u32(empty_key, 0);
  u32(empty_key, 0);
  u32(empty_key, 0);
  Bytes leftover = arrays_payload({ok});
  leftover.push_back(0);
  struct Case {
    const char* what;
    Bytes payload;
    const char* phrase;
  };
  std::vector<Case> cases = {
      {"empty payload", {}, "metadata count runs past the end"},
      {"too many metadata entries", many_meta, "over the cap"},
      {"metadata key over the cap", long_key, "over the cap"},
      {"empty metadata key", empty_key, "empty metadata key"},
      {"unknown dtype code", arrays_payload({entry("a", 9, {2}, {7, 8})}), "unknown dtype code 9"},
      {"rank over the cap", arrays_payload({entry("a", 1, {1, 1, 1, 1, 1, 1, 1, 1, 1}, {7})}), "rank 9"},
      {"dimension product overflow", arrays_payload({entry("a", 5, {1ull << 40, 1ull << 40}, {})}), "over the cap"},
      {"data past the end", arrays_payload({entry("a", 4, {3}, {1, 2, 3, 4})}), "runs past the end"},
      {"empty array name", arrays_payload({entry("", 1, {2}, {7, 8})}), "empty array name"},
      {"repeated array name", arrays_payload({ok, ok}), "repeated array name 'a'"},
      {"bytes after the last array", leftover, "bytes left over"},
  };
  for (const Case& c : cases) {
    SECTION(c.what) {
      spit(p, wrap_payload(c.payload));
      require_io_error([&] { io::Checkpoint::load(p); }, p, c.phrase);
    }
  }
  SECTION("the hand-made valid payload itself loads") {
    spit(p, wrap_payload(arrays_payload({ok})));
    CHECK(io::Checkpoint::load(p).get<std::uint8_t>("a") == Bytes{7, 8});
  }
}

TEST_CASE("saving a checkpoint over an old one keeps exactly one complete file") {
  TempDir dir{"checkpoint"};
  io::Checkpoint a = sample_checkpoint();
  a.save(dir / "c.ckpt");
  io::Checkpoint b;
  b.set_meta("only", "this");
  b.save(dir / "c.ckpt");
  io::Checkpoint back = io::Checkpoint::load(dir / "c.ckpt");
  CHECK(back.arrays().empty());
  CHECK(back.meta("only") == "this");
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
  require_io_error([&] { io::Checkpoint::load(dir / "absent.ckpt"); }, dir / "absent.ckpt", "cannot open");
}
