// Lecture section 1, k-nearest neighbours and the train / validation / test
// protocol, on Fashion-MNIST. A training subset is memorised; every k in
// 1..kmax is scored with the L1 and the L2 distance on a validation subset
// carved from the training images; the best (distance, k) on validation is
// chosen; the test subset is scored once, at the end, with that choice only.
// Two small 2-D pictures go with it: the L1 and L2 unit balls, and the
// decision regions of 1-NN against 5-NN on the spiral.
//
//   build/examples/example_knn [--train-size N] [--val-size N] [--test-size N]
//                              [--kmax K] [--seed S] [--data-dir DIR] [--out DIR]
//
// Defaults: 5000 training, 1000 validation and 1000 test images, k = 1..25,
// seed 0, the Debian Fashion-MNIST directory, pictures into the current
// directory: knn-k.svg, knn-unit-balls.svg, knn-regions.svg.
// Exit status: 0 done, 1 a failure (a missing data file), 2 a wrong command line.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/core.h>

#include "example_args.hpp"
#include "slope/data.hpp"
#include "slope/error.hpp"
#include "slope/knn.hpp"
#include "slope/plot.hpp"

using namespace slope;

namespace {

constexpr const char* kUsage =
    "usage: example_knn [--train-size N] [--val-size N] [--test-size N] [--kmax K]\n"
    "                   [--seed S] [--data-dir DIR] [--out DIR]\n"
    "defaults: 5000, 1000, 1000 images, k = 1..25, seed 0, the Debian Fashion-MNIST\n"
    "directory; pictures into --out (default: the current directory)\n";

struct Options {
  std::size_t train_size = 5000, val_size = 1000, test_size = 1000, kmax = 25;
  std::uint64_t seed = 0;
  std::filesystem::path data_dir = data::kFashionMnistDir, out = ".";
};

// "--key value" pairs; ValueError naming the bad argument.
Options parse(int argc, char** argv) {
  examples::KeyValueArgs args(argc, argv);
  Options o;
  args.integer("train-size", o.train_size, 1);
  args.integer("val-size", o.val_size, 1);
  args.integer("test-size", o.test_size, 1);
  args.integer("kmax", o.kmax, 1);
  args.integer("seed", o.seed, 0);
  args.path("data-dir", o.data_dir);
  args.path("out", o.out);
  args.finish();
  if (!std::filesystem::is_directory(o.out))
    throw ValueError(fmt::format("--out: '{}' is not a directory", o.out.string()));
  if (o.kmax > o.train_size)
    throw ValueError(fmt::format("--kmax {} exceeds --train-size {}", o.kmax, o.train_size));
  return o;
}

// The examples at `idx` as a (n, D) float array (and their labels).
xt::xarray<float> rows_of(const data::Dataset& d, const std::vector<std::size_t>& idx,
                          const data::Preprocess& prep, std::vector<std::int32_t>& labels) {
  xt::xarray<float> x = xt::xarray<float>::from_shape({idx.size(), d.dim()});
  labels.resize(idx.size());
  data::gather(d, idx, prep, std::span(x.data(), x.size()), std::span(labels));
  return x;
}

double accuracy(const std::vector<std::int32_t>& predicted, const std::vector<std::int32_t>& y) {
  std::size_t right = 0;
  for (std::size_t i = 0; i < y.size(); ++i) right += predicted[i] == y[i];
  return double(right) / double(y.size());
}

// Values of f on an n x n grid over [lo, hi]^2, row r at y = lo + r * step.
template <class F>
std::vector<double> grid(std::size_t n, double lo, double hi, F f) {
  std::vector<double> z(n * n);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t c = 0; c < n; ++c)
      z[r * n + c] = f(lo + (hi - lo) * double(c) / double(n - 1), lo + (hi - lo) * double(r) / double(n - 1));
  return z;
}

