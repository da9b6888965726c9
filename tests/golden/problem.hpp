// The fixed small problem of the optimizer golden tests, built from
// optim_golden.hpp: loss(W, b) = cross_entropy(X W + b, y) + 0.01 * sum(W^2).
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include <xtensor/xadapt.hpp>

#include "golden/optim_golden.hpp"
#include "slope/ops.hpp"
#include "slope/tensor.hpp"

namespace golden {

inline xt::xarray<double> array(const std::vector<double>& v, std::vector<std::size_t> shape) {
  return xt::xarray<double>(xt::adapt(v, shape));
}

struct Problem {
  slope::Tensor64 x{array(X, {8, 4})};
  slope::Tensor64 w{array(W0, {4, 3}), true};
  slope::Tensor64 b{array(B0, {3}), true};

  std::vector<slope::Tensor64> params() const { return {w, b}; }
  slope::Tensor64 loss() const {
    return slope::softmax_cross_entropy(slope::matmul(x, w) + b, Y) + 0.01 * slope::sum(slope::square(w));
  }
  /// zero grads, loss, backward; returns the loss (for L-BFGS and the solvers)
  std::function<double()> closure() {
    return [this] {
      w.zero_grad();
      b.zero_grad();
      slope::Tensor64 l = loss();
      l.backward();
      return l.item();
    };
  }
  /// W then b, flattened, as the golden rows are
  std::vector<double> flat() const {
    std::vector<double> out(w.value().begin(), w.value().end());
    out.insert(out.end(), b.value().begin(), b.value().end());
    return out;
  }
};

/// max_i |got_i - want_i| / max(|want_i|, floor): plain relative error by default
inline double max_rel_error(const std::vector<double>& got, const std::vector<double>& want,
                            double floor = 1e-300) {
  if (got.size() != want.size()) return INFINITY;
  double worst = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(got[i] - want[i]) / std::max(std::abs(want[i]), floor));
  return worst;
}

}  // namespace golden
