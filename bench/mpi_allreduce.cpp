// The all-reduce alone: how long summing S bytes of float gradients over the
// processes takes (bench/distributed.py runs it under mpirun next to whole
// training steps, to give the all-reduce's share of a step).
//
//   mpirun -np 2 mpi_allreduce FLOATS [REPEATS]
// prints one JSON line (rank 0): {"processes": N, "bytes": S, "seconds": t}
// with t the median over REPEATS of one all-reduce of FLOATS floats.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "slope/distributed.hpp"

namespace {
bool parse(const char* text, std::size_t& out, std::size_t lo, std::size_t hi) {
  const char* end = text + std::strlen(text);
  auto [p, ec] = std::from_chars(text, end, out);
  return ec == std::errc() && p == end && p != text && out >= lo && out <= hi;
}
}  // namespace

int main(int argc, char** argv) {
  std::size_t floats = 0, repeats = 200;
  if (argc < 2 || argc > 3 || !parse(argv[1], floats, 1, std::size_t{1} << 30) ||
      (argc == 3 && !parse(argv[2], repeats, 1, 100000))) {
    std::fprintf(stderr, "usage: mpirun -np N mpi_allreduce FLOATS(1..2^30) [REPEATS(1..100000)]\n");
    return 2;
  }
  try {
    slope::dist::Communicator& comm = slope::dist::mpi_world();
    std::vector<float> g(floats, 1.0f);
    std::vector<double> times;
    for (std::size_t r = 0; r < repeats + 5; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      comm.all_reduce_sum(g);
      const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r >= 5) times.push_back(t);  // after a few warm-up rounds
      std::fill(g.begin(), g.end(), 1.0f);
    }
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    if (comm.rank() == 0)
      fmt::print("{{\"processes\": {}, \"bytes\": {}, \"seconds\": {:.9f}}}\n", comm.size(), floats * sizeof(float),
                 times[times.size() / 2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi_allreduce: %s\n", e.what());
    slope::dist::abort_all(1);
    return 1;
  }
  return 0;
}
