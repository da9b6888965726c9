// .npy files, checkpoints and the file helpers of slope/io.hpp.
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

// A .npy file with the given header dict text and data bytes, version 1.0.
Bytes npy_bytes(const std::string& dict, const Bytes& data, std::uint8_t major = 1) {
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0};
  b.push_back(static_cast<std::uint8_t>(dict.size() & 0xff));
  b.push_back(static_cast<std::uint8_t>(dict.size() >> 8));
  b.insert(b.end(), dict.begin(), dict.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

}  // namespace

// ---- helpers ----------------------------------------------------------------------

TEST_CASE("crc32 matches the standard check value for '123456789'") {
  const char* s = "123456789";
  Bytes b(s, s + 9);
  CHECK(io::crc32(b) == 0xCBF43926u);
}

TEST_CASE("gzip output starts with the gzip magic and is smaller for repetitive input") {
  Bytes in(10000, 7);
  Bytes gz = io::gzip(in);
  REQUIRE(gz.size() > 18);
  CHECK(gz[0] == 0x1f);
  CHECK(gz[1] == 0x8b);
  CHECK(gz.size() < in.size() / 10);
}

TEST_CASE("read_file refuses a file over its cap before reading it") {
  TempDir dir{"io"};
  spit(dir / "big", Bytes(100, 1));
  CHECK(io::read_file(dir / "big", 100).size() == 100);
  require_io_error([&] { io::read_file(dir / "big", 99); }, dir / "big", "over the cap");
  require_io_error([&] { io::read_file(dir / "missing", 99); }, dir / "missing", "cannot open");
}

