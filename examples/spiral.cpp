// The lecture's closing point in one program: a linear classifier cannot
// separate the spiral arms, a two-layer ReLU net can.
//
//   build/examples/example_spiral [steps]
//
// Prints the loss as training goes and the final training accuracy of both.
#include <cstdlib>
#include <string>

#include <fmt/core.h>

#include "slope/data.hpp"
#include "slope/loss.hpp"
#include "slope/nn.hpp"
#include "slope/optim.hpp"

using namespace slope;

// Full-batch training of `model` on the spiral with Adam and a little L2.
template <class Model>
double fit(const char* title, Model& model, const Tensor& x, const std::vector<std::int32_t>& y,
           int steps) {
  optim::Adam<float> opt(model.parameters(), {.lr = 1e-2});
  fmt::print("{}\n", title);
  for (int step = 0; step <= steps; ++step) {
    const Tensor data_loss = softmax_cross_entropy(model(x), y);
    const Tensor loss = data_loss + 1e-4f * l2(model.weights());
    if (step % (steps / 5) == 0)
      fmt::print("  step {:>5}  loss {:.4f}  (data {:.4f})\n", step, loss.item(), data_loss.item());
    if (step == steps) break;
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  NoGradGuard no_grad;
  const double acc = nn::accuracy(model(x).value(), y);
  fmt::print("  training accuracy {:.1f}%\n", 100 * acc);
  return acc;
}

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::max(5, std::atoi(argv[1])) : 2000;
  Rng rng(0);
  const data::Dataset spiral = data::spiral(3, 100, rng);  // 300 points, 3 arms
  xt::xarray<float> points = xt::xarray<float>::from_shape({spiral.size(), spiral.dim()});
  std::copy(spiral.features.begin(), spiral.features.end(), points.begin());
  const Tensor x(points);
  fmt::print("spiral: {} points in {} classes\n", spiral.size(), spiral.num_classes());

  nn::LinearClassifier<float> linear(2, 3, rng);
  const double linear_acc = fit("linear classifier  f = x W + b", linear, x, spiral.labels, steps);
  nn::TwoLayerNet<float> net(2, 100, 3, rng);
  const double net_acc = fit("two-layer net      f = max(0, x W1 + b1) W2 + b2", net, x, spiral.labels, steps);
  fmt::print("linear {:.1f}%  vs  two-layer {:.1f}%\n", 100 * linear_acc, 100 * net_acc);
  return 0;
}
