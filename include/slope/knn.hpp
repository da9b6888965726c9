// k-nearest neighbours: the lecture's recap baseline. Predict the majority
// label among the k training points closest to a query.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <xtensor/xarray.hpp>

namespace slope::knn {

enum class Distance {
  l1,  // sum |a - b| (Manhattan; unit ball is a diamond)
  l2,  // sqrt(sum (a - b)^2) (Euclidean; unit ball is a circle)
};

/// Distances (m, n) between the rows of a (m, d) and b (n, d). L2 goes through
/// one matmul: ||a - b||^2 = ||a||^2 - 2 a.b + ||b||^2.
xt::xarray<float> distances(const xt::xarray<float>& a, const xt::xarray<float>& b, Distance d);

/// Memorises the training set; predicts by majority vote among the k nearest
/// (ties go to the smallest label).
class NearestNeighbor {
 public:
  NearestNeighbor(xt::xarray<float> train, std::vector<std::int32_t> labels, std::size_t classes);
  /// Predictions for every k in `ks` at once (one distance pass), [k][query].
  std::vector<std::vector<std::int32_t>> predict(const xt::xarray<float>& queries,
                                                 std::span<const std::size_t> ks,
                                                 Distance d) const;

 private:
  xt::xarray<float> train_;
  std::vector<std::int32_t> labels_;
  std::size_t classes_;
};

}  // namespace slope::knn
