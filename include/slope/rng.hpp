// The explicit, seeded random number generator. slope has no hidden global RNG:
// everything random (initialisation, shuffling, sampling) takes an Rng&.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <utility>

namespace slope {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) : engine_(seed) {}

  /// 64 uniformly random bits.
  std::uint64_t next() { return engine_(); }
  /// Uniform in [0, 1), 53 bits of resolution.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Standard normal (Box-Muller; the same sequence on every platform).
  double normal();
  /// Uniform integer in [0, n), unbiased. n must be > 0.
  std::size_t below(std::size_t n);

  /// Fisher-Yates shuffle of any random-access range.
  template <class It>
  void shuffle(It first, It last) {
    for (auto n = static_cast<std::size_t>(last - first); n > 1; --n) {
      std::size_t j = below(n);
      using std::swap;
      swap(first[n - 1], first[j]);
    }
  }

  /// The complete state as text (engine and cached normal), for checkpoints.
  std::string state() const;
  /// Restores a state produced by state(); throws ValueError if malformed.
  void set_state(const std::string& state);

  friend bool operator==(const Rng& a, const Rng& b) { return a.state() == b.state(); }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace slope
