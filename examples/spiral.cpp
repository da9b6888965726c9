// The lecture's closing point in one program: a linear classifier cannot
// separate the spiral arms, a two-layer ReLU net can.
//
//   build/examples/example_spiral [steps] [--out DIR]
//
// Trains both on the 300-point, 3-class spiral (full batch, Adam, `steps`
// updates, default 2000) and prints the loss as training goes and the final
// training accuracy of both, then the two-layer net's accuracy for several
// hidden sizes H. Writes two pictures into DIR (default: the current
// directory; docs/img holds the ones made with the default steps):
//   spiral-regions.svg  the decision regions of both models, data on top
//   spiral-hidden.svg   the regions of the two-layer net for each H
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "slope/data.hpp"
#include "slope/loss.hpp"
#include "slope/nn.hpp"
#include "slope/optim.hpp"
#include "slope/plot.hpp"

using namespace slope;

namespace {

// Full-batch training of `model` on the spiral with Adam and a little L2;
// prints the loss five times when `title` is not empty. Returns the training accuracy.
double fit(const std::string& title, nn::MLP<float>& model, const Tensor& x,
           const std::vector<std::int32_t>& y, int steps) {
  optim::Adam<float> opt(model.parameters(), {.lr = 1e-2});
  if (!title.empty()) fmt::print("{}\n", title);
  for (int step = 0; step <= steps; ++step) {
    const Tensor data_loss = softmax_cross_entropy(model(x), y);
    const Tensor loss = data_loss + 1e-4f * l2(model.weights());
    if (!title.empty() && step % (steps / 5) == 0)
      fmt::print("  step {:>5}  loss {:.4f}  (data {:.4f})\n", step, loss.item(), data_loss.item());
    if (step == steps) break;
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  NoGradGuard no_grad;
  const double acc = nn::accuracy(model(x).value(), y);
  if (!title.empty()) fmt::print("  training accuracy {:.1f}%\n", 100 * acc);
  return acc;
}

// The square the pictures show, sampled on a kGrid x kGrid grid.
constexpr double kLo = -1.15, kHi = 1.15;
constexpr std::size_t kGrid = 160;

// A figure with the model's predicted class at every grid point (its decision
// regions) and the training points on top, one colour per class.
plot::Figure regions(const std::string& title, const nn::MLP<float>& model, const data::Dataset& spiral) {
  xt::xarray<float> grid = xt::xarray<float>::from_shape({kGrid * kGrid, 2});
  for (std::size_t r = 0; r < kGrid; ++r)
    for (std::size_t c = 0; c < kGrid; ++c) {
      grid(r * kGrid + c, 0) = static_cast<float>(kLo + (kHi - kLo) * c / (kGrid - 1));  // x
      grid(r * kGrid + c, 1) = static_cast<float>(kLo + (kHi - kLo) * r / (kGrid - 1));  // y
    }
  std::vector<int> classes;
  {
    NoGradGuard no_grad;
    for (std::int32_t k : nn::argmax_rows(model(Tensor(std::move(grid))).value())) classes.push_back(k);
  }
  plot::Figure fig(title, 420, 420);
  fig.xlim(kLo, kHi).ylim(kLo, kHi);
  fig.regions(classes, kGrid, kGrid, kLo, kHi, kLo, kHi, 0.3);
  for (std::size_t k = 0; k < spiral.num_classes(); ++k) {
    std::vector<double> px, py;
    for (std::size_t i = 0; i < spiral.size(); ++i)
      if (spiral.labels[i] == static_cast<std::int32_t>(k)) {
        px.push_back(spiral.features[2 * i]);
        py.push_back(spiral.features[2 * i + 1]);
      }
    fig.scatter(px, py, fmt::format("class {}", k), {.color = plot::palette(k), .marker_size = 2.5});
  }
  return fig;
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 2000;
  std::filesystem::path out = ".";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else if (!arg.empty() && arg.find_first_not_of("0123456789") == std::string::npos) {
      steps = std::max(5, std::atoi(arg.c_str()));
    } else {
      fmt::print(stderr, "{}: {} '{}'\nusage: {} [steps] [--out DIR]\n", argv[0],
                 arg == "--out" ? "missing value after" : "unknown option", arg, argv[0]);
      return 2;
    }
  }
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

  std::filesystem::create_directories(out);
  const std::vector<plot::Figure> both = {
      regions(fmt::format("linear classifier: {:.1f}% training accuracy", 100 * linear_acc), linear, spiral),
      regions(fmt::format("two-layer net, H = 100: {:.1f}%", 100 * net_acc), net, spiral)};
  plot::save_grid(out / "spiral-regions.svg", both, 2);

  // Capacity: how many hidden units does the spiral need? Same data, steps and start seed.
  fmt::print("hidden units H   training accuracy   (two-layer net, {} steps)\n", steps);
  std::vector<plot::Figure> hidden;
  for (std::size_t h : {2, 5, 20, 100}) {
    Rng init(1);
    nn::TwoLayerNet<float> model(2, h, 3, init);
    const double acc = fit("", model, x, spiral.labels, steps);
    fmt::print("  H = {:>3}        {:5.1f}%\n", h, 100 * acc);
    hidden.push_back(regions(fmt::format("H = {}: {:.1f}%", h, 100 * acc), model, spiral));
  }
  plot::save_grid(out / "spiral-hidden.svg", hidden, 2);
  fmt::print("pictures: {}, {}\n", (out / "spiral-regions.svg").string(), (out / "spiral-hidden.svg").string());
  return 0;
}
