#include "slope/rng.hpp"

#include <cmath>
#include <numbers>
#include <sstream>

#include <fmt/format.h>

#include "slope/error.hpp"

namespace slope {

double Rng::normal() {
  // Box-Muller: two uniforms give two independent normals; keep the second.
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = 0.0;
  while (u1 <= 0.0) u1 = uniform();  // log(0) must not happen
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return r * std::cos(theta);
}

std::size_t Rng::below(std::size_t n) {
  if (n == 0) throw ValueError("Rng::below: n must be positive");
  // Rejection sampling removes the modulo bias.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t x;
  do x = next();
  while (x >= limit);
  return static_cast<std::size_t>(x % n);
}

std::string Rng::state() const {
  std::ostringstream out;
  out << engine_ << ' ' << (has_spare_ ? 1 : 0) << ' ' << fmt::format("{:a}", spare_);
  return out.str();
}

void Rng::set_state(const std::string& state) {
  std::istringstream in(state);
  std::mt19937_64 engine;
  int spare_flag = -1;
  std::string spare_text;
  in >> engine >> spare_flag >> spare_text;
  if (!in || (spare_flag != 0 && spare_flag != 1))
    throw ValueError("Rng::set_state: malformed state text");
  engine_ = engine;
  has_spare_ = spare_flag == 1;
  spare_ = std::strtod(spare_text.c_str(), nullptr);
}

}  // namespace slope
