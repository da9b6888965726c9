// The MPI backend (built with -DSLOPE_MPI=ON): MPI_COMM_WORLD with bounded
// waits. Only the thread that first calls mpi_world() talks to MPI
// (MPI_THREAD_FUNNELED); slope's own threads never do.
#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "slope/distributed.hpp"
#include "slope/error.hpp"

namespace slope::dist {

namespace {

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        throw Error("MPI: MPI_Init_thread failed");
      std::atexit([] {
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (!finalised) MPI_Finalize();
      });
    }
    // Errors come back as codes (and become slope errors), instead of
    // aborting every process without a word.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    timeout_ = collective_timeout();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce_sum(std::span<float> v) override { reduce(v.data(), v.size(), MPI_FLOAT, sizeof(float)); }
  void all_reduce_sum(std::span<double> v) override { reduce(v.data(), v.size(), MPI_DOUBLE, sizeof(double)); }

  void broadcast(std::span<std::uint8_t> bytes, int root) override {
    for (std::size_t at = 0; at < bytes.size(); at += kChunk) {
      const int n = static_cast<int>(std::min(kChunk, bytes.size() - at));
      MPI_Request req;
      check(MPI_Ibcast(bytes.data() + at, n, MPI_BYTE, root, MPI_COMM_WORLD, &req), "broadcast");
      wait(req, "broadcast");
    }
  }

  std::pair<std::uint64_t, std::uint64_t> min_max(std::uint64_t v) override {
    std::uint64_t lo = v, hi = v;
    MPI_Request req[2];
    check(MPI_Iallreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD, &req[0]), "all-reduce");
    check(MPI_Iallreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD, &req[1]), "all-reduce");
    wait(req[0], "all-reduce");
    wait(req[1], "all-reduce");
    return {lo, hi};
  }

  std::uint64_t reduced_bytes() const override { return reduced_bytes_; }
  double collective_seconds() const override { return seconds_; }
  std::string describe() const override { return fmt::format("MPI ({} processes)", size_); }

 private:
  static constexpr std::size_t kChunk = std::size_t{1} << 30;

  void reduce(void* data, std::size_t count, MPI_Datatype type, std::size_t bytes) {
    auto* p = static_cast<unsigned char*>(data);
    for (std::size_t at = 0; at < count; at += kChunk) {
      const int n = static_cast<int>(std::min(kChunk, count - at));
      MPI_Request req;
      check(MPI_Iallreduce(MPI_IN_PLACE, p + at * bytes, n, type, MPI_SUM, MPI_COMM_WORLD, &req), "all-reduce");
      wait(req, "all-reduce");
    }
    reduced_bytes_ += count * bytes;
  }

  // Polls the request until it completes or kCollectiveTimeoutSeconds pass:
  // spinning first (a collective of a step usually completes in microseconds),
  // then sleeping between polls so a waiting process gives its core back.
  void wait(MPI_Request& req, const char* what) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const auto deadline = start + std::chrono::duration<double>(timeout_);
    for (int polls = 0;; ++polls) {
      int done = 0;
      check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), what);
      if (done) {
        seconds_ += std::chrono::duration<double>(clock::now() - start).count();
        return;
      }
      if (clock::now() > deadline)
        throw Error(fmt::format("rank {}: an MPI {} waited more than {:g} s for the other processes "
                                "(a rank died or is stuck)", rank_, what, timeout_));
      if (polls > 2000) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  void check(int code, const char* what) const {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, text, &len);
    throw Error(fmt::format("rank {}: MPI {} failed: {} (a rank died?)", rank_, what, std::string(text, len)));
  }

  int rank_ = 0, size_ = 1;
  double timeout_ = kCollectiveTimeoutSeconds;
  std::uint64_t reduced_bytes_ = 0;
  double seconds_ = 0.0;
};

}  // namespace

bool mpi_available() { return true; }

Communicator& mpi_world() {
  static MpiWorld world;
  return world;
}

void abort_all(int status) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (initialised) MPI_Abort(MPI_COMM_WORLD, status);
}

}  // namespace slope::dist