// L1 is a diamond, L2 a circle; and the two rank the same points differently.
void unit_balls(const std::filesystem::path& out) {
  const double a[2] = {1.0, 0.0}, b[2] = {0.6, 0.6};
  fmt::print("\nunit balls: A = (1, 0), B = (0.6, 0.6)\n");
  fmt::print("  L1: |A| = {:.3f}, |B| = {:.3f}  -> A is nearer the origin\n", a[0] + a[1], b[0] + b[1]);
  fmt::print("  L2: |A| = {:.3f}, |B| = {:.3f}  -> B is nearer the origin\n",
             std::hypot(a[0], a[1]), std::hypot(b[0], b[1]));
  const std::size_t n = 161;
  const std::vector<double> l1 = grid(n, -1.5, 1.5, [](double x, double y) { return std::abs(x) + std::abs(y); });
  const std::vector<double> l2 = grid(n, -1.5, 1.5, [](double x, double y) { return std::hypot(x, y); });
  std::vector<plot::Figure> figs;
  for (int which = 0; which < 2; ++which) {
    plot::Figure f(which == 0 ? "L1: |x| + |y| = 1 (a diamond)" : "L2: sqrt(x^2 + y^2) = 1 (a circle)",
                   380, 380);
    f.xlim(-1.5, 1.5).ylim(-1.5, 1.5).xlabel("x").ylabel("y");
    f.contour(which == 0 ? l1 : l2, n, n, -1.5, 1.5, -1.5, 1.5, {0.5, 1.0});
    const double px[2] = {a[0], b[0]}, py[2] = {a[1], b[1]};
    f.scatter(px, py, "A = (1, 0), B = (0.6, 0.6)", {.color = "black", .marker_size = 4.0});
    f.text(a[0] + 0.05, a[1] - 0.15, "A").text(b[0] + 0.05, b[1] + 0.05, "B");
    figs.push_back(std::move(f));
  }
  plot::save_grid(out / "knn-unit-balls.svg", figs, 2);
  fmt::print("wrote {}\n", (out / "knn-unit-balls.svg").string());
}

