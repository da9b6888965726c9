// Lecture section 1, the linear classifier f(x, W, b) = x W + b, and its three
// views. slope's rows are examples, so W is (D, C): the lecture's W (C x D,
// one row per class) is our W transposed, and its rows are our columns.
//
//   algebraic  the scores of one test image, one per class: score c is the
//              dot product of the image with column c of W, plus b_c;
//   visual     each column of W reshaped to 28 x 28 is a class template
//              (templates-fashion.png, 5 per row);
//   geometric  on 2-D toy data every class score is zero on a line, and the
//              regions where one class wins are bounded by straight lines:
//              three gaussian blobs are separated, the spiral is not
//              (linear-regions.svg).
//
// Training: softmax loss + lambda * sum W^2, Adam, minibatches, on
// Fashion-MNIST with its mean image subtracted; validation accuracy after
// every epoch, test accuracy once at the end.
//
//   build/examples/example_linear_classifier [--train-size N] [--epochs E]
//       [--batch B] [--lr LR] [--lambda L] [--seed S] [--data-dir DIR]
//       [--cifar DIR] [--out DIR]
//
// Defaults: all 55000 training images (5000 more are held out for
// validation), 10 epochs, batch 256, lr 1e-3, lambda 3e-3, seed 0, pictures
// into the current directory. --cifar DIR (the CIFAR-10 binary batches), if
// the directory exists, repeats the training on CIFAR-10 and writes the
// 32 x 32 x 3 templates to templates-cifar.png.
// Exit status: 0 done, 1 a failure (a missing data file), 2 a wrong command line.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "example_args.hpp"
#include "slope/data.hpp"
#include "slope/error.hpp"
#include "slope/loss.hpp"
#include "slope/nn.hpp"
#include "slope/optim.hpp"
#include "slope/plot.hpp"

using namespace slope;

