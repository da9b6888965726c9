// A reference gradient for the gradient-check tables, independent of
// gradcheck's own estimate: the five-point stencil
//   f'(x) ~ (f(x - 2h) - 8 f(x - h) + 8 f(x + h) - f(x + 2h)) / 12h,
// whose error is h^4 f^(5) / 30 plus round-off of about eps |f| / h. At
// h = 5e-5 both are far below those of gradcheck's centred difference at
// h = 1e-6 (h^2 f''' / 6 and eps |f| / 1e-6), so an analytic gradient held
// to the criterion against this reference is held to it by another
// computation, not by re-running gradcheck's. 2h = 1e-4 stays inside the
// 1e-3 margin the tables keep from kinks and ties.
#pragma once

#include <functional>

#include <xtensor/xarray.hpp>

namespace slope::testing {

inline constexpr double kReferenceH = 5e-5;

inline xt::xarray<double> reference_gradient(const std::function<double(const xt::xarray<double>&)>& f,
                                             const xt::xarray<double>& x, double h = kReferenceH) {
  xt::xarray<double> g = xt::zeros<double>(x.shape());
  xt::xarray<double> probe = x;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double at = x.data()[i];
    const auto value = [&](double dx) {
      probe.data()[i] = at + dx;
      return f(probe);
    };
    const double sum = value(-2 * h) - 8 * value(-h) + 8 * value(h) - value(2 * h);
    probe.data()[i] = at;
    g.data()[i] = sum / (12 * h);
  }
  return g;
}

}  // namespace slope::testing