// 1-NN against 5-NN on the spiral: one memorises every point, the other smooths.
void regions(const std::filesystem::path& out, std::uint64_t seed) {
  Rng rng(seed);
  const data::Dataset train = data::spiral(3, 100, rng, 0.5);
  const data::Dataset held_out = data::spiral(3, 100, rng, 0.5);  // a fresh draw
  const data::Preprocess prep;  // the features as they are
  std::vector<std::int32_t> y_train, y_held;
  xt::xarray<float> x_train = rows_of(train, data::all_indices(train.size()), prep, y_train);
  const xt::xarray<float> x_held = rows_of(held_out, data::all_indices(held_out.size()), prep, y_held);
  const knn::NearestNeighbor model(x_train, y_train, train.num_classes());
  const std::size_t ks[2] = {1, 5};
  const auto on_train = model.predict(x_train, ks, knn::Distance::l2);
  const auto on_held = model.predict(x_held, ks, knn::Distance::l2);

  const std::size_t n = 181;
  const double lo = -1.1, hi = 1.1;
  xt::xarray<float> cells = xt::xarray<float>::from_shape({n * n, 2});
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t c = 0; c < n; ++c) {
      cells(r * n + c, 0) = float(lo + (hi - lo) * double(c) / double(n - 1));
      cells(r * n + c, 1) = float(lo + (hi - lo) * double(r) / double(n - 1));
    }
  const auto on_grid = model.predict(cells, ks, knn::Distance::l2);

  fmt::print("\nspiral, 3 arms of 100 points, L2 distance\n");
  std::vector<plot::Figure> figs;
  for (std::size_t q = 0; q < 2; ++q) {
    fmt::print("  {}-NN: training accuracy {:.1f}%, held-out accuracy {:.1f}%\n", ks[q],
               100 * accuracy(on_train[q], y_train), 100 * accuracy(on_held[q], y_held));
    plot::Figure f(fmt::format("{}-NN decision regions", ks[q]), 420, 420);
    f.xlim(lo, hi).ylim(lo, hi);
    const std::vector<int> classes(on_grid[q].begin(), on_grid[q].end());
    f.regions(classes, n, n, lo, hi, lo, hi, 0.3);
    for (std::size_t k = 0; k < train.num_classes(); ++k) {
      std::vector<double> px, py;
      for (std::size_t i = 0; i < train.size(); ++i)
        if (y_train[i] == static_cast<std::int32_t>(k)) {
          px.push_back(train.features[2 * i]);
          py.push_back(train.features[2 * i + 1]);
        }
      f.scatter(px, py, fmt::format("class {}", k), {.color = plot::palette(k), .marker_size = 2.5});
    }
    figs.push_back(std::move(f));
  }
  plot::save_grid(out / "knn-regions.svg", figs, 2);
  fmt::print("wrote {}\n", (out / "knn-regions.svg").string());
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      fmt::print("{}", kUsage);
      return 0;
    }
  Options opt;
  try {
    opt = parse(argc, argv);
  } catch (const Error& e) {
    fmt::print(stderr, "example_knn: {}\n{}", e.what(), kUsage);
    return 2;
  }
  try {
    const data::Dataset train_set = data::fashion_mnist("train", opt.data_dir);
    const data::Dataset test_set = data::fashion_mnist("test", opt.data_dir);
    if (opt.train_size + opt.val_size > train_set.size() || opt.test_size > test_set.size()) {
      fmt::print(stderr, "example_knn: the subsets exceed the {} training / {} test images\n",
                 train_set.size(), test_set.size());
      return 2;
    }
    // Validation is carved from the training images; the test images stay apart.
    Rng rng(opt.seed);
    const data::Split split = data::train_val_split(train_set.size(), opt.val_size, rng);
    std::vector<std::size_t> train_idx = split.train;
    rng.shuffle(train_idx.begin(), train_idx.end());
    train_idx.resize(opt.train_size);
    std::vector<std::size_t> test_idx = data::all_indices(test_set.size());
    rng.shuffle(test_idx.begin(), test_idx.end());
    test_idx.resize(opt.test_size);
    const data::Preprocess prep = data::fit_preprocess(train_set, train_idx, false);  // pixels / 255
    std::vector<std::int32_t> y_train, y_val, y_test;
    const xt::xarray<float> x_train = rows_of(train_set, train_idx, prep, y_train);
    const xt::xarray<float> x_val = rows_of(train_set, split.val, prep, y_val);
    fmt::print("Fashion-MNIST: {} training, {} validation, {} test images of {} pixels\n",
               opt.train_size, opt.val_size, opt.test_size, train_set.dim());

    // Every k for both distances, on validation only.
    const knn::NearestNeighbor model(x_train, y_train, train_set.num_classes());
    std::vector<std::size_t> ks(opt.kmax);
    for (std::size_t k = 1; k <= opt.kmax; ++k) ks[k - 1] = k;
    const knn::Distance dists[2] = {knn::Distance::l1, knn::Distance::l2};
    const char* names[2] = {"L1", "L2"};
    std::vector<double> acc[2];
    for (int d = 0; d < 2; ++d)
      for (const auto& predicted : model.predict(x_val, ks, dists[d])) acc[d].push_back(accuracy(predicted, y_val));
    int best_d = 0;
    std::size_t best_k = 0;  // index into ks
    fmt::print("\nvalidation accuracy\n  {:>3}  {:>7}  {:>7}\n", "k", "L1", "L2");
    for (std::size_t i = 0; i < ks.size(); ++i) {
      fmt::print("  {:>3}  {:6.1f}%  {:6.1f}%\n", ks[i], 100 * acc[0][i], 100 * acc[1][i]);
      for (int d = 0; d < 2; ++d)
        if (acc[d][i] > acc[best_d][best_k]) best_d = d, best_k = i;  // ties keep the smaller k
    }
    fmt::print("chosen on validation: {} distance, k = {} ({:.1f}% validation accuracy)\n",
               names[best_d], ks[best_k], 100 * acc[best_d][best_k]);

    // The test set, once, with the chosen setting.
    const xt::xarray<float> x_test = rows_of(test_set, test_idx, prep, y_test);
    const std::size_t chosen[1] = {ks[best_k]};
    const double test_acc = accuracy(model.predict(x_test, chosen, dists[best_d])[0], y_test);
    fmt::print("test accuracy (scored once): {:.1f}% with {}, k = {}\n", 100 * test_acc,
               names[best_d], ks[best_k]);

    std::vector<double> kx(ks.begin(), ks.end());
    for (auto& a : acc) for (auto& v : a) v *= 100;
    plot::Figure fig("k-NN on Fashion-MNIST: validation accuracy against k");
    fig.xlabel("k (neighbours that vote)").ylabel("validation accuracy (%)");
    fig.line(kx, acc[0], "L1 (Manhattan)", {.color = plot::palette(0), .markers = true});
    fig.line(kx, acc[1], "L2 (Euclidean)", {.color = plot::palette(1), .markers = true});
    const double cx[1] = {double(ks[best_k])}, cy[1] = {acc[best_d][best_k]};
    fig.scatter(cx, cy, fmt::format("chosen: {}, k = {}", names[best_d], ks[best_k]),
                {.color = "black", .marker_size = 6.0});
    fig.vline(cx[0], "", {.color = "grey", .width = 1.0, .dashed = true});
    fig.save(opt.out / "knn-k.svg");
    fmt::print("wrote {}\n", (opt.out / "knn-k.svg").string());

    unit_balls(opt.out);
    regions(opt.out, opt.seed);
  } catch (const Error& e) {
    fmt::print(stderr, "example_knn: {}\n", e.what());
    return 1;
  }
  return 0;
}