namespace {

constexpr const char* kUsage =
    "usage: example_linear_classifier [--train-size N] [--epochs E] [--batch B] [--lr LR]\n"
    "           [--lambda L] [--seed S] [--data-dir DIR] [--cifar DIR] [--out DIR]\n"
    "defaults: 55000 images, 10 epochs, batch 256, lr 1e-3, lambda 3e-3, seed 0, the Debian\n"
    "Fashion-MNIST directory, no CIFAR-10; pictures into --out (default: the current directory)\n";

struct Options {
  std::size_t train_size = 55000, epochs = 10, batch = 256;
  double lr = 1e-3, lambda = 3e-3;
  std::uint64_t seed = 0;
  std::filesystem::path data_dir = data::kFashionMnistDir, cifar, out = ".";
};

// "--key value" pairs; ValueError naming the bad argument.
Options parse(int argc, char** argv) {
  examples::KeyValueArgs args(argc, argv);
  Options o;
  args.integer("train-size", o.train_size, 1);
  args.integer("epochs", o.epochs, 1);
  args.integer("batch", o.batch, 1);
  args.number("lr", o.lr, 0);
  args.number("lambda", o.lambda, 0);
  args.integer("seed", o.seed, 0);
  args.path("data-dir", o.data_dir);
  args.path("cifar", o.cifar);
  args.path("out", o.out);
  args.finish();
  if (!std::filesystem::is_directory(o.out))
    throw ValueError(fmt::format("--out: '{}' is not a directory", o.out.string()));
  return o;
}

// One minibatch (or any list of examples) as a (n, D) tensor and its labels.
Tensor batch_of(const data::Dataset& d, std::span<const std::size_t> idx, const data::Preprocess& prep,
                std::vector<std::int32_t>& y) {
  xt::xarray<float> x = xt::xarray<float>::from_shape({idx.size(), d.dim()});
  y.resize(idx.size());
  data::gather(d, idx, prep, std::span(x.data(), x.size()), std::span(y));
  return Tensor(std::move(x));
}

// Fraction of `idx` classified right, in chunks, building no graph.
double accuracy(const nn::LinearClassifier<float>& model, const data::Dataset& d,
                std::span<const std::size_t> idx, const data::Preprocess& prep) {
  NoGradGuard no_grad;
  std::vector<std::int32_t> y;
  double right = 0;
  for (std::size_t at = 0; at < idx.size(); at += 2000) {
    const auto chunk = idx.subspan(at, std::min<std::size_t>(2000, idx.size() - at));
    const Tensor scores = model(batch_of(d, chunk, prep, y));
    right += nn::accuracy(scores.value(), y) * double(chunk.size());
  }
  return right / double(idx.size());
}

// Minibatch training of f = x W + b with softmax loss + lambda * sum W^2 and
// Adam; validation accuracy after each epoch, test accuracy once at the end.
struct Trained {
  nn::LinearClassifier<float> model;
  data::Preprocess prep;
};
Trained train_linear(const data::Dataset& train_set, const data::Dataset& test_set, const Options& o) {
  Rng rng(o.seed);
  const std::size_t val_size = std::min<std::size_t>(5000, train_set.size() / 10);
  const data::Split split = data::train_val_split(train_set.size(), val_size, rng);
  std::vector<std::size_t> train_idx = split.train;
  if (o.train_size < train_idx.size()) {
    rng.shuffle(train_idx.begin(), train_idx.end());
    train_idx.resize(o.train_size);
  }
  Trained t{nn::LinearClassifier<float>(train_set.dim(), train_set.num_classes(), rng),
            data::fit_preprocess(train_set, train_idx)};  // x / 255 - mean image
  optim::Adam<float> opt(t.model.parameters(), {.lr = o.lr});
  fmt::print("{}: {} training, {} validation images; W is ({}, {}), b has {} entries\n",
             train_set.name, train_idx.size(), split.val.size(), train_set.dim(),
             train_set.num_classes(), train_set.num_classes());
  data::Minibatches batches(train_idx, o.batch, Rng(o.seed + 1));
  std::vector<std::int32_t> y;
  for (; batches.epoch() < o.epochs; batches.next_epoch()) {
    double data_sum = 0, reg_sum = 0;
    std::size_t steps = 0;
    while (batches.has_next()) {
      const Tensor x = batch_of(train_set, batches.next(), t.prep, y);
      const Tensor data_loss = softmax_cross_entropy(t.model(x), y);
      const Tensor reg = float(o.lambda) * l2(t.model.weights());  // lambda * R(W), biases not penalised
      const Tensor loss = data_loss + reg;
      opt.zero_grad();
      loss.backward();
      opt.step();
      data_sum += data_loss.item(), reg_sum += reg.item(), ++steps;
    }
    fmt::print("  epoch {}  data loss {:.4f}  lambda*R(W) {:.4f}  validation accuracy {:.1f}%\n",
               batches.epoch() + 1, data_sum / double(steps), reg_sum / double(steps),
               100 * accuracy(t.model, train_set, split.val, t.prep));
  }
  const std::vector<std::size_t> test_idx = data::all_indices(test_set.size());
  fmt::print("  test accuracy {:.1f}% ({} images, scored once)\n",
             100 * accuracy(t.model, test_set, test_idx, t.prep), test_idx.size());
  return t;
}

// Visual view: column c of W as an image, one tile per class. CIFAR-10 stores
// pixels channel-major (all red, all green, all blue); images interleave them.
void save_templates(const Tensor& W, const data::Dataset& d, const std::filesystem::path& path) {
  const std::size_t dim = d.dim(), classes = W.shape()[1], plane = d.rows * d.cols;
  std::vector<plot::Image> tiles;
  std::vector<float> column(dim);
  for (std::size_t c = 0; c < classes; ++c) {
    for (std::size_t j = 0; j < dim; ++j) {
      const std::size_t pixel = j % plane, channel = j / plane;
      column[pixel * d.channels + channel] = W.value()(j, c);
    }
    tiles.push_back(plot::to_image(column, d.cols, d.rows, d.channels));
  }
  const plot::Image grid = plot::tile(tiles, 5, 2, 4);
  plot::save_png(path, grid);
  fmt::print("wrote {} ({} x {} pixels; classes in order: {})\n", path.string(), grid.width,
             grid.height, fmt::join(d.class_names, ", "));
}

// Algebraic view: the scores of one test image, checked against the dot products.
void scores_of_one(const Trained& t, const data::Dataset& test_set, std::size_t index) {
  NoGradGuard no_grad;
  std::vector<std::int32_t> y;
  const std::size_t idx[1] = {index};
  const Tensor x = batch_of(test_set, idx, t.prep, y);
  const Tensor s = t.model(x);
  const auto& W = t.model.layers()[0].W.value();
  const auto& b = t.model.layers()[0].b.value();
  const std::size_t dim = W.shape()[0], classes = W.shape()[1];
  const std::int32_t predicted = nn::argmax_rows(s.value())[0];
  fmt::print("\nscores of test image {} (true class: {}): s_c = x . W[:, c] + b_c\n", index,
             test_set.class_names[y[0]]);
  double worst = 0;
  for (std::size_t c = 0; c < classes; ++c) {
    double dot = b(c);
    for (std::size_t j = 0; j < dim; ++j) dot += double(x.value()(0, j)) * W(j, c);
    worst = std::max(worst, std::abs(dot - s.value()(0, c)));
    fmt::print("  {:>12} {:8.3f}{}{}\n", test_set.class_names[c], s.value()(0, c),
               int(c) == predicted ? "  <- highest score: the prediction" : "",
               int(c) == y[0] ? "  <- true class" : "");
  }
  fmt::print("  largest |x . W[:, c] + b_c - s_c| = {:.1e}\n", worst);
}

// A 2-D data set as one (N, 2) tensor.
Tensor points_of(const data::Dataset& d) {
  xt::xarray<float> x = xt::xarray<float>::from_shape({d.size(), 2});
  std::copy(d.features.begin(), d.features.end(), x.begin());
  return Tensor(std::move(x));
}

// Three gaussian blobs of `per_class` points each.
data::Dataset blobs(std::size_t per_class, Rng& rng) {
  data::Dataset d;
  d.name = "blobs";
  d.rows = 1, d.cols = 2;
  d.class_names = {"0", "1", "2"};
  const double centers[3][2] = {{-0.9, -0.6}, {0.9, -0.6}, {0.0, 0.8}};
  for (std::int32_t k = 0; k < 3; ++k)
    for (std::size_t i = 0; i < per_class; ++i) {
      d.features.push_back(float(centers[k][0] + 0.3 * rng.normal()));
      d.features.push_back(float(centers[k][1] + 0.3 * rng.normal()));
      d.labels.push_back(k);
    }
  return d;
}

// Geometric view: a linear classifier on 2-D points, its regions (argmax of
// the scores), the line where each class score is 0, and the points.
plot::Figure regions_of(const data::Dataset& d, const std::string& title, Rng& rng) {
  nn::LinearClassifier<float> model(2, d.num_classes(), rng);
  optim::Adam<float> opt(model.parameters(), {.lr = 0.05});
  const Tensor x = points_of(d);
  for (int step = 0; step < 300; ++step) {  // full batch
    const Tensor loss = softmax_cross_entropy(model(x), d.labels) + 1e-3f * l2(model.weights());
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  NoGradGuard no_grad;
  const double acc = nn::accuracy(model(x).value(), d.labels);
  fmt::print("  {}: training accuracy {:.1f}%\n", d.name, 100 * acc);

  const double lo = -1.6, hi = 1.6, kNaN = std::numeric_limits<double>::quiet_NaN();
  const std::size_t n = 161;
  xt::xarray<float> cells = xt::xarray<float>::from_shape({n * n, 2});
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t c = 0; c < n; ++c) {
      cells(r * n + c, 0) = float(lo + (hi - lo) * double(c) / double(n - 1));
      cells(r * n + c, 1) = float(lo + (hi - lo) * double(r) / double(n - 1));
    }
  const std::vector<std::int32_t> winner = nn::argmax_rows(model(Tensor(cells)).value());
  plot::Figure f(fmt::format("{}: {:.0f}% training accuracy", title, 100 * acc), 440, 440);
  f.xlim(lo, hi).ylim(lo, hi);
  f.regions(std::vector<int>(winner.begin(), winner.end()), n, n, lo, hi, lo, hi, 0.25);
  const auto& W = model.layers()[0].W.value();
  const auto& b = model.layers()[0].b.value();
  for (std::size_t k = 0; k < d.num_classes(); ++k) {
    // s_k = W(0,k) x + W(1,k) y + b_k = 0, drawn where it lies inside the box
    std::vector<double> lx, ly;
    for (std::size_t i = 0; i <= 200; ++i) {
      const double t = lo + (hi - lo) * double(i) / 200.0;
      const bool steep = std::abs(W(1, k)) < std::abs(W(0, k));
      const double other = -(b(k) + (steep ? W(1, k) : W(0, k)) * t) / (steep ? W(0, k) : W(1, k));
      const bool inside = other >= lo && other <= hi;
      lx.push_back(!inside ? kNaN : steep ? other : t);
      ly.push_back(!inside ? kNaN : steep ? t : other);
    }
    f.line(lx, ly, k == 0 ? "score of a class = 0" : "",
           {.color = plot::palette(k), .width = 1.5, .dashed = true});
    std::vector<double> px, py;
    for (std::size_t i = 0; i < d.size(); ++i)
      if (d.labels[i] == static_cast<std::int32_t>(k))
        px.push_back(d.features[2 * i]), py.push_back(d.features[2 * i + 1]);
    f.scatter(px, py, fmt::format("class {}", k), {.color = plot::palette(k), .marker_size = 2.5});
  }
  return f;
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
    fmt::print(stderr, "example_linear_classifier: {}\n{}", e.what(), kUsage);
    return 2;
  }
  try {
    const data::Dataset train_set = data::fashion_mnist("train", opt.data_dir);
    const data::Dataset test_set = data::fashion_mnist("test", opt.data_dir);
    const Trained fashion = train_linear(train_set, test_set, opt);
    scores_of_one(fashion, test_set, 0);
    fmt::print("\n");
    save_templates(fashion.model.layers()[0].W, train_set, opt.out / "templates-fashion.png");

    fmt::print("\nlinear classifiers on 2-D points (full batch, 300 Adam steps)\n");
    Rng rng(opt.seed);
    std::vector<plot::Figure> figs;
    figs.push_back(regions_of(blobs(100, rng), "three blobs", rng));
    figs.push_back(regions_of(data::spiral(3, 100, rng), "spiral", rng));
    plot::save_grid(opt.out / "linear-regions.svg", figs, 2);
    fmt::print("wrote {}\n", (opt.out / "linear-regions.svg").string());

    if (!opt.cifar.empty()) {
      if (!std::filesystem::is_directory(opt.cifar)) {
        fmt::print("\nCIFAR-10 skipped: {} is not a directory\n", opt.cifar.string());
      } else {
        fmt::print("\n");
        const data::Dataset cifar_train = data::cifar10("train", opt.cifar);
        const data::Dataset cifar_test = data::cifar10("test", opt.cifar);
        const Trained cifar = train_linear(cifar_train, cifar_test, opt);
        save_templates(cifar.model.layers()[0].W, cifar_train, opt.out / "templates-cifar.png");
      }
    }
  } catch (const Error& e) {
    fmt::print(stderr, "example_linear_classifier: {}\n", e.what());
    return 1;
  }
  return 0;
}
