// k-nearest neighbours: L1 and L2 distances against brute force, the matmul
// form of L2, majority votes on a tiny hand-made set, and the errors.
#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "slope/error.hpp"
#include "slope/knn.hpp"
#include "slope/rng.hpp"
#include "slope/runtime.hpp"

using namespace slope;
using namespace slope::testing;
using Catch::Matchers::Contains;

namespace {

const bool single_thread = use_one_blas_thread();



xt::xarray<float> random_points(std::size_t n, std::size_t d, Rng& rng, double scale = 1.0) {
  xt::xarray<float> a = xt::xarray<float>::from_shape({n, d});
  for (auto& v : a) v = static_cast<float>(rng.normal() * scale);
  return a;
}

// Direct sums in double, one pair at a time.
double brute_l1(const xt::xarray<float>& a, std::size_t i, const xt::xarray<float>& b, std::size_t j) {
  double s = 0.0;
  for (std::size_t k = 0; k < a.shape()[1]; ++k) s += std::abs(double(a(i, k)) - double(b(j, k)));
  return s;
}
double brute_l2(const xt::xarray<float>& a, std::size_t i, const xt::xarray<float>& b, std::size_t j) {
  double s = 0.0;
  for (std::size_t k = 0; k < a.shape()[1]; ++k) {
    const double d = double(a(i, k)) - double(b(j, k));
    s += d * d;
  }
  return std::sqrt(s);
}

using Labels = std::vector<std::int32_t>;

// One-dimensional points as an (n, 1) array.
xt::xarray<float> column(std::initializer_list<float> values) {
  xt::xarray<float> a = xt::xarray<float>::from_shape({values.size(), 1});
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

// Points on a line: 0, 1, 2 are class 0; 10, 11 class 1; 20 class 2.
knn::NearestNeighbor line_model() {
  const xt::xarray<float> x = column({0.0f, 1.0f, 2.0f, 10.0f, 11.0f, 20.0f});
  return knn::NearestNeighbor(x, Labels{0, 0, 0, 1, 1, 2}, 3);
}

}  // namespace

TEST_CASE("L1 distances equal the brute-force sums of absolute differences", "[knn]") {
  Rng rng(1);
  const auto a = random_points(7, 13, rng), b = random_points(9, 13, rng);
  const auto d = knn::distances(a, b, knn::Distance::l1);
  REQUIRE(d.shape()[0] == 7);
  REQUIRE(d.shape()[1] == 9);
  for (std::size_t i = 0; i < 7; ++i)
    for (std::size_t j = 0; j < 9; ++j) CHECK(d(i, j) == Approx(brute_l1(a, i, b, j)).epsilon(1e-5));
}

TEST_CASE("L2 distances through one matmul match the direct computation", "[knn]") {
  Rng rng(2);
  // Offset from the origin so the expansion ||a||^2 - 2ab + ||b||^2 has to cancel.
  auto a = random_points(11, 20, rng), b = random_points(17, 20, rng);
  a += 3.0f;
  b += 3.0f;
  const auto d = knn::distances(a, b, knn::Distance::l2);
  REQUIRE(d.shape()[0] == 11);
  REQUIRE(d.shape()[1] == 17);
  for (std::size_t i = 0; i < 11; ++i)
    for (std::size_t j = 0; j < 17; ++j) CHECK(d(i, j) == Approx(brute_l2(a, i, b, j)).epsilon(1e-4));
}

TEST_CASE("A point's distance to itself is zero in both metrics, never NaN", "[knn]") {
  Rng rng(3);
  // Far from the origin, ||a||^2 + ||a||^2 - 2 a.a cancels to rounding noise of
  // either sign; the square root must not see a negative number.
  auto a = random_points(64, 30, rng);
  a += 100.0f;
  for (auto metric : {knn::Distance::l1, knn::Distance::l2}) {
    const auto d = knn::distances(a, a, metric);
    for (std::size_t i = 0; i < 64; ++i) {
      INFO("point " << i);
      REQUIRE_FALSE(std::isnan(d(i, i)));
      CHECK(d(i, i) == Approx(0.0f).margin(metric == knn::Distance::l1 ? 0.0 : 1.0));
      for (std::size_t j = 0; j < i; ++j) CHECK(d(i, j) == Approx(d(j, i)).margin(0.05));
    }
  }
}

TEST_CASE("Distances of rows with different lengths are a ShapeError", "[knn]") {
  Rng rng(4);
  const auto a = random_points(3, 4, rng), b = random_points(3, 5, rng);
  CHECK_THROWS_AS(knn::distances(a, b, knn::Distance::l2), ShapeError);
  CHECK_THROWS_AS(knn::distances(a, b, knn::Distance::l1), ShapeError);
  const xt::xarray<float> flat = {1.0f, 2.0f};
  CHECK_THROWS_AS(knn::distances(flat, a, knn::Distance::l1), ShapeError);
}

TEST_CASE("Predictions on a hand-made line follow the majority of the k nearest", "[knn]") {
  const auto model = line_model();
  const xt::xarray<float> q = column({0.5f, 10.4f, 19.0f, 12.0f});
  const std::vector<std::size_t> ks{1, 3, 6};
  const auto p = model.predict(q, ks, knn::Distance::l2);
  REQUIRE(p.size() == 3);
  // k = 1: the nearest point's label.
  CHECK(p[0] == Labels{0, 1, 2, 1});
  // k = 3 (points, not labels): 0.5 -> {0, 1, 2}; 10.4 -> {10, 11, 2}; 19 -> {20, 11, 10};
  // 12 -> {11, 10, 20}.
  CHECK(p[1] == Labels{0, 1, 1, 1});
  // k = 6: everyone votes, class 0 has three of six.
  CHECK(p[2] == Labels{0, 0, 0, 0});
  // The same answers from one k at a time.
  for (std::size_t i = 0; i < ks.size(); ++i) {
    const std::size_t one[] = {ks[i]};
    CHECK(model.predict(q, one, knn::Distance::l2)[0] == p[i]);
  }
}

TEST_CASE("A tied vote goes to the smallest label", "[knn]") {
  const auto model = line_model();
  // 15.5 with k = 2: 11 (class 1, 4.5 away) and 20 (class 2, 4.5 away): one vote each.
  const xt::xarray<float> q = column({15.5f});
  const std::size_t k2[] = {2};
  CHECK(model.predict(q, k2, knn::Distance::l1)[0] == Labels{1});
  // 6 with k = 2 (4 from 2 and 10): classes 0 and 1 tie.
  const xt::xarray<float> q2 = column({6.0f});
  CHECK(model.predict(q2, k2, knn::Distance::l1)[0] == Labels{0});
  // k = 1 between two equally near points takes the earlier training point:
  // 6 is 4 from point 2 (class 0, third) and from point 10 (class 1, fourth).
  const std::size_t k1[] = {1};
  CHECK(model.predict(q2, k1, knn::Distance::l2)[0] == Labels{0});
  const xt::xarray<float> flipped = column({10.0f, 2.0f});
  const knn::NearestNeighbor reversed(flipped, Labels{1, 0}, 2);
  CHECK(reversed.predict(q2, k1, knn::Distance::l2)[0] == Labels{1});
}

TEST_CASE("L1 and L2 can choose different neighbours", "[knn]") {
  // From the origin: (3, 3) is 6 away in L1 and 4.24 in L2; (0, 5) is 5 in both.
  const xt::xarray<float> x = {{3.0f, 3.0f}, {0.0f, 5.0f}};
  const knn::NearestNeighbor model(x, Labels{0, 1}, 2);
  const xt::xarray<float> q = {{0.0f, 0.0f}};
  const std::size_t k1[] = {1};
  CHECK(model.predict(q, k1, knn::Distance::l1)[0] == Labels{1});
  CHECK(model.predict(q, k1, knn::Distance::l2)[0] == Labels{0});
}

TEST_CASE("k outside [1, training points] is a ValueError naming k", "[knn]") {
  const auto model = line_model();
  const xt::xarray<float> q = column({1.0f});
  const std::size_t zero[] = {0};
  const std::size_t seven[] = {7};
  const std::size_t mixed[] = {1, 3, 99};
  CHECK_THROWS_MATCHES(model.predict(q, zero, knn::Distance::l2), ValueError, what(Contains("k must be in [1, 6]: got 0")));
  CHECK_THROWS_MATCHES(model.predict(q, seven, knn::Distance::l1), ValueError, what(Contains("got 7")));
  CHECK_THROWS_MATCHES(model.predict(q, mixed, knn::Distance::l2), ValueError, what(Contains("got 99")));
  const std::size_t six[] = {6};
  CHECK_NOTHROW(model.predict(q, six, knn::Distance::l2));
}

TEST_CASE("The classifier rejects mismatched labels, out-of-range labels and queries of another width", "[knn]") {
  const xt::xarray<float> x = {{0.0f, 1.0f}, {1.0f, 0.0f}};
  CHECK_THROWS_AS(knn::NearestNeighbor(x, Labels{0}, 2), ShapeError);
  CHECK_THROWS_AS(knn::NearestNeighbor(x, Labels{0, 2}, 2), ValueError);
  CHECK_THROWS_AS(knn::NearestNeighbor(x, Labels{-1, 0}, 2), ValueError);
  CHECK_THROWS_AS(knn::NearestNeighbor(xt::xarray<float>::from_shape({0, 2}), Labels{}, 2), ShapeError);
  const knn::NearestNeighbor model(x, Labels{0, 1}, 2);
  const std::size_t k1[] = {1};
  CHECK_THROWS_AS(model.predict(xt::xarray<float>{{1.0f, 2.0f, 3.0f}}, k1, knn::Distance::l2), ShapeError);
}
