// The lecture's whole-problem strategies: full-batch gradient descent with its
// two stopping criteria, and random search.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "golden/problem.hpp"
#include "slope/optim.hpp"

using namespace slope;
using namespace slope::optim;

TEST_CASE("Gradient descent stops when the loss improves by less than the tolerance", "[descent]") {
  golden::Problem pb;
  const DescentResult r = gradient_descent(pb.params(), pb.closure(), {.lr = 0.5, .max_iter = 5000, .tolerance = 1e-10});
  INFO("stopped by " << to_string(r.stop) << " after " << r.iterations << " updates, loss " << r.loss());
  CHECK(r.stop == DescentStop::loss_tolerance);
  CHECK(r.iterations < 5000);
  CHECK(r.losses.size() == static_cast<std::size_t>(r.iterations) + 1);
  CHECK(r.losses.front() - r.losses.back() > 0.1);
  const std::size_t n = r.losses.size();
  CHECK(r.losses[n - 2] - r.losses[n - 1] < 1e-10);  // the last improvement is the one that stopped it
  CHECK(r.losses[n - 3] - r.losses[n - 2] >= 1e-10);
}

TEST_CASE("Gradient descent stops at the iteration budget and says so", "[descent]") {
  golden::Problem pb;
  const DescentResult r = gradient_descent(pb.params(), pb.closure(), {.lr = 0.1, .max_iter = 20, .tolerance = 1e-12});
  CHECK(r.stop == DescentStop::max_iterations);
  CHECK(r.iterations == 20);
  CHECK(to_string(r.stop) == "max_iterations");
  // the same 20 steps as torch's SGD(lr=0.1): the golden row at step 20
  CHECK(golden::max_rel_error(pb.flat(), golden::find(golden::first_order, "sgd").rows[5]) < 1e-10);
}

TEST_CASE("A rising loss counts as no improvement", "[descent]") {
  Tensor64 w(xt::xarray<double>{1.0}, true);
  auto closure = [&] {
    w.zero_grad();
    Tensor64 f = sum(square(w));
    f.backward();
    return f.item();
  };
  const DescentResult r = gradient_descent<double>({w}, closure, {.lr = 1.5, .max_iter = 100});  // overshoots
  CHECK(r.stop == DescentStop::loss_tolerance);
  CHECK(r.iterations == 1);
  CHECK(r.losses[1] > r.losses[0]);
}

TEST_CASE("Any optimizer can run full batch with the same stopping rules", "[descent]") {
  golden::Problem pb;
  Adam opt(pb.params(), {.lr = 0.05});
  const DescentResult r = minimize(opt, pb.closure(), 3000, 1e-12);
  CHECK(r.loss() < r.losses.front());
  CHECK(r.iterations > 10);
}

TEST_CASE("Random search keeps the best of its draws and leaves it in the parameters", "[random_search]") {
  golden::Problem pb;
  Rng rng{1};
  auto loss = [&] { return pb.loss().item(); };
  const RandomSearchResult r = random_search(pb.params(), loss, rng, {.trials = 200, .stddev = 1.0});
  CHECK(r.losses.size() == 200);
  CHECK(r.best_loss == *std::min_element(r.losses.begin(), r.losses.end()));
  CHECK(r.losses[static_cast<std::size_t>(r.best_trial)] == r.best_loss);
  CHECK(loss() == r.best_loss);  // the parameters hold the winner
  // more draws never do worse than fewer with the same seed
  golden::Problem again;
  Rng rng2{1};
  auto loss2 = [&] { return again.loss().item(); };
  const RandomSearchResult few = random_search(again.params(), loss2, rng2, {.trials = 20, .stddev = 1.0});
  CHECK(r.best_loss <= few.best_loss);
  CHECK(few.losses == std::vector<double>(r.losses.begin(), r.losses.begin() + 20));
  CHECK_THROWS_AS(random_search(pb.params(), loss, rng, {.trials = 0}), ValueError);
}
