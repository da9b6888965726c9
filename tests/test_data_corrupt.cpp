// Corrupt input for every reader of outside bytes, topping up the corpora of
// test_data_files.cpp (IDX, CIFAR-10), test_io.cpp (.npy) and
// test_checkpoint.cpp (checkpoints) so that each reader meets at least 15
// corruption classes plus every truncation of a small valid file:
//   - CIFAR-10: 18 classes here (the older file had 4) and every truncation
//     length of a two-record file, each message checked.
//   - all four readers: special files in place of a regular one (directory,
//     FIFO, character device, dangling symlink, missing file). A FIFO used to
//     block read_file() and Checkpoint::load() forever in open(2).
//   - a few classes the older corpora lack for IDX, .npy and checkpoints.
// Every case must give slope::IoError whose message names the file and the defect.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "test_support.hpp"
#include <fstream>
#include <functional>
#include <iterator>

#include "slope/data.hpp"
#include "slope/io.hpp"

namespace fs = std::filesystem;
using namespace slope;
using namespace slope::testing;

namespace {

// `n` CIFAR-10 records; record i has label i % 10 and pixels (i + j) % 256.
Bytes cifar_records(std::size_t n) {
  Bytes b;
  for (std::size_t i = 0; i < n; ++i) {
    b.push_back(static_cast<std::uint8_t>(i % 10));
    for (std::size_t j = 0; j < 3072; ++j) b.push_back(static_cast<std::uint8_t>((i + j) % 256));
  }
  return b;
}

void be32(Bytes& b, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
Bytes idx(std::uint8_t type, std::vector<std::uint32_t> dims, const Bytes& data) {
  Bytes b = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (auto d : dims) be32(b, d);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}
Bytes good_images() { return idx(0x08, {2, 3, 4}, Bytes(24, 7)); }

}  // namespace

// ---- CIFAR-10 ------------------------------------------------------------------------

TEST_CASE("corrupt CIFAR-10 batches: 18 classes, each an IoError naming the file and the defect") {
  TempDir dir{"data_corrupt"};
  const fs::path p = dir / "data_batch_1.bin";
  auto with_label = [](std::size_t n, std::size_t record, std::uint8_t label) {
    Bytes b = cifar_records(n);
    b[record * 3073] = label;
    return b;
  };
  auto cut = [](Bytes b, std::size_t drop) {
    b.resize(b.size() - drop);
    return b;
  };
  auto grow = [](Bytes b, std::size_t add) {
    b.resize(b.size() + add, 0);
    return b;
  };
  Bytes idx_file = good_images();
  Bytes pickled = {0x80, 0x02, '}', 'q', 0x00, '(', 'U', 0x05, 'd', 'a', 't', 'a'};
  pickled.resize(3073 * 2, 0);  // a size that passes the record check: the label byte 0x80 fails
  Bytes cifar100 = cifar_records(2);  // 3074-byte records (coarse + fine label) as CIFAR-100 has
  cifar100.push_back(0);
  cifar100.push_back(0);
  struct Case {
    const char* what;
    Bytes bytes;
    const char* phrase;
  };
  std::vector<Case> cases = {
      {"empty file", {}, "empty file, expected records of 3073 bytes"},
      {"a lone label byte", {3}, "size 1 is not a multiple of the 3073-byte record (0 whole records and 1 bytes over)"},
      {"one record missing its last pixel", cut(cifar_records(1), 1), "0 whole records and 3072 bytes over"},
      {"two records missing the last pixel", cut(cifar_records(2), 1), "1 whole records and 3072 bytes over"},
      {"a record plus one stray byte", grow(cifar_records(1), 1), "1 whole records and 1 bytes over"},
      {"a record plus half a record", grow(cifar_records(1), 1536), "1 whole records and 1536 bytes over"},
      {"three records and a label without pixels", grow(cifar_records(3), 1), "3 whole records and 1 bytes over"},
      {"label 10 in the first record", with_label(2, 0, 10), "label 10 of record 0 is outside [0, 10)"},
      {"label 255 in the last record", with_label(3, 2, 255), "label 255 of record 2 is outside [0, 10)"},
      {"label 10 in a middle record", with_label(3, 1, 10), "label 10 of record 1 is outside [0, 10)"},
      {"a gzipped batch", io::gzip(cifar_records(1)), "is not a multiple of the 3073-byte record"},
      {"an IDX file given as a batch", idx_file, "is not a multiple of the 3073-byte record"},
      {"the Python pickle version padded to whole records", pickled, "label 128 of record 0 is outside [0, 10)"},
      {"CIFAR-100 records of 3074 bytes", cifar100, "2 whole records and 2 bytes over"},
  };
  for (const Case& c : cases) {
    SECTION(c.what) {
      spit(p, c.bytes);
      require_io_error([&] { data::read_cifar10_batch(p); }, p, c.phrase);
    }
  }
  SECTION("a file over the cap of 100000 records (sparse, refused before reading)") {
    spit(p, {});
    fs::resize_file(p, std::uint64_t{data::kMaxCifarRecords + 1} * 3073);
    require_io_error([&] { data::read_cifar10_batch(p); }, p, "over the cap of 307300000");
  }
  SECTION("a directory in place of the batch") {
    fs::create_directories(p);
    require_io_error([&] { data::read_cifar10_batch(p); }, p, "not a regular file");
  }
  SECTION("a missing file") {
    require_io_error([&] { data::read_cifar10_batch(p); }, p, "cannot open");
  }
  SECTION("a dangling symlink") {
    fs::create_symlink(dir / "gone.bin", p);
    require_io_error([&] { data::read_cifar10_batch(p); }, p, "cannot open");
  }
  SECTION("the valid two-record file itself reads") {
    spit(p, cifar_records(2));
    CHECK(data::read_cifar10_batch(p).size() == 2);
  }
}

TEST_CASE("every truncation of a two-record CIFAR-10 batch is rejected, naming the file and the defect") {
  TempDir dir{"data_corrupt"};
  const fs::path p = dir / "b.bin";
  const Bytes full = cifar_records(2);
  std::size_t rejected = 0;
  // The file is written once and cut down a byte at a time with truncate(2):
  // rewriting it 6146 times through O_TRUNC makes ext4 flush it on every close.
  spit(p, full);
  for (std::size_t n = full.size() - 1; n != static_cast<std::size_t>(-1); --n) {
    fs::resize_file(p, n);
    if (n == 3073) {  // exactly one whole record: a valid batch of one
      data::Dataset one = data::read_cifar10_batch(p);
      CHECK(one.size() == 1);
      CHECK(one.labels == std::vector<std::int32_t>{0});
      continue;
    }
    try {
      data::read_cifar10_batch(p);
      FAIL_CHECK("length " << n << " was accepted");
    } catch (const IoError& e) {
      const std::string m = e.what();
      const std::string want =
          n == 0 ? std::string("empty file")
                 : "size " + std::to_string(n) + " is not a multiple of the 3073-byte record";
      // Checking every length with CHECK would flood the report: count and fail once.
      if (m.rfind(p.string() + ": ", 0) != 0 || m.find(want) == std::string::npos) {
        FAIL_CHECK("length " << n << ": " << m);
      } else {
        ++rejected;
      }
    }
  }
  CHECK(rejected == full.size() - 1);
}

// ---- special files, for all four readers -----------------------------------------------

namespace {
// Runs `read` in a child process with a 5 s alarm, so that a reader blocking
// forever (as open(2) on a FIFO would) fails the test instead of hanging it.
// Exit 0: IoError naming `file` and `phrase`; 1: no error; 2: wrong message;
// 3: another exception; killed by SIGALRM: it blocked.
int read_in_child(const std::function<void()>& read, const fs::path& file, const std::string& phrase) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(5);
    int code = 1;
    try {
      read();
    } catch (const IoError& e) {
      const std::string m = e.what();
      code = m.find(file.string()) != std::string::npos && m.find(phrase) != std::string::npos ? 0 : 2;
      if (code) std::fprintf(stderr, "unexpected message: %s\n", m.c_str());
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return 100 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
}  // namespace

TEST_CASE("every reader refuses a FIFO, a directory, a device and a dangling symlink without blocking") {
  TempDir dir{"data_corrupt"};
  struct Reader {
    const char* name;
    std::function<void(const fs::path&)> read;
  };
  const std::vector<Reader> readers = {
      {"IDX images", [](const fs::path& p) { data::read_idx_images(p); }},
      {"IDX labels", [](const fs::path& p) { data::read_idx_labels(p); }},
      {"CIFAR-10", [](const fs::path& p) { data::read_cifar10_batch(p); }},
      {".npy", [](const fs::path& p) { io::read_npy(p); }},
      {"checkpoint", [](const fs::path& p) { io::Checkpoint::load(p); }},
  };
  const fs::path fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  fs::create_directories(dir / "subdir");
  fs::create_symlink(dir / "nowhere", dir / "dangling");
  for (const Reader& r : readers) {
    INFO(r.name);
    int rc = read_in_child([&] { r.read(fifo); }, fifo, "not a regular file");
    INFO("FIFO: child status " << rc << " (0 ok, 114 = blocked until SIGALRM)");
    CHECK(rc == 0);
    require_io_error([&] { r.read(dir / "subdir"); }, dir / "subdir", "not a regular file");
    if (fs::exists("/dev/null"))
      require_io_error([&] { r.read("/dev/null"); }, "/dev/null", "not a regular file");
    try {
      r.read(dir / "dangling");
      FAIL_CHECK("a dangling symlink was read");
    } catch (const IoError& e) {
      const std::string m = e.what();
      INFO(m);
      CHECK(m.find((dir / "dangling").string()) != std::string::npos);
      CHECK((m.find("no such file") != std::string::npos || m.find("cannot open") != std::string::npos));
    }
  }
}

// ---- IDX: classes beyond test_data_files.cpp -------------------------------------------

TEST_CASE("more corrupt IDX files: signed-byte type, double gzip, two gzip members, labels over a custom class count") {
  TempDir dir{"data_corrupt"};
  const fs::path p = dir / "f";
  SECTION("signed byte element type 0x09") {
    spit(p, idx(0x09, {2, 3, 4}, Bytes(24, 1)));
    require_io_error([&] { data::read_idx_images(p); }, p, "element type 0x09 is not unsigned byte");
  }
  SECTION("a gzip of a gzip") {
    spit(p, io::gzip(io::gzip(good_images())));
    require_io_error([&] { data::read_idx_images(p); }, p, "not an IDX file (bad magic 1f 8b");
  }
  SECTION("two concatenated gzip members") {
    Bytes a = io::gzip(good_images()), b = io::gzip(good_images());
    a.insert(a.end(), b.begin(), b.end());
    spit(p, a);
    require_io_error([&] { data::read_idx_images(p); }, p, "trailing");
  }
  SECTION("a label over a custom class count") {
    spit(p, idx(0x08, {3}, {0, 1, 2}));
    require_io_error([&] { data::read_idx_labels(p, 2); }, p, "label 2 at index 2 is outside [0, 2)");
  }
  SECTION("an image file with one dimension given as a label file of rank 3") {
    spit(p, idx(0x08, {24}, Bytes(24, 1)));
    require_io_error([&] { data::read_idx_images(p); }, p, "rank 1, expected 3 for images");
  }
}

// ---- .npy: classes beyond test_io.cpp ---------------------------------------------------

namespace {
Bytes npy(const std::string& dict, const Bytes& data, std::uint8_t major = 1) {
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0};
  const std::uint32_t n = static_cast<std::uint32_t>(dict.size());
  b.push_back(static_cast<std::uint8_t>(n & 0xff));
  b.push_back(static_cast<std::uint8_t>(n >> 8));
  if (major > 1) {
    b.push_back(static_cast<std::uint8_t>(n >> 16));
    b.push_back(static_cast<std::uint8_t>(n >> 24));
  }
  b.insert(b.end(), dict.begin(), dict.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}
}  // namespace

TEST_CASE("more corrupt .npy files: minor version, short v2 preamble, NUL in the header, empty shape data") {
  TempDir dir{"data_corrupt"};
  const fs::path p = dir / "a.npy";
  const std::string good = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n";
  const Bytes data = {1, 0, 0, 0, 2, 0, 0, 0};
  Bytes minor = npy(good, data);
  minor[7] = 1;
  Bytes v2_short = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 5, 0, 0};
  std::string nul = good;
  nul[3] = '\0';
  struct Case {
    const char* what;
    Bytes bytes;
    const char* phrase;
  };
  std::vector<Case> cases = {
      {"version 1.1", minor, "unsupported .npy version 1.1"},
      {"a version 2.0 preamble cut at 11 bytes", v2_short, "a version 2.0 preamble needs 12"},
      {"a NUL byte in the header", npy(nul, data), "not ASCII"},
      {"data after an array with a zero dimension", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", {1}), "1 trailing bytes"},
      {"a dict that is not closed", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,)", data), "expected ',' or '}'"},
      {"a shape that is not a tuple", npy("{'descr': '<i4', 'fortran_order': False, 'shape': [2], }", data), "expected '('"},
      {"an unquoted key", npy("{descr: '<i4', 'fortran_order': False, 'shape': (2,), }", data), "expected a quoted string"},
  };
  for (const Case& c : cases) {
    SECTION(c.what) {
      spit(p, c.bytes);
      require_io_error([&] { io::read_npy(p); }, p, c.phrase);
    }
  }
  SECTION("versions 2.0 and 3.0 of a valid file read") {
    for (std::uint8_t major : {2, 3}) {
      spit(p, npy(good, data, major));
      CHECK(io::read_npy(p).to_vector<std::int32_t>() == std::vector<std::int32_t>{1, 2});
    }
  }
}

// ---- checkpoints: classes beyond test_checkpoint.cpp -------------------------------------

namespace {
void u32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void u64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void str(Bytes& b, const std::string& s) {
  u32(b, static_cast<std::uint32_t>(s.size()));
  b.insert(b.end(), s.begin(), s.end());
}
// A checkpoint file around `payload` with a correct header and CRC.
Bytes wrap(const Bytes& payload) {
  Bytes b = {'S', 'L', 'O', 'P', 'E', 'C', 'K', 'P'};
  u32(b, 1);
  u32(b, io::crc32(payload));
  u64(b, payload.size());
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}
}  // namespace

TEST_CASE("more malformed checkpoint payloads behind a valid checksum") {
  TempDir dir{"data_corrupt"};
  const fs::path p = dir / "c.ckpt";
  Bytes repeated_key;
  u32(repeated_key, 2);
  str(repeated_key, "k");
  str(repeated_key, "v");
  str(repeated_key, "k");
  str(repeated_key, "w");
  u32(repeated_key, 0);
  Bytes huge_value;
  u32(huge_value, 1);
  str(huge_value, "k");
  u32(huge_value, (1u << 24) + 1);
  Bytes value_past_end;
  u32(value_past_end, 1);
  str(value_past_end, "k");
  u32(value_past_end, 100);
  value_past_end.insert(value_past_end.end(), 10, 'x');
  Bytes dtype_zero;
  u32(dtype_zero, 0);
  u32(dtype_zero, 1);
  str(dtype_zero, "a");
  dtype_zero.push_back(0);
  Bytes no_rank;
  u32(no_rank, 0);
  u32(no_rank, 1);
  str(no_rank, "a");
  no_rank.push_back(1);
  Bytes cut_dim;
  u32(cut_dim, 0);
  u32(cut_dim, 1);
  str(cut_dim, "a");
  cut_dim.push_back(1);
  cut_dim.push_back(2);
  u64(cut_dim, 2);
  cut_dim.resize(cut_dim.size() + 3, 0);  // the second dimension has 3 of its 8 bytes
  Bytes name_over_cap;
  u32(name_over_cap, 0);
  u32(name_over_cap, 1);
  u32(name_over_cap, 4097);
  Bytes missing_arrays;
  u32(missing_arrays, 0);  // metadata count, then the array count is missing
  Bytes many_arrays;
  u32(many_arrays, 0);
  u32(many_arrays, 70000);
  struct Case {
    const char* what;
    Bytes payload;
    const char* phrase;
  };
  std::vector<Case> cases = {
      {"a repeated metadata key", repeated_key, "repeated metadata key"},
      {"a metadata value over the 16 MiB cap", huge_value, "metadata value of 16777217 bytes is over the cap"},
      {"a metadata value past the end", value_past_end, "metadata value of 100 bytes runs past the end"},
      {"dtype code 0", dtype_zero, "unknown dtype code 0"},
      {"an array entry cut before its rank", no_rank, "rank runs past the end"},
      {"an array entry cut inside a dimension", cut_dim, "dimension runs past the end"},
      {"an array name over the cap", name_over_cap, "array name of 4097 bytes is over the cap"},
      {"no array count", missing_arrays, "array count runs past the end"},
      {"an array count over the cap", many_arrays, "70000 arrays, over the cap of 65536"},
  };
  for (const Case& c : cases) {
    SECTION(c.what) {
      spit(p, wrap(c.payload));
      require_io_error([&] { io::Checkpoint::load(p); }, p, c.phrase);
    }
  }
  SECTION("a header with a payload length that wraps when added to the header size") {
    Bytes b = wrap({});
    for (int i = 16; i < 24; ++i) b[static_cast<std::size_t>(i)] = 0xff;
    spit(p, b);
    require_io_error([&] { io::Checkpoint::load(p); }, p, "over the cap");
  }
  SECTION("a file of exactly the 24-byte header promising nothing, with a wrong CRC") {
    Bytes b = wrap({});
    b[12] ^= 1;
    spit(p, b);
    require_io_error([&] { io::Checkpoint::load(p); }, p, "checksum mismatch");
  }
}
