// The spiral data set of the CS231n notes: K interleaved arms in the plane,
// the classic case that no linear classifier separates.
#include <cmath>

#include <fmt/format.h>

#include "slope/data.hpp"

namespace slope::data {

Dataset spiral(std::size_t classes, std::size_t points_per_class, Rng& rng, double noise) {
  if (classes < 1 || points_per_class < 1)
    throw ValueError(fmt::format("spiral: need at least 1 class and 1 point, got {} and {}",
                                 classes, points_per_class));
  if (classes > 1000 || points_per_class > kMaxExamples / classes)
    throw ValueError(fmt::format("spiral: {} classes of {} points is over the cap of {} examples",
                                 classes, points_per_class, kMaxExamples));
  if (!(noise >= 0.0) || !std::isfinite(noise))
    throw ValueError(fmt::format("spiral: noise must be finite and >= 0, got {}", noise));
  Dataset d;
  d.name = "spiral";
  d.rows = 1;
  d.cols = 2;
  d.channels = 1;
  const std::size_t n = points_per_class;
  d.features.reserve(2 * classes * n);
  d.labels.reserve(classes * n);
  for (std::size_t k = 0; k < classes; ++k) {
    d.class_names.push_back(std::to_string(k));
    for (std::size_t i = 0; i < n; ++i) {
      // r = linspace(0, 1, N); t = linspace(4k, 4(k+1), N) + noise * randn
      double r = n > 1 ? static_cast<double>(i) / static_cast<double>(n - 1) : 0.0;
      double t = 4.0 * static_cast<double>(k) + 4.0 * r + noise * rng.normal();
      d.features.push_back(static_cast<float>(r * std::sin(t)));
      d.features.push_back(static_cast<float>(r * std::cos(t)));
      d.labels.push_back(static_cast<std::int32_t>(k));
    }
  }
  return d;
}

}  // namespace slope::data