TEST_CASE("write_file_atomic replaces the file and leaves no temporary files behind") {
  TempDir dir{"io"};
  io::write_file_atomic(dir / "f", Bytes{1, 2, 3});
  io::write_file_atomic(dir / "f", Bytes{4, 5});
  CHECK(slurp(dir / "f") == Bytes{4, 5});
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

TEST_CASE("write_file_atomic fails cleanly when the target cannot be replaced") {
  TempDir dir{"io"};
  fs::create_directories(dir / "occupied");
  fs::create_directories(dir / "occupied" / "inner");
  require_io_error([&] { io::write_file_atomic(dir / "occupied", Bytes{1}); }, dir / "occupied",
                   "cannot rename");
  require_io_error([&] { io::write_file_atomic(dir / "no" / "such" / "f", Bytes{1}); },
                   dir / "no" / "such" / "f", "cannot create");
  // Only the directory remains: the temporary file was removed.
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

// ---- .npy -----------------------------------------------------------------------

TEST_CASE("npy files round-trip every dtype and shape") {
  TempDir dir{"io"};
  std::vector<float> f = {1, 2, 3, 4, 5, 6};
  io::write_npy<float>(dir / "f.npy", f, {2, 3});
  std::vector<double> d = {3.5};
  io::write_npy<double>(dir / "d.npy", d, {});
  std::vector<std::int32_t> i = {-1, 0, 1, 2};
  io::write_npy<std::int32_t>(dir / "i.npy", i, {4});
  std::vector<std::int64_t> l = {1LL << 40, -7};
  io::write_npy<std::int64_t>(dir / "l.npy", l, {2, 1});
  std::vector<std::uint8_t> u = {9, 8, 7, 6, 5, 4, 3, 2};
  io::write_npy<std::uint8_t>(dir / "u.npy", u, {2, 2, 2});

  CHECK(io::read_npy(dir / "f.npy").to_vector<float>() == f);
  CHECK(io::read_npy(dir / "f.npy").shape == Shape{2, 3});
  CHECK(io::read_npy(dir / "d.npy").to_vector<double>() == d);
  CHECK(io::read_npy(dir / "d.npy").shape.empty());
  CHECK(io::read_npy(dir / "i.npy").to_vector<std::int32_t>() == i);
  CHECK(io::read_npy(dir / "l.npy").to_vector<std::int64_t>() == l);
  CHECK(io::read_npy(dir / "l.npy").shape == Shape{2, 1});
  CHECK(io::read_npy(dir / "u.npy").to_vector<std::uint8_t>() == u);
  CHECK(io::read_npy(dir / "u.npy").dtype == io::DType::u8);
}

TEST_CASE("npy headers use numpy's descr and tuple syntax and align data to 64 bytes") {
  TempDir dir{"io"};
  std::vector<float> f = {1, 2, 3};
  io::write_npy<float>(dir / "v.npy", f, {3});
  Bytes b = slurp(dir / "v.npy");
  std::size_t hlen = b[8] | (b[9] << 8);
  std::string header(b.begin() + 10, b.begin() + 10 + static_cast<std::ptrdiff_t>(hlen));
  CHECK((10 + hlen) % 64 == 0);
  CHECK(header.back() == '\n');
  CHECK(header.find("'descr': '<f4'") != std::string::npos);
  CHECK(header.find("'fortran_order': False") != std::string::npos);
  CHECK(header.find("'shape': (3,)") != std::string::npos);
  CHECK(b.size() == 10 + hlen + 12);
  std::vector<std::uint8_t> u = {1};
  io::write_npy<std::uint8_t>(dir / "u.npy", u, {1, 1});
  Bytes ub = slurp(dir / "u.npy");
  CHECK(std::string(ub.begin(), ub.end()).find("'|u1'") != std::string::npos);
}

TEST_CASE("write_npy rejects a value count that does not match the shape") {
  TempDir dir{"io"};
  std::vector<float> f = {1, 2, 3};
  CHECK_THROWS_AS(io::write_npy<float>(dir / "x.npy", f, {2, 2}), ValueError);
  CHECK_FALSE(fs::exists(dir / "x.npy"));
}

TEST_CASE("numpy.load reads what write_npy writes") {
  // A missing numpy is a failure, not a skip: CI installs python3-numpy.
  INFO("needs /usr/bin/python3 with numpy (Debian: python3-numpy)");
  REQUIRE(std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0);
  TempDir dir{"io"};
  std::vector<float> f = {1.5f, 2, 3, 4, 5, 6};
  io::write_npy<float>(dir / "f.npy", f, {2, 3});
  std::string cmd = "/usr/bin/python3 -c \"import numpy; a = numpy.load('" + (dir / "f.npy").string() +
                    "'); assert a.shape == (2, 3) and a.dtype == numpy.float32 and a[0, 0] == 1.5\"";
  CHECK(std::system(cmd.c_str()) == 0);
}

TEST_CASE("read_npy accepts a hand-written header with other spacing and key order") {
  TempDir dir{"io"};
  Bytes data = {1, 0, 0, 0, 2, 0, 0, 0};
  spit(dir / "a.npy", npy_bytes("{\"shape\":(2,),\"fortran_order\":False,\"descr\":\"<i4\"}\n", data));
  io::Array a = io::read_npy(dir / "a.npy");
  CHECK(a.to_vector<std::int32_t>() == std::vector<std::int32_t>{1, 2});
}

TEST_CASE("read_npy rejects each kind of malformed file with a message naming it") {
  TempDir dir{"io"};
  const std::string good = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n";
  const Bytes data = {1, 0, 0, 0, 2, 0, 0, 0};
  struct Case {
    const char* what;
    Bytes bytes;
    const char* phrase;
  };
  Bytes bad_magic = npy_bytes(good, data);
  bad_magic[1] = 'X';
  Bytes long_header = npy_bytes(good, data);
  long_header[9] = 0xff;  // header length 65280 + ..., past the end of the file
  Bytes v2_huge = npy_bytes(good, data, 2);
  v2_huge.insert(v2_huge.begin() + 10, {0, 0});
  v2_huge[11] = 0x7f;  // version 2.0 uint32 length with the top byte set
  std::vector<Case> cases = {
      {"empty file", {}, "truncated"},
      {"bad magic", bad_magic, "bad magic"},
      {"unknown version", npy_bytes(good, data, 9), "unsupported .npy version 9.0"},
      {"header past the end", long_header, "truncated"},
      {"header over the cap", v2_huge, "over the cap"},
      {"non-ASCII header", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\xff", data), "not ASCII"},
      {"missing key", npy_bytes("{'descr': '<i4', 'shape': (2,), }", data), "missing one of"},
      {"unknown key", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), 'x': 1}", data), "unexpected or repeated key"},
      {"repeated key", npy_bytes("{'descr': '<i4', 'descr': '<i4', 'fortran_order': False, 'shape': (2,)}", data), "unexpected or repeated key"},
      {"big-endian dtype", npy_bytes("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", data), "unsupported dtype '>i4'"},
      {"complex dtype", npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", data), "unsupported dtype"},
      {"Fortran order", npy_bytes("{'descr': '<i4', 'fortran_order': True, 'shape': (1, 2), }", data), "Fortran-order"},
      {"bad boolean", npy_bytes("{'descr': '<i4', 'fortran_order': 0, 'shape': (2,), }", data), "True or False"},
      {"unterminated string", npy_bytes("{'descr': '<i4", data), "unterminated string"},
      {"negative dimension", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (-2,), }", data), "expected a dimension"},
      {"huge dimension", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", data), "over the cap"},
      {"rank over the cap", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", data), "rank over the cap"},
      {"size overflow", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2000000000, 2000000000), }", data), "over the cap"},
      {"text after the dict", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), } x", data), "after the closing"},
      {"too few data bytes", npy_bytes(good, Bytes(data.begin(), data.end() - 1)), "truncated: header promises 8 data bytes"},
      {"trailing data bytes", npy_bytes(good, Bytes{1, 0, 0, 0, 2, 0, 0, 0, 9}), "1 trailing bytes"},
  };
  for (const Case& c : cases) {
    SECTION(c.what) {
      fs::path p = dir / "bad.npy";
      spit(p, c.bytes);
      require_io_error([&] { io::read_npy(p); }, p, c.phrase);
    }
  }
}

TEST_CASE("read_npy rejects every truncation of a valid file") {
  TempDir dir{"io"};
  std::vector<double> v = {1, 2, 3};
  io::write_npy<double>(dir / "ok.npy", v, {3});
  Bytes full = slurp(dir / "ok.npy");
  for (std::size_t n = 0; n < full.size(); ++n) {
    spit(dir / "cut.npy", Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
    INFO("length " << n);
    CHECK_THROWS_AS(io::read_npy(dir / "cut.npy"), IoError);
  }
}
