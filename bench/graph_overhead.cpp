// The engine's cost per op when the arrays are tiny: a chain of elementwise
// ops on 16-element tensors, forward and backward, timed per op. What is left
// is bookkeeping (nodes, edges, the walk, version checks, pool blocks), not
// arithmetic; bench/performance-notes.md compares builds with it.
//
//   graph_overhead [--ops 64] [--repeats 20000]
// prints one JSON line: {"ops": K, "repeats": R, "ns_per_op": t, "median_of": 5}
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "slope/ops.hpp"
#include "slope/runtime.hpp"
#include "slope/tensor.hpp"

using namespace slope;

namespace {
std::size_t parse(const char* text, const char* what, std::size_t lo, std::size_t hi) {
  std::size_t v = 0;
  const char* end = text + std::strlen(text);
  auto [p, ec] = std::from_chars(text, end, v);
  if (ec != std::errc() || p != end || p == text || v < lo || v > hi)
    throw ValueError(fmt::format("{}: expected a count in [{}, {}], got '{}'", what, lo, hi, text));
  return v;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    std::size_t ops = 64, repeats = 20000;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--ops" && i + 1 < argc) ops = parse(argv[++i], "--ops", 1, 100000);
      else if (a == "--repeats" && i + 1 < argc) repeats = parse(argv[++i], "--repeats", 1, 100000000);
      else throw ValueError(fmt::format("unknown argument '{}' (usage: graph_overhead [--ops K] [--repeats R])", a));
    }
    set_num_threads(1);
    Tensor w = full<float>({16}, 1.0f);
    w.set_requires_grad(true);
    std::vector<double> runs;
    for (int run = 0; run < 5; ++run) {
      const auto t0 = std::chrono::steady_clock::now();
      for (std::size_t r = 0; r < repeats; ++r) {
        Tensor x = w;
        for (std::size_t k = 0; k < ops; k += 2) x = tanh(x * w);  // two ops, both saving inputs
        sum(x).backward();
      }
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      runs.push_back(1e9 * s / static_cast<double>(repeats * (ops + ops % 2 + 1)));
    }
    std::sort(runs.begin(), runs.end());
    fmt::print("{{\"ops\": {}, \"repeats\": {}, \"ns_per_op\": {:.1f}, \"median_of\": 5}}\n", ops, repeats, runs[2]);
  } catch (const std::exception& e) {
    fmt::print(stderr, "graph_overhead: {}\n", e.what());
    return 1;
  }
  return 0;
}
