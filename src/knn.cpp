#include "slope/knn.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "blas.hpp"
#include "slope/error.hpp"
#include "slope/shape.hpp"

namespace slope::knn {

xt::xarray<float> distances(const xt::xarray<float>& a, const xt::xarray<float>& b, Distance dist) {
  if (a.dimension() != 2 || b.dimension() != 2 || a.shape()[1] != b.shape()[1])
    throw ShapeError(fmt::format("knn::distances: need (m, d) and (n, d): a is {}, b is {}",
                                 to_string(Shape(a.shape().begin(), a.shape().end())),
                                 to_string(Shape(b.shape().begin(), b.shape().end()))));
  const std::size_t m = a.shape()[0], n = b.shape()[0], d = a.shape()[1];
  xt::xarray<float> out = xt::xarray<float>::from_shape({m, n});
  if (dist == Distance::l1) {
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        const float* x = a.data() + i * d;
        const float* y = b.data() + j * d;
        float s = 0.0f;
        for (std::size_t k = 0; k < d; ++k) s += std::abs(x[k] - y[k]);
        out(i, j) = s;
      }
    return out;
  }
  // -2 a b^T by gemm (b transposed by flag), then add the squared norms.
  if (m && n && d)
    detail::gemm(false, true, int(m), int(n), int(d), -2.0f, a.data(), int(d), b.data(), int(d),
                 0.0f, out.data(), int(n));
  else
    out.fill(0.0f);
  std::vector<float> nb(n);
  for (std::size_t j = 0; j < n; ++j) {
    const float* y = b.data() + j * d;
    nb[j] = std::inner_product(y, y + d, y, 0.0f);
  }
  for (std::size_t i = 0; i < m; ++i) {
    const float* x = a.data() + i * d;
    const float na = std::inner_product(x, x + d, x, 0.0f);
    for (std::size_t j = 0; j < n; ++j) out(i, j) = std::sqrt(std::max(0.0f, out(i, j) + na + nb[j]));
  }
  return out;
}

NearestNeighbor::NearestNeighbor(xt::xarray<float> train, std::vector<std::int32_t> labels,
                                 std::size_t classes)
    : train_(std::move(train)), labels_(std::move(labels)), classes_(classes) {
  if (train_.dimension() != 2 || train_.shape()[0] != labels_.size() || labels_.empty())
    throw ShapeError(fmt::format("NearestNeighbor: {} labels for training points of shape {}",
                                 labels_.size(),
                                 to_string(Shape(train_.shape().begin(), train_.shape().end()))));
  for (auto y : labels_)
    if (y < 0 || static_cast<std::size_t>(y) >= classes_)
      throw ValueError(fmt::format("NearestNeighbor: label {} is outside [0, {})", y, classes_));
}

std::vector<std::vector<std::int32_t>> NearestNeighbor::predict(const xt::xarray<float>& queries,
                                                                std::span<const std::size_t> ks,
                                                                Distance d) const {
  const std::size_t n = labels_.size();
  std::size_t kmax = 0;
  for (std::size_t k : ks) {
    if (k == 0 || k > n)
      throw ValueError(fmt::format("NearestNeighbor: k must be in [1, {}]: got {}", n, k));
    kmax = std::max(kmax, k);
  }
  const xt::xarray<float> dist = distances(queries, train_, d);
  const std::size_t m = dist.shape()[0];
  std::vector<std::vector<std::int32_t>> out(ks.size(), std::vector<std::int32_t>(m));
  std::vector<std::size_t> order(n);
  std::vector<std::size_t> votes(classes_);
  for (std::size_t i = 0; i < m; ++i) {
    const float* row = dist.data() + i * n;
    std::iota(order.begin(), order.end(), std::size_t{0});
    // Nearest kmax first; ties broken by index so results are deterministic.
    std::partial_sort(order.begin(), order.begin() + kmax, order.end(), [&](auto x, auto y) {
      return row[x] < row[y] || (row[x] == row[y] && x < y);
    });
    for (std::size_t q = 0; q < ks.size(); ++q) {
      std::fill(votes.begin(), votes.end(), 0);
      for (std::size_t r = 0; r < ks[q]; ++r) ++votes[labels_[order[r]]];
      out[q][i] = static_cast<std::int32_t>(std::max_element(votes.begin(), votes.end()) - votes.begin());
    }
  }
  return out;
}

}  // namespace slope::knn
