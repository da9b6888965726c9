// Checkpoint crash safety: a writer process saving checkpoints over one path is
// killed with SIGKILL at random moments; after every kill the file at the path
// must be one complete version (it loads, its CRC verifies, its bytes equal
// what the writer serialized for that version), and the only debris allowed is
// the killed writer's one temporary file.
//
// Temporary files are named "<path>.tmp-<pid>-<n>" (io::write_file_atomic). A
// process killed mid-save leaves its temp file behind; a later save by another
// process never reads, renames or collides with it (its name holds a different
// pid), so such files are inert debris that can be deleted at any time. This
// test checks that each kill leaves at most one such file, named after the
// killed writer, and removes it, as an operator's clean-up would. Those files
// also prove that kills landed inside saves: every fourth kill is aimed at a
// moment the temp file exists, and most of those must leave it behind.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "slope/io.hpp"

namespace fs = std::filesystem;
using namespace slope;
using Bytes = std::vector<std::uint8_t>;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("slope_test_crash_safety_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

Bytes slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

// splitmix64: a deterministic hash of the version number.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Version `seq` of the checkpoint: even versions are layout A, odd ones layout B,
// with distinct metadata and arrays; the payload size runs log-uniformly from
// 1 KiB to 2 MiB. Everything is a function of `seq`, so the test can rebuild
// any version and compare bytes.
io::Checkpoint make_version(std::uint64_t seq) {
  const std::uint64_t h = mix(seq);
  const double e = 10.0 + 11.0 * static_cast<double>(h % 10007) / 10006.0;  // 2^10 .. 2^21
  const auto size = static_cast<std::size_t>(std::exp2(e));
  const bool a = seq % 2 == 0;
  io::Checkpoint ck;
  ck.set_meta("seq", std::to_string(seq));
  ck.set_meta("layout", a ? "A" : "B");
  ck.set_meta("size", std::to_string(size));
  Bytes payload(size);
  std::uint64_t s = h;
  for (std::size_t i = 0; i < size; i += 8) {
    s = mix(s);
    for (std::size_t k = 0; k < 8 && i + k < size; ++k) payload[i + k] = static_cast<std::uint8_t>(s >> (8 * k));
  }
  if (a) {
    ck.set_meta("note", "layout A: bytes then floats");
    ck.put<std::uint8_t>("a/bytes", payload, {size});
    std::vector<float> w(16);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(seq) + 0.25f * static_cast<float>(i);
    ck.put<float>("a/weights", w, {4, 4});
  } else {
    ck.set_meta("note", std::string(100 + seq % 50, 'b'));
    ck.put<std::uint8_t>("b/blob", payload, {size});
    std::vector<std::int64_t> ids(8);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = -static_cast<std::int64_t>(seq * 8 + i);
    ck.put<std::int64_t>("b/ids", ids, {8});
  }
  return ck;
}

// The writer: saves versions first, first + 1, ... over `path`, reporting each
// completed save on `fd`. Never returns; the parent kills it.
[[noreturn]] void writer(const fs::path& path, std::uint64_t first, int fd) {
  ::alarm(30);  // a safety net should the parent die without killing us
  try {
    for (std::uint64_t seq = first;; ++seq) {
      make_version(seq).save(path);
      if (::write(fd, &seq, sizeof seq) != static_cast<ssize_t>(sizeof seq)) ::_exit(3);
    }
  } catch (...) {
    // Never unwind into the test framework in the child: the parent sees exit 4.
  }
  ::_exit(4);
}

void sleep_us(long us) {
  timespec ts{us / 1000000, (us % 1000000) * 1000};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

}  // namespace

TEST_CASE("a checkpoint writer killed with SIGKILL at random moments never damages the file") {
  TempDir dir;
  const fs::path path = dir.path / "run.ckpt";
  const std::string tmp_prefix = path.filename().string() + ".tmp-";
  std::mt19937_64 rng(20240607);
  // Delays from 20 us to 80 ms, log-uniform: some kills land before the
  // writer's first save, many in the middle of one (the fsyncs dominate), some
  // after several completed saves.
  std::uniform_real_distribution<double> log_delay(std::log(20.0), std::log(80000.0));

  // The first version is saved by the test itself: from here on, a file must exist.
  make_version(0).save(path);
  std::uint64_t on_disk = 0;  // the version the file holds
  std::uint64_t next = 1;     // the first version the next writer saves

  const int kTrials = 250;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  int survived = 0, advanced = 0, mid_save = 0, partial = 0, completed_saves = 0;
  int aimed_trials = 0, aimed_mid_save = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    INFO("trial " << trial);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      writer(path, next, fds[1]);
    }
    ::close(fds[1]);
    // Every fourth trial aims: it waits until the writer's temp file exists
    // (a save is under way) and kills at once; the others kill at random.
    const bool aimed = trial % 4 == 3;
    const auto delay = static_cast<long>(std::exp(log_delay(rng)));
    if (aimed) {
      const std::string mine = tmp_prefix + std::to_string(pid) + "-";
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      for (bool seen = false; !seen && std::chrono::steady_clock::now() < give_up;)
        for (const auto& entry : fs::directory_iterator(dir.path))
          seen = seen || entry.path().filename().string().rfind(mine, 0) == 0;
    } else {
      sleep_us(delay);
    }
    REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    INFO("delay " << delay << " us");
    // The writer must have died of our SIGKILL, not of its own failure.
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);

    // Versions whose save() returned, in order.
    std::vector<std::uint64_t> done;
    std::uint64_t v = 0;
    while (::read(fds[0], &v, sizeof v) == static_cast<ssize_t>(sizeof v)) done.push_back(v);
    ::close(fds[0]);
    completed_saves += static_cast<int>(done.size());
    // The file holds the last version reported complete (or the one before this
    // trial if none was), or the version after it, whose rename happened just
    // before the kill and whose report never got out.
    const std::uint64_t last_done = done.empty() ? on_disk : done.back();
    const std::uint64_t in_flight = done.empty() ? next : done.back() + 1;

    REQUIRE(fs::exists(path));
    io::Checkpoint back;
    REQUIRE_NOTHROW(back = io::Checkpoint::load(path));  // header, size and CRC verified
    const std::uint64_t seq = std::stoull(back.meta("seq"));
    INFO("file holds version " << seq << "; last reported " << last_done << ", in flight " << in_flight);
    REQUIRE((seq == last_done || seq == in_flight));
    CHECK(back.meta("layout") == (seq % 2 == 0 ? "A" : "B"));
    REQUIRE(slurp(path) == make_version(seq).serialize());  // exactly a complete version

    // Debris: at most the killed writer's one temporary file. It is the proof
    // that this kill landed inside a save, between the temp file's creation
    // and the rename; a temp file shorter than the version in flight shows the
    // kill landed during the write itself.
    int temps = 0;
    for (const auto& entry : fs::directory_iterator(dir.path)) {
      const std::string name = entry.path().filename().string();
      if (entry.path() == path) continue;
      INFO("found " << name);
      CHECK(name.rfind(tmp_prefix + std::to_string(pid) + "-", 0) == 0);
      ++temps;
      const std::uintmax_t size = fs::file_size(entry.path());
      const std::size_t full = make_version(in_flight).serialize().size();
      CHECK(size <= full);
      partial += size < full;
      fs::remove(entry.path());
    }
    CHECK(temps <= 1);
    mid_save += temps;
    aimed_trials += aimed;
    aimed_mid_save += aimed ? temps : 0;

    advanced += seq != on_disk;
    on_disk = seq;
    next = in_flight + 1;
    ++survived;
    if (std::chrono::steady_clock::now() > deadline && trial + 1 >= 100) break;
  }
  CHECK(survived >= 100);
  // The kills must really have landed inside saves: survivals alone would
  // also hold for kills that always came between two saves. The aimed kills
  // see the temp file first, so most of them leave it behind.
  CHECK(aimed_trials >= 25);
  CHECK(aimed_mid_save >= aimed_trials / 4);
  // And saves did complete between kills, so the file moved on.
  CHECK(advanced >= survived / 20);
  WARN("crash safety: " << survived << " SIGKILL trials survived (the file always held a complete "
       << "version); " << mid_save << " kills interrupted a save mid-way (a temp file was left), "
       << partial << " of them during the write (a partial temp file), " << aimed_mid_save << " of the "
       << aimed_trials << " aimed kills, " << advanced
       << " trials advanced the file, " << completed_saves << " saves completed");
  std::printf("crash safety: %d SIGKILL trials survived, %d mid-save (%d partial; %d of %d aimed), %d advanced "
              "the file\n", survived, mid_save, partial, aimed_mid_save, aimed_trials, advanced);
}

TEST_CASE("a stale temporary file of a killed writer does not disturb later saves or loads") {
  TempDir dir;
  const fs::path path = dir.path / "run.ckpt";
  make_version(1).save(path);
  // What a writer killed after writing part of its temp file leaves behind.
  const fs::path stale = dir.path / "run.ckpt.tmp-999999-0";
  const Bytes half = make_version(2).serialize();
  {
    std::ofstream f(stale, std::ios::binary);
    f.write(reinterpret_cast<const char*>(half.data()), static_cast<std::streamsize>(half.size() / 2));
  }
  CHECK(slurp(path) == make_version(1).serialize());
  CHECK(io::Checkpoint::load(path).meta("seq") == "1");
  make_version(3).save(path);
  CHECK(io::Checkpoint::load(path).meta("seq") == "3");
  CHECK(slurp(path) == make_version(3).serialize());
  // The later save used its own temp name and left nothing of its own behind.
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 2);
  CHECK(fs::file_size(stale) == half.size() / 2);
}
