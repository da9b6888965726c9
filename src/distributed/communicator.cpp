// One process alone, and what the build knows about MPI.
#include <charconv>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "slope/distributed.hpp"
#include "slope/error.hpp"

namespace slope::dist {

namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(std::span<float>) override {}
  void all_reduce_sum(std::span<double>) override {}
  void broadcast(std::span<std::uint8_t>, int) override {}
  std::pair<std::uint64_t, std::uint64_t> min_max(std::uint64_t v) override { return {v, v}; }
  std::uint64_t reduced_bytes() const override { return 0; }
  double collective_seconds() const override { return 0.0; }
  std::string describe() const override { return "one process"; }
};

}  // namespace

Communicator& single_process() {
  static SingleProcess one;
  return one;
}

bool launched_by_mpi() {
  // OpenMPI's mpirun, and the PMI/PMIx launchers (srun, hydra), set these.
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

int local_processes() {
  for (const char* v : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}) {
    const char* text = std::getenv(v);
    if (!text) continue;
    int n = 0;
    const char* end = text + std::strlen(text);
    auto [p, ec] = std::from_chars(text, end, n);
    if (ec == std::errc() && p == end && p != text && n >= 1 && n <= 65536) return n;
  }
  return 1;
}

double collective_timeout() {
  const char* text = std::getenv("SLOPE_COLLECTIVE_TIMEOUT");
  if (!text) return kCollectiveTimeoutSeconds;
  double v = 0.0;
  const char* end = text + std::strlen(text);
  auto [p, ec] = std::from_chars(text, end, v);
  if (ec != std::errc() || p != end || p == text || !(v >= 0.1 && v <= 86400.0))
    throw ValueError(fmt::format("SLOPE_COLLECTIVE_TIMEOUT: expected seconds in [0.1, 86400], got '{}'",
                                 std::string(text, std::min<std::size_t>(std::strlen(text), 40))));
  return v;
}

#ifndef SLOPE_HAS_MPI
bool mpi_available() { return false; }
Communicator& mpi_world() {
  throw Error("this build of slope has no MPI backend: configure with -DSLOPE_MPI=ON "
              "(Debian: apt-get install openmpi-bin libopenmpi-dev)");
}
void abort_all(int) {}
#endif

}  // namespace slope::dist
